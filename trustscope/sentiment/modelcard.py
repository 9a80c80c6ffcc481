"""Writes the model card (README.md) and metrics.json of the shipped model from training metrics.

Generated, not hand-edited, so the card always shows the numbers of the checkpoint beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

from trustscope.sentiment.data import PRETRAIN_CORPORA


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.2f}%"


def _table(section: dict) -> list[str]:
    systems = [k for k in ("bert", "tfidf_lr", "snownlp") if k in section]
    names = {"bert": "this model", "tfidf_lr": "char 1-3-gram TF-IDF + LR", "snownlp": "SnowNLP"}
    domains = list(section["bert"].keys())
    lines = ["| domain | n | " + " | ".join(f"{names[s]} acc / macro-F1" for s in systems) + " |",
             "|---|---:|" + "---:|" * len(systems)]
    for d in domains:
        n = section["bert"][d]["n"]
        cells = [f"{_pct(section[s][d]['accuracy'])} / {_pct(section[s][d]['f1_macro'])}"
                 for s in systems if d in section[s]]
        lines.append(f"| {'**all**' if d == 'all' else d} | {n} | " + " | ".join(cells) + " |")
    return lines


def _kept_section(card: Path, heading: str) -> list[str]:
    """A hand-written section of the current card (heading up to the next "## "), kept verbatim on
    regeneration: the Serving section is measured by bench/bench_sentiment.py, not by training."""
    if not card.exists():
        return []
    lines = card.read_text(encoding="utf-8").splitlines()
    if heading not in lines:
        return []
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    section = lines[start:end]
    while section and not section[-1].strip():
        section.pop()
    return [*section, ""]


def pretrain_phases(meta: dict) -> list[dict]:
    """The MLM runs behind a checkpoint, oldest first: each continued run's meta nests the one
    before it under ``previous``; a run's text is ``config.corpus`` ("all" when not recorded)."""
    chain = []
    while meta:
        chain.append(meta)
        meta = meta.get("previous") or {}
    return chain[::-1]


def _corpus(phase: dict) -> str:
    return phase.get("config", {}).get("corpus", "all")


def _data_line(data: dict, phases: list[dict]) -> str:
    general = next((p for p in phases if _corpus(p) == "all"), None)
    tapt = next((p for p in phases if _corpus(p) == "reviews"), None)
    parts = []
    if general:
        parts.append(f"{general.get('corpus_texts')} deduplicated texts: every review text of "
                     "`sentiment_reviews.jsonl.gz` and every Weibo post and repost of `rumour_ced_train.jsonl.gz`")
    if tapt:
        parts.append(f"{'then ' if parts else ''}task-adaptive MLM on the review texts alone "
                     f"({tapt.get('corpus_texts')} deduplicated texts)")
    what = "; ".join(parts) or f"{data.get('pretrain_texts')} deduplicated texts"
    return (f"- MLM pre-training (labels unused): {what}. Pre-training therefore saw the *text* (never the "
            "labels) of the test reviews and of the held-out domain.")


def _phase_lines(phases: list[dict]) -> list[str]:
    lines = []
    for i, p in enumerate(phases, 1):
        cfg = p.get("config", {})
        what = PRETRAIN_CORPORA.get(_corpus(p), _corpus(p))
        lines.append(f"- MLM phase {i} ({what}{', continued from phase ' + str(i - 1) if i > 1 else ''}): "
                     f"{p.get('step')} steps × {cfg.get('batch_size')} packed sequences of {cfg.get('seq_len')} "
                     f"tokens, lr {cfg.get('lr')}, final MLM loss {p.get('loss', 0):.3f}, "
                     f"{p.get('minutes', 0):.0f} min.")
    return lines


