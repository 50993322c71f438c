"""Calls into the SIP server from sipp, a real SIP stack with its own RTP, on loopback.

Each test starts a `SipServer` (ephemeral port) with the stand-in `Responder` as the bot and checks what
a caller-facing user would: the call is answered, the caller's audio and keys reach the bus, bad calls are
refused with the right status, and nothing that arrives on the wire takes the server down.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import numpy as np
import pytest
from sip_support import run, sip_request, stop_processes, to_rate, voice_like, wait_answering, window_correlations

from telephony import sipp
from telephony.call_transport import SipCallTransport
from telephony.responder import Responder, tone
from telephony.server import SipServer
from telephony.settings import SipSettings
from voicebot.frames import HangUp, InputEnded

pytestmark = [
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(sipp.SIPP is None, reason="sipp (Debian sip-tester) is not installed"),
]


async def _call(scenario: str, responder: Responder | None = None, local_ip: str = "127.0.0.1",
                wait_end: bool = True, **settings: object) -> tuple[sipp.SippResult, Responder, SipServer]:
    responder = responder or Responder(greeting=tone(seconds=1.0))
    async with SipServer(SipSettings(port=0, **settings), responder) as server:
        res = await sipp.run_sipp(f"127.0.0.1:{server.port}", scenario, local_ip=local_ip, timeout_s=20)
        if wait_end and responder.calls:
            await asyncio.wait_for(responder.finished.wait(), 5)
    return res, responder, server


def test_sipp_call_is_answered_and_caller_audio_reaches_the_bus(tmp_path):
    said = voice_like(3.0, seed=3)
    pcap = tmp_path / "said.pcap"
    sipp.write_rtp_pcap(pcap, said, "PCMA")
    res, responder, _ = run(_call(sipp.uac([sipp.play(pcap, 3400)], sipp.sdp({8: "PCMA/8000"}))))

    assert res.ok, res.errors or res.out
    call = responder.calls[0]
    assert call.caller_id == "sipp" and call.direction == "inbound" and call.codec == "PCMA"
    assert isinstance(call.ended, HangUp) and call.ended.by == "caller"
    # 20 ms frames at the bus rate, paced by the clock (no burst, no gap)
    assert len(call.heard) % 640 == 0
    steps = np.diff(call.frame_times)
    assert len(steps) > 150 and np.median(steps) == pytest.approx(0.02, abs=0.004)
    assert call.energetic_frames() > 120  # ~3 s of the caller talking
    heard = np.frombuffer(bytes(call.heard), dtype=np.int16)
    scores = window_correlations(to_rate(said, 8000, 16000), heard, 16000)
    assert len(scores) >= 2 and min(scores) > 0.9, scores


def test_stock_sipp_uac_pcap_scenario():
    """sipp's own `uac_pcap`: 8 s of G.711 A-law speech from the Debian pcap, then an RFC 2833 '1'."""

    async def scenario() -> tuple[sipp.SippResult, Responder]:
        responder = Responder(greeting=tone(seconds=1.0))
        async with SipServer(SipSettings(port=0), responder) as server:
            res = await sipp.run_sipp(f"127.0.0.1:{server.port}", builtin="uac_pcap", timeout_s=25)
            await asyncio.wait_for(responder.finished.wait(), 5)
        return res, responder

    res, responder = run(scenario())
    assert res.ok, res.errors or res.out
    call = responder.calls[0]
    assert call.keys == ["1"] and isinstance(call.ended, HangUp)
    assert call.energetic_frames() > 200  # several seconds of speech reached the bus


def test_rfc2833_and_sip_info_dtmf_become_key_presses():
    steps = [sipp.play(sipp.DEBIAN_PCAPS / "dtmf_2833_7.pcap", 500), sipp.info_dtmf("5", 2),
             sipp.pause(200), sipp.info_dtmf("#", 3), sipp.pause(300)]
    res, responder, _ = run(_call(sipp.uac(steps)))
    assert res.ok, res.errors or res.out
    assert responder.calls[0].keys == ["7", "5", "#"]


