"""The Seq2Seq reply model: the shipped checkpoint on real calls, the safety gate, missing/stale checkpoints,
deterministic training, and the corpus it learns from."""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crm_store import CrmStore
from crm_store.demo import ALICE_PHONE as ALICE
from dialogue import DialogueAct, DialogueManager
from dialogue.acts import ACTS, placeholders
from dialogue.seq2seq import corpus
from dialogue.seq2seq.corpus import build_examples, expand, read_replies
from dialogue.seq2seq.evaluate import bleu, placeholder_prf
from dialogue.seq2seq.features import ModelInput, reply_tokens
from dialogue.seq2seq.gate import SafetyGate
from dialogue.templates import TEMPLATES

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "dialogue" / "seq2seq" / "checkpoint" / "seq2seq.pt"
# Promises no CRM field backs: priority handling, popularity, vague times, money back, free things.
UNBACKED = re.compile(r"\b(priority|popular|soon|shortly|as soon as possible|refund|free (return|label)|"
                      r"returns are free|guarantee)", re.I)


@pytest.fixture(scope="module")
def model():
    from dialogue.seq2seq import load_generator

    generator = load_generator()
    assert generator.name == "seq2seq", "the shipped checkpoint must load (retrain: voicebot train dialogue)"
    return generator


# --- the shipped model on real turns -------------------------------------------------------------------

@pytest.mark.slow
def test_shipped_checkpoint_answers_with_the_facts_of_the_crm(store: CrmStore, model) -> None:
    conv = DialogueManager(store, generator=model).start(ALICE)
    greeting = conv.greet()
    assert "Alice" in greeting.text and "Acme" in greeting.text and greeting.generator == "seq2seq"
    turn = conv.respond("where is my order 4567")
    assert turn.generator == "seq2seq" and 0.6 <= turn.confidence <= 1.0
    assert "order 4567" in turn.text.lower() and "shipped" in turn.text and "[" not in turn.text
    follow = conv.respond("and when will it arrive")
    assert "4567" in follow.text and follow.generator == "seq2seq"
    assert "as i said" in follow.text.lower()  # refers back to what it just said
    product = conv.respond("how much is the smart watch")
    assert "$199" in product.text and "in stock" in product.text and product.generator == "seq2seq"


@pytest.mark.slow
def test_wording_fits_the_caller(store: CrmStore, model) -> None:
    manager = DialogueManager(store, generator=model)
    angry = manager.start(None).respond("this is ridiculous where is my order 3141 it's so late")
    calm = manager.start(None).respond("what's the status of order 3141")
    when = manager.start(None).respond("when will order 3141 get here")
    for turn in (angry, calm, when):
        assert "3141" in turn.text and "out for delivery" in turn.text and turn.generator == "seq2seq"
    assert "sorry" in angry.text.lower() and "sorry" not in calm.text.lower()
    assert when.text.lower().startswith("it should reach you by")  # answers the question asked first
    complaint = manager.start(ALICE).respond("my blender arrived broken")
    assert "damaged" in complaint.text and "ticket" in complaint.text and complaint.generator == "seq2seq"


@pytest.mark.slow
def test_the_model_promises_nothing_the_crm_does_not_back(store: CrmStore, model) -> None:
    manager = DialogueManager(store, generator=model)
    angry = manager.start(ALICE).respond("this is ridiculous my blender arrived smashed i'm furious")
    assert "ticket" in angry.text and not UNBACKED.search(angry.text)
    describe = manager.start(None).respond("tell me about the laptop stand")
    assert "laptop stand" in describe.text and not UNBACKED.search(describe.text)
    # A processing order with no delivery day yet: no "should ship soon", no arrival promised.
    x = ModelInput(act="order_processing", intent="order_status", value_keys=("order_number", "order_status"),
                   turn_acts=("order_processing", "offer_more"), caller="what's happening with order 212")
    text, _, _ = model.decode(x)
    assert "[order_number]" in text and not UNBACKED.search(text) and "arrive" not in text


@pytest.mark.slow
def test_the_model_says_a_late_order_is_late(store: CrmStore, model) -> None:
    due = store.order("3141").expected_delivery  # out for delivery, due tomorrow
    conv = DialogueManager(store, generator=model).start(None)
    conv.orders.today = lambda: due + dt.timedelta(days=2)
    turn = conv.respond("where is order 3141")
    assert turn.generator == "seq2seq" and "late" in turn.text and f"due by {due:%A}" in turn.text
    assert "should reach you" not in turn.text


