"""Call and server lifecycle against real peers: who hangs up, shutdown with calls up, registration,
TCP and TLS, and outgoing calls that do not get through."""

from __future__ import annotations

import asyncio
import resource
import shutil
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
from sip_support import CallerProcess, run, stop_processes, voice_like, wait_answering

from telephony import sipp
from telephony.dialog import CallFailed
from telephony.endpoint import SWITCH_INTERVAL_S, SipStartError
from telephony.responder import Responder, tone
from telephony.server import SipServer
from telephony.settings import SipConfigError, SipSettings
from voicebot.frames import HangUp

pytestmark = [
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(sipp.SIPP is None, reason="sipp (Debian sip-tester) is not installed"),
]


def test_bot_ending_the_call_sends_bye():
    responder = Responder(greeting=tone(seconds=0.5), hangup_after_s=1.0)

    async def scenario():
        async with SipServer(SipSettings(port=0), responder) as server:
            bye = sipp.uac([sipp.expect_bye(5000)])
            res = await sipp.run_sipp(f"127.0.0.1:{server.port}", bye, timeout_s=10)
            await asyncio.wait_for(responder.finished.wait(), 5)
        return res

    res = run(scenario())
    assert res.ok, res.errors or res.out
    assert responder.calls[0].ended is None  # the bot left: no HangUp from the caller


def test_stopping_the_server_hangs_up_live_calls_and_it_can_start_again(tmp_path):
    pcap = tmp_path / "long.pcap"
    sipp.write_rtp_pcap(pcap, voice_like(6.0), "PCMA")
    scenario_xml = sipp.uac([sipp.play(pcap, 0), sipp.expect_bye(8000)], sipp.sdp({8: "PCMA/8000"}))

    async def scenario():
        responder = Responder(greeting=tone(seconds=5.0))
        server = SipServer(SipSettings(port=0), responder)
        await server.start()
        calls = asyncio.ensure_future(
            sipp.run_sipp(f"127.0.0.1:{server.port}", scenario_xml, calls=2, limit=2, timeout_s=15))
        while len(responder.calls) < 2 and not calls.done():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        await server.aclose()  # two calls up, audio flowing both ways
        first = await calls
        # the same process brings a new SIP stack up and answers again
        responder2 = Responder()
        async with SipServer(SipSettings(port=0), responder2) as again:
            second = await sipp.run_sipp(f"127.0.0.1:{again.port}", sipp.uac([sipp.pause(300)]), timeout_s=10)
            await asyncio.wait_for(responder2.finished.wait(), 5)
        return first, second, responder, responder2

    first, second, responder, responder2 = run(scenario())
    assert first.ok, first.errors or first.out  # both callers got our BYE
    assert len(responder.calls) == 2
    # the sessions were told the call ended because we stopped, not because the callers hung up
    assert all(isinstance(c.ended, HangUp) and c.ended.by == "system" for c in responder.calls)
    assert second.ok and len(responder2.calls) == 1