def test_invite_from_a_network_not_allowed_gets_403():
    # sipp calls from 127.0.0.2: loopback, but outside the one address we allow
    res, responder, server = run(
        _call(sipp.uac([], expect=403), local_ip="127.0.0.2", allowed_networks=("127.0.0.1/32",))
    )
    assert res.ok, res.errors or res.out
    assert responder.calls == []
    assert [code for code, _ in server.rejected] == [403]


def test_offer_without_a_common_codec_gets_488():
    # GSM and speex are in the pjsua2 wheel but not in our codec list: pjsua must refuse them itself
    offer = sipp.sdp({3: "GSM/8000", 97: "speex/8000"})
    res, responder, server = run(_call(sipp.uac([], offer, expect=488)))
    assert res.ok, res.errors or res.out
    assert responder.calls == []
    assert 488 in [code for code, _ in server.endpoint.rejected]


def test_rtp_that_stops_mid_call_ends_input_and_the_call(tmp_path):
    pcap = tmp_path / "short.pcap"
    sipp.write_rtp_pcap(pcap, voice_like(1.0), "PCMU")
    # sipp plays 1 s of audio, then sends nothing and waits for our BYE
    scenario = sipp.uac([sipp.play(pcap, 1000), sipp.expect_bye(8000)], sipp.sdp({0: "PCMU/8000"}))
    responder = Responder()
    res, responder, _ = run(_call(scenario, responder, rtp_timeout_s=1.5))
    assert res.ok, res.errors or res.out  # sipp got our BYE and answered it
    ended = responder.calls[0].ended
    assert isinstance(ended, InputEnded) and "RTP" in ended.reason
    assert 2.0 < ended.t < 6.0


def test_fifth_simultaneous_call_gets_486(tmp_path):
    pcap = tmp_path / "hold.pcap"
    sipp.write_rtp_pcap(pcap, voice_like(4.0), "PCMA")
    hold = sipp.uac([sipp.play(pcap, 4000)], sipp.sdp({8: "PCMA/8000"}))

    async def scenario() -> tuple[sipp.SippResult, sipp.SippResult, Responder, SipServer]:
        responder = Responder()
        async with SipServer(SipSettings(port=0), responder) as server:
            target = f"127.0.0.1:{server.port}"
            four = asyncio.ensure_future(sipp.run_sipp(target, hold, calls=4, limit=4, rate=50, timeout_s=20))
            while len(server.transports) < 4 and not four.done():
                await asyncio.sleep(0.05)
            fifth = await sipp.run_sipp(target, sipp.uac([], expect=486), timeout_s=10)
            return await four, fifth, responder, server

    four, fifth, responder, server = run(scenario())
    assert fifth.ok, fifth.errors or fifth.out
    assert four.ok, four.errors or four.out
    assert len(responder.calls) == 4
    assert 486 in [code for code, _ in server.endpoint.rejected]  # pjsua's own PJSUA_MAX_CALLS


def test_max_calls_setting_below_the_wheel_limit_gives_486(tmp_path):
    pcap = tmp_path / "hold.pcap"
    sipp.write_rtp_pcap(pcap, voice_like(2.0), "PCMA")
    hold = sipp.uac([sipp.play(pcap, 2500)], sipp.sdp({8: "PCMA/8000"}))

    async def scenario() -> tuple[sipp.SippResult, sipp.SippResult, SipServer]:
        async with SipServer(SipSettings(port=0, max_calls=1), Responder()) as server:
            target = f"127.0.0.1:{server.port}"
            first = asyncio.ensure_future(sipp.run_sipp(target, hold, timeout_s=15))
            while not server.transports and not first.done():
                await asyncio.sleep(0.05)
            second = await sipp.run_sipp(target, sipp.uac([], expect=486), timeout_s=10)
            return await first, second, server

    first, second, server = run(scenario())
    assert first.ok and second.ok, (first.errors, second.errors)
    assert [code for code, _ in server.rejected] == [486]


