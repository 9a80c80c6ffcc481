"""The rumour model: two text views (the original post; the comments that arrived), the dense
propagation/author/doubt features and, optionally, an encoder view (logistic-regression heads on
pooled embeddings of the post and of the first comments, see ``encoder.py``; since v5 the post
head of the post-only band is an RBF-kernel SVM, ``KernelHead``), stacked by logistic regressions.

Serving reads a model directory of plain files (``model.json`` metadata, ``model.npz`` arrays,
``<view>.vocab.json`` n-gram lists) and needs only numpy; training lives in ``training.py``.
The stackers are trained on truncated copies of each event (horizon augmentation); a model may hold
one stacker per horizon band (``bands``: the post alone, the first hours, everything else), each in
four variants: with/without the author profile, with/without the encoder view. The variant without
the encoder view is what serves whenever no embedding is given or the encoder does not match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trustscope.rumour.events import RumourEvent
from trustscope.rumour.features import AUTHOR_NAMES, DENSE_NAMES, comments_text, dense_features
from trustscope.rumour.history import HISTORY_NAMES, AuthorHistory
from trustscope.rumour.textview import TextView
from trustscope.rumour.wordview import WordView

FORMAT = "trustscope-rumour-stack-v2"
FORMAT_V1 = "trustscope-rumour-stack-v1"  # one band, no encoder view: still served as it was
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "models" / "trustscope-rumour-zh"
VIEWS = ("post", "comments")


@dataclass(slots=True)
class Stacker:
    """Logistic regression over standardized columns ``cols`` of [post logit, comments logit, dense,
    encoder logits]."""

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


@dataclass(slots=True)
class EmbeddingHead:
    """Logistic regression on a standardized pooled embedding: the encoder view's post or comments head."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.coef + self.intercept

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.mean": self.mean, f"{prefix}.scale": self.scale, f"{prefix}.coef": self.coef,
                f"{prefix}.intercept": np.asarray([self.intercept])}

    @classmethod
    def from_arrays(cls, prefix: str, arrays: dict[str, np.ndarray]) -> EmbeddingHead:
        return cls(arrays[f"{prefix}.mean"], arrays[f"{prefix}.scale"], arrays[f"{prefix}.coef"],
                   float(arrays[f"{prefix}.intercept"][0]))


@dataclass(slots=True)
class KernelHead:
    """RBF-kernel SVM on a standardized pooled embedding: the post-only band's post head (model v5).

    Why: on the same embedding (one forward pass, no new serving input) it gained over the linear
    head on the grouped folds and on the time split alike (docs/rumour.md, fifth session). The
    decision value sum_i dual_i * exp(-gamma * |(x - s_i) / scale|^2) + intercept is the logit the
    stackers read. The support rows are stored as the raw float32 embeddings of the training posts
    that became support vectors (the centring cancels in the distance, so only the scale is kept)."""

    scale: np.ndarray  # (d,)
    support: np.ndarray  # (m, d) raw embeddings of the support vectors
    dual: np.ndarray  # (m,) signed dual coefficients (positive: rumour)
    gamma: float
    intercept: float
    _scaled: np.ndarray | None = field(default=None, repr=False)
    _norms: np.ndarray | None = field(default=None, repr=False)

    def logit(self, x: np.ndarray, batch: int = 512) -> np.ndarray:
        if self._scaled is None:
            self._scaled = self.support.astype(np.float64) / self.scale
            self._norms = np.einsum("ij,ij->i", self._scaled, self._scaled)
        xs = np.asarray(x, np.float64) / self.scale
        out = np.empty(len(xs))
        for a in range(0, len(xs), batch):  # bounded memory: one (batch, m) kernel block at a time
            part = xs[a:a + batch]
            d2 = np.einsum("ij,ij->i", part, part)[:, None] + self._norms[None, :] - 2.0 * part @ self._scaled.T
            out[a:a + batch] = np.exp(-self.gamma * np.maximum(d2, 0.0)) @ self.dual + self.intercept
        return out

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.scale": self.scale, f"{prefix}.support": self.support.astype(np.float32),
                f"{prefix}.dual": self.dual, f"{prefix}.gamma": np.asarray([self.gamma]),
                f"{prefix}.intercept": np.asarray([self.intercept])}

    @classmethod
    def from_arrays(cls, prefix: str, arrays: dict[str, np.ndarray]) -> KernelHead:
        support, dual, scale = arrays[f"{prefix}.support"], arrays[f"{prefix}.dual"], arrays[f"{prefix}.scale"]
        if support.ndim != 2 or support.shape != (dual.shape[0], scale.shape[0]):
            raise ValueError(f"{prefix}: support {support.shape}, dual {dual.shape} and scale {scale.shape} disagree")
        return cls(scale, support, dual, float(arrays[f"{prefix}.gamma"][0]), float(arrays[f"{prefix}.intercept"][0]))