def test_a_stopped_server_left_to_the_gc_does_not_break_the_next_one():
    """Restart in one process (as `voicebot call` does per call): the old server is dropped and the cyclic
    GC runs while the new SIP stack is up, on the event loop's thread. In a child process: a crash is an
    abort, not a failed assert."""
    script = textwrap.dedent("""
        import asyncio, gc, sys
        from telephony import sipp
        from telephony.responder import Responder
        from telephony.server import SipServer
        from telephony.settings import SipSettings

        async def main():
            gc.disable()  # collect where the test says, as a real process may at any time
            a = SipServer(SipSettings(port=0), Responder())
            await a.start()
            await a.aclose()
            del a
            async with SipServer(SipSettings(port=0), Responder()) as b:
                gc.collect()
                await b.endpoint.run(gc.collect)  # and on the new stack's own thread
                r = await sipp.run_sipp(f"127.0.0.1:{b.port}", sipp.uac([sipp.pause(200)]), timeout_s=8)
                print("CALL", r.ok, flush=True)

        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "CALL True" in out.stdout, (out.returncode, out.stdout, out.stderr[-2000:])


def test_registration_with_digest_credentials():
    async def scenario(password: str):
        port = sipp.free_port()
        registrar = sipp.registrar("s3cret")
        reg = asyncio.ensure_future(sipp.run_sipp(None, registrar, local_port=port, timeout_s=20))
        await asyncio.sleep(0.3)
        settings = SipSettings(port=0, registrar=f"sip:127.0.0.1:{port}", username="bot", password=password)
        async with SipServer(settings) as server:
            status = await server.wait_registered(10)
        if status[0] != 200:
            reg.cancel()
            return status, None
        return status, await reg

    (code, _), reg = run(scenario("s3cret"))
    assert code == 200
    assert reg.ok, reg.errors or reg.out  # the registrar checked our digest, and we un-registered at stop
    (code, _), _ = run(scenario("wrong"))
    assert code == 403


def test_tcp_transport_answers_a_call():
    responder = Responder(greeting=tone(seconds=0.5))

    async def scenario():
        async with SipServer(SipSettings(port=0, transport="tcp"), responder) as server:
            res = await sipp.run_sipp(f"127.0.0.1:{server.port}", sipp.uac([sipp.pause(500)]),
                                      timeout_s=10, extra=("-t", "t1"))
            await asyncio.wait_for(responder.finished.wait(), 5)
        return res

    res = run(scenario())
    assert res.ok, res.errors or res.out
    assert isinstance(responder.calls[0].ended, HangUp)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_call_between_two_processes(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    sf.write(str(tmp_path / "says.wav"), voice_like(1.5), 8000, subtype="PCM_16")
    responder = Responder(greeting=tone(seconds=1.0))

    async def scenario():
        settings = SipSettings(port=0, transport="tls", tls_cert=str(cert), tls_key=str(key))
        async with SipServer(settings, responder) as server:
            assert server.uri.startswith("sips:")
            async with CallerProcess(server.uri, "--transport", "tls", "--tls-cert", str(cert), "--tls-key",
                                     str(key), "--play", str(tmp_path / "says.wav"), "--tail", "0.5") as caller:
                summary = await caller.result()
            await asyncio.wait_for(responder.finished.wait(), 5)
        return summary

    summary = run(scenario())
    assert summary["legs"][0]["heard_rms"] > 300  # the tone came through
    assert responder.calls[0].energetic_frames() > 40


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _signed_cert(tmp_path, name: str, ca: tuple) -> tuple:
    """A key and a certificate for 127.0.0.1 signed by `ca` (cert, key)."""
    key, csr, cert, ext = (tmp_path / f"{name}.{x}" for x in ("key", "csr", "pem", "ext"))
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
             "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_mutual_tls_admits_only_certificates_the_ca_signed(tmp_path):
    ca = tmp_path / "ca.pem", tmp_path / "ca.key"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=voicebot test CA",
             "-keyout", str(ca[1]), "-out", str(ca[0]))
    server_cert, server_key = _signed_cert(tmp_path, "server", ca)
    good_cert, good_key = _signed_cert(tmp_path, "good", ca)
    rogue_cert, rogue_key = tmp_path / "rogue.pem", tmp_path / "rogue.key"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-keyout", str(rogue_key), "-out", str(rogue_cert))
    sf.write(str(tmp_path / "says.wav"), voice_like(1.0), 8000, subtype="PCM_16")
    responder = Responder(greeting=tone(seconds=1.0))

    async def scenario():
        settings = SipSettings(port=0, transport="tls", tls_cert=str(server_cert), tls_key=str(server_key),
                               tls_ca=str(ca[0]))
        async with SipServer(settings, responder) as server:
            def caller(cert, key) -> CallerProcess:
                return CallerProcess(server.uri, "--transport", "tls", "--tls-cert", str(cert), "--tls-key",
                                     str(key), "--tls-ca", str(ca[0]), "--play", str(tmp_path / "says.wav"),
                                     "--tail", "0.3", "--timeout", "10")

            async with caller(rogue_cert, rogue_key) as rogue:
                _, err = await asyncio.wait_for(rogue.proc.communicate(), 30)
            refused = (rogue.proc.returncode, len(responder.calls))
            async with caller(good_cert, good_key) as good:
                summary = await good.result()
            await asyncio.wait_for(responder.finished.wait(), 5)
        return refused, err.decode(errors="replace"), summary

    (rogue_rc, calls_before), rogue_err, summary = run(scenario())
    assert rogue_rc != 0 and calls_before == 0, rogue_err  # no handshake, no call
    assert summary["legs"][0]["heard_rms"] > 300  # the CA-signed caller got through and heard the bot


def test_outgoing_call_failures_are_reported_not_raised_raw():
    busy = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="busy">
  <recv request="INVITE"/>
  <send><![CDATA[
      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
"""

    async def scenario():
        port = sipp.free_port()
        peer = asyncio.ensure_future(sipp.run_sipp(None, busy, local_port=port, timeout_s=10))
        await asyncio.sleep(0.3)
        errors = []
        async with SipServer(SipSettings(port=0)) as server:
            tasks_before = asyncio.all_tasks()
            for uri, timeout in ((f"sip:busy@127.0.0.1:{port}", 5), ("not a uri", 5),
                                 (f"sip:nobody@127.0.0.1:{sipp.free_port()}", 2),
                                 ("sips:tls@127.0.0.1:5061", 2)):  # pjsua refuses at once: no TLS here
                try:
                    await server.call(uri, timeout=timeout)
                except (CallFailed, SipConfigError) as e:
                    errors.append(e)
            await asyncio.sleep(0.5)
            left = (len(server.endpoint.live_calls), len(server.transports), len(asyncio.all_tasks() - tasks_before))
        return errors, left, await peer

    errors, left, peer = run(scenario())
    assert [type(e) for e in errors] == [CallFailed, SipConfigError, CallFailed, CallFailed]
    assert "486" in str(errors[0]) and "not a SIP URI" in str(errors[1])
    assert all("\n" not in str(e) for e in errors)
    assert left == (0, 0, 0)  # no call, no transport, no task left behind by the calls that failed
    assert peer.ok, peer.errors


def test_recording_holds_both_legs(tmp_path):
    pcap = tmp_path / "said.pcap"
    said = voice_like(2.0, seed=9)
    sipp.write_rtp_pcap(pcap, said, "PCMU")
    responder = Responder(greeting=tone(seconds=1.0))

    async def scenario():
        async with SipServer(SipSettings(port=0, record_dir=str(tmp_path / "rec")), responder) as server:
            call = sipp.uac([sipp.play(pcap, 2200)], sipp.sdp({0: "PCMU/8000"}))
            res = await sipp.run_sipp(f"127.0.0.1:{server.port}", call, timeout_s=10)
            await asyncio.wait_for(responder.finished.wait(), 5)
        return res

    assert run(scenario()).ok
    wav, rate = sf.read(responder.calls[0].recording, dtype="int16")
    assert rate == 16000 and wav.shape[1] == 2
    rms = np.sqrt((wav[: 2 * rate].astype(float) ** 2).mean(axis=0))
    assert rms[0] > 1000 and rms[1] > 1000  # caller on the left, bot's tone on the right


def test_many_short_calls_free_their_conference_slots():
    async def scenario():
        settings = SipSettings(port=0, max_call_rate=15)
        async with SipServer(settings, Responder(greeting=tone(seconds=0.2))) as server:
            res = await sipp.run_sipp(f"127.0.0.1:{server.port}", sipp.uac([]), calls=30, limit=4, rate=12,
                                      timeout_s=20)
            await asyncio.sleep(0.5)
            ep = server.endpoint
            ports = await ep.run(lambda: ep.ep.mediaActivePorts())
            return res, ports, len(ep.live_calls), len(server.transports)

    res, ports, live, transports = run(scenario())
    assert res.ok, res.errors or res.out
    assert (ports, live, transports) == (1, 0, 0)  # only the bridge's own port is left


def test_start_errors_are_one_line():
    async def scenario():
        errors = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
            busy.bind(("127.0.0.1", 0))
            try:
                await SipServer(SipSettings(port=busy.getsockname()[1])).start()
            except SipStartError as e:
                errors.append(str(e))
        async with SipServer(SipSettings(port=0)):
            try:
                await SipServer(SipSettings(port=0)).start()  # pjsua2 allows one endpoint per process
            except SipStartError as e:
                errors.append(str(e))
        return errors

    errors = run(scenario())
    assert len(errors) == 2 and all("\n" not in e for e in errors), errors
    assert "cannot listen on udp 127.0.0.1" in errors[0] and "already" in errors[1]


def test_the_bridge_clock_gets_the_gil_often():
    """Python threads (engines, the event loop) must not starve the conference bridge's clock thread."""

    async def scenario():
        async with SipServer(SipSettings(port=0)):
            return sys.getswitchinterval()

    assert run(scenario()) <= SWITCH_INTERVAL_S <= 0.001


def test_jobs_fail_instead_of_hanging_when_the_pjsip_loop_died():
    async def scenario():
        server = SipServer(SipSettings(port=0))
        await server.start()
        ep = server.endpoint
        try:
            def die() -> None:
                raise SystemExit("the pjsip loop died")  # a BaseException ends the loop, as a crash in it would

            ep._drain_jobs = die  # the loop calls it on its next turn (and its teardown fails too)
            await asyncio.sleep(0.3)
            running = ep.running
            try:
                await asyncio.wait_for(ep.run(lambda: 1), 5)
                outcome = "ran"
            except RuntimeError as e:
                outcome = str(e)
            return running, outcome
        finally:
            await server.aclose()

    running, outcome = run(scenario())
    assert not running and "not running" in outcome


def test_a_recording_that_cannot_be_opened_does_not_drop_the_call(tmp_path):
    rec = tmp_path / "rec"
    responder = Responder(greeting=tone(seconds=1.0))

    async def scenario():
        async with SipServer(SipSettings(port=0, record_dir=str(rec)), responder) as server:
            rec.rmdir()
            rec.write_text("not a folder any more")  # e.g. the disk was unmounted after start-up
            call = sipp.uac([sipp.pause(2000)])
            res = await sipp.run_sipp(f"127.0.0.1:{server.port}", call, timeout_s=10)
            await asyncio.wait_for(responder.finished.wait(), 5)
        return res

    res = run(scenario())
    assert res.ok, res.errors or res.out  # the caller hung up after 2 s: we did not BYE first
    call = responder.calls[0]
    assert isinstance(call.ended, HangUp) and call.ended.by == "caller" and call.recording is None


def test_a_full_disk_mid_call_keeps_the_call_and_what_was_recorded(tmp_path):
    """The responder runs with a file size limit (RLIMIT_FSIZE): its recording fails with EFBIG after
    ~1.5 s of a 5 s call, as on a full disk."""
    pcap = tmp_path / "said.pcap"
    sipp.write_rtp_pcap(pcap, voice_like(5.0, seed=4), "PCMA")
    rec = tmp_path / "rec"
    limit = 100_000  # bytes: 1.5 s of 16 kHz stereo

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    async def scenario():
        port = sipp.free_port()
        log = (tmp_path / "responder.log").open("wb")
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "telephony.responder", "--port", str(port), "--record-dir", str(rec),
            "--hangup-after", "30", stdout=log, stderr=log, preexec_fn=small_files)
        try:
            await wait_answering(port)
            call = sipp.uac([sipp.play(pcap, 5000)], sipp.sdp({8: "PCMA/8000"}))
            return await sipp.run_sipp(f"127.0.0.1:{port}", call, timeout_s=15)
        finally:
            await stop_processes([server])
            log.close()

    res = run(scenario())
    text = (tmp_path / "responder.log").read_text()
    assert res.ok, (res.errors or res.out, text[-2000:])  # the caller hung up at 5 s: we did not BYE first
    assert "recording stopped" in text
    (wav,) = rec.glob("*.wav")
    info = sf.info(str(wav))  # a readable WAV with what fitted
    assert info.channels == 2 and 1.0 < info.duration <= limit / 64000
