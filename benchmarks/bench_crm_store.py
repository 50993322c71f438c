"""CRM store latency per call (the dialogue + CRM budget is 50 ms per turn), on a SQLite file.

    python benchmarks/bench_crm_store.py [--rounds 300] [--threads 4] [--url sqlite:////tmp/x.db]

Prints p50 / p95 in milliseconds for the lookups a call makes and for the writes it logs, single-threaded
and with several threads writing turns at once. The CPU may be shared: say so next to any figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from crm_store import CrmStore
from crm_store.demo import load_demo


def _time(fn: Callable[[int], object], rounds: int) -> list[float]:
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _report(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(f"{name:<34} p50 {statistics.median(samples):7.2f} ms   p95 {p95:7.2f} ms   n={len(samples)}")


def run(url: str, rounds: int, threads: int) -> None:
    start = time.perf_counter()
    store = CrmStore.open(url)
    print(f"open + migrate fresh file           {(time.perf_counter() - start) * 1000:7.1f} ms")
    start = time.perf_counter()
    load_demo(store)
    print(f"load_demo                           {(time.perf_counter() - start) * 1000:7.1f} ms")
    start = time.perf_counter()
    CrmStore.open(url).close()
    print(f"open existing (already at head)     {(time.perf_counter() - start) * 1000:7.1f} ms")

    alice = store.customer_by_phone("+15551230001")
    _report("customer_by_phone (SIP URI)", _time(
        lambda i: store.customer_by_phone("<sip:+15551230001@10.0.0.1:5060>"), rounds))
    _report("customer_by_phone (suffix match)", _time(lambda i: store.customer_by_phone("1230001"), rounds))
    _report("order('#4567')", _time(lambda i: store.order("#4567"), rounds))
    _report("orders_for_customer", _time(lambda i: store.orders_for_customer(alice.id), rounds))
    _report("product", _time(lambda i: store.product("Smart Watch"), rounds))
    iid = store.start_interaction(caller="+15551230001", customer_id=alice.id)
    _report("add_turn", _time(lambda i: store.add_turn(
        iid, index=i, transcript="where is my order", intent="order_status", slots={"order": "4567"},
        reply="It shipped.", timings_ms={"asr": 310}), rounds))
    _report("update_turn", _time(lambda i: store.update_turn(iid, i, interrupted=True), rounds))
    _report("open_ticket (+ notification)", _time(
        lambda i: store.open_ticket(category="delivery", text=f"late {i}", order_number="4567"), rounds // 3))
    _report("interaction (with turns)", _time(lambda i: store.interaction(iid), rounds // 3))

    per_thread: list[list[float]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def caller(n: int) -> None:
        call = store.start_interaction(caller=f"+1555000000{n}", customer_id=None)
        barrier.wait()
        for i in range(rounds):
            begin = time.perf_counter()
            store.add_turn(call, index=i, transcript="x", intent="y", slots={}, reply="z")
            store.order("4567")
            per_thread[n].append((time.perf_counter() - begin) * 1000)

    workers = [threading.Thread(target=caller, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    _report(f"{threads} threads: add_turn + order", [s for t in per_thread for s in t])
    print(f"{threads} threads: {threads * rounds / elapsed:.0f} turns/s written")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file in a temp folder)")
    args = parser.parse_args()
    if args.url:
        run(args.url, args.rounds, args.threads)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.rounds, args.threads)


if __name__ == "__main__":
    main()
