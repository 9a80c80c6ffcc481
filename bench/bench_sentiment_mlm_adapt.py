"""Domain-adaptive masked-LM beside the sentiment loss: a held-out teacher reads the new domain.

Why: every lever so far adapted the *classifier* to a new domain (prior adjustment, pseudo-labels,
self-trained TF-IDF and teacher). Here the *encoder* is adapted without a single target label, as
in domain-adaptive pre-training (Gururangan et al. 2020), but kept from forgetting the task: each
step is one batch of labelled source reviews (cross-entropy, as the teacher trained) plus one batch
of the new domain's unlabelled reviews under BERT's masked-LM loss. The MLM head (transform +
decoder tied to the word embeddings; the converted bge ONNX carries no MLM head) starts with an
identity transform and is thrown away after training; the saved checkpoint is the classifier.

Texts: the domain's reviews minus the 3,000-review test sample and the 400 probes are the
unlabelled pool (labels never read). The probes choose the step (prior-adjusted accuracy, EM on a
pool sample); the test sample chooses nothing and is scored once at the end beside the teacher
alone and beside each one stacked with TF-IDF (every domain but the tested one).

    python bench/bench_sentiment_mlm_adapt.py --teacher ~/.cache/trustscope/train/F2/best \\
        --domain food_delivery --work-dir ~/.cache/trustscope/train/M2 --max-minutes 25 --threads 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sentiment_continue import domain_sets, load_teacher, positive_probs, save_checkpoint, work_log  # noqa: E402
from bench_sentiment_ensemble import score as scores  # noqa: E402

from trustscope.sentiment.baselines import tfidf_lr  # noqa: E402
from trustscope.sentiment.data import Review, load_reviews  # noqa: E402
from trustscope.sentiment.ensemble import LogitStacker, logit, sigmoid  # noqa: E402
from trustscope.sentiment.transfer import HELD_OUT  # noqa: E402


def mlm_head(model):
    """BERT's MLM head on ``model.bert``: identity transform, decoder tied to the word embeddings."""
    import torch
    from transformers.models.bert.modeling_bert import BertOnlyMLMHead

    head = BertOnlyMLMHead(model.config)
    with torch.no_grad():
        head.predictions.transform.dense.weight.copy_(torch.eye(model.config.hidden_size))
        head.predictions.transform.dense.bias.zero_()
        head.predictions.bias.zero_()
    head.predictions.decoder.weight = model.bert.embeddings.word_embeddings.weight
    return head