GARBAGE = [
    b"\x00\xff\x13garbage\r\n\r\n",
    b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKtrunc\r\nFrom: <sip",
    b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKbad\r\n"
    b"From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:bot@127.0.0.1>\r\nCall-ID: bad-sdp\r\nCSeq: 1 INVITE\r\n"
    b"Contact: <sip:x@127.0.0.1:5999>\r\nContent-Type: application/sdp\r\n"
    b"Content-Length: 9000\r\n\r\nv=0\r\nm=",
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKnone\r\nCSeq: 1 INVITE\r\n\r\n",
    b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKsdp\r\n"
    b"From: <sip:x@127.0.0.1>;tag=2\r\nTo: <sip:bot@127.0.0.1>\r\nCall-ID: junk-sdp\r\nCSeq: 1 INVITE\r\n"
    b"Contact: <sip:x@127.0.0.1:5999>\r\nContent-Type: application/sdp\r\nContent-Length: 31\r\n\r\n"
    b"v=0\r\nm=audio port RTP/AVP x\r\n\r\n",
    bytes(range(256)) * 4,
]


def test_malformed_sip_leaves_the_server_answering(tmp_path):
    async def scenario() -> tuple[sipp.SippResult, Responder]:
        responder = Responder()
        async with SipServer(SipSettings(port=0), responder) as server:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for junk in GARBAGE:
                    s.sendto(junk, ("127.0.0.1", server.port))
            await asyncio.sleep(0.3)
            res = await sipp.run_sipp(f"127.0.0.1:{server.port}", sipp.uac([sipp.pause(300)]), timeout_s=10)
            await asyncio.wait_for(responder.finished.wait(), 5)
        return res, responder

    res, responder = run(scenario())
    assert res.ok, res.errors or res.out
    assert len(responder.calls) == 1


def test_invite_floods_do_not_kill_the_server(tmp_path):
    """300 INVITE/s, as SIP scanners send: once from a network we refuse, once from an allowed one.

    pjsua opens media sockets for every INVITE before we see it, and its 64-slot ioqueue aborts the
    process when they run out; the server runs in its own process here so that a crash shows as one."""

    async def scenario():
        port = sipp.free_port()
        log = (tmp_path / "responder.log").open("wb")
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "telephony.responder", "--port", str(port), "--allow", "127.0.0.1/32",
            "--hangup-after", "1", stdout=log, stderr=log)
        try:
            await wait_answering(port)  # the responder imports and starts its SIP stack
            target = f"127.0.0.1:{port}"
            outsider = await sipp.run_sipp(target, sipp.uac([], expect=403), local_ip="127.0.0.2", calls=400,
                                           limit=50, rate=300, timeout_s=20)
            insider = await sipp.run_sipp(target, sipp.uac([]), calls=400, limit=4, rate=300, timeout_s=20)
            alive_after = server.returncode is None
            await asyncio.sleep(1.5)  # the rate budget refills
            normal = await sipp.run_sipp(target, sipp.uac([sipp.expect_bye(5000)]), timeout_s=10)
            return outsider, insider, alive_after, normal
        finally:
            await stop_processes([server])
            log.close()

    outsider, insider, alive_after, normal = run(scenario())
    assert outsider.ok, outsider.errors[-500:]  # all 400 refused with 403
    assert "SIP/2.0 503" in insider.errors  # the excess got 503 Service Unavailable...
    assert alive_after, (tmp_path / "responder.log").read_text()[-2000:]
    assert normal.ok, normal.errors or normal.out  # ...and the server still answers


