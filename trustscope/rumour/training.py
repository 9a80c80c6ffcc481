"""Training and evaluation of the rumour model (needs scikit-learn, the ``dev`` extra).

Leakage rules, all enforced here rather than by convention:
- every vocabulary cut (min_df, max_features), idf and classifier is fit on the training rows of a
  fold only: the counts are computed once over a global n-gram index, and each fit keeps only the
  columns its own training rows support, which is what fitting a vectorizer inside the fold does;
- stacking uses out-of-fold view logits from inner folds *by event* inside the outer training set;
- outer folds are by event, and near-duplicate original posts are put in the same fold;
- a horizon H uses only the reposts with time <= post time + H hours (``RumourEvent.truncated``),
  and no feature reads the crawl-time total ``reposts_count``.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.preprocessing import normalize

from trustscope.rumour.encoder import EventEmbeddings
from trustscope.rumour.events import RumourEvent, parse_event
from trustscope.rumour.features import DENSE_NAMES, char_ngrams, comments_text, dense_features, word_tokens
from trustscope.rumour.history import AuthorHistory
from trustscope.rumour.model import (
    ALL_NAMES,
    AUTHOR_COLUMNS,
    ENCODER_NAMES,
    POST_EXTRA_NAMES,
    STACK_NAMES,
    Band,
    EmbeddingHead,
    EncoderView,
    KernelHead,
    PostHead,
    RumourModel,
    Stacker,
    band_for,
    stacker_key,
)
from trustscope.rumour.textview import TextView
from trustscope.rumour.wordview import WordView

Horizon = float | None
EVAL_HORIZONS: tuple[Horizon, ...] = (0.0, 1.0, 3.0, 12.0, None)
TRAIN_HORIZONS: tuple[Horizon, ...] = (0.0, 0.5, 1.0, 2.0, 3.0, 6.0, 12.0, 24.0, None)
# the comments view learns from these truncations only (its cost grows with every copy); the
# stacker still sees every training horizon's out-of-fold logits
COMMENT_VIEW_HORIZONS: tuple[Horizon, ...] = (1.0, 3.0, 12.0, None)
NGRAM = (1, 3)
TEXT_ONLY = "text only (no author)"
NO_ENCODER = "model_no_encoder"


@dataclass(frozen=True, slots=True)
class ViewParams:
    min_df: int
    max_features: int | None
    C: float


POST_PARAMS = ViewParams(min_df=2, max_features=60_000, C=10.0)
COMMENT_PARAMS = ViewParams(min_df=3, max_features=120_000, C=10.0)
BASELINE_PARAMS = ViewParams(min_df=2, max_features=200_000, C=10.0)
STACK_C = 1.0
ENCODER_C = 0.05  # the embedding heads' LR (standardized inputs, a few hundred dimensions)
# one stacker set per band of horizons: the post alone differs most from any spread, so it gets its
# own (+0.4 pt post-only on the grouped folds); the last band (None) is trained on every row.
# v3: a band for the first hours (½, 1, 2 h rows), where little has spread yet (+0.4 pt at 1 h on
# the grouped folds, docs/rumour.md)
BANDS: tuple[Band, ...] = (Band("h0", 0.0), Band("early", 2.0), Band("all", None))
# bands whose stackers also get the encoder view (where it was measured to gain)
ENCODER_BANDS: tuple[str, ...] = ("h0",)
# v4, the post-only band: the author's track record beside the v3 columns, and, optional (off in
# the shipped recipe, see POST_PARTS), a word view (jieba words + pairs, NB-weighted LR; min_df 2,
# C 1, ratio smoothing 1, set before measuring); its inner folds keep near-duplicate posts together,
# as the outer folds do, so the stackers learn from view logits as reliable as the ones they get on
# unseen posts (docs/rumour.md, v4)
WORD_PARAMS = ViewParams(min_df=2, max_features=None, C=1.0)
WORD_ALPHA = 1.0


# v5, the post-only band's head on the post embedding: an RBF-kernel SVM (sklearn's defaults, C 1,
# gamma "scale", set before measuring) instead of the linear head (ENCODER_C): same embedding, same
# forward pass; it gained on the grouped folds and the time split (docs/rumour.md, fifth session)
POST_HEADS: tuple[str, ...] = ("lr", "rbf-svm")
SVM_C = 1.0


@dataclass(frozen=True, slots=True)
class PostBandParts:
    """Which of v4's optional inputs the post-only band reads (beside v3's columns), and which head
    (``POST_HEADS``) turns the post embedding into its encoder column."""

    word_view: bool = False
    author_record: bool = True
    post_head: str = "rbf-svm"

    def __post_init__(self) -> None:
        if self.post_head not in POST_HEADS:
            raise ValueError(f"post_head: {self.post_head!r} is not one of {POST_HEADS}")


# shipped (v5): the author record and the kernel post head. The word view gained in CV but lost
# 0.7 pt on the time split, and cut text-only throughput ~3.6x (jieba), so it is off; kept as an
# option to re-measure, as is the linear post head (v4.1: ``PostBandParts(post_head="lr")``).
POST_PARTS = PostBandParts()


def post_band_meta(parts: PostBandParts = POST_PARTS) -> dict:
    meta: dict = {"version": "5" if parts.post_head == "rbf-svm" else "4.1",
                  "post_band_inner_folds": "grouped by near-duplicate posts",
                  "post_band_parts": asdict(parts)}
    if parts.post_head == "rbf-svm":
        meta.update(post_head_svm={"C": SVM_C, "kernel": "rbf", "gamma": "scale (1 / (d * var))"})
    if parts.word_view:
        meta.update(word_params=asdict(WORD_PARAMS), word_alpha=WORD_ALPHA)
    return meta


def horizon_label(h: Horizon | str) -> str:
    if isinstance(h, str):
        return h
    return "full" if h is None else ("post only" if h == 0 else f"{h:g} h")


def read_events(path: Path, with_reposts: bool = True) -> tuple[list[RumourEvent], np.ndarray]:
    """Events and labels (1 = rumour) from a CED-format JSON-lines file (.gz or plain);
    ``with_reposts=False`` keeps the posts alone (what the post-only band reads), much faster."""
    import orjson

    opener = gzip.open if path.suffix == ".gz" else open
    events: list[RumourEvent] = []
    labels: list[int] = []
    with opener(path, "rb") as fh:
        for line in fh:
            if line.strip():
                obj = orjson.loads(line)
                if not with_reposts:
                    obj["reposts"] = []
                events.append(parse_event(obj))
                labels.append(1 if obj["label"] == "rumour" else 0)
    return events, np.asarray(labels, dtype=np.int64)


@dataclass(slots=True)
class Dataset:
    """Counts over one global n-gram index, per horizon; dense features per horizon."""

    events: list[RumourEvent]
    y: np.ndarray
    terms: np.ndarray
    post: sp.csr_matrix
    comments: dict[Horizon, sp.csr_matrix]
    dense: dict[Horizon, np.ndarray]
    has_comments: dict[Horizon, np.ndarray]
    embeddings: EventEmbeddings | None = None
    encoder_id: str = ""
    encoder_name: str = ""
    words: sp.csr_matrix | None = None  # word-token counts of the posts (built on first use)
    word_terms: np.ndarray | None = None

    def word_counts(self) -> sp.csr_matrix:
        """Counts of ``word_tokens`` per post over one global index (an index only: the word view
        keeps the columns its own training rows support)."""
        if self.words is None:
            vec = CountVectorizer(analyzer=word_tokens, dtype=np.float64)
            self.words = vec.fit_transform([e.text for e in self.events]).tocsr()
            self.word_terms = vec.get_feature_names_out()
        return self.words

    @classmethod
    def build(cls, events: list[RumourEvent], y: np.ndarray, horizons: Iterable[Horizon]) -> Dataset:
        horizons = list(dict.fromkeys(list(horizons) + [None]))
        vec = CountVectorizer(analyzer=lambda s: char_ngrams(s, *NGRAM), dtype=np.float64)
        full = [comments_text(e) for e in events]
        vec.fit([e.text for e in events] + full)  # an index only: every cut is made inside a fold
        post = vec.transform([e.text for e in events]).tocsr()
        comments: dict[Horizon, sp.csr_matrix] = {}
        dense: dict[Horizon, np.ndarray] = {}
        has: dict[Horizon, np.ndarray] = {}
        for h in horizons:
            cut = [e.truncated(h) for e in events]
            texts = full if h is None else [comments_text(e) for e in cut]
            comments[h] = (vec.transform(texts).tocsr() if h != 0
                           else sp.csr_matrix((len(events), len(vec.vocabulary_))))
            dense[h] = np.vstack([dense_features(e) for e in cut])
            has[h] = np.asarray([bool(t) for t in texts]) if h != 0 else np.zeros(len(events), bool)
        return cls(events, y, vec.get_feature_names_out(), post, comments, dense, has)


@dataclass(slots=True)
class FittedView:
    cols: np.ndarray
    idf: np.ndarray
    lr: LogisticRegression

    def features(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        x = counts[:, self.cols].tocsr()
        x.data = 1.0 + np.log(x.data)
        return normalize(x.multiply(self.idf[None, :]).tocsr())

    def logits(self, counts: sp.csr_matrix) -> np.ndarray:
        return self.lr.decision_function(self.features(counts))

    def export(self, name: str, terms: np.ndarray) -> TextView:
        vocab = {str(t): j for j, t in enumerate(terms[self.cols])}
        return TextView(name, NGRAM[0], NGRAM[1], vocab, self.idf.copy(), self.lr.coef_[0].copy(),
                        float(self.lr.intercept_[0]))


@dataclass(slots=True)
class FittedWordView:
    """NB-LR (Wang & Manning 2012): binary token features scaled by their log-count ratio."""

    cols: np.ndarray
    ratio: np.ndarray
    lr: LogisticRegression

    def features(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        x = counts[:, self.cols].tocsr()
        x.data = np.ones_like(x.data)
        return x.multiply(self.ratio[None, :]).tocsr()

    def logits(self, counts: sp.csr_matrix) -> np.ndarray:
        return self.lr.decision_function(self.features(counts))

    def export(self, terms: np.ndarray) -> WordView:
        vocab = {str(t): j for j, t in enumerate(terms[self.cols])}
        return WordView("words", vocab, self.ratio * self.lr.coef_[0], float(self.lr.intercept_[0]))


def fit_word_view(counts: sp.csr_matrix, y: np.ndarray, params: ViewParams = WORD_PARAMS,
                  alpha: float = WORD_ALPHA, seed: int = 0) -> FittedWordView:
    """Vocabulary cut (min_df), log-count ratios and LR from these training rows only."""
    binary = counts.copy()
    binary.data = np.ones_like(binary.data)
    df = np.bincount(binary.indices, minlength=binary.shape[1])
    keep = np.flatnonzero(df >= params.min_df)
    x = binary[:, keep].tocsr()
    pos = alpha + np.asarray(x[y == 1].sum(axis=0)).ravel()
    neg = alpha + np.asarray(x[y == 0].sum(axis=0)).ravel()
    ratio = np.log((pos / pos.sum()) / (neg / neg.sum()))
    view = FittedWordView(keep, ratio, LogisticRegression(C=params.C, solver="liblinear", max_iter=1000,
                                                          random_state=seed))
    view.lr.fit(view.features(counts), y)
    return view


def fit_view(counts: sp.csr_matrix, y: np.ndarray, params: ViewParams, seed: int = 0) -> FittedView:
    """Vocabulary cut, idf and LR from these training rows only (TfidfVectorizer semantics:
    sublinear tf, smooth idf, l2 rows; max_features by corpus frequency)."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    keep = np.flatnonzero(df >= params.min_df)
    if params.max_features is not None and keep.size > params.max_features:
        freq = np.asarray(counts[:, keep].sum(axis=0)).ravel()
        keep = np.sort(keep[np.argsort(-freq, kind="stable")[: params.max_features]])
    idf = np.log((1.0 + n) / (1.0 + df[keep])) + 1.0
    view = FittedView(keep, idf, LogisticRegression(C=params.C, solver="liblinear", max_iter=1000,
                                                    random_state=seed))
    view.lr.fit(view.features(counts), y)
    return view


