"""Fine-tuning a (pre-trained) BERT for binary sentiment with early stopping on a validation split.

Hand-written loop (not ``Trainer``) so batches are length-bucketed (little padding on a CPU) and the
best checkpoint by validation accuracy is kept in memory without writing every evaluation to disk.
"""

from __future__ import annotations

import copy
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from trustscope.sentiment.data import Review
from trustscope.sentiment.inference import predict_probs
from trustscope.sentiment.progress import progress_bar
from trustscope.sentiment.textprep import encode_batch, pad_batch

ID2LABEL = {0: "negative", 1: "positive"}
LABEL2ID = {"negative": 0, "positive": 1}


@dataclass
class FinetuneConfig:
    epochs: float = 3.0
    batch_size: int = 32
    lr: float = 2e-4
    warmup_frac: float = 0.06
    weight_decay: float = 0.01
    max_length: int = 128
    eval_every: int = 400
    patience: int = 4  # evaluations without improvement before stopping
    seed: int = 13
    max_minutes: float | None = None
    # keep the pre-trained token embeddings fixed, so characters never seen in the labelled domains
    # keep their pre-trained relation to those that are (measured: better on a held-out domain,
    # worse in-domain fit; docs/benchmarks.md, sentiment accuracy)
    freeze_embeddings: bool = False
    # token dropout: replace this share of the text's tokens by [MASK] in every training batch, so
    # the classifier leans less on single domain-specific characters (measured at 0.15: -0.5 points
    # on the held-out food_delivery domain; off by default; docs/benchmarks.md, sentiment accuracy)
    token_mask_prob: float = 0.0
    # LP-FT: epochs in which only the freshly initialised pooler + classifier train on the frozen
    # encoder, before everything trains, so a random head's first gradients do not reshape the
    # pre-trained features (measured at 0.5: +0.7 points on food_delivery held out, -0.15 on
    # shopping/水果 held out; off by default)
    probe_epochs: float = 0.0
    probe_lr: float = 1e-3
    # layer-wise learning-rate decay: layer k of L trains at lr * layer_decay ** (L - k), the
    # embeddings at lr * layer_decay ** (L + 1), the head at lr (1.0 = one rate for all)
    layer_decay: float = 1.0
    # measured at 0.1 across domains: +0.5 on the held-out 水果 probes, 0.0 on food_delivery's, and
    # -0.3 / +0.3 on their test samples (noise by the two-domain rule; off by default)
    label_smoothing: float = 0.0
    # re-choose 1 or 2 torch threads from the load average every 25 steps (threads.py)
    adaptive_threads: bool = False
    # tail weight averaging (SWA, Izmailov et al. 2018; dense as in SWAD, Cha et al. 2021): from this
    # training progress on, a running mean of the weights after every step, scored beside the live
    # weights at each evaluation through ``average_score_fn``; flat minima are said to carry across
    # domains better than the sharp point the last step lands on (measured from 0.5, twice: never a
    # gain on the held-out food_delivery probes, -0.5 to -1.0; docs/benchmarks.md, sentiment ninth
    # session). None = off
    average_from: float | None = None
    # R-Drop (Liang et al. 2021): every batch goes through the model twice (two dropout masks, one
    # forward over the doubled batch) and the loss adds this weight times the symmetric KL between
    # the two predictions, so the classifier does not lean on any one sub-network (measured at 0.5:
    # -0.26 on the held-out food_delivery test, level on 水果; docs/benchmarks.md). 0 = off; it
    # doubles the compute per step
    rdrop_alpha: float = 0.0


