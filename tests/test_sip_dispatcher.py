"""More than 4 calls: worker processes behind Kamailio's dispatcher, with sipp calling through it."""

from __future__ import annotations

import asyncio
import shutil
import sys

import pytest
from sip_support import run, voice_like

from telephony import sipp
from telephony.dispatcher import KAMAILIO, KamailioDispatcher

pytestmark = [
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.skipif(sipp.SIPP is None or shutil.which(KAMAILIO) is None, reason="needs sipp and kamailio"),
]


async def _workers(n: int) -> tuple[list[int], list[asyncio.subprocess.Process]]:
    ports = [sipp.free_port() for _ in range(n)]
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "telephony.responder", "--port", str(p), "--hangup-after", "30",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL) for p in ports]
    await asyncio.sleep(1.5)  # imports and SIP stack start
    return ports, procs


async def _stop(procs: list[asyncio.subprocess.Process]) -> None:
    for p in procs:
        if p.returncode is None:
            p.terminate()
    for p in procs:
        await asyncio.wait_for(p.wait(), 15)


def test_eight_calls_spread_over_two_workers_and_the_ninth_gets_503(tmp_path):
    pcap = tmp_path / "talk.pcap"
    sipp.write_rtp_pcap(pcap, voice_like(3.0), "PCMA")
    hold = sipp.uac([sipp.play(pcap, 3000)], sipp.sdp({8: "PCMA/8000"}), proxy=True)

    async def scenario():
        ports, procs = await _workers(2)
        kport = sipp.free_port()
        try:
            async with KamailioDispatcher(kport, [("127.0.0.1", p) for p in ports]) as kam:
                await asyncio.sleep(1.2)  # first OPTIONS pings mark the workers up
                target = f"127.0.0.1:{kport}"
                eight = asyncio.ensure_future(sipp.run_sipp(target, hold, calls=8, limit=8, rate=8, timeout_s=20))
                await asyncio.sleep(1.6)
                during = await kam.loads()
                ninth = await sipp.run_sipp(target, sipp.uac([], expect=503), timeout_s=10)
                eight = await eight
                await asyncio.sleep(0.5)
                return eight, ninth, during, await kam.loads()
        finally:
            await _stop(procs)

    eight, ninth, during, after = run(scenario())
    assert eight.ok, eight.errors or eight.out  # every call answered, media direct to its worker
    assert ninth.ok, ninth.errors or ninth.out  # the proxy itself said 503 when all were full
    assert sorted(load for _, load in during.values()) == [4, 4]
    assert [load for _, load in after.values()] == [0, 0]  # the BYEs passed the proxy


def test_a_dead_worker_is_skipped():
    async def scenario():
        ports, procs = await _workers(2)
        kport = sipp.free_port()
        try:
            async with KamailioDispatcher(kport, [("127.0.0.1", p) for p in ports]) as kam:
                procs[1].kill()
                await procs[1].wait()
                dead = f"sip:127.0.0.1:{ports[1]}"
                for _ in range(80):  # its OPTIONS pings time out (fr_timer 2 s): marked inactive
                    states = await kam.loads()
                    if states[dead][0].startswith("I"):
                        break
                    await asyncio.sleep(0.1)
                calls = await sipp.run_sipp(f"127.0.0.1:{kport}", sipp.uac([sipp.pause(300)], proxy=True),
                                            calls=3, limit=1, rate=5, timeout_s=20)
                return states, calls, ports
        finally:
            await _stop(procs)

    states, calls, ports = run(scenario())
    assert states[f"sip:127.0.0.1:{ports[1]}"][0].startswith("I")  # inactive
    assert states[f"sip:127.0.0.1:{ports[0]}"][0].startswith("A")
    assert calls.ok, calls.errors or calls.out


def test_the_proxy_refuses_callers_outside_the_allowed_networks():
    async def scenario():
        ports, procs = await _workers(1)
        kport = sipp.free_port()
        try:
            async with KamailioDispatcher(kport, [("127.0.0.1", ports[0])],
                                          allowed_networks=("127.0.0.1/32",)) as kam:
                await asyncio.sleep(1.2)
                target = f"127.0.0.1:{kport}"
                outsider = await sipp.run_sipp(target, sipp.uac([], expect=403), local_ip="127.0.0.2", timeout_s=10)
                insider = await sipp.run_sipp(target, sipp.uac([sipp.pause(200)], proxy=True), timeout_s=10)
                return outsider, insider, await kam.loads()
        finally:
            await _stop(procs)

    outsider, insider, loads = run(scenario())
    assert outsider.ok, outsider.errors or outsider.out
    assert insider.ok, insider.errors or insider.out
    assert [load for _, load in loads.values()] == [0]