@dataclass(slots=True)
class AugRows:
    """(event, horizon) training rows: one truncated copy of each event per training horizon."""

    event: np.ndarray
    horizon: list[Horizon]


def _aug(idx: np.ndarray, horizons: Sequence[Horizon]) -> AugRows:
    ev = np.concatenate([idx for _ in horizons])
    hz: list[Horizon] = [h for h in horizons for _ in idx]
    return AugRows(ev, hz)


def _rows_by_h(rows: AugRows) -> dict[Horizon, np.ndarray]:
    out: dict[Horizon, list[int]] = {}
    for pos, h in enumerate(rows.horizon):
        out.setdefault(h, []).append(pos)
    return {h: np.asarray(p) for h, p in out.items()}


def _comment_training(ds: Dataset, idx: np.ndarray, horizons: Sequence[Horizon]) -> tuple[sp.csr_matrix, np.ndarray]:
    mats, ys = [], []
    chosen = [h for h in horizons if h in COMMENT_VIEW_HORIZONS] or [h for h in horizons if h != 0]
    for h in chosen:
        sel = idx[ds.has_comments[h][idx]]
        if sel.size:
            mats.append(ds.comments[h][sel])
            ys.append(ds.y[sel])
    return sp.vstack(mats).tocsr(), np.concatenate(ys)