def batches(seqs: list[list[int]], size: int, rng: random.Random):
    """Endless shuffled batches of indices (a fresh order each pass)."""
    while True:
        order = list(range(len(seqs)))
        rng.shuffle(order)
        for i in range(0, len(order) - size + 1, size):
            yield order[i:i + size]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", type=Path, required=True, help="a held-out teacher dir (safetensors)")
    ap.add_argument("--domain", required=True, choices=HELD_OUT)
    ap.add_argument("--work-dir", type=Path, required=True)
    ap.add_argument("--mlm-weight", type=float, default=1.0)
    ap.add_argument("--mask-prob", type=float, default=0.15)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--max-minutes", type=float, default=25)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=64)
    args = ap.parse_args()
    import torch
    from transformers import BertForSequenceClassification

    from trustscope.sentiment.pretrain import TrainClock, mask_batch, apply_gradients, smoothed_loss
    from trustscope.sentiment.textprep import encode_batch, pad_batch

    torch.set_num_threads(args.threads)
    torch.manual_seed(13)
    work = args.work_dir.expanduser()
    log = work_log(work)

    dom = args.domain
    split = domain_sets(load_reviews(), dom)
    val, test, prb, pool, source = split.val, split.test, split.probes, split.pool, split.source  # pool unlabelled
    start = load_teacher(args.teacher)
    tok, model, t_prior = start.tokenizer, start.model, start.train_prior
    s_prior = round(sum(r.label for r in source) / len(source), 6)

    def probs(m, rs: list[Review]) -> np.ndarray:
        return positive_probs(m, tok, rs, args.max_length)

    yr, yt, yv = (np.array([r.label for r in rs]) for rs in (prb, test, val))
    em_pool = random.Random(5).sample(pool, min(len(pool), 1500))  # EM needs a sample, not all (CPU)
    t0 = time.time()
    pt, pv, pp, pr = (probs(model, rs) for rs in (test, val, pool, prb))
    res: dict = {"domain": dom, "teacher": str(args.teacher), "n_pool": len(pool), "n_source": len(source),
                 "mlm_weight": args.mlm_weight, "mask_prob": args.mask_prob, "lr": args.lr,
                 "probes_teacher": scores(yr, pr, t_prior, probs(model, em_pool))}
    log(f"teacher scored in {time.time() - t0:.0f}s; probes {res['probes_teacher']}")

    src_seqs = encode_batch(tok, [r.text for r in source], args.max_length)
    src_y = torch.tensor([r.label for r in source])
    tgt_seqs = encode_batch(tok, [r.text for r in pool], args.max_length)
    head = mlm_head(model)
    params = list(model.parameters()) + [p for n, p in head.named_parameters() if "decoder.weight" not in n]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    # steps are capped by the clock; the schedule anneals over the planned pass of the pool
    planned = 2 * len(tgt_seqs) // args.batch_size
    clock = TrainClock(planned, args.max_minutes)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, clock.lr_factor(0.05))
    ce = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(13)
    src_it, tgt_it = batches(src_seqs, args.batch_size, random.Random(13)), batches(tgt_seqs, args.batch_size,
                                                                                  random.Random(14))
    best: dict = {"score": res["probes_teacher"]["acc_adj"], "step": 0}
    save_checkpoint(model, tok, work / "best", t_prior)  # step 0: the teacher, until a step beats it
    history, step, ema_c, ema_m, t0 = [], 0, None, None, time.time()
    model.train()
    head.train()
    while True:
        bi = next(src_it)
        ids, mask = pad_batch([src_seqs[i] for i in bi], tok.pad_token_id)
        loss_c = ce(model(input_ids=ids, attention_mask=mask).logits, src_y[bi])
        ids, mask = pad_batch([tgt_seqs[i] for i in next(tgt_it)], tok.pad_token_id)
        inputs, labels = mask_batch(ids, tok, args.mask_prob, gen)
        h = model.bert(input_ids=inputs, attention_mask=mask).last_hidden_state
        at = labels != -100
        loss_m = ce(head(h[at]), labels[at]) if at.any() else h.sum() * 0
        apply_gradients(loss_c + args.mlm_weight * loss_m, model, opt, sched)
        step += 1
        clock.step = step
        ema_c, ema_m = smoothed_loss(ema_c, loss_c.item()), smoothed_loss(ema_m, loss_m.item())
        if step % 50 == 0:
            log(f"step {step}/{planned} ce {ema_c:.4f} mlm {ema_m:.4f} "
                f"{step * 2 * args.batch_size / (time.time() - t0):.1f} texts/s")
        last = clock.done()
        if step % args.eval_every == 0 or last:
            model.eval()
            s = scores(yr, probs(model, prb), s_prior, probs(model, em_pool))
            model.train()
            history.append({"step": step, "ce": ema_c, "mlm": ema_m, **s})
            log(f"step {step} probes {s} ({(time.time() - t0) / 60:.1f} min)")
            if s["acc_adj"] > best["score"]:
                best = {"score": s["acc_adj"], "step": step}
                save_checkpoint(model, tok, work / "best", s_prior)
        if last:
            break
    save_checkpoint(model, tok, work / "last")
    res.update(best_step=best["step"], best_probe_adj=best["score"], steps=step, history=history,
               minutes=round((time.time() - t0) / 60, 1))
    if best["step"] == 0:  # no step beat the teacher: its scores stand, no second pass over 13k texts
        at_, av, ap_, a_prior = pt, pv, pp, t_prior
    else:
        adapted = BertForSequenceClassification.from_pretrained(str(work / "best"), local_files_only=True)
        a_prior = s_prior
        at_, av, ap_ = (probs(adapted, rs) for rs in (test, val, pool))
    pipe = tfidf_lr([r.text for r in source], [r.label for r in source])
    zt, zv, zp = (pipe.decision_function([r.text for r in rs]) for rs in (test, val, pool))
    res["test_tfidf"] = scores(yt, sigmoid(zt), s_prior, sigmoid(zp))
    res["test_teacher"] = scores(yt, pt, t_prior, pp)
    res["test_adapted"] = scores(yt, at_, a_prior, ap_)
    vprior = float(yv.mean())
    for name, (v, t, p) in {"teacher": (pv, pt, pp), "adapted": (av, at_, ap_)}.items():
        st = LogitStacker().fit(np.c_[logit(v), zv], yv)
        res[f"test_{name}_stack"] = scores(yt, st.predict(np.c_[logit(t), zt]), vprior,
                                           st.predict(np.c_[logit(p), zp]))
    res["val_adapted_acc"] = float(((av > 0.5) == yv).mean())
    res["val_teacher_acc"] = float(((pv > 0.5) == yv).mean())
    log(json.dumps({k: v for k, v in res.items() if k != "history"}, ensure_ascii=False))
    (work / "result.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