@pytest.mark.slow
def test_beam_and_greedy_agree_on_a_clear_case(store: CrmStore) -> None:
    from dialogue.seq2seq import load_generator

    beam = load_generator(beam=4)
    turn = DialogueManager(store, generator=beam).start(None).respond("where is order 5150")
    assert turn.generator == "seq2seq" and "5150" in turn.text and "delivered" in turn.text


# --- the safety gate -------------------------------------------------------------------------------------

SHIPPED_ACT = DialogueAct("order_shipped", "order_status",
                          {"order_number": "4567", "order_status": "shipped", "carrier": "UPS"})
TICKET_ACT = DialogueAct("ticket_opened", "complaint", {"ticket_id": "1003", "team": "returns",
                                                       "order_number": "4567"})
CANCELLED_ACT = DialogueAct("order_cancelled", "order_status", {"order_number": "678", "order_status": "cancelled"})


@pytest.mark.parametrize("act, text, confidence, reason", [
    (SHIPPED_ACT, "Order [order_number] has [order_status] with [carrier].", 0.9, None),
    (SHIPPED_ACT, "Order [order_number] has [order_status] via [courier_name].", 0.9, "placeholder"),
    (SHIPPED_ACT, "Order [order_number] has shipped.", 0.9, "placeholder"),  # required status dropped
    (SHIPPED_ACT, "[order_number] has [order_status].", 0.9, "placeholder"),  # number without "order"
    (SHIPPED_ACT, "Order [order_number] has [order_status] and arrives on the 12th.", 0.9, "placeholder"),
    (TICKET_ACT, "I've opened ticket [ticket_id] for our [team] team. Order [order_number] has "
                 "[order_status].", 0.9, "placeholder"),  # a status the complaint turn has no value for
    (TICKET_ACT, "I've opened ticket [ticket_id] for our [team] team; order [order_number] has shipped.",
     0.9, "intent"),  # order-status talk in a complaint turn
    (SHIPPED_ACT, "Order [order_number] has [order_status]. I'm transferring you now.", 0.9, "intent"),
    (SHIPPED_ACT, "Order [order_number] has [order_status] with [carrier].", 0.2, "confidence"),
    (SHIPPED_ACT, "", 0.9, "length"),
    (SHIPPED_ACT, "Order [order_number] has [order_status] " + "and so on " * 30, 0.9, "length"),
    # Facts in words the act's own replies never use: promises the CRM does not back.
    (SHIPPED_ACT, "Order [order_number] has [order_status] and should arrive today.", 0.9, "intent"),
    (SHIPPED_ACT, "Order [order_number] has [order_status] with UPS.", 0.9, "intent"),
    (SHIPPED_ACT, "Order [order_number] has [order_status]. We'll send you a full refund.", 0.9, "intent"),
    (SHIPPED_ACT, "Order [order_number] has [order_status] and should arrive in two days.", 0.9, "intent"),
    (TICKET_ACT, "I've opened ticket [ticket_id] for our [team] team as a priority, and they will contact you "
                 "within one business day.", 0.9, "intent"),
    (DialogueAct("product_in_stock", "product_info", {"product_name": "x", "product_price": "$1", "stock": "3"}),
     "It's one of our popular products. The [product_name] costs [product_price] and it's in stock.", 0.9,
     "intent"),
    # A status said in words belongs to that status; an arrival needs the expected day.
    (CANCELLED_ACT, "Order [order_number] was [order_status], but it has shipped and should arrive soon.", 0.9,
     "intent"),
    (CANCELLED_ACT, "Order [order_number] was [order_status], so it won't be shipped.", 0.9, None),
    (SHIPPED_ACT, "Order [order_number] has [order_status] and should arrive by [expected_delivery].", 0.9,
     "placeholder"),  # no expected day in the act
    (SHIPPED_ACT, "Order [order_number] has [order_status] with [carrier] and should arrive by Friday.", 0.9,
     "intent"),
    (SHIPPED_ACT, "Order [order_number] has [order_status] with [carrier].", None, None),  # no confidence given
])
def test_gate_rejects_unsafe_replies(act: DialogueAct, text: str, confidence: float | None,
                                    reason: str | None) -> None:
    assert SafetyGate().check(act, text, confidence) == reason


def test_gate_accepts_every_reply_the_corpus_teaches() -> None:
    gate = SafetyGate()
    for act, styles in read_replies().items():
        required, optional = ACTS[act]
        for keys in (set(required), set(required) | set(optional)):
            for style, pattern in styles.items():
                text = expand(pattern, keys)
                problem = style.removesuffix("_upset")  # the complaint category a styled reply is taught for
                category = problem if problem in {"delivery", "damaged", "billing", "quality", "service"} else None
                assert gate.check(DialogueAct(act, "", dict.fromkeys(keys, "x")), text, 1.0,
                                  category=category) is None, (act, style, text)