def _comment_logits(ds: Dataset, view: FittedView, rows: AugRows) -> np.ndarray:
    out = np.full(len(rows.horizon), float(view.lr.intercept_[0]))
    for h, pos in _rows_by_h(rows).items():
        ev = rows.event[pos]
        has = ds.has_comments[h][ev]
        if has.any():
            out[pos[has]] = view.logits(ds.comments[h][ev[has]])
    return out


def _dense(ds: Dataset, rows: AugRows) -> np.ndarray:
    out = np.zeros((len(rows.horizon), len(DENSE_NAMES)))
    for h, pos in _rows_by_h(rows).items():
        out[pos] = ds.dense[h][rows.event[pos]]
    return out


POST_ALONE_UNSEEN = ("comments_logit", "enc_comments_logit")


def _no_author(cols: Sequence[int]) -> np.ndarray:
    return np.asarray([c for c in cols if ALL_NAMES[c] not in AUTHOR_COLUMNS])


TEXT_COLS = np.arange(len(STACK_NAMES))
ENCODER_COLS = np.arange(len(STACK_NAMES) + len(ENCODER_NAMES))
EXTRA_COLS = np.arange(len(STACK_NAMES) + len(ENCODER_NAMES), len(ALL_NAMES))


def _fit_head(x: np.ndarray, y: np.ndarray, C: float = ENCODER_C) -> EmbeddingHead:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=C, max_iter=3000).fit((x - mean) / scale, y)
    return EmbeddingHead(mean.astype(np.float64), scale.astype(np.float64), lr.coef_[0].copy(),
                         float(lr.intercept_[0]))


def _fit_kernel_head(x: np.ndarray, y: np.ndarray, C: float = SVM_C) -> KernelHead:
    """RBF SVM on the standardized embedding; its decision value is the head's logit."""
    from sklearn.svm import SVC

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    svc = SVC(C=C, kernel="rbf", gamma="scale").fit((x - mean) / scale, y)
    # sklearn's public dual_coef_/intercept_ are signed for classes_[1] (rumour) in the binary case
    return KernelHead(scale.astype(np.float64), np.asarray(x[svc.support_], np.float32),
                      svc.dual_coef_[0].astype(np.float64), float(svc._gamma), float(svc.intercept_[0]))


def fit_post_head(x: np.ndarray, y: np.ndarray, kind: str = POST_PARTS.post_head) -> PostHead:
    """The post-only band's head on the post embeddings (``PostBandParts.post_head``)."""
    return _fit_kernel_head(x, y) if kind == "rbf-svm" else _fit_head(x, y)


def _horizon_s(rows: AugRows) -> np.ndarray:
    return np.asarray([np.inf if h is None else h * 3600.0 for h in rows.horizon])


@dataclass(slots=True)
class EncoderHeads:
    post: PostHead  # the post-only band's head (v5: a kernel head)
    comments: EmbeddingHead

    def logits(self, ds: Dataset, rows: AugRows) -> np.ndarray:
        emb = ds.embeddings
        assert emb is not None
        mean, count = emb.comment_mean(rows.event, _horizon_s(rows))
        comm = np.where(count > 0, self.comments.logit(mean), 0.0)
        return np.column_stack([self.post.logit(emb.post[rows.event]), comm])


