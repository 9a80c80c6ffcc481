"""The encoder view's inputs: pooled embeddings of an event's post and of its first comments from one
of the project's Chinese encoders, tied to that encoder by the checksum of its weights.

Why the sentiment encoder: the pipeline's sentiment stage already runs it over every document and
``SentimentClassifier.analyze`` returns the pooled embedding in the same pass, so a head on it costs
one dot product per text in serving. The head is only meaningful on the exact weights it was fitted
on, hence ``encoder_id`` (sha256 of ``model.safetensors``, as ``trustscope.sentiment.heads`` does):
a rumour model whose encoder id does not match the loaded encoder drops the view (logged once).

Comments enter as the mean embedding of the first ``ENCODER_COMMENTS`` non-trivial comment texts
that arrived by the horizon, each embedded alone (short texts, one cache row per comment), so one
cache serves every horizon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from trustscope.rumour.events import RumourEvent
from trustscope.rumour.features import BOILERPLATE
from trustscope.rumour.model import EventEncoding

# first non-trivial comments embedded per event (time order). 0: the view reads the post alone,
# because the shipped model uses it only in the post-only band (where it was measured to help);
# the comments head stays available for a model trained with comments embedded.
ENCODER_COMMENTS = 0
ENCODER_MAX_CHARS = 160


# the encoder the shipped model's view is fitted on: the accurate sentiment option (its view gained
# on the post alone; the default small model's did not, see docs/rumour.md)
DEFAULT_ENCODER = "trustscope-sentiment-bge-zh"
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def default_encoder_dir() -> Path:
    """``models/trustscope-sentiment-bge-zh`` when present, else the configured sentiment model."""
    if (MODELS_DIR / DEFAULT_ENCODER / "config.json").exists():
        return MODELS_DIR / DEFAULT_ENCODER
    from trustscope.settings import get_settings

    return Path(get_settings().sentiment_model_dir)


def find_encoder_dir(name: str, expected_id: str) -> Path | None:
    """Where the encoder a model was fitted on lives: ``models/<name>`` or the configured sentiment
    model, whichever has those weights (None: neither)."""
    from trustscope.settings import get_settings

    for cand in (MODELS_DIR / name, Path(get_settings().sentiment_model_dir)):
        try:
            if name and (cand / "config.json").exists() and encoder_id(cand) == expected_id:
                return cand
        except OSError:
            continue
    return None


class Embedder(Protocol):
    """What the encoder view needs of an encoder: pooled embeddings, in input order."""

    encoder_id: str
    hidden_size: int

    def pooled(self, texts: Sequence[str]) -> np.ndarray: ...


def encoder_id(model_dir: str | Path) -> str:
    """sha256 of the encoder's weights (the same key as sentiment heads and the ONNX cache)."""
    from trustscope.sentiment.heads import WEIGHTS_FILE, sha256_file

    return sha256_file(Path(model_dir, WEIGHTS_FILE))


@dataclass(slots=True)
class SentimentEmbedder:
    """A loaded ``SentimentClassifier`` as an Embedder (its ``pooled``: one forward pass)."""

    classifier: Any
    encoder_id: str
    hidden_size: int

    @classmethod
    def load(cls, model_dir: str | Path, threads: int | None = None) -> SentimentEmbedder:
        from trustscope.sentiment import load_classifier

        clf = load_classifier(str(model_dir), threads=threads)
        return cls(clf, encoder_id(model_dir), int(clf.hidden_size))

    def pooled(self, texts: Sequence[str]) -> np.ndarray:
        return self.classifier.pooled([t[:ENCODER_MAX_CHARS] for t in texts], batch_size=64)


def comment_texts(event: RumourEvent, limit: int = ENCODER_COMMENTS) -> tuple[list[str], list[float]]:
    """The first ``limit`` non-trivial comment texts (time order) and their offsets from the post (s)."""
    texts: list[str] = []
    times: list[float] = []
    if limit <= 0:
        return texts, times
    for r in event.reposts:
        t = r.text.strip()
        if t and t not in BOILERPLATE and len(t) >= 2:
            texts.append(t)
            times.append(r.time - event.time)
            if len(texts) >= limit:
                break
    return texts, times


@dataclass(slots=True)
class EventEmbeddings:
    """Pooled post embeddings (n, d) and comment embeddings with owner event and time offset."""

    post: np.ndarray
    comments: np.ndarray  # (m, d)
    comment_event: np.ndarray  # (m,) int
    comment_offset: np.ndarray  # (m,) seconds after the post
    _cum: np.ndarray | None = field(default=None, repr=False)

    def comment_mean(self, events: np.ndarray, horizon_s: np.ndarray | float | None) -> tuple[np.ndarray, np.ndarray]:
        """Mean embedding of the comments of ``events[i]`` with offset <= ``horizon_s[i]`` (None or
        inf: all) and how many there were; rows with none are zeros. Events may repeat (one row per
        truncation). Comments must be grouped by event in time order, as ``embed_events`` writes them."""
        events = np.asarray(events, dtype=np.int64)
        n, d = len(events), self.post.shape[1]
        limit = (np.full(n, np.inf) if horizon_s is None
                 else np.broadcast_to(np.asarray(horizon_s, dtype=np.float64), (n,)))
        n_events = self.post.shape[0]
        start = np.searchsorted(self.comment_event, np.arange(n_events), side="left")
        end = np.searchsorted(self.comment_event, np.arange(n_events), side="right")
        # within an event the offsets are sorted: count those <= limit by a search on (event, offset)
        key = self.comment_event.astype(np.float64) * 1e10 + self.comment_offset
        lim = np.minimum(limit, 1e9)
        stop = np.searchsorted(key, events.astype(np.float64) * 1e10 + lim, side="right")
        stop = np.clip(stop, start[events], end[events])
        a = start[events]
        counts = (stop - a).astype(np.float64)
        if self._cum is None:
            self._cum = np.vstack([np.zeros((1, d)), np.cumsum(self.comments.astype(np.float64), axis=0)])
        sums = self._cum[stop] - self._cum[a]
        return sums / np.maximum(counts, 1.0)[:, None], counts