def write_model_card(outdir: str | Path, metrics: dict) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    opts = metrics.get("options", {})
    size = opts.get("size", {})
    phases = pretrain_phases(metrics.get("pretrain", {}))
    data = metrics.get("data", {})
    rs = metrics.get("random_split", {})
    band = rs.get("neutral_band", {})
    L = [
        "# trustscope-sentiment-zh",
        "",
        "Small Chinese BERT for binary review sentiment (negative / positive, plus a calibrated",
        "*neutral* band applied by `trustscope.sentiment`). Trained from scratch in this project, because",
        "no pretrained Chinese checkpoint can be downloaded where TrustScope is built.",
        "",
        "Load it with `AutoTokenizer.from_pretrained(dir)` and",
        "`AutoModelForSequenceClassification.from_pretrained(dir)`; `id2label = {0: negative, 1: positive}`.",
        "",
        "## Architecture",
        "",
        (f"BERT (transformers `BertForSequenceClassification`): hidden {size.get('hidden')}, "
        f"{size.get('layers')} layers, {size.get('heads')} heads, intermediate {size.get('intermediate')}, "
        f"max positions {size.get('max_position')}, vocabulary {opts.get('vocab_size')} WordPiece tokens "
        "(one token per CJK character, word pieces for Latin letters and digits, lower-cased). "
        f"Inputs are truncated to {opts.get('finetune', {}).get('max_length')} tokens keeping head (1/3) + tail (2/3)."),
        "",
        "## Data",
        "",
        _data_line(data, phases),
        ("- Fine-tuning: the labelled reviews (food_delivery + 9 shopping categories), random split with "
        f"seed {opts.get('seed')}: 85% train, 5% validation (early stopping, neutral-band calibration), "
        "10% test (reported below, never used for any choice)."),
        "",
        "## Training",
        "",
        *_phase_lines(phases),
    ]
    if rs.get("finetune"):
        f = rs["finetune"]
        L.append(f"- Fine-tuning: {f['steps']} of {f['planned_steps']} planned steps (batch "
                 f"{opts.get('finetune', {}).get('batch_size')}, lr {opts.get('finetune', {}).get('lr')}), "
                 f"best validation accuracy {_pct(f['best_val_accuracy'])} at step {f['best_step']}, "
                 f"{f['minutes']:.0f} min.")
    for extra in metrics.get("continued_finetune", []):
        L.append(f"- Continued fine-tuning of that checkpoint: {extra['steps']} more steps, lr {extra['lr']}, "
                 f"best validation accuracy {_pct(extra['best_val_accuracy'])} at step {extra['best_step']}, "
                 f"{extra['minutes']:.0f} min (the first run stopped at its wall budget before one epoch).")
    commands = metrics.get("commands") or [metrics.get("command", "")]
    L += ["", "Reproduce (CPU; uses a GPU when present; run in order):", "", "```", *commands, "```", "",
          ("Wall budgets (`--pretrain-minutes`, `--finetune-minutes`) drive the learning-rate schedule "
          "together with the step counts, so on a busier or faster machine the step counts differ; the "
          "steps actually done are listed above."), ""]
    if rs.get("bert"):
        L += ["## Results: random 10% test split", "", *_table(rs), ""]
    ho = metrics.get("heldout_domain")
    if ho and ho.get("bert"):
        L += [f"## Results: domain `{ho['domain']}` held out entirely",
              "",
              (f"Fine-tuned again from the same MLM checkpoint without any `{ho['domain']}` review "
              f"({ho['finetune']['train_size']} training reviews), tested on all of them; the baselines are "
              "trained on the same reviews."), "", *_table(ho), ""]
    if metrics.get("notes"):
        L += ["## Status against the project's targets", "", *[f"- {n}" for n in metrics["notes"]], ""]
    if band:
        L += ["## Neutral band", "",
              (f"`calibration.json`: prob(positive) in [{band['low']}, {band['high']}] -> `neutral`. "
              f"Method: {band['method']}. On the validation split {_pct(band.get('val_neutral_fraction'))} "
              f"of texts fall inside; accuracy inside {_pct(band.get('val_accuracy_inside'))}, outside "
              f"{_pct(band.get('val_accuracy_outside'))}."), ""]
    L += _kept_section(out / "README.md", "## Serving")
    # measured by `trustscope model train-base` / `distill`, written by hand from their metrics
    L += _kept_section(out / "README.md", "## Distilled from bge-small-zh-v1.5 (2026-12-01)")
    L += ["## Limits", "",
          ("Trained on e-commerce and food-delivery reviews; finance-platform texts are out of domain. "
          "Binary labels only: mixed or factual texts land near 0.5 and are labelled neutral by the "
          "band. Texts that are not Chinese are not scored by the library."), ""]
    (out / "README.md").write_text("\n".join(L))
