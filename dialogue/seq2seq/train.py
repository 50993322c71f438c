"""`voicebot train dialogue`: train the Seq2Seq reply model on this CPU, write the checkpoint and its
held-out evaluation. Deterministic under a seed (same seed and threads → same checkpoint bytes).

    python -m dialogue.seq2seq.train [--out DIR] [--seed N] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from dialogue.seq2seq.checkpoint import CHECKPOINT_NAME, SHIPPED_DIR, save
from dialogue.seq2seq.corpus import TRAIN_COPIES, build_examples
from dialogue.seq2seq.features import UNK, Vocab, reply_tokens, source_tokens
from dialogue.seq2seq.model import BOS_ID, EOS_ID, PAD_ID, ModelConfig, Seq2Seq

log = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicebot train dialogue",
                                description="train the Seq2Seq reply model and evaluate it on the held-out split")
    p.add_argument("--out", default=str(SHIPPED_DIR), help="checkpoint folder (default: the shipped one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--copies", type=int, default=TRAIN_COPIES, help="noisy variants per training caller line")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--embedding", type=int, default=ModelConfig.embedding)
    p.add_argument("--hidden", type=int, default=ModelConfig.hidden)
    p.add_argument("--threads", type=int, default=2, help="torch threads (results depend on it)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
    p.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for name in ("epochs", "copies", "batch", "embedding", "hidden", "threads"):
        if getattr(args, name) < 1:
            print(f"voicebot train dialogue: --{name} must be at least 1, got {getattr(args, name)}")
            return 2
    if args.max_steps < 0:
        print(f"voicebot train dialogue: --max-steps must be 0 (all epochs) or more, got {args.max_steps}")
        return 2
    if args.hidden % 2:
        print(f"voicebot train dialogue: --hidden must be even (two encoder directions), got {args.hidden}")
        return 2
    result = train(args)
    out = Path(args.out)
    print(f"checkpoint: {out / CHECKPOINT_NAME} ({(out / CHECKPOINT_NAME).stat().st_size / 1e6:.2f} MB), "
          f"trained in {result['train_seconds']:.0f} s, final loss {result['final_loss']:.4f}")
    if "eval" in result:
        e = result["eval"]
        print(f"held-out: exact match {e['exact_match']:.1%}, BLEU {e['bleu'] * 100:.1f}, placeholder F1 "
              f"{e['placeholders']['f1']:.3f}, fallback {e['fallback_rate']:.1%}; report: {out / 'eval.md'}")
    return 0


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    start = time.perf_counter()
    examples = build_examples("train", seed=args.seed, copies=args.copies)
    src_seqs = [source_tokens(e.input) for e in examples]
    tgt_seqs = [reply_tokens(e.target) for e in examples]
    # Rare caller words become <unk> so the model learns to live with words it has never seen.
    src_vocab = Vocab.build(src_seqs, min_count=2, keep={t for s in src_seqs for t in s if ":" in t})
    tgt_vocab = Vocab.build(tgt_seqs)
    config = ModelConfig(embedding=args.embedding, hidden=args.hidden)
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), config)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD_ID)
    data = [(src_vocab.encode(s), tgt_vocab.encode(t)) for s, t in zip(src_seqs, tgt_seqs, strict=True)]
    user_id, bot_id, unk_id = src_vocab.stoi["<user>"], src_vocab.stoi["<bot>"], src_vocab.stoi[UNK]
    generator = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (len(data) + args.batch - 1) // args.batch
    total = steps_per_epoch * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=total)
    losses: list[float] = []
    bar = tqdm(total=total, desc="train dialogue", unit="step", disable=args.quiet)
    step = 0
    model.train()
    while step < total:
        order = torch.randperm(len(data), generator=generator).tolist()
        for i in range(0, len(order), args.batch):
            if step >= total:
                break
            batch = [data[j] for j in order[i : i + args.batch]]
            src, lengths, tgt_in, tgt_out = _tensors(batch, generator, user_id, bot_id, unk_id)
            logits = model(src, lengths, tgt_in)
            loss = loss_fn(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            step += 1
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{sum(losses[-20:]) / 20:.3f}")
    bar.close()
    model.eval()
    seconds = time.perf_counter() - start
    out = Path(args.out)
    save(out / CHECKPOINT_NAME, model, src_vocab, tgt_vocab)
    result = {"train_seconds": seconds, "steps": step, "examples": len(data), "final_loss": losses[-1],
              "losses": losses, "src_vocab": len(src_vocab), "tgt_vocab": len(tgt_vocab),
              "parameters": sum(p.numel() for p in model.parameters())}
    if not args.no_eval:
        result["eval"] = _evaluate(out, args, result)
    return result


def _tensors(batch: list[tuple[list[int], list[int]]], generator: torch.Generator, user_id: int, bot_id: int,
             unk_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded tensors; 5% of the caller's words are dropped to <unk> (robustness to unseen words)."""
    src_len = max(len(s) for s, _ in batch)
    tgt_len = max(len(t) for _, t in batch) + 1
    src = torch.zeros(len(batch), src_len, dtype=torch.long)
    tgt_in = torch.zeros(len(batch), tgt_len, dtype=torch.long)
    tgt_out = torch.zeros(len(batch), tgt_len, dtype=torch.long)
    for row, (s, t) in enumerate(batch):
        s = list(s)
        a, b = s.index(user_id), s.index(bot_id)
        drop = torch.rand(b - a - 1, generator=generator) < 0.05
        for k in range(a + 1, b):
            if drop[k - a - 1]:
                s[k] = unk_id
        src[row, : len(s)] = torch.tensor(s)
        tgt_in[row, : len(t) + 1] = torch.tensor([BOS_ID] + t)
        tgt_out[row, : len(t) + 1] = torch.tensor(t + [EOS_ID])
    lengths = torch.tensor([len(s) for s, _ in batch])
    return src, lengths, tgt_in, tgt_out


def _evaluate(out: Path, args: argparse.Namespace, result: dict) -> dict:
    from dialogue.seq2seq.evaluate import evaluate, markdown
    from dialogue.seq2seq.generator import load_generator

    generator = load_generator(out)
    if not hasattr(generator, "decode"):
        raise RuntimeError(f"the checkpoint just written to {out} does not load")
    report = evaluate(generator, build_examples("heldout"))
    run = {k: v for k, v in result.items() if k != "losses"}
    run |= {"seed": args.seed, "epochs": args.epochs, "copies": args.copies, "threads": args.threads,
            "checkpoint_bytes": (out / CHECKPOINT_NAME).stat().st_size}
    header = (f" (seed {args.seed}, {args.epochs} epochs, {result['steps']} steps, "
              f"{result['train_seconds']:.0f} s on {args.threads} threads)")
    (out / "eval.json").write_text(json.dumps({"run": run, "heldout": report}, indent=1) + "\n")
    (out / "eval.md").write_text(markdown(report, header))
    return report


if __name__ == "__main__":
    raise SystemExit(main())
