"""The whole recipe behind the shipped model: tokenizer -> MLM pre-training -> fine-tuning ->
calibration -> export, plus the held-out-domain run and the baselines on the same test texts.

Each stage writes its result to ``work_dir`` (and the export to ``output_dir``) as soon as it
finishes, so a run cut short still leaves a usable model and a model card with what was measured.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trustscope.sentiment.calibration import fit_neutral_band, save_band
from trustscope.sentiment.data import (
    PRETRAIN_CORPORA,
    Review,
    domain_split,
    load_reviews,
    load_weibo_texts,
    pretraining_texts,
    random_split,
)
from trustscope.sentiment.finetune import FinetuneConfig, finetune
from trustscope.sentiment.inference import predict_probs
from trustscope.sentiment.metrics import per_domain
from trustscope.sentiment.pretrain import ModelSize, PretrainConfig, pretrain


@dataclass
class TrainOptions:
    reviews_path: Path | None = None
    weibo_path: Path | None = None
    output_dir: Path = Path("models/trustscope-sentiment-zh")
    work_dir: Path = Path.home() / ".cache" / "trustscope" / "train" / "work"
    vocab_size: int = 8000
    size: ModelSize = field(default_factory=ModelSize)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    holdout_domain: str | None = "food_delivery"
    holdout_epochs: float | None = None  # None = same as finetune.epochs
    pretrained_dir: Path | None = None  # reuse an MLM checkpoint instead of pre-training
    resume_pretraining: Path | None = None  # continue MLM from this checkpoint into work_dir/mlm
    baselines: bool = True
    only_holdout: bool = False  # skip the random-split model (re-measure the held-out domain only)
    seed: int = 13
    device: str = "auto"
    threads: int = 0
    command: str = ""


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class _Log:
    """Timestamped lines to stdout and to ``work_dir/train.log``."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def _evaluate(model, tok, reviews: list[Review], max_length: int, device: str) -> tuple[dict, list[float]]:
    probs = predict_probs(model, tok, [r.text for r in reviews], max_length, 128, device)
    p_pos = probs[:, 1].tolist()
    pred = [int(p > 0.5) for p in p_pos]
    return per_domain([r.domain for r in reviews], [r.label for r in reviews], pred), p_pos


def _baselines(splits, log) -> dict:
    from trustscope.sentiment.baselines import snownlp_predict, tfidf_lr

    t = time.time()
    pipe = tfidf_lr([r.text for r in splits.train], [r.label for r in splits.train])
    y = [r.label for r in splits.test]
    doms = [r.domain for r in splits.test]
    out = {"tfidf_lr": per_domain(doms, y, pipe.predict([r.text for r in splits.test]).tolist())}
    log(f"  tfidf+lr acc {out['tfidf_lr']['all']['accuracy']:.4f} ({time.time() - t:.0f}s)")
    t = time.time()
    out["snownlp"] = per_domain(doms, y, snownlp_predict([r.text for r in splits.test]))
    log(f"  snownlp acc {out['snownlp']['all']['accuracy']:.4f} ({time.time() - t:.0f}s)")
    return out


