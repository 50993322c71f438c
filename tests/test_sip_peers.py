"""Two-way calls with real softphones: baresip, and our own pjsua2 caller in a second process.

What is checked is what a person on the phone would notice: they hear the bot (the responder's audio,
window by window), the bot hears them, and a transfer puts them through to the agent.
"""

from __future__ import annotations

import asyncio
import shutil

import numpy as np
import pytest
import soundfile as sf
from sip_support import CallerProcess, run, run_baresip, to_rate, voice_like, window_correlations

from telephony import sipp
from telephony.responder import Responder
from telephony.server import SipServer
from telephony.settings import SipSettings

pytestmark = [pytest.mark.sip, pytest.mark.slow]


def _write8k(path, pcm: np.ndarray) -> None:
    sf.write(str(path), pcm, 8000, subtype="PCM_16")


def _heard16k(rec) -> np.ndarray:
    return np.frombuffer(bytes(rec.heard), dtype=np.int16)


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed")
@pytest.mark.parametrize("codec", ["PCMU", "G722"])
def test_baresip_hears_the_bot_and_the_bot_hears_baresip(tmp_path, codec):
    caller_says = voice_like(4.0, seed=11)
    if codec == "G722":  # baresip's aufile plays only at the codec's own rate
        sf.write(str(tmp_path / "says.wav"), to_rate(caller_says, 8000, 16000).astype(np.int16), 16000)
    else:
        _write8k(tmp_path / "says.wav", caller_says)
    bot_says = to_rate(voice_like(2.5, seed=12), 8000, 16000).astype(np.int16)

    async def scenario():
        responder = Responder(greeting=bot_says.tobytes())
        async with SipServer(SipSettings(port=0, record_dir=str(tmp_path / "calls")), responder) as server:
            heard, out = await run_baresip(tmp_path / "baresip", server.uri, tmp_path / "says.wav", codec, 6)
            await asyncio.wait_for(responder.finished.wait(), 5)
        return responder, heard, out

    responder, heard_path, out = run(scenario())
    assert heard_path is not None, f"baresip recorded nothing:\n{out[-2000:]}"
    call = responder.calls[0]
    assert call.codec == codec and call.caller_id == "baresip"
    # the caller heard the bot
    heard, rate = sf.read(str(heard_path), dtype="int16")
    scores = window_correlations(to_rate(bot_says, 16000, rate), heard, rate)
    assert len(scores) >= 2 and min(scores) > 0.9, scores
    # the bot heard the caller
    scores = window_correlations(to_rate(caller_says, 8000, 16000), _heard16k(call), 16000)
    assert len(scores) >= 3 and min(scores) > 0.9, scores
    # and the recording holds both legs, aligned: caller left, bot right
    rec, rate = sf.read(call.recording, dtype="int16")
    assert rate == 16000 and rec.shape[1] == 2
    assert min(window_correlations(bot_says, rec[:, 1], 16000)) > 0.9


def test_server_calls_the_pjsua2_caller_and_audio_flows_both_ways(tmp_path):
    caller_says = voice_like(3.0, seed=21)
    _write8k(tmp_path / "says.wav", caller_says)
    bot_says = to_rate(voice_like(2.0, seed=22), 8000, 16000).astype(np.int16)

    async def scenario():
        callee = CallerProcess("--listen", "--play", str(tmp_path / "says.wav"),
                               "--record", str(tmp_path / "heard.wav"), "--tail", "0.5", "--timeout", "20")
        uri = await callee.start()
        responder = Responder(greeting=bot_says.tobytes())
        async with SipServer(SipSettings(port=0), responder) as server:
            t = await server.call(uri, timeout=10)
            assert t.ready and t.rx_stats.get("packets", 0) > 0  # media flowed before we "speak"
            await responder(t)
        return responder, await callee.result()

    responder, summary = run(scenario())
    (leg,) = summary["legs"]
    assert leg["codec"] == "G722" and leg["ended_by"] == "caller"
    heard, rate = sf.read(leg["record"], dtype="int16")
    scores = window_correlations(bot_says, heard, rate)
    assert len(scores) >= 2 and min(scores) > 0.9, scores
    call = responder.calls[0]
    assert call.direction == "outbound" and call.codec == "G722"
    # the greeting started at once, so the callee heard it from the start of its recording
    assert np.sqrt(np.mean(heard[: rate // 2].astype(float) ** 2)) > 300
    scores = window_correlations(to_rate(caller_says, 8000, 16000), _heard16k(call), 16000)
    assert len(scores) >= 2 and min(scores) > 0.9, scores


def test_dtmf_from_the_pjsua2_caller_both_methods(tmp_path):
    _write8k(tmp_path / "says.wav", voice_like(1.4, seed=31))

    async def scenario(method: str):
        responder = Responder()
        async with SipServer(SipSettings(port=0), responder) as server:
            caller = CallerProcess(server.uri, "--play", str(tmp_path / "says.wav"), "--dtmf", "1@0.3,4#@0.9",
                                   "--dtmf-method", method, "--tail", "0.3")
            await caller.start()
            await caller.result()
            await asyncio.wait_for(responder.finished.wait(), 5)
        return responder.calls[0].keys

    assert run(scenario("rfc2833")) == ["1", "4", "#"]
    assert run(scenario("info")) == ["1", "4", "#"]


@pytest.mark.skipif(sipp.SIPP is None, reason="sipp (Debian sip-tester) is not installed")
def test_blind_transfer_puts_the_caller_through_to_the_agent(tmp_path):
    _write8k(tmp_path / "says.wav", voice_like(2.0, seed=41))

    async def scenario():
        agent_port = sipp.free_port()
        # the agent: sipp's built-in UAS answers, then waits for the caller's BYE
        agent = asyncio.ensure_future(sipp.run_sipp(None, builtin="uas", local_port=agent_port, timeout_s=30))
        await asyncio.sleep(0.5)
        responder = Responder(transfer_to=f"sip:agent@127.0.0.1:{agent_port}", transfer_after_s=0.5)
        async with SipServer(SipSettings(port=0), responder) as server:
            caller = CallerProcess(server.uri, "--play", str(tmp_path / "says.wav"), "--tail", "1.0")
            await caller.start()
            summary = await caller.result()
            await asyncio.wait_for(responder.finished.wait(), 5)
        return responder, summary, await agent

    responder, summary, agent = run(scenario())
    assert responder.calls[0].transferred is True
    legs = summary["legs"]
    assert len(legs) == 2 and "agent@" in legs[1]["remote"]
    assert legs[0]["ended_by"] == "remote"  # the bot left once the agent answered
    assert agent.ok, agent.errors or agent.out
