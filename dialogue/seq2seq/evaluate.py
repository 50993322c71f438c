"""Held-out evaluation of the Seq2Seq generator: exact match, BLEU, placeholder precision/recall/F1, the
gate's fallback rate, a template baseline on the same references, and the worst replies.

Metrics compare delexicalised token sequences. The mood token of each example comes from the live sentiment
classifier (corpus.build_examples), as in a call, so the figures include its mistakes.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from dialogue.acts import DialogueAct, ReplyContext
from dialogue.seq2seq.corpus import Example
from dialogue.seq2seq.features import reply_tokens
from dialogue.seq2seq.gate import SafetyGate
from dialogue.templates import TemplateGenerator

if TYPE_CHECKING:
    from dialogue.seq2seq.generator import Seq2SeqGenerator

WORST_LISTED = 15


def ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(references: list[list[str]], hypotheses: list[list[str]], max_n: int = 4,
         smooth: bool = False) -> float:
    """Corpus BLEU (Papineni et al. 2002): clipped n-gram precision, geometric mean, brevity penalty.
    `smooth` adds one to each count (Lin & Och 2004) so a single short sentence can be scored."""
    matches, totals = [0] * max_n, [0] * max_n
    ref_len = hyp_len = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        ref_len, hyp_len = ref_len + len(ref), hyp_len + len(hyp)
        for n in range(1, max_n + 1):
            h, r = ngrams(hyp, n), ngrams(ref, n)
            matches[n - 1] += sum(min(c, r[g]) for g, c in h.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    add = 1 if smooth else 0
    if hyp_len == 0 or any(m + add == 0 for m in matches):
        return 0.0
    log_p = sum(math.log((m + add) / (t + add)) for m, t in zip(matches, totals, strict=True)) / max_n
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(log_p)


def placeholder_prf(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    tp = fp = fn = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        r, h = Counter(_slots(ref)), Counter(_slots(hyp))
        tp += sum((r & h).values())
        fp += sum((h - r).values())
        fn += sum((r - h).values())
    p = tp / (tp + fp) if tp + fp else 1.0
    rc = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": p, "recall": rc, "f1": 2 * p * rc / (p + rc) if p + rc else 0.0}


def _slots(text: str) -> list[str]:
    return [t for t in reply_tokens(text) if t.startswith("[")]


def evaluate(generator: Seq2SeqGenerator, examples: list[Example], gate: SafetyGate | None = None) -> dict:
    """Run `generator` (a Seq2SeqGenerator) over held-out examples, each reply through the gate the
    manager uses; a JSON-able report."""
    gate = gate or SafetyGate()
    templates = TemplateGenerator()
    refs, outs, spoken, base = [], [], [], []
    reasons: Counter = Counter()
    rows = []
    for e in examples:
        x = e.input
        text, confidence, finished = generator.decode(x)
        act = DialogueAct(x.act, x.intent, {k: "x" for k in x.value_keys})
        reason = gate.check(act, text, confidence, finished, x.category)
        template = templates.generate(act, ReplyContext(0)).text
        reasons[reason or "spoken"] += 1
        refs.append(e.target)
        outs.append(text)
        spoken.append(template if reason else text)
        base.append(template)
        rows.append({"situation": e.situation, "style": e.style, "act": x.act, "caller": x.caller,
                     "mood": x.mood, "reference": e.target, "output": text, "confidence": round(confidence, 3),
                     "gate": reason or "ok", "exact": _same(text, e.target),
                     "styled": e.style != "plain"})
    n = len(rows)
    styled = [r for r in rows if r["styled"]]
    wrong = [r for r in rows if not r["exact"]]
    for r in wrong:
        r["bleu"] = round(bleu([reply_tokens(r["reference"])], [reply_tokens(r["output"])], smooth=True), 3)
    wrong.sort(key=lambda r: (r["bleu"], r["confidence"]))
    tok = [reply_tokens(t) for t in refs]
    return {
        "examples": n,
        "exact_match": sum(r["exact"] for r in rows) / n,
        "exact_match_context_styled_acts": sum(r["exact"] for r in styled) / max(len(styled), 1),
        "context_styled_examples": len(styled),
        "bleu": bleu(tok, [reply_tokens(t) for t in outs]),
        "placeholders": placeholder_prf(refs, outs),
        "fallback_rate": 1 - reasons["spoken"] / n,
        "fallback_reasons": {k: v for k, v in reasons.most_common() if k != "spoken"},
        "spoken_exact_match": sum(_same(s, r) for s, r in zip(spoken, refs, strict=True)) / n,
        "spoken_bleu": bleu(tok, [reply_tokens(t) for t in spoken]),
        "template_baseline": {
            "exact_match": sum(_same(b, r) for b, r in zip(base, refs, strict=True)) / n,
            "exact_match_context_styled_acts": sum(
                _same(b, r["reference"]) for b, r in zip(base, rows, strict=True) if r["styled"]
            ) / max(len(styled), 1),
            "bleu": bleu(tok, [reply_tokens(t) for t in base]),
        },
        "worst": wrong[:WORST_LISTED],
    }


def _same(a: str, b: str) -> bool:
    return reply_tokens(a) == reply_tokens(b)


def markdown(report: dict, header: str = "") -> str:
    """The evaluation report as a short Markdown page."""
    p, t = report["placeholders"], report["template_baseline"]
    lines = [f"# Seq2Seq evaluation on the held-out split{header}", "",
             f"- examples (acts): {report['examples']}",
             f"- exact match (delexicalised): {report['exact_match']:.1%}; on replies fitted to the caller "
             f"(style not plain, {report['context_styled_examples']} acts): "
             f"{report['exact_match_context_styled_acts']:.1%}",
             f"- BLEU: {report['bleu'] * 100:.1f}",
             f"- placeholders: precision {p['precision']:.3f}, recall {p['recall']:.3f}, F1 {p['f1']:.3f}",
             f"- fallback rate (gate): {report['fallback_rate']:.1%} {report['fallback_reasons']}",
             f"- what the caller hears (model, or template on fallback): exact match "
             f"{report['spoken_exact_match']:.1%}, BLEU {report['spoken_bleu'] * 100:.1f}",
             f"- template baseline on the same references: exact match {t['exact_match']:.1%} "
             f"(fitted replies {t['exact_match_context_styled_acts']:.1%}), BLEU {t['bleu'] * 100:.1f}",
             "", "## Worst replies", ""]
    for r in report["worst"]:
        lines += [f"- **{r['act']}** ({r['situation']}, mood {r['mood']}, conf {r['confidence']}, "
                  f"gate {r['gate']}, BLEU {r['bleu']}) caller: \"{r['caller']}\"",
                  f"  - want: {r['reference']}", f"  - got:  {r['output']}"]
    return "\n".join(lines) + "\n"