def run(opts: TrainOptions) -> dict:
    """Run every stage; returns the metrics dict also written to ``output_dir/metrics.json``."""
    import torch
    from transformers import AutoTokenizer

    from trustscope.sentiment.modelcard import write_model_card
    from trustscope.sentiment.tokenizer import train_tokenizer

    device = resolve_device(opts.device)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    work, outdir = Path(opts.work_dir), Path(opts.output_dir)
    work.mkdir(parents=True, exist_ok=True)
    log = _Log(work / "train.log")
    log(f"device {device}, threads {torch.get_num_threads()}, work {work}, output {outdir}")
    metrics: dict = {"command": opts.command or " ".join(sys.argv), "options": _jsonable(asdict(opts)),
                     "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    if opts.pretrained_dir and opts.resume_pretraining:
        raise ValueError("--pretrained and --resume-pretraining exclude each other")
    if opts.resume_pretraining and not (Path(opts.resume_pretraining) / "config.json").exists():
        raise FileNotFoundError(f"MLM checkpoint not found: {opts.resume_pretraining}")
    if opts.pretrain.corpus not in PRETRAIN_CORPORA:
        raise ValueError(f"pretrain corpus must be {' or '.join(map(repr, PRETRAIN_CORPORA))}, "
                         f"not {opts.pretrain.corpus!r}")
    reviews = load_reviews(opts.reviews_path)
    weibo = load_weibo_texts(opts.weibo_path) if opts.pretrain.corpus == "all" else []
    texts = pretraining_texts(reviews, weibo)
    metrics["data"] = {"pretrain_corpus": opts.pretrain.corpus, "reviews": len(reviews),
                       "weibo_texts": len(weibo), "pretrain_texts": len(texts),
                       "pretrain_chars": sum(map(len, texts))}
    log(f"data: {metrics['data']}")

    if opts.resume_pretraining:
        src = Path(opts.resume_pretraining)
        tok = AutoTokenizer.from_pretrained(str(src), local_files_only=True)  # keep its vocabulary
        mlm_dir = work / "mlm"
        metrics["pretrain"] = pretrain(texts, tok, mlm_dir, opts.size, opts.pretrain, device, log,
                                       init_dir=src)
        metrics["options"]["size"] = metrics["pretrain"]["size"]
        metrics["options"]["vocab_size"] = len(tok)
    elif opts.pretrained_dir:
        mlm_dir = Path(opts.pretrained_dir)
        tok = AutoTokenizer.from_pretrained(str(mlm_dir), local_files_only=True)
        log(f"reusing MLM checkpoint {mlm_dir}")
    else:
        tok = train_tokenizer(texts, work / "tokenizer", vocab_size=opts.vocab_size,
                              model_max_length=opts.size.max_position)
        log(f"tokenizer: {len(tok)} tokens")
        mlm_dir = work / "mlm"
        metrics["pretrain"] = pretrain(texts, tok, mlm_dir, opts.size, opts.pretrain, device, log)
    if "pretrain" not in metrics and (mlm_dir / "pretrain_meta.json").exists():
        metrics["pretrain"] = json.loads((mlm_dir / "pretrain_meta.json").read_text())

    # --- random split: the shipped model ----------------------------------------------------
    if not opts.only_holdout:
        _random_split_stage(opts, metrics, reviews, tok, mlm_dir, outdir, device, log)
    ml = opts.finetune.max_length

    # --- a whole domain held out ------------------------------------------------------------
    if opts.holdout_domain:
        ds = domain_split(reviews, opts.holdout_domain, seed=opts.seed)
        log(f"held-out domain {opts.holdout_domain}: train {len(ds.train)} test {len(ds.test)}")
        hcfg = FinetuneConfig(**{**asdict(opts.finetune),
                                 "epochs": opts.holdout_epochs or opts.finetune.epochs})
        hmodel, hinfo = finetune(mlm_dir, tok, ds.train, ds.val, Path(opts.work_dir) / "ft_heldout",
                                 hcfg, device, log)
        hm, _ = _evaluate(hmodel, tok, ds.test, ml, device)
        metrics["heldout_domain"] = {"domain": opts.holdout_domain, "finetune": hinfo, "bert": hm}
        log(f"held-out {opts.holdout_domain}: acc {hm['all']['accuracy']:.4f}")
        if not opts.only_holdout:
            write_model_card(outdir, metrics)
        if opts.baselines:
            metrics["heldout_domain"].update(_baselines(ds, log))
    metrics["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if not opts.only_holdout:
        write_model_card(outdir, metrics)
    (work / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    log("done")
    return metrics


def _random_split_stage(opts: TrainOptions, metrics: dict, reviews, tok, mlm_dir: Path, outdir: Path,
                        device: str, log) -> None:
    """Fine-tune on the random split, evaluate, calibrate, export the shipped checkpoint."""
    from trustscope.sentiment.modelcard import write_model_card

    splits = random_split(reviews, seed=opts.seed)
    log(f"random split: train {len(splits.train)} val {len(splits.val)} test {len(splits.test)}")
    model, info = finetune(mlm_dir, tok, splits.train, splits.val, Path(opts.work_dir) / "ft_random",
                           opts.finetune, device, log)
    ml = opts.finetune.max_length
    test_m, _ = _evaluate(model, tok, splits.test, ml, device)
    _, val_p = _evaluate(model, tok, splits.val, ml, device)
    band = fit_neutral_band(val_p, [r.label for r in splits.val])
    metrics["random_split"] = {"finetune": info, "bert": test_m, "neutral_band": asdict(band)}
    log(f"random split test: acc {test_m['all']['accuracy']:.4f} f1 {test_m['all']['f1_macro']:.4f}; "
        f"neutral band {band.low}..{band.high}")
    _export(model, tok, outdir, band, ml)
    write_model_card(outdir, metrics)
    if opts.baselines:
        metrics["random_split"].update(_baselines(splits, log))
        write_model_card(outdir, metrics)


def _export(model, tok, outdir: Path, band, max_length: int) -> None:
    """Write the shipped checkpoint (fp32 safetensors, tokenizer, calibration) atomically-ish."""
    tmp = outdir.with_name(outdir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.config.id2label = {0: "negative", 1: "positive"}
    model.config.label2id = {"negative": 0, "positive": 1}
    model.save_pretrained(str(tmp), safe_serialization=True)
    tok.model_max_length = max_length
    tok.save_pretrained(str(tmp))
    save_band(band, tmp)
    outdir.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():
        shutil.move(str(f), str(outdir / f.name))
    tmp.rmdir()


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def recalibrate(model_dir: Path, reviews_path: Path | None = None, seed: int = 13,
                max_length: int = 128) -> dict:
    """Refit the neutral band of a checkpoint on the validation split of the given seed.

    Used after changing the calibration rule without retraining; updates calibration.json and
    the ``neutral_band`` entry of metrics.json (and the card) when present.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trustscope.sentiment.modelcard import write_model_card

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), local_files_only=True)
    splits = random_split(load_reviews(reviews_path), seed=seed)
    _, val_p = _evaluate(model, tok, splits.val, max_length, "cpu")
    band = fit_neutral_band(val_p, [r.label for r in splits.val])
    save_band(band, model_dir)
    mpath = Path(model_dir) / "metrics.json"
    if mpath.exists():
        metrics = json.loads(mpath.read_text())
        metrics.setdefault("random_split", {})["neutral_band"] = asdict(band)
        write_model_card(model_dir, metrics)
    return asdict(band)