def test_hold_and_resume_keep_the_call_and_its_audio(tmp_path):
    """The caller puts the bot on hold (no RTP, longer than rtp_timeout_s), then comes back."""
    before, after = tmp_path / "before.pcap", tmp_path / "after.pcap"
    sipp.write_rtp_pcap(before, voice_like(1.0, seed=5), "PCMA")
    sipp.write_rtp_pcap(after, voice_like(1.0, seed=6), "PCMA", first_seq=200)  # the stream goes on
    codecs = {8: "PCMA/8000"}
    steps = [sipp.play(before, 1100), sipp.reinvite(2, sipp.sdp(codecs, direction="sendonly", version=2)),
             sipp.pause(2500), sipp.reinvite(3, sipp.sdp(codecs, direction="sendrecv", version=3)),
             sipp.play(after, 1300)]
    responder = Responder(greeting=tone(seconds=0.5))
    res, responder, _ = run(_call(sipp.uac(steps, sipp.sdp(codecs)), responder, rtp_timeout_s=1.5))
    assert res.ok, res.errors or res.out
    call = responder.calls[0]
    assert isinstance(call.ended, HangUp)  # the caller hung up at the end: no "RTP lost" on hold
    # audio before the hold and after the resume reached the bus
    pcm = np.frombuffer(bytes(call.heard), dtype=np.int16).reshape(-1, 320).astype(float)
    loud = np.sqrt((pcm**2).mean(axis=1)) > 300
    assert loud[:60].sum() > 30 and loud[-70:].sum() > 30, loud.astype(int)


def test_a_failure_while_answering_ends_that_call_and_frees_its_slot(monkeypatch):
    """Something fails after the call object exists (here: attaching the transport, once): the caller gets
    500, and the call no longer counts against max_calls."""
    attach, failures = SipCallTransport.attach, [RuntimeError("attach failed")]

    def attach_once(self, call):
        if failures:
            raise failures.pop()
        attach(self, call)

    monkeypatch.setattr(SipCallTransport, "attach", attach_once)

    async def scenario():
        responder = Responder()
        async with SipServer(SipSettings(port=0, max_calls=1), responder) as server:
            target = f"127.0.0.1:{server.port}"
            failed = await sipp.run_sipp(target, sipp.uac([], expect=500), timeout_s=8)
            await asyncio.sleep(0.3)
            left = dict(server.endpoint.live_calls)
            normal = await sipp.run_sipp(target, sipp.uac([sipp.pause(200)]), timeout_s=8)
            await asyncio.wait_for(responder.finished.wait(), 5)
            return failed, left, normal, responder

    failed, left, normal, responder = run(scenario())
    assert failed.ok, failed.errors or failed.out
    assert left == {}
    assert normal.ok, normal.errors or normal.out  # answered, not 486: the failed call freed its slot
    assert len(responder.calls) == 1


def test_a_server_that_only_places_calls_refuses_incoming_ones():
    """No on_call (voicebot call, or a bot still loading its engines): 503 before any media is opened."""

    async def scenario():
        async with SipServer(SipSettings(port=0)) as server:
            line = await asyncio.get_running_loop().run_in_executor(
                None, sip_request, server.port, "INVITE", "127.0.0.1", 3.0)
            server.on_call = Responder()  # ready now: the next call is answered
            res = await sipp.run_sipp(f"127.0.0.1:{server.port}", sipp.uac([sipp.pause(200)]), timeout_s=8)
            return line, res, list(server.rejected)

    line, res, rejected = run(scenario())
    assert line == "SIP/2.0 503 Service Unavailable (not answering calls)"
    assert res.ok, res.errors or res.out
    assert [code for code, _ in rejected] == [503]


def test_refused_invites_are_remembered_in_bounded_memory():
    async def scenario():
        async with SipServer(SipSettings(port=0, allowed_networks=("127.0.0.1/32",)), Responder()) as server:
            res = await sipp.run_sipp(f"127.0.0.1:{server.port}", sipp.uac([], expect=403), local_ip="127.0.0.2",
                                      calls=150, limit=20, rate=100, timeout_s=15)
            return res, list(server.rejected)

    res, rejected = run(scenario())
    assert res.ok, res.errors[-500:]
    assert len(rejected) == 100 and all(code == 403 for code, _ in rejected)  # the latest 100 of 150
