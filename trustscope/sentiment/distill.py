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
    # weight of the gold label in the target of a text from the random split's training part:
    # target = (1 - w) * teacher + w * one-hot(gold); texts without a gold label use the teacher alone
    gold_weight: float = 0.0


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
            out_dir: str | Path, log=print, val: tuple[list[str], list[int]] | None = None):
    """Train the student (initialised from ``student_dir``) on soft targets; saves to ``out_dir``.

    ``soft_pos`` is each text's target P(positive) (teacher, or teacher mixed with gold). With
    ``val`` (texts, labels never trained on) the student is scored at the end of every epoch and
    the best epoch's weights are kept.
    """
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
    best_acc, best_state, history = -1.0, None, []
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
        if val is not None:
            import copy

            p = student_probs(model, tok, val[0], cfg.max_length)
            acc = sum(int((x > 0.5) == bool(y)) for x, y in zip(p, val[1])) / max(1, len(val[1]))
            history.append({"step": step, "val_accuracy": acc})
            log(f"distill step {step}: val accuracy {acc:.4f}")
            if acc > best_acc:
                best_acc, best_state = acc, copy.deepcopy(model.state_dict())
            model.train()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tok.save_pretrained(str(out_dir))
    info = {"steps": step, "planned_steps": total, "texts": len(texts), "soft_ce": ema,
            "minutes": (time.time() - t0) / 60, "val_history": history,
            "best_val_accuracy": best_acc if val is not None else None}
    log(f"distilled: {info}")
    return model, tok, info


def student_probs(model, tok, texts: list[str], max_length: int):
    """P(positive) of a (student) model, float list."""
    return predict_probs(model, tok, texts, max_length, 128)[:, 1].tolist()


def distillation_texts(reviews, seed: int = 13, n_texts: int = 20000, shuffle_seed: int = 7,
                       include_val: bool = True) -> list[str]:
    """Unlabelled review texts for distillation: the random split's train (+ val) texts, never its
    test texts (nor, with ``include_val=False``, the validation texts the student is chosen on)."""
    from trustscope.sentiment.data import random_split

    sp = random_split(reviews, seed=seed)
    held = {r.text for r in sp.test} | (set() if include_val else {r.text for r in sp.val})
    texts = [t for t in dict.fromkeys(r.text for r in sp.train + (sp.val if include_val else []))
             if t not in held]
    random.Random(shuffle_seed).shuffle(texts)
    return texts[:n_texts] if n_texts else texts


def _teacher_fn(teacher_dir: Path, max_length: int, int8: bool):
    """texts -> P(positive) numpy: torch fp32, or the ONNX int8 export (~2.7x faster on a CPU;
    agreed with fp32 on 99.1% of labels for the first bge teacher, docs/benchmarks.md)."""
    if int8:
        import torch

        from trustscope.sentiment.classifier import load_classifier
        from trustscope.sentiment.inference import run_bucketed

        clf = load_classifier(str(teacher_dir), threads=torch.get_num_threads(), max_length=max_length,
                              backend="onnx", quantize=True)
        return lambda texts: run_bucketed(clf.runner, clf.tokenizer, texts, max_length, 128)[0][:, 1]
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(teacher_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(teacher_dir), local_files_only=True).eval()
    return lambda texts: predict_probs(model, tok, texts, max_length, 128)[:, 1].numpy()


def label_with_teacher(teacher_dir: Path, texts: list[str], max_length: int, cache: Path,
                       max_minutes: float | None = None, log=print, chunk: int = 2000, int8: bool = False):
    """Teacher P(positive) per text, NaN where not labelled yet; resumable through ``cache`` (.npy).

    Why a wall budget: on a shared CPU labelling every text may not fit; the texts left unlabelled
    still train the student through their gold label when they have one.
    """
    import numpy as np

    soft = np.load(cache) if cache.exists() else np.full(len(texts), np.nan, dtype=np.float32)
    if len(soft) != len(texts):
        soft = np.full(len(texts), np.nan, dtype=np.float32)
    todo = np.flatnonzero(np.isnan(soft))
    if not len(todo):
        return soft
    teacher = _teacher_fn(teacher_dir, max_length, int8)
    t0 = time.time()
    for s in range(0, len(todo), chunk):
        if max_minutes is not None and time.time() - t0 > max_minutes * 60:
            log(f"teacher labelling stopped by its wall budget: {int((~np.isnan(soft)).sum())}/{len(texts)}")
            break
        idx = todo[s:s + chunk]
        soft[idx] = teacher([texts[i] for i in idx])
        np.save(cache, soft)
        log(f"teacher labels {int((~np.isnan(soft)).sum())}/{len(texts)} "
            f"({(s + len(idx)) / max(1e-9, time.time() - t0):.0f} texts/s)")
    return soft