def fit_encoder_heads(ds: Dataset, idx: np.ndarray, horizons: Sequence[Horizon]) -> EncoderHeads:
    """Post head on the events' post embeddings; comments head on their mean comment embedding at
    the comment view's truncations (rows with at least one comment)."""
    emb = ds.embeddings
    assert emb is not None
    post = _fit_head(emb.post[idx], ds.y[idx])
    chosen = [h for h in horizons if h in COMMENT_VIEW_HORIZONS] or [h for h in horizons if h != 0]
    rows = _aug(idx, chosen)
    mean, count = emb.comment_mean(rows.event, _horizon_s(rows))
    has = count > 0
    comments = _fit_head(mean[has], ds.y[rows.event[has]]) if has.sum() >= 2 else EmbeddingHead(
        np.zeros(emb.post.shape[1]), np.ones(emb.post.shape[1]), np.zeros(emb.post.shape[1]), 0.0)
    return EncoderHeads(post, comments)


def _row_keys(ds: Dataset, rows: AugRows, bands: Sequence[Band], use_encoder: bool,
              drop_author: bool = False) -> list[str]:
    return [stacker_key(band_for(list(bands), h).name, ds.events[e].author is not None and not drop_author,
                        use_encoder) for e, h in zip(rows.event, rows.horizon)]


@dataclass(slots=True)
class Stack:
    post: FittedView
    comments: FittedView
    stackers: dict[str, Stacker]
    bands: tuple[Band, ...] = BANDS
    encoder: EncoderHeads | None = None
    # what the stackers learnt from (out-of-fold inputs per training row), kept for ``evaluate(dump=...)``
    train_z: np.ndarray | None = None
    train_rows: AugRows | None = None
    words: FittedWordView | None = None  # v4, post-only band
    history: AuthorHistory | None = None  # v4, post-only band

    def inputs(self, ds: Dataset, rows: AugRows) -> np.ndarray:
        enc = (self.encoder.logits(ds, rows) if self.encoder is not None
               else np.zeros((len(rows.horizon), len(ENCODER_NAMES))))
        return np.column_stack([self.post.logits(ds.post[rows.event]), _comment_logits(ds, self.comments, rows),
                                _dense(ds, rows), enc, self._extra(ds, rows)])

    def _extra(self, ds: Dataset, rows: AugRows) -> np.ndarray:
        """The v4 columns (word logit, author record) on the post-only band's rows; zeros elsewhere."""
        out = np.zeros((len(rows.horizon), len(POST_EXTRA_NAMES)))
        at0 = np.fromiter((band_for(list(self.bands), h).max_hours == 0 for h in rows.horizon), bool,
                          count=len(rows.horizon))
        if at0.any():
            ev = rows.event[at0]
            out[at0] = _post_extra(ds, ev, self.words, self.history)
        return out

    def predict(self, ds: Dataset, rows: AugRows, drop_author: bool = False, use_encoder: bool = True) -> np.ndarray:
        """P(rumour) per row; ``drop_author`` scores as if no profile were known (the stage's case);
        ``use_encoder`` False scores without the encoder view (no embedding at serving)."""
        z = self.inputs(ds, rows)
        keys = _row_keys(ds, rows, self.bands, use_encoder and self.encoder is not None, drop_author)
        out = np.empty(len(keys))
        for key in set(keys):
            m = np.fromiter((k == key for k in keys), bool, count=len(keys))
            out[m] = (self.stackers.get(key) or self.stackers[key.replace(".enc", ".txt")]).logit(z[m])
        return 1.0 / (1.0 + np.exp(-np.clip(out, -60.0, 60.0)))

    def export(self, ds: Dataset, meta: dict) -> RumourModel:
        enc = None
        if self.encoder is not None and ds.embeddings is not None:
            enc = EncoderView(ds.encoder_id, ds.encoder_name, int(ds.embeddings.post.shape[1]),
                              self.encoder.post, self.encoder.comments)
        words = None if self.words is None else self.words.export(ds.word_terms)
        return RumourModel(self.post.export("post", ds.terms), self.comments.export("comments", ds.terms),
                           list(self.bands), dict(self.stackers), enc, 0.5, meta, words, self.history)


def _post_extra(ds: Dataset, ev: np.ndarray, words: FittedWordView | None,
                history: AuthorHistory | None) -> np.ndarray:
    out = np.zeros((len(ev), len(POST_EXTRA_NAMES)))
    if words is not None:
        out[:, 0] = words.logits(ds.word_counts()[ev])
    if history is not None:
        out[:, 1:] = history.features([ds.events[e] for e in ev])
    return out


def _fit_stacker(z: np.ndarray, y: np.ndarray, cols: np.ndarray) -> Stacker:
    x = z[:, cols]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=STACK_C, max_iter=2000).fit((x - mean) / scale, y)
    return Stacker([ALL_NAMES[c] for c in cols], cols, mean, scale, lr.coef_[0].copy(), float(lr.intercept_[0]))


def fit_stackers(z: np.ndarray, y: np.ndarray, with_author: np.ndarray, horizons: Sequence[Horizon],
                 bands: Sequence[Band], encoder: bool,
                 encoder_bands: Sequence[str] = ENCODER_BANDS,
                 post_extra: Sequence[int] = ()) -> dict[str, Stacker]:
    """Per band (the last on every row): with author (rows with a profile) and without (every row,
    author columns left out), each text-only and, when ``encoder`` and the band is one of
    ``encoder_bands``, with the encoder logits too (other bands serve text-only). The post-only
    band also reads the ``post_extra`` columns (v4: word view, author record)."""
    out: dict[str, Stacker] = {}
    band_of = [band_for(list(bands), h).name for h in horizons]
    for i, band in enumerate(bands):
        in_band = (np.ones(len(y), bool) if i == len(bands) - 1
                   else np.fromiter((b == band.name for b in band_of), bool, count=len(y)))
        if in_band.sum() < 2 or len(set(y[in_band].tolist())) < 2:
            in_band = np.ones(len(y), bool)  # a band the training horizons do not cover: shared rows
        for use_enc in ((False, True) if encoder and band.name in encoder_bands else (False,)):
            cols = ENCODER_COLS if use_enc else TEXT_COLS
            if band.max_hours == 0:  # the post alone: no comment has arrived, their logits say nothing
                cols = np.asarray([c for c in cols if ALL_NAMES[c] not in POST_ALONE_UNSEEN] + list(post_extra))
            m = in_band & with_author
            if m.sum() < 2:  # no profile in this band's rows: the author stacker is the band's own
                m = in_band
            out[stacker_key(band.name, True, use_enc)] = _fit_stacker(z[m], y[m], cols)
            out[stacker_key(band.name, False, use_enc)] = _fit_stacker(z[in_band], y[in_band], _no_author(cols))
    return out