def _bucketed_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort within chunks of 50 batches by length, cut into batches, shuffle batches."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    batches = []
    for s in range(0, len(idx), chunk):
        part = sorted(idx[s:s + chunk], key=lambda i: lengths[i])
        batches.extend(part[j:j + batch_size] for j in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def _steps(n_examples: int, batch_size: int, epochs: float) -> int:
    """Optimizer steps in ``epochs`` passes over ``n_examples`` (at least one)."""
    return max(1, int((n_examples + batch_size - 1) // batch_size * epochs))


def _training_batches(seqs: list[list[int]], labels: list[int], batch_size: int, rng: random.Random,
                      steps: int, pad_id: int, first_pass: int = 0):
    """Yield ``steps`` padded batches (ids, mask, labels), epoch after epoch of bucketed batches.

    One epoch's order is drawn from ``rng`` only when a batch of it is needed, so the linear probe
    and the fine-tuning after it share one reproducible stream of shuffles. ``first_pass`` > 0:
    one pass over the first ``first_pass`` examples alone comes before the epochs over all (a
    continued run sees what its checkpoint never saw before it revisits the rest).
    """
    import torch

    def epoch_batches():
        if first_pass:
            yield from _bucketed_batches([len(s) for s in seqs[:first_pass]], batch_size, rng)
        while True:
            yield from _bucketed_batches([len(s) for s in seqs], batch_size, rng)

    if steps <= 0:
        return
    done = 0
    for b in epoch_batches():
        ids, mask = pad_batch([seqs[i] for i in b], pad_id)
        yield ids, mask, torch.tensor([labels[i] for i in b], dtype=torch.long)
        done += 1
        if done >= steps:
            return


def rdrop_loss(logits, y, loss_fn, alpha: float):
    """R-Drop's loss over a doubled batch: rows ``[:n]`` and ``[n:]`` are the same texts under two
    dropout masks; the task loss of both halves plus ``alpha`` times their symmetric KL (mean over
    texts, the two directions averaged)."""
    import torch.nn.functional as F

    first, second = logits.chunk(2)
    task = 0.5 * (loss_fn(first, y) + loss_fn(second, y))
    log_p, log_q = F.log_softmax(first, dim=-1), F.log_softmax(second, dim=-1)
    kl = 0.5 * (F.kl_div(log_q, log_p, log_target=True, reduction="batchmean")
                + F.kl_div(log_p, log_q, log_target=True, reduction="batchmean"))
    return task + alpha * kl


def mask_tokens(ids, mask, prob: float, mask_id: int, generator):
    """Token dropout: each real token except [CLS]/[SEP] becomes ``mask_id`` with ``prob``."""
    import torch

    if prob <= 0:
        return ids
    inner = mask.clone()
    inner[:, 0] = 0  # [CLS]
    inner[torch.arange(ids.shape[0]), mask.sum(1) - 1] = 0  # [SEP] is each row's last real token
    hit = (torch.rand(ids.shape, generator=generator) < prob) & inner.bool()
    return ids.masked_fill(hit, mask_id)


def _linear_probe(model, seqs, labels, cfg: FinetuneConfig, rng: random.Random, pad_id: int,
                  device: str, log) -> None:
    """Train only the head (pooler + classifier) on the frozen encoder for ``cfg.probe_epochs``."""
    import torch

    from trustscope.sentiment.pretrain import smoothed_loss

    frozen = [p for n, p in model.named_parameters()
              if not n.startswith(("bert.pooler", "classifier")) and p.requires_grad]
    for p in frozen:  # no gradient flows past the pooler, so the encoder costs a forward pass only
        p.requires_grad_(False)
    head = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(head, lr=cfg.probe_lr, weight_decay=cfg.weight_decay)
    steps = _steps(len(seqs), cfg.batch_size, cfg.probe_epochs)
    ema = None
    with progress_bar("linear probe", total=steps) as bar:
        for ids, mask, y in _training_batches(seqs, labels, cfg.batch_size, rng, steps, pad_id):
            loss = model(input_ids=ids.to(device), attention_mask=mask.to(device), labels=y.to(device)).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema = smoothed_loss(ema, loss.item())
            bar.update(1, loss=ema)
    for p in frozen:
        p.requires_grad_(True)
    log(f"linear probe: {steps} steps, loss {ema:.4f}")


def param_groups(model, lr: float, layer_decay: float, weight_decay: float) -> list[dict]:
    """AdamW groups with layer-wise decayed learning rates (one group per depth)."""
    n_layers = model.config.num_hidden_layers
    groups: dict[int, list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if ".embeddings." in f".{name}":
            depth = n_layers + 1
        elif ".layer." in name:
            depth = n_layers - int(name.split(".layer.")[1].split(".")[0])
        else:  # pooler, classifier
            depth = 0
        groups.setdefault(depth, []).append(p)
    return [{"params": ps, "lr": lr * layer_decay ** d, "weight_decay": weight_decay}
            for d, ps in sorted(groups.items())]


def accuracy(model, tokenizer, reviews: list[Review], max_length: int, device: str) -> float:
    probs = predict_probs(model, tokenizer, [r.text for r in reviews], max_length, 128, device)
    pred = probs.argmax(-1).tolist()
    return sum(int(p == r.label) for p, r in zip(pred, reviews)) / max(1, len(reviews))


def finetune(init_dir: str | Path, tokenizer, train: list[Review], val: list[Review],
             out_dir: str | Path | None, cfg: FinetuneConfig, device: str = "cpu", log=print,
             score_fn=None, first_pass: int = 0, average_score_fn=None):
    """Train from ``init_dir`` (an MLM or base checkpoint); returns (best model, info dict).

    ``score_fn(model) -> (score, details)`` replaces validation accuracy as the checkpoint
    choice, e.g. accuracy on other held-out domains (chosen on what the model did not train on).
    ``first_pass``: train once over ``train[:first_pass]`` before ``cfg.epochs`` over all of it.
    ``average_score_fn(averaged_model) -> details``: with ``cfg.average_from``, called at each
    evaluation once the running weight mean exists (its details go into that step's history).
    """
    import torch
    from transformers import BertForSequenceClassification

    from trustscope.sentiment.pretrain import TrainClock, apply_gradients, smoothed_loss

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    model = BertForSequenceClassification.from_pretrained(
        str(init_dir), num_labels=2, id2label=ID2LABEL, label2id=LABEL2ID, local_files_only=True
    ).to(device)
    if cfg.freeze_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    seqs = encode_batch(tokenizer, [r.text for r in train], cfg.max_length)
    labels = [r.label for r in train]
    if cfg.probe_epochs > 0:
        _linear_probe(model, seqs, labels, cfg, rng, tokenizer.pad_token_id, device, log)
    gen = torch.Generator().manual_seed(cfg.seed)
    total = _steps(len(seqs), cfg.batch_size, cfg.epochs)
    if first_pass:
        total += _steps(first_pass, cfg.batch_size, 1.0)
    opt = torch.optim.AdamW(param_groups(model, cfg.lr, cfg.layer_decay, cfg.weight_decay), lr=cfg.lr)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    clock = TrainClock(total, cfg.max_minutes)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, clock.lr_factor(cfg.warmup_frac))
    t0 = time.time()
    best_acc, best_state, best_step, bad, step, ema = -1.0, None, 0, 0, 0, None
    averaged = None  # torch's AveragedModel once cfg.average_from is reached
    history = []
    threads = None
    if cfg.adaptive_threads:
        from trustscope.sentiment.threads import AdaptiveThreads

        threads = AdaptiveThreads(max_threads=max(1, torch.get_num_threads()))
        threads.update(log)
    model.train()
    with progress_bar("fine-tuning", total=total) as bar:
        for ids, mask, y in _training_batches(seqs, labels, cfg.batch_size, rng, total, tokenizer.pad_token_id,
                                             first_pass):
            ids = mask_tokens(ids, mask, cfg.token_mask_prob, tokenizer.mask_token_id, gen)
            if cfg.rdrop_alpha > 0:  # the same texts twice in one forward: two dropout masks
                ids, mask = ids.repeat(2, 1), mask.repeat(2, 1)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            y = y.to(device)
            loss = rdrop_loss(logits, y, loss_fn, cfg.rdrop_alpha) if cfg.rdrop_alpha > 0 else loss_fn(logits, y)
            apply_gradients(loss, model, opt, sched)
            step += 1
            clock.step = step
            ema = smoothed_loss(ema, loss.item())
            bar.update(1, loss=ema)
            if cfg.average_from is not None and clock.progress() >= cfg.average_from:
                if averaged is None:
                    averaged = torch.optim.swa_utils.AveragedModel(model)
                    log(f"weight averaging starts at step {step}")
                averaged.update_parameters(model)
            if threads is not None and step % 25 == 0:
                threads.update(log)
            if step % 100 == 0 and not sys.stderr.isatty():  # a TTY has the bar instead
                log(f"finetune step {step}/{total} loss {ema:.4f} "
                    f"{step * cfg.batch_size / max(1e-9, time.time() - t0):.1f} texts/s")
            last, stop = clock.done(), False
            if step % cfg.eval_every == 0 or last:
                val_acc = accuracy(model, tokenizer, val, cfg.max_length, device) if val else None
                acc, details = (val_acc, {}) if score_fn is None else score_fn(model)
                history.append({"step": step, "val_accuracy": val_acc, "score": acc, "train_loss": ema,
                                **details})
                if averaged is not None and average_score_fn is not None:
                    history[-1]["average"] = {"steps": int(averaged.n_averaged), **average_score_fn(averaged.module)}
                    log(f"finetune step {step} average of {int(averaged.n_averaged)} steps {history[-1]['average']}")
                log(f"finetune step {step}/{total} loss {ema:.4f} val_acc {val_acc} score {acc:.4f} "
                    f"{details} {(time.time() - t0) / 60:.1f} min")
                if acc > best_acc:
                    best_acc, best_step, bad = acc, step, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    bad += 1
                    if bad >= cfg.patience:
                        log(f"early stop at step {step} (best {best_acc:.4f} at {best_step})")
                        stop = True
            if last or stop:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    info = {"steps": step, "planned_steps": total, "best_step": best_step, "best_val_accuracy": best_acc,
            "minutes": (time.time() - t0) / 60, "history": history, "train_size": len(train),
            "val_size": len(val)}
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(out_dir))
        tokenizer.save_pretrained(str(out_dir))
    return model, info