def distillation_targets(texts: list[str], soft, gold: dict[str, int], gold_weight: float,
                         hard: float = 0.95):
    """(texts, target P(positive)) of every text with a teacher label or a gold label.

    Teacher and gold: ``(1 - gold_weight) * teacher + gold_weight * gold``; teacher only: the
    teacher; gold only: ``hard`` / ``1 - hard`` (a smoothed gold label).
    """
    import math

    out_t, out_p = [], []
    for t, p in zip(texts, soft):
        y = gold.get(t)
        has_p = not math.isnan(float(p))
        if has_p and y is not None:
            out_p.append((1 - gold_weight) * float(p) + gold_weight * float(y))
        elif has_p:
            out_p.append(float(p))
        elif y is not None:
            out_p.append(hard if y else 1 - hard)
        else:
            continue
        out_t.append(t)
    return out_t, out_p


def run_distill(teacher_dir: Path, student_init: Path, work_dir: Path, n_texts: int, cfg: DistillConfig,
                teacher_max_length: int = 64, log=print, teacher_minutes: float | None = None,
                teacher_int8: bool = False) -> dict:
    """Teacher labels -> student -> random-split test report; everything under ``work_dir``.

    Distilled on the random split's training texts only (never its test or validation texts; the
    validation texts choose the student's epoch and fit its neutral band). The teacher's labels are
    cached in ``work_dir/teacher_probs.npy`` (the slow part), the student in ``work_dir/model``,
    its validation probabilities in val_probs.json.
    """
    import json

    import numpy as np

    from trustscope.sentiment.calibration import fit_neutral_band, save_band
    from trustscope.sentiment.data import load_reviews, random_split
    from trustscope.sentiment.metrics import per_domain
    from trustscope.sentiment.transfer import roc_auc, score_probs

    work_dir.mkdir(parents=True, exist_ok=True)
    reviews = load_reviews()
    sp = random_split(reviews, seed=13)
    texts = distillation_texts(reviews, n_texts=n_texts, include_val=False)
    soft = label_with_teacher(teacher_dir, texts, teacher_max_length, work_dir / "teacher_probs.npy",
                              teacher_minutes, log, int8=teacher_int8)
    gold: dict[str, int] = {}
    for r in sp.train:
        gold.setdefault(r.text, r.label)
    d_texts, d_targets = distillation_targets(texts, soft, gold, cfg.gold_weight)
    n_teacher = int((~np.isnan(soft)).sum())
    log(f"distilling on {len(d_texts)} texts ({n_teacher} teacher-labelled, gold weight {cfg.gold_weight})")
    val = ([r.text for r in sp.val], [r.label for r in sp.val])
    model, tok, info = distill(student_init, d_texts, d_targets, cfg, work_dir / "model", log, val=val)
    p = student_probs(model, tok, [r.text for r in sp.test], cfg.max_length)
    y = [r.label for r in sp.test]
    doms = [r.domain for r in sp.test]
    train_prior = sum(r.label for r in sp.train) / len(sp.train)
    res = {"teacher": str(teacher_dir), "student_init": str(student_init), "distill": info,
           "teacher_labelled": n_teacher, "teacher_int8": teacher_int8, "distill_texts": len(d_texts), "gold_weight": cfg.gold_weight,
           "train_prior": train_prior, "test_all": score_probs(y, p, train_prior),
           "per_domain": per_domain(doms, y, [int(x > 0.5) for x in p]),
           "roc_auc_per_domain": {d: roc_auc([a for a, b in zip(y, doms) if b == d],
                                             [x for x, b in zip(p, doms) if b == d]) for d in sorted(set(doms))}}
    val_p = student_probs(model, tok, val[0], cfg.max_length)
    band = fit_neutral_band(val_p, val[1])
    save_band(band, work_dir / "model")
    res["neutral_band"] = band.__dict__
    (work_dir / "val_probs.json").write_text(json.dumps(val_p))
    (work_dir / "test_probs.json").write_text(json.dumps({r.id: x for r, x in zip(sp.test, p)}))
    (work_dir / "metrics.json").write_text(json.dumps(res, indent=2, ensure_ascii=False))
    log(f"student test: {res['test_all']}")
    return res