PostHead = EmbeddingHead | KernelHead


def load_head(prefix: str, arrays: dict[str, np.ndarray]) -> PostHead:
    """The head saved under ``prefix``: a kernel head when its support rows are there, else the
    linear head every model before v5 has."""
    if f"{prefix}.support" in arrays:
        return KernelHead.from_arrays(prefix, arrays)
    return EmbeddingHead.from_arrays(prefix, arrays)


@dataclass(frozen=True, slots=True)
class EventEncoding:
    """What the encoder view reads for a batch of events: pooled post embeddings (n, d), the mean
    embedding of the comments that arrived (n, d; zeros where none) and how many there were."""

    post: np.ndarray
    comments: np.ndarray
    comment_count: np.ndarray
    encoder_id: str


@dataclass(slots=True)
class EncoderView:
    """Heads on one encoder's pooled embeddings, valid only for that encoder's weights (``encoder_id``)."""

    encoder_id: str
    encoder_name: str
    hidden: int
    post: PostHead
    comments: EmbeddingHead

    def logits(self, enc: EventEncoding) -> np.ndarray:
        """(n, 2): post head logit, comments head logit (0 where no comment arrived)."""
        post = self.post.logit(enc.post)
        comm = np.where(enc.comment_count > 0, self.comments.logit(enc.comments), 0.0)
        return np.column_stack([post, comm])


STACK_NAMES: tuple[str, ...] = ("post_logit", "comments_logit", *DENSE_NAMES)
ENCODER_NAMES: tuple[str, ...] = ("enc_post_logit", "enc_comments_logit")
# model v4, read by the post-only band only: the word view's logit and the author's track record
POST_EXTRA_NAMES: tuple[str, ...] = ("words_logit", *HISTORY_NAMES)
ALL_NAMES: tuple[str, ...] = (*STACK_NAMES, *ENCODER_NAMES, *POST_EXTRA_NAMES)
# what a stacker for posts without a known profile leaves out
AUTHOR_COLUMNS: frozenset[str] = frozenset((*AUTHOR_NAMES, *HISTORY_NAMES))
NO_AUTHOR_COLS = np.asarray([i for i, n in enumerate(STACK_NAMES) if n not in AUTHOR_NAMES])


@dataclass(frozen=True, slots=True)
class Band:
    """Horizons a set of stackers serves: ``max_hours`` is inclusive; None = everything else
    (longer horizons and events as given)."""

    name: str
    max_hours: float | None


def band_for(bands: list[Band], horizon_hours: float | None) -> Band:
    """The first band whose bound covers the horizon; an event as given (None) takes the last."""
    if horizon_hours is not None:
        for b in bands:
            if b.max_hours is not None and horizon_hours <= b.max_hours + 1e-9:
                return b
    return bands[-1]


def stacker_key(band: str, author: bool, encoder: bool) -> str:
    return f"{band}.{'a' if author else 'na'}.{'enc' if encoder else 'txt'}"


