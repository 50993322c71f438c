"""Dialogue latency: NLU training time, parse time, and `Conversation.respond` incl. the CRM (SQLite file).

    python benchmarks/dialogue_latency.py [--calls 40] [--db /tmp/bench.db]

Budget (DESIGN.md §4): dialogue + CRM ≤ 50 ms p50 per turn. Every respond() here does real CRM reads and
writes the turn to the interaction (add_turn), as in a call. The CPU may be shared: re-run before quoting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from crm_store import CrmStore
from crm_store.demo import load_demo
from dialogue import DialogueManager, Nlu
from dialogue.nlu import IntentClassifier, read_corpus, read_heldout

# Caller scripts covering every policy path (order look-ups, catalog, tickets, transfers, chit-chat).
SCRIPTS = [
    ("+15551230001", ["hi there", "where is my order 4567", "and when will it arrive", "thanks",
                      "no that's it"]),
    (None, ["um i want to check my order", "four five six seven", "great thank you bye"]),
    (None, ["where's order 9999", "yes", "one oh two four", "nope"]),
    ("+15551230002", ["how much is the smart watch", "is the coffee maker in stock",
                      "i want to buy the blender", "do you sell televisions", "bye"]),
    ("+15551230001", ["my blender arrived broken", "no thanks"]),
    (None, ["i'd like to make a complaint", "the driver was rude to me", "that's all"]),
    (None, ["how do i return something", "five one five zero", "thanks bye"]),
    (None, ["i need to change my email address", "no"]),
    (None, ["what's the weather like", "blah", "can i talk to a person"]),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40, help="conversations to run (scripts repeat)")
    parser.add_argument("--db", type=Path, help="SQLite file (default: a fresh temp file)")
    args = parser.parse_args()
    if args.calls < 1:
        parser.error("--calls must be at least 1")

    corpus = read_corpus()
    train = [IntentClassifier.train(corpus).train_seconds for _ in range(5)]
    classifier = IntentClassifier.train(corpus)
    heldout = read_heldout()
    nlu = Nlu(classifier=classifier)
    correct = sum(nlu.parse(text).intent == intent for text, intent in heldout)

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        store = CrmStore.open(f"sqlite:///{db}")
        load_demo(store)
        manager = DialogueManager(store, transfer_target="sip:agents@127.0.0.1", nlu=nlu)
        parse_ms = []
        for _ in range(5):
            for _, lines in SCRIPTS:
                for line in lines:
                    start = time.perf_counter()
                    nlu.parse(line)
                    parse_ms.append((time.perf_counter() - start) * 1000)
        respond_ms, start_ms, close_ms = [], [], []
        for n in range(args.calls):
            caller, lines = SCRIPTS[n % len(SCRIPTS)]
            t0 = time.perf_counter()
            conv = manager.start(caller)
            conv.greet()
            start_ms.append((time.perf_counter() - t0) * 1000)
            for line in lines:
                t0 = time.perf_counter()
                conv.respond(line)
                respond_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            conv.close()
            close_ms.append((time.perf_counter() - t0) * 1000)
        store.close()

    print(f"CPU: {os.cpu_count()} cores, possibly shared with other work while measuring")
    print(f"NLU corpus: {len(corpus)} utterances; held-out accuracy {correct / len(heldout):.1%} "
          f"({correct}/{len(heldout)})")
    print(f"NLU training: median {statistics.median(train) * 1000:.0f} ms (5 runs, min "
          f"{min(train) * 1000:.0f} ms)")
    rows = [("Nlu.parse", parse_ms), ("start+greet", start_ms),
            ("respond (NLU+policy+CRM+add_turn)", respond_ms), ("close", close_ms)]
    print(f"{'stage':38} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, values in rows:
        print(f"{name:38} {len(values):5d} {statistics.median(values):8.2f} {percentile(values, 0.95):8.2f} "
              f"{max(values):8.2f}")
    print("budget: respond p50 <= 50 ms:", "OK" if statistics.median(respond_ms) <= 50 else "OVER")


if __name__ == "__main__":
    main()
