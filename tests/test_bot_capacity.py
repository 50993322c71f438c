"""A site of two bot workers behind Kamailio (`voicebot serve --workers 2`) at its full load of 8 calls.

sipp places 8 simultaneous calls through the proxy, each playing the same order question as G.711 RTP;
dumpcap records what each caller receives. Every caller must hear the bot's answer (Whisper transcribes
each one from the wire), the CRM must hold 8 answered calls, and a 9th concurrent call is refused cleanly.
"""

from __future__ import annotations

import asyncio
import shutil

import pytest
from bot_sip_support import (
    BotProcess,
    Capture,
    crm_interactions,
    first_speech_after,
    fixture,
    free_port_block,
    heard_words,
    read_udp,
    rtp_streams,
    stream_pcm,
    talk_scenario,
)
from sip_support import run

from telephony import sipp
from telephony.dispatcher import KAMAILIO

pytestmark = [
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.skipif(sipp.SIPP is None or shutil.which(KAMAILIO) is None, reason="needs sipp and kamailio"),
]
CALLS = 8
HOLD_MS = 30000  # generous: 8 Whisper turns at once on 2 cores


def test_eight_calls_on_two_workers_all_hear_the_bot_and_a_ninth_is_refused(tmp_path):
    pcm, meta = fixture("order_status_4567")
    sipp.write_rtp_pcap(tmp_path / "talk.pcap", pcm, "PCMU")
    media = free_port_block(CALLS)  # sipp gives call n the media port media + 4 (n - 1)
    scenario = talk_scenario(tmp_path / "talk.pcap", HOLD_MS, proxy=True)

    async def calls(bot: BotProcess):
        target = f"127.0.0.1:{bot.port}"
        eight = asyncio.ensure_future(sipp.run_sipp(
            target, scenario, calls=CALLS, limit=CALLS, rate=CALLS, timeout_s=HOLD_MS / 1000 + 20,
            user=meta["caller_id"], extra=("-mp", str(media))))
        during = await asyncio.get_running_loop().run_in_executor(None, bot.wait_loads, CALLS)
        ninth = await sipp.run_sipp(target, sipp.uac([], expect=503), timeout_s=10)
        return await eight, ninth, during

    with BotProcess(tmp_path / "bot", workers=2) as bot:
        with Capture(tmp_path / "wire.pcap", f"udp portrange {media}-{media + 4 * CALLS} or udp port {bot.port}"):
            eight, ninth, during = run(calls(bot), HOLD_MS / 1000 + 60)
        after = bot.dispatcher_states()
        crm = crm_interactions(bot.crm_url, CALLS)
    assert eight.ok, eight.errors or eight.out  # all 8 answered (through the proxy, media direct)
    assert ninth.ok, ninth.errors or ninth.out  # the 9th got 503 from the proxy while all were full
    assert sorted(load for _, load in during.values()) == [4, 4]
    assert [load for _, load in after.values()] == [0, 0]  # every BYE passed the proxy

    streams = rtp_streams(read_udp(tmp_path / "wire.pcap"))
    ports = [media + 4 * i for i in range(CALLS)]
    sent = {d: v for (s, d), v in streams.items() if s in ports}
    heard = {d: v for (s, d), v in streams.items() if d in ports}
    assert sorted(heard) == ports, f"callers that got no RTP back: {sorted(set(ports) - set(heard))}"
    turn_end = meta["turns"][0]["end_s"]
    for port, pkts in sorted(heard.items()):
        (out,) = [v for (s, _), v in streams.items() if s == port]
        end = out[0].t + turn_end
        onset = first_speech_after(pkts, end)
        assert onset is not None and onset - end < 10.0, f"caller on port {port}: no answer in time"
        words = heard_words(stream_pcm([p for p in pkts if p.t > end]), 8000)
        assert "shipped" in words, (port, words)
    assert len(sent) == CALLS
    answered = [i for i in crm if any(t.intent == "order_status" and "shipped" in t.reply for t in i.turns)]
    assert len(crm) == CALLS and len(answered) == CALLS