@dataclass(slots=True)
class RumourModel:
    """Stackers per horizon band and variant: with the author profile or not (documents from other
    sources, deleted Weibo accounts; the data's missing profiles are all rumours, so "no profile"
    must not itself count as evidence), with the encoder view or not (no embedding given, or the
    encoder changed)."""

    post: TextView
    comments: TextView
    bands: list[Band]
    stackers: dict[str, Stacker]
    encoder: EncoderView | None = None
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)
    words: WordView | None = None  # v4: the word view (post-only band)
    history: AuthorHistory | None = None  # v4: the authors' track record (post-only band)

    @property
    def engine(self) -> str:
        return str(self.meta.get("engine", "rumour-stack-v2"))

    @property
    def stacker(self) -> Stacker:
        """The widest band's text-only stacker with the author profile (the v1 ``stacker``)."""
        return self.stackers[stacker_key(self.bands[-1].name, True, False)]

    @property
    def stacker_no_author(self) -> Stacker:
        return self.stackers[stacker_key(self.bands[-1].name, False, False)]

    @property
    def encoder_bands(self) -> set[str]:
        """Bands with an encoder-view stacker (other bands never read an embedding)."""
        return {k.split(".")[0] for k in self.stackers if k.endswith(".enc")} if self.encoder else set()

    def needs_encoding(self, event: RumourEvent) -> bool:
        """True when this event's band reads the encoder view (embed only those)."""
        return band_for(self.bands, event.horizon_hours).name in self.encoder_bands

    def stack_inputs(self, events: list[RumourEvent], encoding: EventEncoding | None = None) -> np.ndarray:
        """[post logit, comments logit, dense, encoder logits (0 without an encoding), word logit,
        author record] per event (a model without the word view or the record: zeros there, read by
        none of its stackers). Only the bands that read them compute the v4 columns."""
        if not events:
            return np.zeros((0, len(ALL_NAMES)))
        post = self.post.logits([e.text for e in events])
        comm = np.fromiter((self.comments.logit(comments_text(e)) if e.reposts else self.comments.intercept
                            for e in events), dtype=np.float64, count=len(events))
        dense = np.vstack([dense_features(e) for e in events])
        enc = (self.encoder.logits(encoding) if self.uses(encoding) and self.encoder is not None
               else np.zeros((len(events), len(ENCODER_NAMES))))
        extra = np.zeros((len(events), len(POST_EXTRA_NAMES)))
        reads = self.extra_bands
        if reads and (self.words is not None or self.history is not None):
            rows = [i for i, e in enumerate(events) if band_for(self.bands, e.horizon_hours).name in reads]
            if rows:
                picked = [events[i] for i in rows]
                if self.words is not None:
                    extra[rows, 0] = self.words.logits([e.text for e in picked])
                if self.history is not None:
                    extra[rows, 1:] = self.history.features(picked)
        return np.column_stack([post, comm, dense, enc, extra])

    @property
    def extra_bands(self) -> set[str]:
        """Bands whose stackers read a v4 column (the word view or the author record)."""
        extra = set(POST_EXTRA_NAMES)
        return {k.split(".")[0] for k, st in self.stackers.items() if extra & set(st.names)}

    def uses(self, encoding: EventEncoding | None) -> bool:
        """True when ``encoding`` comes from this model's encoder (else the view is dropped)."""
        return (encoding is not None and self.encoder is not None
                and encoding.encoder_id == self.encoder.encoder_id)

    def predict_proba(self, events: list[RumourEvent], encoding: EventEncoding | None = None) -> np.ndarray:
        """P(rumour) per event, each as it stands (apply ``truncated`` first for a horizon);
        ``encoding`` (from ``encoder.encode_events``) adds the encoder view when it matches."""
        if not events:
            return np.zeros(0)
        z = self.stack_inputs(events, encoding)
        use_enc = self.uses(encoding)
        keys = [stacker_key(band_for(self.bands, e.horizon_hours).name, e.author is not None, use_enc)
                for e in events]
        logit = np.empty(len(events))
        for key in set(keys):
            rows = np.fromiter((k == key for k in keys), bool, count=len(keys))
            # a band without an encoder variant serves text-only
            logit[rows] = (self.stackers.get(key) or self.stackers[key.replace(".enc", ".txt")]).logit(z[rows])
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -60.0, 60.0)))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {**self.post.arrays(), **self.comments.arrays()}
        if self.words is not None:
            arrays.update(self.words.arrays())
        if self.history is not None:
            arrays.update(self.history.arrays())
        for key, st in self.stackers.items():
            arrays.update(st.arrays(f"stack.{key}"))
        if self.encoder is not None:
            arrays.update(self.encoder.post.arrays("enc.post"))
            arrays.update(self.encoder.comments.arrays("enc.comments"))
        np.savez_compressed(directory / "model.npz", **arrays)
        for view in (self.post, self.comments, *([self.words] if self.words is not None else [])):
            (directory / f"{view.name}.vocab.json").write_text(
                json.dumps(view.terms(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        enc = (None if self.encoder is None else
               {"id": self.encoder.encoder_id, "name": self.encoder.encoder_name, "hidden": self.encoder.hidden})
        meta = {**self.meta, "format": FORMAT, "threshold": self.threshold, "stack_names": list(ALL_NAMES),
                "bands": [{"name": b.name, "max_hours": b.max_hours} for b in self.bands],
                "stackers": sorted(self.stackers), "encoder": enc,
                "views": {v.name: {"nmin": v.nmin, "nmax": v.nmax} for v in (self.post, self.comments)},
                "word_view": None if self.words is None else self.words.name,
                "author_history": self.history is not None}
        (directory / "model.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n",
                                              encoding="utf-8")

    @classmethod
    def load(cls, directory: Path | str | None = None) -> RumourModel:
        d = Path(directory) if directory else DEFAULT_DIR
        meta_path = d / "model.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"no rumour model at {d} (model.json missing)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        v1 = meta.get("format") == FORMAT_V1
        if meta.get("format") != FORMAT and not v1:
            raise ValueError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
        saved = list(meta.get("stack_names", []))
        unknown = [n for n in saved if n not in ALL_NAMES]
        if not saved or unknown:
            raise ValueError(f"{meta_path}: stacked features {unknown[:5]} are not this code's (retrain the model)")
        if v1:  # its columns are a prefix of ALL_NAMES
            meta = {**meta, "bands": [{"name": "all", "max_hours": None}], "encoder": None,
                    "stackers": ["all.a.txt", "all.na.txt"]}
        with np.load(d / "model.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        views = {}
        for name in VIEWS:
            spec = meta["views"][name]
            terms = json.loads((d / f"{name}.vocab.json").read_text(encoding="utf-8"))
            views[name] = TextView.from_arrays(name, int(spec["nmin"]), int(spec["nmax"]), terms, arrays)
        names = list(ALL_NAMES)
        # a model saved before features were added: its stacker columns index its own name list,
        # so they are re-pointed at the same names in this code's layout (new columns unused)
        where = np.asarray([names.index(n) for n in saved], dtype=np.int64)
        bands = [Band(str(b["name"]), None if b["max_hours"] is None else float(b["max_hours"]))
                 for b in meta["bands"]]
        if v1:
            arrays.update({k.replace("stack_na.", "stack.all.na.txt.", 1) if k.startswith("stack_na.")
                           else k.replace("stack.", "stack.all.a.txt.", 1): v
                           for k, v in arrays.items() if k.startswith(("stack.", "stack_na."))})
        for k in meta["stackers"]:
            arrays[f"stack.{k}.cols"] = where[arrays[f"stack.{k}.cols"].astype(np.int64)]
        stackers = {k: Stacker.from_arrays(f"stack.{k}", names, arrays) for k in meta["stackers"]}
        for b in bands:  # every band must serve the text-only case
            for author in (True, False):
                if stacker_key(b.name, author, False) not in stackers:
                    raise ValueError(f"{meta_path}: stacker {stacker_key(b.name, author, False)} missing")
        encoder = None
        if meta.get("encoder"):
            e = meta["encoder"]
            encoder = EncoderView(str(e["id"]), str(e.get("name", "")), int(e["hidden"]),
                                  load_head("enc.post", arrays),
                                  EmbeddingHead.from_arrays("enc.comments", arrays))
        words = None
        if meta.get("word_view"):
            name = str(meta["word_view"])
            terms = json.loads((d / f"{name}.vocab.json").read_text(encoding="utf-8"))
            words = WordView.from_arrays(name, terms, arrays)
        history = AuthorHistory.from_arrays(arrays) if meta.get("author_history") else None
        model = cls(views["post"], views["comments"], bands, stackers, encoder,
                    float(meta.get("threshold", 0.5)), meta, words, history)
        extra = set(POST_EXTRA_NAMES)
        for k, st in stackers.items():
            missing = extra & set(st.names) - ({"words_logit"} if words is not None else set()) - (
                set(HISTORY_NAMES) if history is not None else set())
            if missing:
                raise ValueError(f"{meta_path}: stacker {k} reads {sorted(missing)} but the model has no such part")
        return model

