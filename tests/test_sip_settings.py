"""Fast checks of the SIP side's pure parts: settings validation, URI and DTMF parsing, G.711, frames.
(Everything here is also exercised for real by the test_sip_* call tests.)"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from telephony import framebuf, sipp
from telephony.admission import ALLOW, FORBIDDEN, OVERLOAD, InviteGate, source_ip
from telephony.caller import main as caller_main
from telephony.caller import parse_dtmf
from telephony.dialog import uri_user
from telephony.settings import SipConfigError, SipSettings


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"bind": "localhost"}, "bind"),
        ({"port": 70000}, "port"),
        ({"transport": "sctp"}, "transport"),
        ({"transport": "tls"}, "tls_cert"),
        ({"transport": "tls", "tls_cert": "/nonexistent.pem", "tls_key": "/nonexistent.key"}, "tls_cert"),
        ({"registrar": "pbx.example.com", "username": "u", "password": "p"}, "registrar"),
        ({"registrar": "sip:pbx.example.com"}, "username and password"),
        ({"max_calls": 5}, "max_calls"),
        ({"max_calls": 0}, "max_calls"),
        ({"rtp_timeout_s": 0}, "rtp_timeout_s"),
        ({"codecs": ("G729",)}, "codecs"),
        ({"codecs": ()}, "codecs"),
        ({"allowed_networks": "10.0.0.0/8"}, "allowed_networks"),
        ({"allowed_networks": ("10.0.0.0/33",)}, "allowed_networks"),
    ],
)
def test_bad_settings_fail_with_one_line_naming_the_setting(kwargs, names):
    with pytest.raises(SipConfigError) as err:
        SipSettings(**kwargs)
    msg = str(err.value)
    assert names in msg and "\n" not in msg


def test_allowed_networks():
    s = SipSettings(allowed_networks=("127.0.0.1/32", "10.1.0.0/16", "::1/128"))
    assert s.allows("127.0.0.1") and s.allows("10.1.200.3") and s.allows("::1")
    assert not s.allows("127.0.0.2") and not s.allows("10.2.0.1") and not s.allows("not-an-ip")
    assert not SipSettings(allowed_networks=()).allows("127.0.0.1")


@pytest.mark.parametrize(
    ("uri", "user"),
    [
        ('"Alice" <sip:+15551234@pbx.example.com;user=phone>', "+15551234"),
        ("<sip:sipp@127.0.0.1:5060>", "sipp"),
        ("sips:bob@example.com", "bob"),
        ("sip:127.0.0.1:5070", "127.0.0.1"),
        ("garbage", None),
    ],
)
def test_caller_id_is_the_user_part(uri, user):
    assert uri_user(uri) == user


def test_dtmf_schedule_parsing():
    assert parse_dtmf("1@2.5,#*@4,A@0") == [(0.0, "A"), (2.5, "1"), (4.0, "#*")]
    assert parse_dtmf(None) == []
    for bad in ("1@soon", "x@1", "1@-2"):
        with pytest.raises(ValueError, match="--dtmf"):
            parse_dtmf(bad)


def test_frame_buffer_roundtrip_through_ctypes():
    import pjsua2 as pj

    framebuf.check_layout()
    frame = pj.MediaFrame()
    pcm = np.arange(320, dtype=np.int16).tobytes()
    framebuf.write(frame.buf, pcm)
    assert bytes(frame.buf) == pcm and framebuf.read(frame.buf) == pcm
    framebuf.write(frame.buf, b"")
    assert framebuf.read(frame.buf) == b""


@pytest.mark.parametrize(("encode", "sox_name"), [(sipp.alaw_encode, "a-law"), (sipp.ulaw_encode, "u-law")])
def test_g711_encoders_match_sox_decoding(tmp_path, encode, sox_name):
    x = (np.sin(np.arange(8000) * 0.05) * 20000).astype(np.int16)
    (tmp_path / "in.raw").write_bytes(encode(x))
    subprocess.run(["sox", "-t", "raw", "-r", "8000", "-e", sox_name, "-c", "1", str(tmp_path / "in.raw"),
                    "-t", "raw", "-e", "signed", "-b", "16", str(tmp_path / "out.raw")], check=True)
    back = np.frombuffer((tmp_path / "out.raw").read_bytes(), dtype=np.int16)
    assert np.abs(back.astype(int) - x).max() <= 1024  # within one quantisation step of G.711
    assert np.corrcoef(back, x)[0, 1] > 0.999


def test_caller_cli_rejects_bad_input_with_one_line(tmp_path, capsys):
    bad_wav = tmp_path / "bad.wav"
    bad_wav.write_bytes(b"RIFF not really")
    assert caller_main(["sip:bot@127.0.0.1:5070", "--play", str(bad_wav)]) == 2
    assert caller_main(["sip:bot@127.0.0.1:5070", "--dtmf", "1@later"]) == 2
    assert caller_main(["sip:bot@127.0.0.1:5070", "--allow", "nonsense"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "bad.wav" in lines[0] and "--dtmf" in lines[1] and "allowed_networks" in lines[2]


def test_settings_from_a_config_section():
    s = SipSettings.from_mapping({"port": 5070, "allowed_networks": ["10.0.0.0/8"], "codecs": ["PCMU"]},
                                 port=5080, bind=None)
    assert s.port == 5080 and s.allowed_networks == ("10.0.0.0/8",) and s.codecs == ("PCMU",)
    for section, name in (({"prot": 5060}, "prot"), ({"port": "5060"}, "port"),
                          ({"rtp_timeout_s": "soon"}, "rtp_timeout_s")):
        with pytest.raises(SipConfigError, match=name):
            SipSettings.from_mapping(section)


def test_invite_gate_sorts_by_network_and_rate():
    now = [0.0]
    gate = InviteGate(SipSettings(allowed_networks=("127.0.0.1/32", "::1/128")), rate=2.0, burst=2.0,
                      clock=lambda: now[0])
    assert gate.decide("10.0.0.9:5060") == FORBIDDEN  # never admitted, whatever the rate
    assert [gate.decide("127.0.0.1:5060") for _ in range(3)] == [ALLOW, ALLOW, OVERLOAD]
    now[0] += 0.5  # one token back at 2/s
    assert gate.decide("[::1]:5060") == ALLOW and gate.decide("127.0.0.1:5060") == OVERLOAD
    assert gate.counts == {ALLOW: 3, FORBIDDEN: 1, OVERLOAD: 2}
    assert source_ip("[::1]:5060") == "::1" and source_ip("10.1.2.3:7") == "10.1.2.3"
    with pytest.raises(SipConfigError, match="max_call_rate"):
        SipSettings(max_call_rate=100)