def test_no_reply_taught_or_templated_promises_what_the_crm_does_not_back() -> None:
    taught = [(act, text) for act, styles in read_replies().items() for text in styles.values()]
    templated = [(act, text) for act, variants in TEMPLATES.items() for text in variants]
    assert not [(act, text) for act, text in taught + templated if UNBACKED.search(text)]
    # Days are the CRM's: an order or ticket reply never says "today" / "tomorrow" itself.
    days = re.compile(r"\b(today|tomorrow|yesterday)\b", re.I)
    facts = [(a, t) for a, t in taught + templated if a.startswith(("order_", "ticket_", "return_"))]
    assert not [(a, t) for a, t in facts if days.search(t)]


def test_gate_keeps_sympathy_to_the_problem_the_caller_reported() -> None:
    act = DialogueAct("return_opened", "return_request", {"ticket_id": "1", "team": "returns",
                                                          "order_number": "56789"})
    text = ("I'm sorry it arrived damaged. I've started a return for order [order_number]: ticket [ticket_id] "
            "with our [team] team.")
    assert SafetyGate().check(act, text, 0.99, category="damaged") is None
    assert SafetyGate().check(act, text, 0.99, category=None) == "intent"  # "not what I expected" ≠ damaged
    for e in build_examples("heldout"):  # and every reference reply fits its own turn
        x = e.input
        assert SafetyGate().check(DialogueAct(x.act, x.intent, dict.fromkeys(x.value_keys, "x")), e.target,
                                  1.0, category=x.category) is None, e


class _CraftedModel:
    """The real generator and gate around a crafted model output (the real model is tested above)."""

    def __new__(cls, text: str, confidence: float):
        from dialogue.seq2seq.features import Vocab
        from dialogue.seq2seq.generator import Seq2SeqGenerator

        class Crafted(Seq2SeqGenerator):
            def decode(self, x):
                return (text if x.act.startswith("order_") else "Is there anything else I can help you "
                        "with?"), confidence, True

        acts = Vocab([f"act:{a}" for a in ACTS])
        return Crafted(None, acts, acts)


@pytest.mark.parametrize("text, confidence, generator", [
    ("Sorry for the wait. Order [order_number] has [order_status].", 0.95, "seq2seq"),
    ("Order [order_number] ships via [courier_name].", 0.95, "fallback:placeholder"),
    ("Order [order_number] has [order_status]. I've opened ticket [ticket_id].", 0.95, "fallback:placeholder"),
    ("Order [order_number] has [order_status], goodbye!", 0.95, "fallback:intent"),
    ("Order [order_number] has [order_status].", 0.3, "fallback:confidence"),
])
def test_rejected_replies_are_replaced_by_the_template_and_marked(store: CrmStore, text: str,
                                                                    confidence: float, generator: str) -> None:
    turn = DialogueManager(store, generator=_CraftedModel(text, confidence)).start(None).respond(
        "where is order 4567")
    assert turn.generator == generator and turn.confidence == pytest.approx(confidence)
    assert "4567" in turn.text and "shipped" in turn.text and "[" not in turn.text
    if generator != "seq2seq":
        assert "courier" not in turn.text and "goodbye" not in turn.text.lower()


# --- missing, stale, unreadable checkpoints ----------------------------------------------------------------

