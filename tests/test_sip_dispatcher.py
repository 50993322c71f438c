"""More than 4 calls: worker processes behind Kamailio's dispatcher, with sipp calling through it."""

from __future__ import annotations

import asyncio
import shutil
import sys

import pytest
from sip_support import run, voice_like, wait_answering

from telephony import sipp
from telephony.dispatcher import KAMAILIO, KamailioDispatcher, Site, worker_args
from telephony.settings import SipStartError

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
    for p in ports:
        await wait_answering(p)  # imports and SIP stack start
    return ports, procs


async def _stop(procs: list[asyncio.subprocess.Process]) -> None:
    for p in procs:
        if p.returncode is None:
            p.terminate()
    for p in procs:
        try:
            await asyncio.wait_for(p.wait(), 15)
        except TimeoutError:
            p.kill()
            await p.wait()


def test_eight_calls_spread_over_two_workers_and_the_ninth_gets_503(tmp_path):
    pcap = tmp_path / "talk.pcap"
    sipp.write_rtp_pcap(pcap, voice_like(3.0), "PCMA")
    hold = sipp.uac([sipp.play(pcap, 3000)], sipp.sdp({8: "PCMA/8000"}), proxy=True)

    async def scenario():
        ports, procs = await _workers(2)
        kport = sipp.free_port()
        try:
            async with KamailioDispatcher(kport, [("127.0.0.1", p) for p in ports]) as kam:
                await _all_up(kam)
                target = f"127.0.0.1:{kport}"
                eight = asyncio.ensure_future(sipp.run_sipp(target, hold, calls=8, limit=8, rate=8, timeout_s=20))
                during = await _loaded(kam, 8)
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
                await _all_up(kam)
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


async def _all_up(kam: KamailioDispatcher, timeout: float = 15.0) -> dict[str, tuple[str, int]]:
    """Kamailio's view once every worker answered its OPTIONS ping."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        states = await kam.loads()
        if len(states) == len(kam.workers) and all(flags.startswith("A") for flags, _ in states.values()):
            return states
        await asyncio.sleep(0.2)
    raise TimeoutError(f"workers not up after {timeout:.0f} s: {states}")


RESPONDER = [sys.executable, "-m", "telephony.responder", "--hangup-after", "30"]


def test_a_site_on_another_address_serves_calls_there():
    """`serve --workers` on an address other than 127.0.0.1: workers bind it too and the proxy finds them."""
    host = "127.0.0.2"
    hold = sipp.uac([sipp.pause(800)], sipp.sdp({0: "PCMU/8000"}), proxy=True)

    async def scenario():
        async with Site(sipp.free_port(host), 2, RESPONDER + worker_args(host), host=host) as site:
            for p in site.worker_ports:
                await wait_answering(p, host)
            states = await _all_up(site.kam)
            calls = await sipp.run_sipp(f"{host}:{site.port}", hold, calls=2, limit=2, timeout_s=20)
            return states, calls

    states, calls = run(scenario(), 60)
    assert all(uri.startswith(f"sip:{host}:") for uri in states), states
    assert calls.ok, calls.errors or calls.out


def test_a_worker_that_dies_stops_the_site_with_an_error():
    async def scenario():
        async with Site(sipp.free_port(), 2, RESPONDER + worker_args("127.0.0.1")) as site:
            for p in site.worker_ports:
                await wait_answering(p)
            site.workers[0].kill()
            with pytest.raises(SipStartError, match=f"port {site.worker_ports[0]} exited"):
                await asyncio.wait_for(site.wait(asyncio.Event()), 10)
            return [w.returncode for w in site.workers]

    run(scenario(), 60)


async def _loaded(kam: KamailioDispatcher, calls: int, timeout: float = 10.0) -> dict[str, tuple[str, int]]:
    """Kamailio's view once it counts `calls` calls in progress (or at the deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    states = await kam.loads()
    while sum(load for _, load in states.values()) < calls and loop.time() < deadline:
        await asyncio.sleep(0.1)
        states = await kam.loads()
    return states
