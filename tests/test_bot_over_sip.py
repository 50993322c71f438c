"""The whole bot (`voicebot serve` / `voicebot call`: Whisper, dialogue, CRM, hibari) over real SIP peers.

Each test runs the real bot in its own process with its own SQLite CRM, a real peer (sipp, baresip, or the
built-in pjsua2 caller in another process) and checks what a customer and the service team would: the call
is answered, the bot's spoken answer reaches the caller (captured on the wire or recorded by the peer, and
transcribed by Whisper), and the CRM holds the call with the right intent and outcome.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from bot_sip_support import (
    FIXTURES,
    BotProcess,
    Capture,
    crm_interactions,
    fixture,
    heard_words,
    line_noise,
    read_udp,
    reap,
    rtp_streams,
    sip_lines,
    stream_pcm,
    talk_scenario,
    write_keys_pcap,
)
from sip_support import BARESIP_CONFIG, CallerProcess, run

from telephony import sipp

pytestmark = [
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.skipif(sipp.SIPP is None, reason="sipp (Debian sip-tester) is not installed"),
]
ALICE = "+15551230001"  # demo customer: order 4567 has shipped


def _sipp_call(bot: BotProcess, tmp_path, pcap, hold_ms: int, user: str):
    """sipp calls the bot while dumpcap records both RTP directions of sipp's media port and the SIP."""
    media = sipp.free_port() & ~1
    with Capture(tmp_path / "wire.pcap", f"udp port {media} or udp port {bot.port}"):
        res = run(sipp.run_sipp(f"127.0.0.1:{bot.port}", talk_scenario(pcap, hold_ms), user=user,
                                timeout_s=hold_ms / 1000 + 15, extra=("-mp", str(media))), 90)
    packets = read_udp(tmp_path / "wire.pcap")
    streams = rtp_streams(packets)
    sent = streams.get((media, next((d for s, d in streams if s == media), 0)), [])
    heard = next((v for (s, d), v in streams.items() if d == media), [])
    return res, packets, sent, heard


def _answered(packets) -> bool:
    return any(first.startswith("SIP/2.0 200") and cseq.endswith("INVITE") for _, first, _, cseq in sip_lines(packets))


def test_sipp_caller_hears_the_bot_answer_its_order_question(tmp_path):
    pcm, meta = fixture("order_status_4567")
    sipp.write_rtp_pcap(tmp_path / "talk.pcap", pcm, "PCMU")
    with BotProcess(tmp_path / "bot") as bot:
        res, packets, sent, heard = _sipp_call(bot, tmp_path, tmp_path / "talk.pcap", 22000, ALICE)
        (call,) = crm_interactions(bot.crm_url)
    assert res.ok, res.errors or res.out
    assert _answered(packets)
    assert heard and {p.pt for p in heard if p.pt < 96} == {0}, "the bot did not send PCMU to sipp"
    # what the caller heard after the end of their question, on the wire, decoded and transcribed
    turn_end = sent[0].t + meta["turns"][0]["end_s"]
    words = heard_words(stream_pcm([p for p in heard if p.t > turn_end]), 8000)
    assert "shipped" in words and "4567" in words, words
    assert call.caller == ALICE and call.direction == "inbound"
    asked = [t for t in call.turns if t.intent == "order_status"]
    assert asked and asked[0].slots.get("order_number") == "4567" and "shipped" in asked[0].reply


def test_rfc2833_digits_from_sipp_answer_the_order_question(tmp_path):
    keys = [(7.0 + 0.4 * i, k) for i, k in enumerate("4567#")]
    write_keys_pcap(tmp_path / "keys.pcap", line_noise(14.0), keys)
    with BotProcess(tmp_path / "bot") as bot:
        res, _, sent, heard = _sipp_call(bot, tmp_path, tmp_path / "keys.pcap", 18000, ALICE)
        (call,) = crm_interactions(bot.crm_url)
    assert res.ok, res.errors or res.out
    assert sum(p.pt == 101 for p in sent) == 45  # five keys of nine event packets went out
    typed = [t for t in call.turns if t.transcript.startswith("[dtmf]")]
    assert [t.transcript for t in typed] == ["[dtmf] 4567#"]
    assert typed[0].intent == "order_status" and "shipped" in typed[0].reply
    # and the answer was spoken to the caller
    pound = sent[0].t + keys[-1][0]
    words = heard_words(stream_pcm([p for p in heard if p.t > pound]), 8000)
    assert "shipped" in words, words


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed")
def test_baresip_caller_hears_the_bot_answer(tmp_path):
    pcm, meta = fixture("order_status_4567")
    says = tmp_path / "says.wav"  # baresip's aufile: 16-bit PCM at the codec's rate; stay on for the answer
    sf.write(str(says), np.concatenate([pcm, line_noise(4.0)]), 8000, subtype="PCM_16")
    rec = tmp_path / "baresip" / "rec"
    rec.mkdir(parents=True)
    (tmp_path / "baresip" / "config").write_text(BARESIP_CONFIG.format(play=says, rec=rec))
    (tmp_path / "baresip" / "accounts").write_text(f"<sip:{ALICE}@127.0.0.1>;regint=0;audio_codecs=PCMU\n")

    async def call(uri: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            "baresip", "-f", str(tmp_path / "baresip"), "-e", f"/dial {uri}", "-t", "26",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 45)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return out.decode(errors="replace")

    with BotProcess(tmp_path / "bot") as bot:
        out = run(call(bot.uri), 60)
        (crm_call,) = crm_interactions(bot.crm_url)
    dumps = sorted(rec.glob("dump-*-dec.wav"))
    assert dumps, f"baresip recorded nothing:\n{out[-2000:]}"
    heard, rate = sf.read(str(dumps[-1]), dtype="int16")
    words = heard_words(heard, rate)
    assert "shipped" in words and "4567" in words, words
    assert crm_call.caller == ALICE and any(t.intent == "order_status" for t in crm_call.turns)