def test_missing_checkpoint_falls_back_to_marked_templates(store: CrmStore, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from dialogue.seq2seq import load_generator

    with caplog.at_level(logging.WARNING):
        generator = load_generator(tmp_path / "nowhere")
    assert generator.name == "fallback:missing"
    assert any("templates" in r.message and "nowhere" in r.message for r in caplog.records)
    turn = DialogueManager(store, generator=generator).start(None).respond("where is order 4567")
    assert turn.generator == "fallback:missing" and "4567" in turn.text and "shipped" in turn.text


@pytest.mark.slow
def test_stale_or_unreadable_checkpoint_falls_back(store: CrmStore, tmp_path: Path) -> None:
    import torch

    from dialogue.seq2seq import load_generator, make_generator

    blob = torch.load(SHIPPED, weights_only=True)
    blob["fingerprint"] = "trained-on-an-older-corpus"
    torch.save(blob, tmp_path / "seq2seq.pt")
    stale = load_generator(tmp_path)
    assert stale.name == "fallback:stale"
    turn = DialogueManager(store, generator=stale).start(None).respond("how much is the toaster")
    assert turn.generator == "fallback:stale" and "24.99" in turn.text
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    assert load_generator(tmp_path / "broken.pt").name == "fallback:unreadable"
    assert make_generator("template").name == "template"
    with pytest.raises(ValueError, match="unknown reply generator 'gpt'"):
        make_generator("gpt")


# --- training ----------------------------------------------------------------------------------------------

def _tiny_runs(out: Path, seeds: list[int]) -> list[bytes]:
    """Checkpoint bytes of tiny trainings, one process each (run side by side), as `voicebot train dialogue`
    runs: training sets torch's global thread count and deterministic mode, which must not leak into the rest
    of the test session."""
    procs = []
    for k, seed in enumerate(seeds):
        argv = [sys.executable, "-m", "dialogue.seq2seq.train", "--out", str(out / str(k)), "--seed", str(seed),
                "--copies", "1", "--embedding", "8", "--hidden", "16", "--max-steps", "4", "--threads", "1",
                "--no-eval", "--quiet"]
        procs.append(subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for proc in procs:
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output
    return [(out / str(k) / "seq2seq.pt").read_bytes() for k in range(len(seeds))]


def test_training_is_deterministic_under_a_seed(tmp_path: Path) -> None:
    import torch

    threads_before = torch.get_num_threads()
    first, again, other = _tiny_runs(tmp_path, [3, 3, 4])
    assert again == first  # same seed: the same checkpoint, byte for byte
    assert other != first
    assert torch.get_num_threads() == threads_before and not torch.are_deterministic_algorithms_enabled()


def test_training_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from dialogue.seq2seq.train import main

    assert main(["--out", str(tmp_path), "--epochs", "0"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().out
    assert main(["--out", str(tmp_path), "--max-steps", "-1"]) == 2
    assert "--max-steps must be 0 (all epochs) or more" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--epochs", "many"])
    assert not (tmp_path / "seq2seq.pt").exists()


# --- corpus and metrics ------------------------------------------------------------------------------------

def test_corpus_is_delexicalised_and_the_heldout_split_is_unseen() -> None:
    train = build_examples("train", copies=1)
    heldout = build_examples("heldout")
    assert {e.input.act for e in train} == set(ACTS)  # every act the policy can emit is taught
    for e in train + heldout:
        assert placeholders(e.target) <= set(e.input.value_keys), e
        assert not any(ch.isdigit() for ch in e.target), e  # facts are placeholders, never written out
    seen = {e.input.caller.lower() for e in train}
    assert not [e for e in heldout if e.input.caller and e.input.caller.lower() in seen]
    followups = [e for e in train if e.situation == "order_followup" and e.input.act.startswith("order_")]
    assert followups and all(e.input.previous_acts[0] == e.input.act for e in followups)


def test_bleu_and_placeholder_scores() -> None:
    ref = reply_tokens("Order [order_number] has [order_status] and should arrive by [expected_delivery].")
    assert bleu([ref], [ref]) == pytest.approx(1.0)
    assert bleu([ref], [reply_tokens("Goodbye!")]) == 0.0
    assert 0 < bleu([ref], [ref[:-3]]) < 1
    prf = placeholder_prf(["Order [order_number] is [order_status]."], ["Order [order_number] via [carrier]."])
    assert prf == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_shipped_checkpoint_is_small_and_committed() -> None:
    assert SHIPPED.is_file() and SHIPPED.stat().st_size < 5_000_000
    report = SHIPPED.parent / "eval.md"
    assert report.is_file() and "exact match" in report.read_text()
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    files = [str(f.relative_to(REPO)) for f in (SHIPPED, report, SHIPPED.parent / "eval.json")]
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", *files], cwd=REPO, capture_output=True, text=True)
    assert tracked.returncode == 0, tracked.stderr  # in git, so a fresh clone speaks with the model


@pytest.mark.slow
@pytest.mark.parametrize("source", [p.name for p in corpus.FINGERPRINTED])
def test_editing_what_the_model_learnt_from_makes_the_checkpoint_stale(source: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from dialogue.seq2seq import load_generator

    assert load_generator().name == "seq2seq"  # the shipped checkpoint matches the files as they are
    original = next(p for p in corpus.FINGERPRINTED if p.name == source)
    edited = tmp_path / source
    edited.write_bytes(original.read_bytes() + b"\n# one more line\n")
    monkeypatch.setattr(corpus, "FINGERPRINTED", tuple(edited if p == original else p for p in corpus.FINGERPRINTED))
    assert load_generator().name == "fallback:stale"
