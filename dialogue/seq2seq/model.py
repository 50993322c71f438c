"""The encoder–decoder: embeddings → bi-GRU encoder → GRU decoder with (Luong, "general") attention →
softmax over the reply vocabulary. Greedy and beam decoding; the confidence of a reply is the exp of its
mean token log-probability (the end token included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3  # features.SPECIALS order


@dataclass(frozen=True)
class ModelConfig:
    embedding: int = 64
    hidden: int = 128  # decoder size; the encoder runs hidden/2 per direction
    dropout: float = 0.1
    max_reply_tokens: int = 64

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Decoded:
    tokens: list[int]  # without BOS/EOS
    confidence: float  # exp(mean log-prob)
    finished: bool  # False when the length cap cut it


class Seq2Seq(nn.Module):
    def __init__(self, src_size: int, tgt_size: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        h, e = config.hidden, config.embedding
        self.src_embed = nn.Embedding(src_size, e, padding_idx=PAD_ID)
        self.encoder = nn.GRU(e, h // 2, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(h, h)
        self.tgt_embed = nn.Embedding(tgt_size, e, padding_idx=PAD_ID)
        self.decoder = nn.GRU(e, h, batch_first=True)
        self.attn = nn.Linear(h, h, bias=False)
        self.combine = nn.Linear(2 * h, h)
        self.out = nn.Linear(h, tgt_size)
        self.drop = nn.Dropout(config.dropout)

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states (B, S, H) and the decoder's initial state (1, B, H)."""
        packed = pack_padded_sequence(self.drop(self.src_embed(src)), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        states, last = self.encoder(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=src.size(1))
        init = torch.tanh(self.bridge(torch.cat([last[0], last[1]], dim=-1))).unsqueeze(0)
        return states, init

    def _step_logits(self, out: torch.Tensor, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # out: (B, T, H) decoder outputs; attention over the encoder states, padding masked out
        scores = torch.bmm(self.attn(out), states.transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        context = torch.bmm(torch.softmax(scores, dim=-1), states)
        mixed = torch.tanh(self.combine(torch.cat([out, context], dim=-1)))
        return self.out(self.drop(mixed))

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for the target shifted right (BOS first)."""
        states, hidden = self.encode(src, lengths)
        out, _ = self.decoder(self.drop(self.tgt_embed(tgt_in)), hidden)
        return self._step_logits(out, states, src != PAD_ID)

    @torch.inference_mode()
    def greedy(self, src_ids: list[int]) -> Decoded:
        src = torch.tensor([src_ids])
        states, hidden = self.encode(src, torch.tensor([len(src_ids)]))
        mask = src != PAD_ID
        token = torch.tensor([[BOS_ID]])
        out_ids: list[int] = []
        total = 0.0
        for _ in range(self.config.max_reply_tokens):
            out, hidden = self.decoder(self.tgt_embed(token), hidden)
            logp = torch.log_softmax(self._step_logits(out, states, mask)[0, -1], dim=-1)
            best = int(torch.argmax(logp))
            total += float(logp[best])
            if best == EOS_ID:
                return Decoded(out_ids, _confidence(total, len(out_ids) + 1), True)
            out_ids.append(best)
            token = torch.tensor([[best]])
        return Decoded(out_ids, _confidence(total, len(out_ids)), False)

    @torch.inference_mode()
    def beam(self, src_ids: list[int], width: int = 4) -> Decoded:
        """Beam search with length-normalised scores; the beams run as one batch."""
        src = torch.tensor([src_ids])
        states, hidden = self.encode(src, torch.tensor([len(src_ids)]))
        mask = src != PAD_ID
        beams: list[tuple[list[int], float]] = [([], 0.0)]
        done: list[tuple[list[int], float, bool]] = []
        for _ in range(self.config.max_reply_tokens):
            k = len(beams)
            last = torch.tensor([[seq[-1] if seq else BOS_ID] for seq, _ in beams])
            out, new_hidden = self.decoder(self.tgt_embed(last), hidden.expand(1, k, -1).contiguous()
                                           if hidden.size(1) != k else hidden)
            logp = torch.log_softmax(self._step_logits(out, states.expand(k, -1, -1),
                                                       mask.expand(k, -1))[:, -1], dim=-1)
            total = logp + torch.tensor([s for _, s in beams]).unsqueeze(1)
            top_scores, top_idx = total.view(-1).topk(min(width * 2, total.numel()))
            candidates, rows = [], []
            for score, idx in zip(top_scores.tolist(), top_idx.tolist(), strict=True):
                row, tok = divmod(idx, logp.size(1))
                seq = beams[row][0]
                if tok == EOS_ID:
                    done.append((seq, score, True))
                elif len(candidates) < width:
                    candidates.append((seq + [tok], score))
                    rows.append(row)
            if len(done) >= width or not candidates:
                break
            beams = candidates
            hidden = new_hidden[:, rows]
        if not done:
            done = [(seq, score, False) for seq, score in beams]
        seq, score, finished = max(done, key=lambda d: d[1] / (len(d[0]) + 1))
        return Decoded(seq, _confidence(score, len(seq) + (1 if finished else 0)), finished)


def _confidence(total_logp: float, n: int) -> float:
    return float(torch.tensor(total_logp / max(n, 1)).exp())