def fit_stack(ds: Dataset, idx: np.ndarray, horizons: Sequence[Horizon] = TRAIN_HORIZONS,
              inner_folds: int = 5, seed: int = 0, bands: Sequence[Band] = BANDS,
              use_encoder: bool = True, parts: PostBandParts = POST_PARTS) -> Stack:
    """Views + stackers on events ``idx``; the stackers learn from inner out-of-fold view logits.
    The encoder view is fitted when ``ds.embeddings`` is there and ``use_encoder``."""
    encoder = use_encoder and ds.embeddings is not None
    rows = _aug(idx, horizons)
    post_oof = np.zeros(len(ds.events))
    comm_oof = np.zeros(len(rows.horizon))
    enc_oof = np.zeros((len(rows.horizon), len(ENCODER_NAMES)))
    inner = StratifiedKFold(inner_folds, shuffle=True, random_state=seed)
    for tr, te in inner.split(idx, ds.y[idx]):
        tr_ev, te_ev = idx[tr], idx[te]
        pv = fit_view(ds.post[tr_ev], ds.y[tr_ev], POST_PARAMS, seed)
        post_oof[te_ev] = pv.logits(ds.post[te_ev])
        cx, cy = _comment_training(ds, tr_ev, horizons)
        cv = fit_view(cx, cy, COMMENT_PARAMS, seed)
        te_set = set(int(e) for e in te_ev)
        mask = np.fromiter((int(e) in te_set for e in rows.event), bool, count=len(rows.horizon))
        sub = AugRows(rows.event[mask], [h for h, m in zip(rows.horizon, mask) if m])
        comm_oof[mask] = _comment_logits(ds, cv, sub)
        if encoder:
            enc_oof[mask] = fit_encoder_heads(ds, tr_ev, horizons).logits(ds, sub)
    z = np.column_stack([post_oof[rows.event], comm_oof, _dense(ds, rows), enc_oof])
    yr = ds.y[rows.event]
    with_author = np.fromiter((ds.events[e].author is not None for e in rows.event), bool, count=len(yr))
    z = np.column_stack([z, np.zeros((len(yr), len(POST_EXTRA_NAMES)))])
    stackers = fit_stackers(z, yr, with_author, rows.horizon, bands, encoder)
    words = history = band_head = None
    if bands[0].max_hours == 0 and 0.0 in list(horizons):
        # the post-only band is v4's (grouped inner folds, author record, per ``parts``): its own fit
        band = fit_post_band(ds, idx, seed, inner_folds, use_encoder=encoder, parts=parts)
        stackers.update(band.stackers)
        words, history, band_head = band.words, band.history, band.head
        at0 = np.fromiter((h == 0 for h in rows.horizon), bool, count=len(yr))
        where = {int(e): i for i, e in enumerate(idx)}
        z[at0] = band.train_z[[where[int(e)] for e in rows.event[at0]]]
    post = fit_view(ds.post[idx], ds.y[idx], POST_PARAMS, seed)
    cx, cy = _comment_training(ds, idx, horizons)
    comments = fit_view(cx, cy, COMMENT_PARAMS, seed)
    heads = fit_encoder_heads(ds, idx, horizons) if encoder else None
    if heads is not None and band_head is not None:  # only the post-only band reads the post head
        heads.post = band_head
    return Stack(post, comments, stackers, tuple(bands), heads, z, rows, words, history)


def baseline_predict(ds: Dataset, tr: np.ndarray, te: np.ndarray, h: Horizon, seed: int = 0) -> np.ndarray:
    """Char TF-IDF + LR over the post and its comments (one document), trained and tested at h."""
    counts = ds.post + ds.comments[h]
    view = fit_view(counts[tr], ds.y[tr], BASELINE_PARAMS, seed)
    return 1.0 / (1.0 + np.exp(-view.logits(counts[te])))


# ---------------------------------------------------------------------------------------------
# near-duplicates, folds, metrics


def near_duplicate_groups(events: list[RumourEvent], threshold: float = 0.8) -> np.ndarray:
    """Group id per event: original posts whose char-3-gram Jaccard >= threshold share a group."""
    vec = CountVectorizer(analyzer=lambda s: set(char_ngrams(s, 3, 3)), binary=True, dtype=np.float32)
    x = vec.fit_transform([e.text for e in events]).tocsr()
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = (x @ x.T).tocoo()
    parent = np.arange(len(events))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, v in zip(inter.row, inter.col, inter.data):
        if i < j:
            union = sizes[i] + sizes[j] - v
            if union > 0 and v / union >= threshold:
                parent[find(i)] = find(j)
    return np.asarray([find(i) for i in range(len(events))])