def embed_events(embedder: Embedder, events: Sequence[RumourEvent], comments: int | None = None) -> EventEmbeddings:
    """Embeddings of every post and of the first ``comments`` (default ENCODER_COMMENTS) comments
    of every event (one batch each)."""
    limit = ENCODER_COMMENTS if comments is None else comments
    post = embedder.pooled([e.text for e in events]).astype(np.float32)
    texts: list[str] = []
    owner: list[int] = []
    offsets: list[float] = []
    if limit > 0:
        for i, e in enumerate(events):
            t, o = comment_texts(e, limit)
            texts += t
            offsets += o
            owner += [i] * len(t)
    comm = (embedder.pooled(texts).astype(np.float32) if texts
            else np.zeros((0, post.shape[1] if post.ndim == 2 else embedder.hidden_size), np.float32))
    return EventEmbeddings(post, comm, np.asarray(owner, dtype=np.int64), np.asarray(offsets, dtype=np.float64))


def encode_events(embedder: Embedder, events: Sequence[RumourEvent], comments: int | None = None,
                  only: Sequence[bool] | None = None) -> EventEncoding:
    """The encoder view's input for events as they stand (horizon already applied): one batch of
    post texts and one of their first comments through the encoder. ``only`` embeds just those
    events (the others get zero rows, for bands that never read them)."""
    picks = [i for i in range(len(events)) if only is None or only[i]]
    emb = embed_events(embedder, [events[i] for i in picks], comments)
    mean, counts = emb.comment_mean(np.arange(len(picks)), None)
    if only is None:
        return EventEncoding(emb.post, mean, counts, embedder.encoder_id)
    d = emb.post.shape[1] if picks else embedder.hidden_size
    post, comm, cnt = np.zeros((len(events), d), np.float32), np.zeros((len(events), d)), np.zeros(len(events))
    if picks:
        post[picks], comm[picks], cnt[picks] = emb.post, mean, counts
    return EventEncoding(post, comm, cnt, embedder.encoder_id)


def cached_embeddings(embedder: Embedder, events: Sequence[RumourEvent], data_key: str,
                      cache_dir: Path | None = None) -> EventEmbeddings:
    """``embed_events`` of a training set, kept under ``{cache}/rumour/emb/`` keyed by the encoder's
    weights and the data file, so re-training and evaluation embed each text once per machine."""
    from trustscope.sentiment.basemodel import cache_dir as ts_cache

    root = cache_dir or ts_cache() / "rumour" / "emb"
    path = root / f"{embedder.encoder_id[:16]}-{data_key[:16]}-c{ENCODER_COMMENTS}.npz"
    if path.exists():
        with np.load(path) as z:
            if int(z["post"].shape[0]) == len(events):
                return EventEmbeddings(z["post"], z["comments"], z["comment_event"], z["comment_offset"])
    emb = embed_events(embedder, events)
    root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, post=emb.post, comments=emb.comments, comment_event=emb.comment_event,
             comment_offset=emb.comment_offset)
    tmp.replace(path)
    return emb


def load_embedder(model_dir: str | Path | None, expected_id: str | None = None) -> SentimentEmbedder | None:
    """The sentiment encoder in ``model_dir`` (default: ``default_encoder_dir()``) as an Embedder, or
    None when it is missing, fails to load or is not the encoder ``expected_id`` names (checked
    before loading)."""
    import logging

    log = logging.getLogger(__name__)
    path = Path(model_dir) if model_dir is not None else default_encoder_dir()
    try:
        found = encoder_id(path)
    except OSError as exc:
        log.warning("rumour encoder view dropped: no encoder weights at %s (%s)", path, exc)
        return None
    if expected_id is not None and found != expected_id:
        log.warning("rumour encoder view dropped: %s has weights %s, the model's heads were fitted on %s",
                    path, found[:16], expected_id[:16])
        return None
    from trustscope.sentiment.onnx_backend import ONNX_FILE
    from trustscope.sentiment.onnx_cache import cache_dir_for, export_hint, uses_cache

    if uses_cache(path) and not (path / ONNX_FILE).exists() and not (cache_dir_for(path) / ONNX_FILE).exists():
        # never start a minute-long export inside a scoring run: say how to build it once
        log.warning("rumour encoder view dropped: %s has no ONNX export yet; %s", path, export_hint(path))
        return None
    try:
        return SentimentEmbedder.load(path)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("rumour encoder view dropped: cannot load %s (%s)", path, exc)
        return None
