"""Distilling the fine-tuned bge-small-zh teacher into the small serving student.

Why: the teacher (4 layers x 512, 21k vocabulary) is what carries to unseen domains but serves
~10x slower than the 2 x 192 student the speed target needs. The student learns the teacher's
probabilities (soft targets: the ranking and the confidence, not just the argmax) on all the
unlabelled review text at hand, so it inherits what the teacher learned from pretraining.
Student and teacher may use different tokenizers: only texts and probabilities pass between them.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from trustscope.sentiment.finetune import _bucketed_batches
from trustscope.sentiment.inference import predict_probs
from trustscope.sentiment.textprep import encode_batch, pad_batch


@dataclass
class DistillConfig:
    epochs: float = 2.0
    batch_size: int = 64
    lr: float = 2e-4
    warmup_frac: float = 0.05
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 13
    max_minutes: float | None = None
    log_every: int = 200


def teacher_probabilities(model_dir: str | Path, texts: list[str], max_length: int, log=print,
                          chunk: int = 4000):
    """P(positive) of the teacher for every text (float32 numpy), logged chunk by chunk."""
    import numpy as np
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), local_files_only=True).eval()
    out = np.empty(len(texts), dtype=np.float32)
    t0 = time.time()
    for s in range(0, len(texts), chunk):
        out[s:s + chunk] = predict_probs(model, tok, texts[s:s + chunk], max_length, 128)[:, 1].numpy()
        log(f"teacher labels {min(s + chunk, len(texts))}/{len(texts)} "
            f"({(s + chunk) / max(1e-9, time.time() - t0):.0f} texts/s)")
    return out


def distill(student_dir: str | Path, texts: list[str], soft_pos, cfg: DistillConfig,
            out_dir: str | Path, log=print):
    """Train the student (initialised from ``student_dir``) on soft targets; saves to ``out_dir``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trustscope.sentiment.pretrain import TrainClock, apply_gradients, smoothed_loss

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    tok = AutoTokenizer.from_pretrained(str(student_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(student_dir), local_files_only=True)
    seqs = encode_batch(tok, texts, cfg.max_length)
    targets = torch.tensor([[1.0 - float(p), float(p)] for p in soft_pos], dtype=torch.float32)
    per_epoch = (len(seqs) + cfg.batch_size - 1) // cfg.batch_size
    total = max(1, int(per_epoch * cfg.epochs))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    clock = TrainClock(total, cfg.max_minutes)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, clock.lr_factor(cfg.warmup_frac))
    model.train()
    step, ema, t0 = 0, None, time.time()
    while not clock.done():
        for b in _bucketed_batches([len(s) for s in seqs], cfg.batch_size, rng):
            ids, mask = pad_batch([seqs[i] for i in b], tok.pad_token_id)
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss = -(targets[b] * torch.log_softmax(logits, -1)).sum(-1).mean()
            apply_gradients(loss, model, opt, sched)
            step += 1
            clock.step = step
            ema = smoothed_loss(ema, loss.item())
            if step % cfg.log_every == 0:
                log(f"distill step {step}/{total} soft-CE {ema:.4f} {(time.time() - t0) / 60:.1f} min")
            if clock.done():
                break
    model.eval()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tok.save_pretrained(str(out_dir))
    info = {"steps": step, "planned_steps": total, "texts": len(texts), "soft_ce": ema,
            "minutes": (time.time() - t0) / 60}
    log(f"distilled: {info}")
    return model, tok, info


def student_probs(model, tok, texts: list[str], max_length: int):
    """P(positive) of a (student) model, float list."""
    return predict_probs(model, tok, texts, max_length, 128)[:, 1].tolist()


def distillation_texts(reviews, seed: int = 13, n_texts: int = 20000, shuffle_seed: int = 7) -> list[str]:
    """Unlabelled review texts for distillation: the random split's train + val texts, never its test texts."""
    from trustscope.sentiment.data import random_split

    sp = random_split(reviews, seed=seed)
    test_texts = {r.text for r in sp.test}
    texts = [t for t in dict.fromkeys(r.text for r in sp.train + sp.val) if t not in test_texts]
    random.Random(shuffle_seed).shuffle(texts)
    return texts[:n_texts] if n_texts else texts


def run_distill(teacher_dir: Path, student_init: Path, work_dir: Path, n_texts: int, cfg: DistillConfig,
                teacher_max_length: int = 64, log=print) -> dict:
    """Teacher labels -> student -> random-split test report; everything under ``work_dir``.

    The teacher's labels are cached in ``work_dir/teacher_probs.npy`` (the slow part), the student
    in ``work_dir/model``, its validation probabilities (for the neutral band) in val_probs.json.
    """
    import json

    import numpy as np

    from trustscope.sentiment.data import load_reviews, random_split
    from trustscope.sentiment.metrics import per_domain
    from trustscope.sentiment.transfer import score_probs

    work_dir.mkdir(parents=True, exist_ok=True)
    reviews = load_reviews()
    sp = random_split(reviews, seed=13)
    texts = distillation_texts(reviews, n_texts=n_texts)
    cache = work_dir / "teacher_probs.npy"
    if cache.exists() and len(np.load(cache)) == len(texts):
        soft = np.load(cache)
    else:
        soft = teacher_probabilities(teacher_dir, texts, teacher_max_length, log)
        np.save(cache, soft)
    model, tok, info = distill(student_init, texts, soft, cfg, work_dir / "model", log)
    p = student_probs(model, tok, [r.text for r in sp.test], cfg.max_length)
    soft_prior = float(np.mean(soft))
    res = {"teacher": str(teacher_dir), "student_init": str(student_init), "distill": info,
           "soft_prior": soft_prior, "test_all": score_probs([r.label for r in sp.test], p, soft_prior),
           "per_domain": per_domain([r.domain for r in sp.test], [r.label for r in sp.test],
                                    [int(x > 0.5) for x in p])}
    val_p = student_probs(model, tok, [r.text for r in sp.val], cfg.max_length)
    (work_dir / "val_probs.json").write_text(json.dumps(val_p))
    (work_dir / "test_probs.json").write_text(json.dumps({r.id: x for r, x in zip(sp.test, p)}))
    (work_dir / "metrics.json").write_text(json.dumps(res, indent=2, ensure_ascii=False))
    log(f"student test: {res['test_all']}")
    return res