def metrics(y: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    pred = (prob >= threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    return {"accuracy": float((pred == y).mean()), "f1": float(f1), "n": int(len(y))}


@dataclass(slots=True)
class EvalReport:
    cv: dict[str, dict[str, dict[str, float]]]  # horizon -> system -> metrics
    time_split: dict[str, dict[str, dict[str, float]]]
    duplicates: dict[str, float]
    seconds: float

    def to_json(self) -> dict:
        return {"cv": self.cv, "time_split": self.time_split, "duplicates": self.duplicates,
                "seconds": round(self.seconds, 1)}

    def markdown(self) -> str:
        lines = []
        grouped = self.duplicates.get("folds_group_near_duplicates", True)
        cv_title = ("5-fold CV (folds by event, near-duplicate posts kept together)" if grouped
                    else "5-fold CV (folds by event only: near-duplicate posts may straddle folds)")
        for title, table in ((cv_title, self.cv),
                             ("Time-ordered split (train earliest 80 %, test latest 20 %)", self.time_split)):
            if not table:
                continue
            enc = any(NO_ENCODER in row for row in table.values())
            lines += [f"**{title}**", "", "| horizon | model acc | model F1 | baseline acc | baseline F1 |"
                      + (" model without encoder view acc |" if enc else ""),
                      "|---|---|---|---|---|" + ("---|" if enc else "")]
            for h, row in table.items():
                m, b = row["model"], row["baseline"]
                extra = f" {row[NO_ENCODER]['accuracy']:.4f} |" if NO_ENCODER in row else (" |" if enc else "")
                lines.append(f"| {h} | {m['accuracy']:.4f} | {m['f1']:.4f} | {b['accuracy']:.4f} "
                             f"| {b['f1']:.4f} |" + extra)
            lines.append("")
        return "\n".join(lines)


def _dump_split(path: Path, ds: Dataset, stack: Stack, te: np.ndarray, horizons: Sequence[Horizon]) -> None:
    """One split's stacker inputs (training rows: out-of-fold; test events at each horizon), so
    stacker variants (bands, column subsets) can be compared without refitting any view."""
    assert stack.train_z is not None and stack.train_rows is not None
    arrays = {"train_z": stack.train_z, "train_event": stack.train_rows.event,
              "train_h": np.asarray([np.inf if h is None else h for h in stack.train_rows.horizon]),
              "test_event": te, "y": ds.y,
              "has_author": np.asarray([e.author is not None for e in ds.events])}
    for h in horizons:
        arrays[f"test_z_{horizon_label(h)}"] = stack.inputs(ds, AugRows(te, [h] * len(te)))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def _evaluate_split(ds: Dataset, tr: np.ndarray, te: np.ndarray, horizons: Sequence[Horizon],
                    train_horizons: Sequence[Horizon], seed: int,
                    dump: Path | None = None) -> dict[Horizon, dict[str, np.ndarray]]:
    stack = fit_stack(ds, tr, train_horizons, seed=seed)
    if dump is not None:
        _dump_split(dump, ds, stack, te, horizons)
    out: dict[Horizon, dict[str, np.ndarray]] = {}
    for h in horizons:
        rows = AugRows(te, [h] * len(te))
        out[h] = {"model": stack.predict(ds, rows), "baseline": baseline_predict(ds, tr, te, h, seed)}
        if stack.encoder is not None:  # the fallback when the encoder is missing or changed
            out[h][NO_ENCODER] = stack.predict(ds, rows, use_encoder=False)
    # the integrity stage's case: the post's text alone, no author profile, no embedding
    out[TEXT_ONLY] = {"model": stack.predict(ds, AugRows(te, [0.0] * len(te)), drop_author=True, use_encoder=False),
                      "baseline": out[0.0]["baseline"] if 0.0 in out else baseline_predict(ds, tr, te, 0.0, seed)}
    return out


def evaluate(ds: Dataset, folds: int = 5, seed: int = 0, horizons: Sequence[Horizon] = EVAL_HORIZONS,
             train_horizons: Sequence[Horizon] = TRAIN_HORIZONS, dup_threshold: float = 0.8,
             group_duplicates: bool = True, time_split: bool = True, log=print,
             dump: Path | None = None) -> EvalReport:
    """CV by event (near-duplicate posts kept in one fold unless ``group_duplicates`` is off, to
    measure what duplicates flatter) and a time-ordered split, model vs baseline per horizon."""
    start = time.monotonic()
    groups = near_duplicate_groups(ds.events, dup_threshold)
    n_groups = len(set(groups.tolist()))
    dup_events = int(sum(c for c in np.bincount(groups) if c > 1))
    # what plain event folds would have leaked: near-duplicate pairs split across folds
    plain = np.zeros(len(ds.events), int)
    for k, (_, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(ds.y, ds.y)):
        plain[te] = k
    split_pairs = 0
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        if members.size > 1:
            split_pairs += int(sum(plain[a] != plain[b] for i, a in enumerate(members) for b in members[i + 1:]))
    label_mixed = int(sum(1 for g in np.unique(groups) if len(set(ds.y[groups == g].tolist())) > 1))
    duplicates = {"threshold_jaccard_char3": dup_threshold, "events": len(ds.events), "groups": n_groups,
                  "events_in_dup_groups": dup_events, "pairs_split_by_plain_event_folds": split_pairs,
                  "groups_with_both_labels": label_mixed}
    log(f"near-duplicates: {duplicates}")
    keys = [*horizons, TEXT_ONLY]
    probs = {h: {"model": np.zeros(len(ds.y)), "baseline": np.zeros(len(ds.y))} for h in keys}
    sgkf = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    fold_groups = groups if group_duplicates else np.arange(len(ds.y))
    for k, (tr, te) in enumerate(sgkf.split(np.zeros(len(ds.y)), ds.y, fold_groups)):
        assert not set(fold_groups[tr]) & set(fold_groups[te])
        res = _evaluate_split(ds, tr, te, horizons, train_horizons, seed,
                              None if dump is None else dump / f"fold{k}.npz")
        for h in keys:
            for name, p in res[h].items():
                probs[h].setdefault(name, np.zeros(len(ds.y)))[te] = p
        log(f"fold {k + 1}/{folds} done ({time.monotonic() - start:.0f} s)")
    cv = {horizon_label(h): {n: metrics(ds.y, p) for n, p in probs[h].items()} for h in keys}
    duplicates["folds_group_near_duplicates"] = group_duplicates
    if not time_split:
        return EvalReport(cv, {}, duplicates, time.monotonic() - start)
    # a near-duplicate of a test post may not sit in the training part either
    tr, te = time_split_indices(ds.events, groups)
    res = _evaluate_split(ds, tr, te, horizons, train_horizons, seed, None if dump is None else dump / "time.npz")
    ts = {horizon_label(h): {n: metrics(ds.y[te], p) for n, p in res[h].items()} for h in keys}
    log("time-ordered split done")
    return EvalReport(cv, ts, duplicates, time.monotonic() - start)


def build_post_only(events: list[RumourEvent], y: np.ndarray) -> Dataset:
    """A Dataset with the post alone (no comment counts): what the 0 h band reads, built in seconds."""
    vec = CountVectorizer(analyzer=lambda s: char_ngrams(s, *NGRAM), dtype=np.float64)
    post = vec.fit_transform([e.text for e in events]).tocsr()
    empty = sp.csr_matrix((len(events), post.shape[1]))
    dense = np.vstack([dense_features(e.truncated(0.0)) for e in events])
    return Dataset(events, y, vec.get_feature_names_out(), post, {0.0: empty}, {0.0: dense},
                   {0.0: np.zeros(len(events), bool)})


def _post_only_split(ds: Dataset, tr: np.ndarray, te: np.ndarray, seed: int, inner_folds: int = 5,
                     parts: PostBandParts = POST_PARTS) -> dict[Horizon | str, dict[str, np.ndarray]]:
    """The 0 h band of ``fit_stack`` on its own (``fit_post_band``) scored on ``te``, and the baseline."""
    band = fit_post_band(ds, tr, seed, inner_folds, parts=parts)
    stackers, head = band.stackers, band.head
    enc = np.zeros((len(te), len(ENCODER_NAMES)))
    if head is not None:
        enc[:, 0] = head.logit(ds.embeddings.post[te])
    post = fit_view(ds.post[tr], ds.y[tr], POST_PARAMS, seed).logits(ds.post[te])
    z = np.column_stack([post, np.zeros(len(te)), ds.dense[0.0][te], enc,
                         _post_extra(ds, te, band.words, band.history)])
    has = np.fromiter((ds.events[e].author is not None for e in te), bool, count=len(te))
    name = BANDS[0].name

    def prob(use_enc: bool, author: bool | None = None) -> np.ndarray:
        with_a = stackers[stacker_key(name, True, use_enc)].logit(z)
        without = stackers[stacker_key(name, False, use_enc)].logit(z)
        logit = without if author is False else np.where(has, with_a, without)
        return 1.0 / (1.0 + np.exp(-logit))

    baseline = baseline_predict(ds, tr, te, 0.0, seed)
    out: dict[Horizon | str, dict[str, np.ndarray]] = {0.0: {"model": prob(head is not None), "baseline": baseline}}
    if head is not None:
        out[0.0][NO_ENCODER] = prob(False)
    out[TEXT_ONLY] = {"model": prob(False, author=False), "baseline": baseline}
    return out


def time_split_indices(events: list[RumourEvent], groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(train, test): the earliest 80 % of events by post time and the latest 20 %, with the
    near-duplicates of test posts left out of training."""
    order = np.argsort([e.time for e in events], kind="stable")
    cut = int(0.8 * len(order))
    tr, te = np.sort(order[:cut]), np.sort(order[cut:])
    te_groups = set(groups[te].tolist())
    return tr[np.fromiter((g not in te_groups for g in groups[tr]), bool, count=tr.size)], te


def evaluate_post_only(ds: Dataset, folds: int = 5, seed: int = 0, dup_threshold: float = 0.8,
                       log=print, parts: PostBandParts = POST_PARTS) -> EvalReport:
    """The post-only (0 h) rows of ``evaluate`` without building or fitting any comment view: the
    0 h band's stackers read only the post, its author and the encoder's post head, so this gives
    the same figures in a fraction of the time. Same grouped folds and time split."""
    start = time.monotonic()
    groups = near_duplicate_groups(ds.events, dup_threshold)
    keys = [0.0, TEXT_ONLY]
    probs: dict = {h: {} for h in keys}
    sgkf = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    for k, (tr, te) in enumerate(sgkf.split(np.zeros(len(ds.y)), ds.y, groups)):
        res = _post_only_split(ds, tr, te, seed, parts=parts)
        for h in keys:
            for name, p in res[h].items():
                probs[h].setdefault(name, np.zeros(len(ds.y)))[te] = p
        log(f"fold {k + 1}/{folds} done ({time.monotonic() - start:.0f} s)")
    cv = {horizon_label(h): {n: metrics(ds.y, p) for n, p in probs[h].items()} for h in keys}
    tr, te = time_split_indices(ds.events, groups)
    res = _post_only_split(ds, tr, te, seed, parts=parts)
    ts = {horizon_label(h): {n: metrics(ds.y[te], p) for n, p in res[h].items()} for h in keys}
    return EvalReport(cv, ts, {"threshold_jaccard_char3": dup_threshold, "folds_group_near_duplicates": True,
                               "post_only": True}, time.monotonic() - start)


@dataclass(slots=True)
class PostBand:
    """The post-only band as fitted on events ``idx``: its stackers, the encoder's post head, the
    author record and the word view when asked for (all on ``idx``), and the stackers' out-of-fold inputs."""

    stackers: dict[str, Stacker]
    head: PostHead | None
    words: FittedWordView | None  # None unless parts.word_view
    history: AuthorHistory | None  # None unless parts.author_record
    train_z: np.ndarray  # one row per event of idx, in idx order


def fit_post_band(ds: Dataset, idx: np.ndarray, seed: int = 0, inner_folds: int = 5,
                  use_encoder: bool = True, parts: PostBandParts = POST_PARTS) -> PostBand:
    """The 0 h band's stackers (with the encoder's post head and, per ``parts``, the author record
    and the word view) on events ``idx`` from the posts alone, learning from inner out-of-fold inputs. The inner folds
    keep near-duplicate posts together (v4): the outer folds and serving never see a test post's
    near-duplicate in training, so neither may the stackers' inner fits."""
    encoder = use_encoder and ds.embeddings is not None
    words = ds.word_counts() if parts.word_view else None
    events = [ds.events[e] for e in idx]
    groups = near_duplicate_groups(events)
    n_extra = len(POST_EXTRA_NAMES)
    post_oof = np.zeros(len(idx))
    enc_oof = np.zeros((len(idx), len(ENCODER_NAMES)))
    extra_oof = np.zeros((len(idx), n_extra))
    inner = StratifiedGroupKFold(inner_folds, shuffle=True, random_state=seed)
    for itr, ite in inner.split(idx, ds.y[idx], groups):
        a, b = idx[itr], idx[ite]
        post_oof[ite] = fit_view(ds.post[a], ds.y[a], POST_PARAMS, seed).logits(ds.post[b])
        if encoder:
            enc_oof[ite, 0] = fit_post_head(ds.embeddings.post[a], ds.y[a], parts.post_head).logit(
                ds.embeddings.post[b])
        extra_oof[ite] = _post_extra(
            ds, b, fit_word_view(words[a], ds.y[a], seed=seed) if parts.word_view else None,
            AuthorHistory.fit([ds.events[e] for e in a], ds.y[a]) if parts.author_record else None)
    z = np.column_stack([post_oof, np.zeros(len(idx)), ds.dense[0.0][idx], enc_oof, extra_oof])
    with_author = np.fromiter((e.author is not None for e in events), bool, count=len(idx))
    extra_cols = [c for c in EXTRA_COLS if (parts.word_view if ALL_NAMES[c] == "words_logit" else parts.author_record)]
    stackers = fit_stackers(z, ds.y[idx], with_author, [0.0] * len(idx), BANDS[:1], encoder,
                            post_extra=extra_cols)
    head = fit_post_head(ds.embeddings.post[idx], ds.y[idx], parts.post_head) if encoder else None
    return PostBand(stackers, head,
                    fit_word_view(words[idx], ds.y[idx], seed=seed) if parts.word_view else None,
                    AuthorHistory.fit(events, ds.y[idx]) if parts.author_record else None, z)


def with_encoder_view(model: RumourModel, ds: Dataset, seed: int = 0, inner_folds: int = 5,
                      parts: PostBandParts = POST_PARTS) -> RumourModel:
    """``model`` with its post-only band and encoder view refitted on ``ds`` (no encoder view when
    ``ds.embeddings`` is None), leaving the text views and the other bands as they are. The encoder
    view lives in the 0 h band only, which reads the posts alone, so this takes a minute where a
    full ``train`` takes several: the way to follow a replaced sentiment encoder. Gives what
    ``train`` would (same inner folds); a v1 model (one band, trained by this recipe) gets the band
    added in front, which is what ``train`` now fits."""
    names = [b.name for b in model.bands]
    # this code's bands, an earlier model's (v2: h0 + all) or a v1 model's single band
    if names not in ([b.name for b in BANDS], [BANDS[0].name, BANDS[-1].name], [BANDS[-1].name]):
        raise ValueError(f"the model's bands {names} are not this code's: "
                         "retrain it with `trustscope rumour train`")
    bands = [BANDS[0], *(b for b in model.bands if b.name != BANDS[0].name)]
    idx = np.arange(len(ds.events))
    band = fit_post_band(ds, idx, seed, inner_folds, parts=parts)
    stackers, head = band.stackers, band.head
    kept = {k: v for k, v in model.stackers.items() if not k.startswith(f"{BANDS[0].name}.")}
    enc = None
    if head is not None:
        d = ds.embeddings.post.shape[1]
        empty = EmbeddingHead(np.zeros(d), np.ones(d), np.zeros(d), 0.0)
        enc = EncoderView(ds.encoder_id, ds.encoder_name, d, head, empty)
    # the refit band's own settings replace the old ones (a v4 model's word-view settings go with its view)
    kept_meta = {k: v for k, v in model.meta.items() if k not in ("word_params", "word_alpha", "post_band_parts")}
    meta = {**kept_meta, "engine": "rumour-stack-v2", "post_band_refit": True, "encoder_C": ENCODER_C,
            **post_band_meta(parts)}
    words = None if band.words is None else band.words.export(ds.word_terms)
    return RumourModel(model.post, model.comments, bands, {**kept, **stackers}, enc, model.threshold, meta,
                       words, band.history)


def train(ds: Dataset, seed: int = 0, train_horizons: Sequence[Horizon] = TRAIN_HORIZONS,
          meta: dict | None = None, inner_folds: int = 5, parts: PostBandParts = POST_PARTS) -> RumourModel:
    """The shipped model: the same recipe as a CV fold, on all events."""
    stack = fit_stack(ds, np.arange(len(ds.events)), train_horizons, inner_folds=inner_folds, seed=seed,
                      parts=parts)
    info = {"engine": "rumour-stack-v2", "trained_events": len(ds.events),
            "train_horizons_h": list(train_horizons), "ngram": list(NGRAM),
            "post_params": asdict(POST_PARAMS), "comment_params": asdict(COMMENT_PARAMS),
            "stack_C": STACK_C, "encoder_C": ENCODER_C, "seed": seed, **post_band_meta(parts), **(meta or {})}
    return stack.export(ds, info)
