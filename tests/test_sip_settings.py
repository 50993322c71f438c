"""Fast checks of the SIP side's pure parts: settings validation, URI and DTMF parsing, G.711, frames, the
dispatcher's configuration. (Everything here is also exercised for real by the test_sip_* call tests.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from telephony import dispatcher, framebuf, g711
from telephony.admission import ALLOW, FORBIDDEN, OVERLOAD, InviteGate, source_ip
from telephony.caller import main as caller_main
from telephony.caller import parse_dtmf
from telephony.endpoint import nameservers
from telephony.settings import SipConfigError, SipSettings
from telephony.uri import check_uri, uri_user


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"bind": "localhost"}, "bind"),
        ({"port": 70000}, "port"),
        ({"transport": "sctp"}, "transport"),
        ({"transport": "tls"}, "tls_cert"),
        ({"transport": "tls", "tls_cert": "/nonexistent.pem", "tls_key": "/nonexistent.key"}, "tls_cert"),
        ({"transport": "tls", "tls_cert": __file__, "tls_key": __file__, "tls_ca": "/nonexistent.pem"}, "tls_ca"),
        ({"registrar": "pbx.example.com", "username": "u", "password": "p"}, "registrar"),
        ({"registrar": "sip:", "username": "u", "password": "p"}, "registrar"),
        ({"registrar": "sip:pbx example.com", "username": "u", "password": "p"}, "registrar"),
        ({"username": "a b"}, "username"),
        ({"bind": "::1"}, "IPv6"),
        ({"record_dir": "/dev/null/rec"}, "record_dir"),
        ({"log_level": True}, "log_level"),
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
        ('"sip:x" <sip:+15551230001@h>', "+15551230001"),  # a display name that looks like a URI
        ('"Bob" <tel:+15551230001>', "+15551230001"),
        ("tel:+15551230001;phone-context=example.com", "+15551230001"),
        ("sip:%2B15551230001@h", "+15551230001"),  # escaped +
        ("sip:[2001:db8::1]:5060", "2001:db8::1"),
        ("<sip:alice:secret@h>", "alice"),
    ],
)
def test_caller_id_is_the_user_part(uri, user):
    assert uri_user(uri) == user


def test_uris_are_checked_before_anything_starts():
    assert check_uri(" sip:alice@127.0.0.1:5062 ") == "sip:alice@127.0.0.1:5062"
    for good in ("sips:bob@pbx.example.com;transport=tls", "sip:+15551230001@[2001:db8::1]:5060", "sip:h"):
        assert check_uri(good) == good
    for bad in ("not a uri", "sip:", "sip:pbx example.com", "alice@127.0.0.1", "tel:+1555", "", None):
        with pytest.raises(SipConfigError, match="not a SIP URI") as err:
            check_uri(bad)
        assert "\n" not in str(err.value)


def test_record_dir_is_created_and_stored_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = SipSettings(record_dir="calls/today")
    assert s.record_dir == str(tmp_path / "calls" / "today") and Path(s.record_dir).is_dir()


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


@pytest.mark.parametrize(("codec", "sox_name"), [("PCMA", "a-law"), ("PCMU", "u-law")])
def test_g711_matches_sox_both_ways(tmp_path, codec, sox_name):
    pt = g711.PAYLOAD_TYPES[codec]
    x = (np.sin(np.arange(8000) * 0.05) * 20000).astype(np.int16)
    raw = ["-t", "raw", "-r", "8000", "-c", "1"]
    # ours encodes, sox decodes
    (tmp_path / "in.raw").write_bytes(g711.ENCODE[pt](x))
    subprocess.run(["sox", *raw, "-e", sox_name, str(tmp_path / "in.raw"),
                    "-t", "raw", "-e", "signed", "-b", "16", str(tmp_path / "out.raw")], check=True)
    back = np.frombuffer((tmp_path / "out.raw").read_bytes(), dtype=np.int16)
    assert np.abs(back.astype(int) - x).max() <= 1024  # within one quantisation step of G.711
    assert np.corrcoef(back, x)[0, 1] > 0.999
    # sox encodes, ours decodes (what the tests do with the bot's RTP)
    (tmp_path / "pcm.raw").write_bytes(x.tobytes())
    subprocess.run(["sox", *raw, "-e", "signed", "-b", "16", str(tmp_path / "pcm.raw"),
                    "-t", "raw", "-e", sox_name, str(tmp_path / "law.raw")], check=True)
    ours = g711.decode((tmp_path / "law.raw").read_bytes(), pt)
    assert np.abs(ours.astype(int) - x).max() <= 1024 and np.corrcoef(ours, x)[0, 1] > 0.999


def test_caller_cli_rejects_bad_input_with_one_line(tmp_path, capsys):
    bad_wav = tmp_path / "bad.wav"
    bad_wav.write_bytes(b"RIFF not really")
    assert caller_main(["sip:bot@127.0.0.1:5070", "--play", str(bad_wav)]) == 2
    assert caller_main(["sip:bot@127.0.0.1:5070", "--dtmf", "1@later"]) == 2
    assert caller_main(["sip:bot@127.0.0.1:5070", "--allow", "nonsense"]) == 2
    assert caller_main(["sip:bot@127.0.0.1:5070", "--from", "a b"]) == 2
    assert caller_main(["not a uri"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("error: ") for line in lines)
    assert "bad.wav" in lines[0] and "--dtmf" in lines[1] and "allowed_networks" in lines[2]
    assert "username" in lines[3] and "not a SIP URI" in lines[4]


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
    assert source_ip("[::1]:5060") == "::1" and source_ip("10.1.2.3:7") == "10.1.2.3"
    with pytest.raises(SipConfigError, match="max_call_rate"):
        SipSettings(max_call_rate=100)


def test_settings_types_follow_the_annotations():
    with pytest.raises(SipConfigError, match="max_call_rate: 'fast' should be a number"):
        SipSettings(max_call_rate="fast")
    with pytest.raises(SipConfigError, match="record_dir: 5 should be text"):
        SipSettings(record_dir=5)
    assert SipSettings(rtp_timeout_s=3, codecs=["PCMU"]).rtp_timeout_s == 3


def test_a_dispatched_site_refuses_settings_it_cannot_serve():
    for kwargs, name in (({"transport": "tcp"}, "transport"), ({"bind": "0.0.0.0"}, "public_address")):
        with pytest.raises(SipConfigError, match=name) as err:
            dispatcher.check_site(SipSettings(**kwargs), 2)
        assert "\n" not in str(err.value)
    dispatcher.check_site(SipSettings(bind="0.0.0.0", public_address="192.0.2.10"), 2)
    # each worker binds the site's address and lets only the proxy in
    assert dispatcher.worker_args("192.0.2.10") == ["--bind", "192.0.2.10", "--port", "{port}",
                                                     "--allow", "192.0.2.10/32"]
    assert dispatcher.worker_args("0.0.0.0")[-1] == "127.0.0.1/32"


def test_kamailio_config_points_at_this_machine(tmp_path):
    dispatcher.render_config("192.0.2.10", 5060, tmp_path, [("192.0.2.10", 5071), ("192.0.2.10", 5072)])
    cfg = (tmp_path / "kamailio.cfg").read_text()
    assert not re.search(r"@[A-Z_]+@", cfg)  # every placeholder filled
    mpath = cfg.split('mpath="', 1)[1].split('"', 1)[0]
    assert Path(mpath, "dispatcher.so").is_file()
    assert "listen=udp:192.0.2.10:5060\n" in cfg
    assert (tmp_path / "dispatcher.list").read_text().splitlines() == [
        "1 sip:192.0.2.10:5071 0 0 duid=w1;maxload=4", "1 sip:192.0.2.10:5072 0 0 duid=w2;maxload=4"]
    with pytest.raises(SipConfigError, match="allowed_networks"):
        dispatcher.render_config("192.0.2.10", 5060, tmp_path, [], ("10.0.0.0/33",))


def test_kamailio_dispatcher_list_is_read():
    out = """{
	NRSETS: 1
	RECORDS: {
		SET: {
			ID: 1
			TARGETS: {
				DEST: {
					URI: sip:127.0.0.1:5071
					FLAGS: AP
					PRIORITY: 0
					ATTRS: {
						BODY: duid=w1;maxload=4
						DUID: w1
						MAXLOAD: 4
					}
					DLGLOAD: 3
				}
				DEST: {
					URI: sip:127.0.0.1:5072
					FLAGS: IP
				}
"""
    assert dispatcher.parse_dispatcher_list(out) == {"sip:127.0.0.1:5071": ("AP", 3), "sip:127.0.0.1:5072": ("IP", 0)}


def test_name_servers_come_from_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver fe80::1\n"
                    "nameserver 10.0.0.3 \noptions ndots:2\n")
    assert nameservers(conf) == ["10.0.0.2", "10.0.0.3"]
    assert nameservers(tmp_path / "missing") == []


def test_the_readme_sample_config_records_nothing_and_registers_nowhere(tmp_path):
    """The README's `voicebot.toml` sample, as an operator copies it: empty strings mean "not set"."""
    from voicebot.config import load_settings
    from voicebot.phone import sip_settings

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    sample = re.search(r"```toml\n(.*?)```", readme, re.S)
    assert sample, "the README lost its configuration sample"
    (tmp_path / "voicebot.toml").write_text(sample.group(1))
    sip = sip_settings(load_settings(str(tmp_path / "voicebot.toml")))
    assert sip.record_dir is None and sip.registrar is None and sip.tls_ca is None
    assert (sip.bind, sip.port, sip.transport) == ("127.0.0.1", 5060, "udp")
