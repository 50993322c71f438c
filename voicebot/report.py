"""The replay report: one self-contained HTML page (the latency plot is embedded as a PNG)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from voicebot.replay import FixtureRun
from voicebot.scorecard import STAGES, Scorecard


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.0f}"


def latency_plot_png(card: Scorecard) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in STAGES if card.latencies.get(s)]
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    if stages:
        ax.boxplot([card.latencies[s] for s in stages], vert=False, whis=(5, 95), showfliers=True)
        ax.set_yticks(range(1, len(stages) + 1), [s.replace("_", " ") for s in stages])
    ax.set_xlabel("ms per caller turn (box: p25–p75, whiskers: p5–p95)")
    ax.set_title("Latency per stage")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def write_html(path: str | Path, card: Scorecard, runs: list[FixtureRun]) -> None:
    e = html.escape
    png = base64.b64encode(latency_plot_png(card)).decode()
    rows = []
    for s in STAGES:
        p50, p95 = card.percentiles(s)
        rows.append(f"<tr><td>{e(s.replace('_', ' '))}</td><td>{_ms(p50)}</td><td>{_ms(p95)}</td>"
                    f"<td>{len(card.latencies.get(s, []))}</td></tr>")
    turns = []
    for t in card.turns:
        cls = "" if t.intent_ok and t.slots_right == len(t.expected_slots) else ' class="bad"'
        wer = t.word_errors / t.ref_words if t.ref_words else 0.0
        turns.append(
            f"<tr{cls}><td>{e(t.fixture)}</td><td>{t.index}</td><td>{e(t.expected_text)}</td>"
            f"<td>{e(t.heard_text)}</td><td>{_pct(wer)}</td><td>{e(t.expected_intent)}</td><td>{e(t.intent)}</td>"
            f"<td>{e(str(t.expected_slots))}</td><td>{e(str(t.slots))}</td><td>{e(t.reply)}</td></tr>"
        )
    errors = "".join(f"<li>{e(x)}</li>" for x in card.errors) or "<li>none</li>"
    calls = "".join(
        f"<tr><td>{e(r.name)}</td><td>{r.audio_s:.1f}</td><td>{r.wall_s:.1f}</td>"
        f"<td>{e(r.result.ended_by if r.result else '')}</td><td>{e(str(r.result.outcome) if r.result else '')}</td>"
        f"<td>{e(r.error or '')}</td></tr>"
        for r in runs
    )
    speed = f"{card.speed:.1f}× real time" if card.speed else "–"
    fallback = card.summary()["seq2seq_fallback_rate"]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>voicebot replay report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:13px;vertical-align:top}}tr.bad{{background:#fde}}
.big td{{font-size:16px}}</style></head><body>
<h1>voicebot replay report</h1>
<table class="big"><tr><th>fixtures</th><th>caller turns scored</th><th>WER</th><th>intent accuracy</th>
<th>slot accuracy</th><th>caller served (reply words)</th><th>Seq2Seq fallbacks</th><th>replay speed</th>
<th>errors</th></tr>
<tr><td>{card.fixtures}</td><td>{len(card.turns)}</td><td>{_pct(card.wer)}</td><td>{_pct(card.intent_accuracy)}</td>
<td>{_pct(card.slot_accuracy)}</td><td>{_pct(card.reply_accuracy)}</td><td>{_pct(fallback)}</td><td>{speed}</td>
<td>{len(card.errors)}</td></tr></table>
<h2>Latency per stage (ms)</h2><table><tr><th>stage</th><th>p50</th><th>p95</th><th>n</th></tr>{''.join(rows)}</table>
<img alt="latency distribution" src="data:image/png;base64,{png}">
<h2>Errors</h2><ul>{errors}</ul>
<h2>Calls</h2><table><tr><th>fixture</th><th>audio s</th><th>wall s</th><th>ended by</th><th>outcome</th>
<th>error</th></tr>{calls}</table>
<h2>Turns</h2><table><tr><th>fixture</th><th>#</th><th>expected</th><th>heard</th><th>WER</th><th>intent</th>
<th>got</th><th>slots</th><th>got</th><th>bot reply</th></tr>{''.join(turns)}</table>
</body></html>"""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(page)