def test_outbound_call_from_voicebot_call_to_the_pjsua2_caller(tmp_path):
    bot_crm = f"sqlite:///{tmp_path}/crm.db"
    subprocess.run([sys.executable, "-m", "voicebot", "crm", "load-demo", "--crm", bot_crm], check=True, timeout=120)
    smart, meta = fixture("call_smart_watch_purchase")
    turn = meta["turns"][2]  # "Nope, that's all." after the bot's "any questions?"
    said = smart[int(turn["start_s"] * 8000) - 800:int(turn["end_s"] * 8000) + 800]
    answer = tmp_path / "answer.wav"  # listen to the whole greeting (~12.5 s), then answer
    sf.write(str(answer), np.concatenate([line_noise(18.0), said, line_noise(6.0)]), 8000, subtype="PCM_16")

    async def scenario():
        callee = CallerProcess("--listen", "--from", ALICE, "--play", str(answer), "--record",
                               str(tmp_path / "heard.wav"), "--tail", "1", "--timeout", "60")
        bot = None
        try:
            uri = await callee.start()
            bot = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "voicebot", "call", uri, "--order", "4567", "--crm", bot_crm,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(bot.communicate(), 90)
            return bot.returncode, out.decode(errors="replace"), await callee.result(30)
        finally:
            await reap(bot, callee)

    rc, out, summary = run(scenario(), 120)
    assert rc == 0, out[-3000:]
    (leg,) = summary["legs"]
    heard, rate = sf.read(leg["record"], dtype="int16")
    greeting, goodbye = heard_words(heard[: 18 * rate], rate), heard_words(heard[18 * rate:], rate)
    assert "4567" in greeting and "shipped" in greeting, greeting
    assert "goodbye" in goodbye, goodbye
    (call,) = crm_interactions(bot_crm)
    assert call.direction == "outbound" and call.caller == ALICE
    answered = [t for t in call.turns if t.transcript]
    assert answered and "that's all" in answered[0].transcript.lower(), [t.transcript for t in call.turns]
    assert answered[0].intent == "deny" and leg["ended_by"] == "remote"  # the bot said goodbye and hung up


def test_asking_for_a_person_transfers_the_caller_to_the_agent(tmp_path):
    agent_port = sipp.free_port()
    env = {"VOICEBOT_DIALOGUE_TRANSFER_TARGET": f"sip:agent@127.0.0.1:{agent_port}"}

    async def scenario(bot: BotProcess):
        agent = asyncio.ensure_future(sipp.run_sipp(None, builtin="uas", local_port=agent_port, timeout_s=45))
        await asyncio.sleep(0.5)
        caller = CallerProcess(bot.uri, "--play", str(FIXTURES / "agent_request_person.wav"), "--from",
                               "+15551230003", "--record", str(tmp_path / "heard.wav"), "--tail", "2",
                               "--max-duration", "40")
        try:
            await caller.start()
            summary = await caller.result(60)
        finally:
            await reap(caller)
        return summary, await asyncio.wait_for(agent, 50)

    with BotProcess(tmp_path / "bot", env=env) as bot:
        summary, agent = run(scenario(bot), 90)
        (call,) = crm_interactions(bot.crm_url)
    legs = summary["legs"]
    assert len(legs) == 2 and f"agent@127.0.0.1:{agent_port}" in legs[1]["remote"], legs
    assert legs[0]["ended_by"] == "remote"  # the bot left once the agent answered
    assert agent.ok, agent.errors or agent.out  # the agent got the INVITE, and the BYE at the end
    assert call.outcome == "transferred"
    (asked,) = [t for t in call.turns if t.intent == "agent_request"]
    # the caller heard the bot announce the transfer before being moved
    heard, rate = sf.read(legs[0]["record"], dtype="int16")
    said = set(re.findall(r"[a-z']+", asked.reply.lower()))
    got = set(re.findall(r"[a-z']+", heard_words(heard[6 * rate:], rate)))
    assert len(said & got) >= 0.6 * len(said), (asked.reply, got)


def test_barge_in_over_sip_cuts_the_bot_and_the_call_is_recorded(tmp_path):
    """The caller talks over the bot's answer: the reply is cut and marked interrupted in the CRM; with
    recording on, both legs of the call are in a WAV whose path is on the interaction."""
    config = tmp_path / "voicebot.toml"
    config.write_text(f'[sip]\nrecord_dir = "{tmp_path / "recordings"}"\n')
    meta = fixture("call_bargein_return_policy")[1]

    async def scenario(bot: BotProcess):
        caller = CallerProcess(bot.uri, "--play", str(FIXTURES / "call_bargein_return_policy.wav"), "--from",
                               meta["caller_id"] or "caller", "--tail", "8", "--max-duration", "60")
        try:
            await caller.start()
            return await caller.result(90)
        finally:
            await reap(caller)

    with BotProcess(tmp_path / "bot", env={"VOICEBOT_CONFIG": str(config)}) as bot:
        run(scenario(bot), 120)
        (call,) = crm_interactions(bot.crm_url)
    turns = [t for t in call.turns if t.transcript]
    assert len(turns) >= 2, [t.transcript for t in call.turns]
    assert turns[0].interrupted and not turns[-1].interrupted
    assert call.recording_path and Path(call.recording_path).is_file()
    info = sf.info(call.recording_path)
    assert info.channels == 2 and info.duration > meta["turns"][-1]["end_s"]
