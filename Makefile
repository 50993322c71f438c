# The two commands a newcomer runs: `make demo` and `make test`. Both set up what they need first.
.PHONY: setup demo test test-fast lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/voicebot demo

# Everything, slow model tests and real SIP peers included (what CI runs). `make test-fast` for a quick loop.
test: setup
	.venv/bin/python -m pytest -q -m ""

test-fast: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .

bench: setup
	.venv/bin/python benchmarks/replay_latency.py
