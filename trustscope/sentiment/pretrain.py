"""Masked-language-model pre-training of a small BERT on unlabelled Chinese text.

Hand-written loop instead of ``transformers.Trainer`` for one reason that matters on a 2-core CPU:
the MLM head (hidden x vocab) is applied only to the ~15% masked positions instead of every token,
which removes most of the head's cost. Short texts are packed into fixed-length sequences
(``[CLS] a [SEP] b [SEP] ...``) so no compute is spent on padding.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from trustscope.sentiment.progress import progress_bar


class TrainClock:
    """Progress = max(steps done / planned steps, wall time used / wall budget).

    Why: on a shared CPU the speed varies several-fold with other people's load. Driving the
    warmup + linear decay by this progress means a run stopped by its wall budget has still
    annealed its learning rate to zero instead of stopping at a high rate.
    """

    def __init__(self, steps: int, max_minutes: float | None):
        self.steps, self.step = steps, 0
        self.budget = max_minutes * 60 if max_minutes else math.inf
        self.t0 = time.time()

    def progress(self) -> float:
        return min(1.0, max(self.step / self.steps, (time.time() - self.t0) / self.budget))

    def done(self) -> bool:
        return self.progress() >= 1.0

    def lr_factor(self, warmup_frac: float):
        def f(_: int) -> float:
            p = self.progress()
            if p < warmup_frac:
                return max(1e-3, p / warmup_frac)
            return max(0.0, (1.0 - p) / (1.0 - warmup_frac))
        return f


def apply_gradients(loss, model, opt, sched=None) -> None:
    """One optimiser step on `loss` with the gradient norm clipped to 1 (and a scheduler tick).

    Why one function: pre-training, fine-tuning and distillation must take the same step, so a
    change to clipping or zeroing reaches all three.
    """
    import torch

    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if sched is not None:
        sched.step()


def smoothed_loss(ema: float | None, loss: float) -> float:
    """Exponential moving average of the training loss (0.98 decay) for the progress line."""
    return loss if ema is None else 0.98 * ema + 0.02 * loss


@dataclass
class ModelSize:
    """Architecture knobs of the small BERT."""

    hidden: int = 192
    layers: int = 2
    heads: int = 4
    intermediate: int = 768
    max_position: int = 256


@dataclass
class PretrainConfig:
    steps: int = 3000
    batch_size: int = 32
    seq_len: int = 128
    lr: float = 1e-3
    warmup_frac: float = 0.06
    weight_decay: float = 0.01
    mask_prob: float = 0.15
    seed: int = 13
    checkpoint_every: int = 500
    max_minutes: float | None = None  # stop early (saving) when the wall budget runs out
    corpus: str = "all"  # a key of trustscope.sentiment.data.PRETRAIN_CORPORA


def pack_sequences(token_ids: list[list[int]], seq_len: int, cls_id: int, sep_id: int,
                   seed: int) -> list[list[int]]:
    """Greedy packing of shuffled texts into ``seq_len`` sequences; long texts are cut."""
    order = list(range(len(token_ids)))
    random.Random(seed).shuffle(order)
    seqs, cur = [], [cls_id]
    for i in order:
        ids = token_ids[i][: seq_len - 2]
        if not ids:
            continue
        if len(cur) + len(ids) + 1 > seq_len:
            seqs.append(cur)
            cur = [cls_id]
        cur.extend(ids)
        cur.append(sep_id)
    if len(cur) > 2:
        seqs.append(cur)
    return seqs


def build_config(size: ModelSize, vocab_size: int, pad_id: int):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=size.hidden, num_hidden_layers=size.layers,
                      num_attention_heads=size.heads, intermediate_size=size.intermediate,
                      max_position_embeddings=size.max_position, pad_token_id=pad_id,
                      type_vocab_size=2)


def mask_batch(batch, tok, mask_prob: float, gen):
    """BERT masking: of the chosen 15%, 80% -> [MASK], 10% -> random token, 10% unchanged."""
    import torch

    inputs = batch.clone()
    labels = batch.clone()
    special = (batch == tok.pad_token_id) | (batch == tok.cls_token_id) | (batch == tok.sep_token_id)
    prob = torch.full(batch.shape, mask_prob)
    prob.masked_fill_(special, 0.0)
    chosen = torch.bernoulli(prob, generator=gen).bool()
    labels[~chosen] = -100
    replace = torch.bernoulli(torch.full(batch.shape, 0.8), generator=gen).bool() & chosen
    inputs[replace] = tok.mask_token_id
    rand = torch.bernoulli(torch.full(batch.shape, 0.5), generator=gen).bool() & chosen & ~replace
    inputs[rand] = torch.randint(len(tok), batch.shape, generator=gen)[rand]
    return inputs, labels


def size_of(config) -> ModelSize:
    """The ``ModelSize`` of a loaded BERT config."""
    return ModelSize(hidden=config.hidden_size, layers=config.num_hidden_layers,
                     heads=config.num_attention_heads, intermediate=config.intermediate_size,
                     max_position=config.max_position_embeddings)


def pretrain(texts: list[str], tokenizer, out_dir: str | Path, size: ModelSize,
             cfg: PretrainConfig, device: str = "cpu", log=print,
             init_dir: str | Path | None = None) -> dict:
    """Run MLM pre-training; saves ``out_dir`` (model + tokenizer) at checkpoints and at the end.

    ``init_dir``: continue from this MLM checkpoint (its weights; ``size`` is taken from its config
    and ``tokenizer`` must be its tokenizer) with a fresh optimizer and warmup + decay schedule over
    ``cfg.steps`` / ``cfg.max_minutes``. The meta then also records the source checkpoint and the
    cumulative steps and tokens (``total_steps``, ``total_tokens_seen``).
    """
    import torch
    from transformers import BertForMaskedLM

    out = Path(out_dir)
    prior: dict | None = None
    if init_dir is not None:
        src = Path(init_dir)
        if src.resolve() == out.resolve():
            raise ValueError(f"continued pre-training must write to a new directory, not {src}")
        meta_path = src / "pretrain_meta.json"
        prior = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    prev_steps = prior.get("total_steps", prior.get("step", 0)) if prior else 0
    out.mkdir(parents=True, exist_ok=True)
    # a continued run must not replay the first run's packing, order and masks: offset the seed
    data_seed = cfg.seed + prev_steps
    torch.manual_seed(data_seed)
    random.seed(data_seed)
    t0 = time.time()
    enc = tokenizer(texts, add_special_tokens=False, return_attention_mask=False,
                    return_token_type_ids=False)["input_ids"]
    seqs = pack_sequences(enc, cfg.seq_len, tokenizer.cls_token_id, tokenizer.sep_token_id, data_seed)
    n_tokens = sum(len(s) for s in seqs)
    log(f"pretrain corpus: {len(texts)} texts, {len(seqs)} packed sequences, {n_tokens} tokens "
        f"(tokenized in {time.time() - t0:.0f}s)")

    if init_dir is not None:
        model = BertForMaskedLM.from_pretrained(str(init_dir), local_files_only=True).to(device)
        if model.config.vocab_size != len(tokenizer):
            raise ValueError(f"{init_dir}: vocabulary {model.config.vocab_size} != tokenizer {len(tokenizer)}")
        size = size_of(model.config)
        log(f"continuing MLM pre-training from {init_dir} "
            f"(after {prev_steps} steps)")
    else:
        config = build_config(size, len(tokenizer), tokenizer.pad_token_id)
        model = BertForMaskedLM(config).to(device)
    model.train()
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
         "weight_decay": cfg.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)],
         "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    clock = TrainClock(cfg.steps, cfg.max_minutes)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, clock.lr_factor(cfg.warmup_frac))
    gen = torch.Generator().manual_seed(data_seed)
    loss_fn = torch.nn.CrossEntropyLoss()

    def save(step: int, loss: float) -> None:
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
        meta = {"step": step, "planned_steps": cfg.steps, "loss": loss, "minutes": (time.time() - t0) / 60,
                "size": asdict(size), "config": asdict(cfg), "tokens_seen": step * cfg.batch_size * cfg.seq_len,
                "corpus_texts": len(texts), "corpus_tokens": n_tokens}
        if prior is not None:
            prev_tokens = prior.get("total_tokens_seen", prior.get("tokens_seen", 0))
            meta.update({"resumed_from": str(init_dir), "data_seed": data_seed, "previous_steps": prev_steps,
                         "previous_loss": prior.get("loss"), "total_steps": prev_steps + step,
                         "total_tokens_seen": prev_tokens + meta["tokens_seen"],
                         "previous": prior})
        (out / "pretrain_meta.json").write_text(json.dumps(meta, indent=2))

    order: list[int] = []
    ema = None
    step = 0
    with progress_bar("MLM pre-training", total=cfg.steps) as bar:
        while step < cfg.steps:
            if len(order) < cfg.batch_size:
                nxt = list(range(len(seqs)))
                random.shuffle(nxt)
                order.extend(nxt)
            idx, order = order[: cfg.batch_size], order[cfg.batch_size:]
            width = max(len(seqs[i]) for i in idx)
            batch = torch.full((len(idx), width), tokenizer.pad_token_id, dtype=torch.long)
            for r, i in enumerate(idx):
                batch[r, : len(seqs[i])] = torch.tensor(seqs[i])
            attn = (batch != tokenizer.pad_token_id).long()
            inputs, labels = mask_batch(batch, tokenizer, cfg.mask_prob, gen)
            inputs, labels, attn = inputs.to(device), labels.to(device), attn.to(device)
            hidden = model.bert(input_ids=inputs, attention_mask=attn).last_hidden_state
            sel = labels != -100
            logits = model.cls(hidden[sel])
            loss = loss_fn(logits, labels[sel])
            apply_gradients(loss, model, opt, sched)
            step += 1
            clock.step = step
            ema = smoothed_loss(ema, loss.item())
            bar.update(1, loss=ema)
            if step % 100 == 0:
                log(f"pretrain step {step}/{cfg.steps} loss {ema:.3f} lr {sched.get_last_lr()[0]:.2e} "
                    f"{(time.time() - t0) / 60:.1f} min")
            if step % cfg.checkpoint_every == 0:
                save(step, ema)
            if clock.done():
                if step < cfg.steps:
                    log(f"pretrain: wall budget reached at step {step}")
                break
    save(step, float(ema or 0.0))
    return json.loads((out / "pretrain_meta.json").read_text())
