"""The rumour model: two text views (the original post; the comments that arrived) and the dense
propagation/author/doubt features, stacked by a logistic regression.

Serving reads a model directory of plain files (``model.json`` metadata, ``model.npz`` arrays,
``<view>.vocab.json`` n-gram lists) and needs only numpy; training lives in ``training.py``.
One model serves every horizon: it is trained on truncated copies of each event (horizon
augmentation), so the stacker has seen the post alone, the first hours and the whole spread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trustscope.rumour.events import RumourEvent
from trustscope.rumour.features import AUTHOR_NAMES, DENSE_NAMES, comments_text, dense_features
from trustscope.rumour.textview import TextView

FORMAT = "trustscope-rumour-stack-v1"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "models" / "trustscope-rumour-zh"
VIEWS = ("post", "comments")


@dataclass(slots=True)
class Stacker:
    """Logistic regression over standardized columns ``cols`` of [post logit, comments logit, dense]."""

    names: list[str]
    cols: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logit(self, z: np.ndarray) -> np.ndarray:
        return ((z[:, self.cols] - self.mean) / self.scale) @ self.coef + self.intercept

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.cols": self.cols.astype(np.int32), f"{prefix}.mean": self.mean,
                f"{prefix}.scale": self.scale, f"{prefix}.coef": self.coef,
                f"{prefix}.intercept": np.asarray([self.intercept])}

    @classmethod
    def from_arrays(cls, prefix: str, all_names: list[str], arrays: dict[str, np.ndarray]) -> Stacker:
        cols = arrays[f"{prefix}.cols"].astype(np.int64)
        return cls([all_names[c] for c in cols], cols, arrays[f"{prefix}.mean"], arrays[f"{prefix}.scale"],
                   arrays[f"{prefix}.coef"], float(arrays[f"{prefix}.intercept"][0]))


STACK_NAMES: tuple[str, ...] = ("post_logit", "comments_logit", *DENSE_NAMES)
NO_AUTHOR_COLS = np.asarray([i for i, n in enumerate(STACK_NAMES) if n not in AUTHOR_NAMES])


@dataclass(slots=True)
class RumourModel:
    """``stacker`` for events with an author profile, ``stacker_no_author`` for those without one
    (documents from other sources, deleted Weibo accounts): the data's missing profiles are all
    rumours (accounts deleted after the fact), so "no profile" must not itself count as evidence."""

    post: TextView
    comments: TextView
    stacker: Stacker
    stacker_no_author: Stacker
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return str(self.meta.get("engine", "rumour-stack-v1"))

    def stack_inputs(self, events: list[RumourEvent]) -> np.ndarray:
        if not events:
            return np.zeros((0, len(STACK_NAMES)))
        post = self.post.logits([e.text for e in events])
        comm = np.fromiter((self.comments.logit(comments_text(e)) if e.reposts else self.comments.intercept
                            for e in events), dtype=np.float64, count=len(events))
        dense = np.vstack([dense_features(e) for e in events])
        return np.column_stack([post, comm, dense])

    def predict_proba(self, events: list[RumourEvent]) -> np.ndarray:
        """P(rumour) per event, each as it stands (apply ``truncated`` first for a horizon)."""
        if not events:
            return np.zeros(0)
        z = self.stack_inputs(events)
        has_author = np.fromiter((e.author is not None for e in events), bool, count=len(events))
        logit = np.where(has_author, self.stacker.logit(z), self.stacker_no_author.logit(z))
        return 1.0 / (1.0 + np.exp(-logit))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {**self.post.arrays(), **self.comments.arrays(), **self.stacker.arrays("stack"),
                  **self.stacker_no_author.arrays("stack_na")}
        np.savez_compressed(directory / "model.npz", **arrays)
        for view in (self.post, self.comments):
            (directory / f"{view.name}.vocab.json").write_text(
                json.dumps(view.terms(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        meta = {**self.meta, "format": FORMAT, "threshold": self.threshold, "stack_names": list(STACK_NAMES),
                "views": {v.name: {"nmin": v.nmin, "nmax": v.nmax} for v in (self.post, self.comments)}}
        (directory / "model.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n",
                                              encoding="utf-8")

    @classmethod
    def load(cls, directory: Path | str | None = None) -> RumourModel:
        d = Path(directory) if directory else DEFAULT_DIR
        meta_path = d / "model.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"no rumour model at {d} (model.json missing)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
        if list(meta.get("stack_names", [])) != list(STACK_NAMES):
            raise ValueError(f"{meta_path}: stacked features differ from this code's (retrain the model)")
        with np.load(d / "model.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        views = {}
        for name in VIEWS:
            spec = meta["views"][name]
            terms = json.loads((d / f"{name}.vocab.json").read_text(encoding="utf-8"))
            views[name] = TextView.from_arrays(name, int(spec["nmin"]), int(spec["nmax"]), terms, arrays)
        names = list(STACK_NAMES)
        return cls(views["post"], views["comments"], Stacker.from_arrays("stack", names, arrays),
                   Stacker.from_arrays("stack_na", names, arrays), float(meta.get("threshold", 0.5)), meta)
