"""Post-only levers of the rumour model (docs/rumour.md, "Sixth session"): a measurement harness.

It runs the shipped post-only band (``training._post_only_split``, the path `trustscope rumour
evaluate --post-only` takes) with one part swapped, and reports accuracy on
- ``dev``: grouped 5-fold CV inside the time split's training part only (fold seeds 1-4; the latest
  20 % of events never enter it) -- the figures a lever is chosen on;
- ``confirm``: the shipped grouped folds (seed 0) and the time split, overall and on authors the
  training part never saw (production's case) -- reported once, after the choice.

Levers (each one change against model v5):
  v5      the shipped band (reproduces 0.9278 / 0.9035)
  mk      one SVM over K = K_rbf(standardized embedding) + K_cos(char 1-3-gram TF-IDF of the post),
          both with unit diagonal (equal traces: weight 1, set a priori); the TF-IDF is fitted on
          the head's own training rows
  bal     the RBF SVM head with class_weight="balanced"
  avg     the head reads the mean of the post's embedding and the embedding of the post with URLs,
          @mentions and #hashtags# stripped (a second forward pass for the 42 % of posts that have one)
  aug2    the stripped copies of those posts as extra head training rows (same label, same event,
          so the outer and inner folds keep them on one side); scored as the mean of both logits
  style   a stylometric view: LR (C 1, standardized) over 10 post-form counts the band lacks
          (hashtags, [emoticons], emoji, urgency cues, "//@", repeated !/?, punctuation and Latin
          share, quotes, digit runs), its out-of-fold logit as one more stacker column
  styleh  style + the hour of day (Beijing time, sin/cos)
  aug2styleh  both
  (seventh session: other readings of the encoder's forward pass, same RBF SVM head; "hs[k]" is
  hidden_states[k] of the 4-layer bge, mean-pooled with the attention mask, as the shipped pool)
  last    hs[4] from the torch pass below (a check: the shipped ONNX pool to ~1e-6)
  L2, L3  hs[2], hs[3] instead of the last layer
  last2   the mean of hs[3] and hs[4]
  L2last  hs[2] concatenated with hs[4] (1,024-d)
  cls     the [CLS] position of hs[4] instead of the mean
  base, basecls   the base bge-small-zh-v1.5 (not sentiment-tuned): mean pool / [CLS] of its last
          layer (a second forward pass per post in serving)
  v5base, v5basecls  the shipped pool concatenated with the base's mean pool / [CLS] (1,024-d)
  (eighth session)
  rq      repost rows: up to REPOST_K = 3 reposts of each *training* event, the longest whose text
          with the "//@user:" chain, URLs and @mentions stripped keeps >= 10 characters, embedded
          (cached) and added as extra head training rows with the event's label; they are attached to
          their event's index, so the inner and outer folds keep them on the event's side; the
          scored event is always read from its post alone
  hp      the RBF SVM's C and gamma chosen per outer split by an inner grouped 5-fold CV (near-
          duplicate groups, seed 0) of the head alone on the split's training part (its sign's
          accuracy; ties go to v5's C 1, gamma x1): C in {0.3, 1, 3, 10}, gamma in {0.5, 1, 2} x v5's
          "scale" (v5 fixes C 1 and gamma "scale"); the selection standardizes once on the training
          part and slices one precomputed kernel per gamma
  knn     one more stacker column: the rumour share of the KNN_K = 15 cosine-nearest training posts
          (embedding centred on the training posts' mean; the scored event itself never counts),
          out-of-fold like the other columns
  dup     one more stacker column (near-duplicate claim): +1 / -1 for the label of the training post
          with the highest char-3-gram Jaccard (the outer folds' measure) among those posted *before*
          the scored one, when that Jaccard >= DUP_J = 0.5; 0 when none is that close. Why it could
          carry across time: hoaxes recirculate in reworded copies years apart (the held-out splits
          already keep Jaccard >= 0.8 copies out of training, so only 0.5-0.8 rewordings count), and
          a verdict on an earlier copy is evidence no reading of the post's own text has; it reads
          only earlier posts, as serving would
  (ninth session)
  loc     one more stacker column: LR (C 1) over the one-hot profile location (its first word, the
          province or "海外" / "其他"; a category needs LOC_MIN training events of the fitted rows,
          the rest share one "rare" column, no profile and no location are columns of their own).
          It is an author column, so the stackers for posts without a profile leave it out, as they
          leave out every other profile field. The band reads every profile field but this one, and
          in CED a Beijing account's post is a rumour 29 % of the time against about 55 % elsewhere
          (news desks and ministries post from Beijing; verified_type only marks some of them)
  vt      the same column over the one-hot verified_type (-1, 0 personal, 1 government, 2 company,
          3 media, 4 campus, 5 website, 6 app, 7 group, 200 / 220 微博达人; the band has only
          "personal" (0) and "organisation" (>= 1), which puts 达人, 73 % rumours in CED, beside media,
          13 %)
  locvt   both one-hots in one LR column
  (privileged information: what the full spread says about a *training* post, Vapnik & Vashist
  2009, Lopez-Paz et al. 2016; the scored post is still read alone)
  piw     the RBF SVM head with sample weights: each training post weighted by the probability a
          teacher that reads the post *and its comments* (char TF-IDF + LR, the baseline's recipe,
          first TEACHER_CHARS of the comments) gives its label, out of fold inside the outer
          training part (inner grouped 5-fold, seed 0); posts even the full spread cannot place
          weigh less
  pid     distillation: kernel ridge regression (RBF, gamma "scale", alpha KRR_ALPHA) on the target
          2 (0.5 y + 0.5 p_teacher) - 1 instead of the SVM
  krr     the same regression on the label alone (2 y - 1): the control that tells the loss from
          the teacher

Needs scikit-learn and the bge sentiment encoder (its post embeddings are cached under
``~/.cache/trustscope/rumour/``). Not a test and not shipped code: it patches the band's head and
extra column from outside.

    python bench/rumour_post_levers.py v5 confirm
    python bench/rumour_post_levers.py styleh dev
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics.pairwise import rbf_kernel  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from trustscope.rumour import training as T  # noqa: E402
from trustscope.rumour.encoder import EventEmbeddings, cached_embeddings, load_embedder  # noqa: E402
from trustscope.rumour.events import MAX_COMMENT_CHARS  # noqa: E402
from trustscope.rumour.features import author_key  # noqa: E402
from trustscope.sentiment.basemodel import base_model_dir, cache_dir  # noqa: E402
from trustscope.sentiment.heads import sha256_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "rumour_ced_train.jsonl.gz"
ENCODER = ROOT / "models" / "trustscope-sentiment-bge-zh"
BASE = base_model_dir()  # `trustscope model fetch-base`
LAYER_LEVERS = ("last", "L2", "L3", "last2", "L2last", "cls", "base", "basecls", "v5base", "v5basecls")
NEW_LEVERS = ("rq", "hp", "knn", "dup", "loc", "vt", "locvt", "piw", "pid", "krr")
LEVERS = ("v5", "mk", "bal", "avg", "aug2", "style", "styleh", "aug2styleh") + LAYER_LEVERS + NEW_LEVERS
REPOST_K, REPOST_MIN_CHARS = 3, 10
HP_C, HP_GAMMA = (0.3, 1.0, 3.0, 10.0), (0.5, 1.0, 2.0)
KNN_K, DUP_J, LOC_MIN = 15, 0.5, 10
TEACHER_CHARS, KRR_ALPHA = 20_000, 1.0
CHAIN = re.compile(r"//@.*", re.S)
URL_AT = re.compile(r"https?://\S+|@[\w\-\u4e00-\u9fff]+")
STRIP = re.compile(r"https?://\S+|@[\w\-\u4e00-\u9fff]+|#[^#]{1,40}#")
URGENCY = re.compile(
    r"转发|扩散|求扩|紧急|速看|注意|提醒|警惕|千万|赶紧|告诉|身边|家人|朋友们|求证|辟谣|马上|重要")


def style_row(event, hour: bool) -> list[float]:
    t, n = event.text, max(1, len(event.text))
    counts = [len(re.findall(r"#[^#]{1,40}#", t)), len(re.findall(r"\[[\u4e00-\u9fff\w]{1,5}\]", t)),
              len(re.findall(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]", t)), len(URGENCY.findall(t)),
              t.count("//@"), len(re.findall(r"[！!]{2,}|[？?]{2,}", t)), t.count("“") + t.count('"'),
              len(re.findall(r"\d{2,}", t))]
    row = [float(np.log1p(c)) for c in counts]
    row += [len(re.findall(r"[，。、；：,.;:]", t)) / n, sum(c.isascii() and c.isalpha() for c in t) / n]
    if hour:  # Beijing time; never the absolute time or the year (a CED artefact)
        hh = ((event.time + 8 * 3600) % 86400) / 3600.0
        row += [float(np.sin(2 * np.pi * hh / 24)), float(np.cos(2 * np.pi * hh / 24))]
    return row


def layer_pools(model_dir: Path, texts: list[str], data_key: str) -> dict[str, np.ndarray]:
    """Mean pool (attention mask) of every hidden state and the [CLS] row of the last one, from one
    torch forward pass with the classifier's tokenisation (160 chars, 128 tokens, head+tail);
    cached under ~/.cache/trustscope/rumour/ keyed by the weights and the data."""
    from trustscope.rumour.encoder import ENCODER_MAX_CHARS, encoder_id
    from trustscope.sentiment.textprep import encode_batch, pad_batch_np
    from trustscope.sentiment.torch_backend import masked_mean
    from trustscope.settings import get_settings

    path = cache_dir() / "rumour" / f"layers-{encoder_id(model_dir)[:16]}-{data_key[:16]}.npz"
    if path.exists():
        with np.load(path) as z:
            return dict(z)
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32).eval()
    seqs = encode_batch(tok, [t[:ENCODER_MAX_CHARS] for t in texts], get_settings().sentiment_max_length)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        for a in range(0, len(order), 64):
            idx = order[a:a + 64]
            ids, mask = pad_batch_np([seqs[i] for i in idx], tok.pad_token_id)
            m = torch.from_numpy(mask)
            hs = model(input_ids=torch.from_numpy(ids), attention_mask=m, output_hidden_states=True).hidden_states
            rows = {f"mean{k}": masked_mean(h.float(), m) for k, h in enumerate(hs)} | {"cls": hs[-1][:, 0].float()}
            for key, v in rows.items():
                out.setdefault(key, np.zeros((len(seqs), v.shape[1]), np.float32))[idx] = v.numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def layer_input(lever: str, shipped: np.ndarray, texts: list[str], data_key: str) -> np.ndarray:
    """The head's input for a layer / pooling / base-encoder lever (float64)."""
    if lever.startswith("v5"):  # the shipped pool beside the base encoder's
        base = layer_pools(BASE, texts, data_key)
        return np.hstack([shipped, base["cls" if lever.endswith("cls") else "mean4"]]).astype(np.float64)
    pools = layer_pools(BASE if lever.startswith("base") else ENCODER, texts, data_key)
    pick = {"last": ["mean4"], "L2": ["mean2"], "L3": ["mean3"], "L2last": ["mean2", "mean4"], "cls": ["cls"],
            "base": ["mean4"], "basecls": ["cls"]}
    if lever == "last2":
        return ((pools["mean3"] + pools["mean4"]) / 2).astype(np.float64)
    return np.hstack([pools[k] for k in pick[lever]]).astype(np.float64)


def repost_picks(reposts: list[dict]) -> list[str]:
    """The REPOST_K longest distinct repost texts of one event that keep >= REPOST_MIN_CHARS
    characters once the "//@user:" chain, URLs and @mentions are stripped (ties: file order)."""
    seen: dict[str, int] = {}
    for r in reposts:
        raw = r.get("text") if isinstance(r, dict) else None
        if isinstance(raw, str):
            t = re.sub(r"\s+", " ", URL_AT.sub(" ", CHAIN.sub("", raw[:MAX_COMMENT_CHARS]))).strip()
            if len(t) >= REPOST_MIN_CHARS and t not in seen:
                seen[t] = len(seen)
    return sorted(seen, key=lambda t: (-len(t), seen[t]))[:REPOST_K]


def repost_rows(embedder, n: int, data_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of every event's ``repost_picks`` and their owner event (file order, as
    ``read_events``); one encoder pass, cached under ~/.cache/trustscope/rumour/."""
    import gzip

    import orjson

    path = cache_dir() / "rumour" / f"reposts-{embedder.encoder_id[:16]}-{data_key[:16]}-k{REPOST_K}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["emb"].astype(np.float64), z["owner"]
    texts: list[str] = []
    counts: list[int] = []
    with gzip.open(DATA, "rb") as fh:
        for line in (raw for raw in fh if raw.strip()):
            picks = repost_picks(orjson.loads(line).get("reposts") or [])
            texts += picks
            counts.append(len(picks))
    assert len(counts) == n, (len(counts), n)
    owner_arr = np.repeat(np.arange(n), counts)
    emb = embedder.pooled(texts).astype(np.float32)
    np.savez(path, emb=emb, owner=owner_arr)
    return emb.astype(np.float64), owner_arr


class Head:
    """A post head whose input rows carry their event index in the last column."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def logit(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x[:, :-1], x[:, -1].astype(int))


def standardized(e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, mean, scale) as the shipped head standardizes its rows."""
    mean, scale = e.mean(0), e.std(0)
    scale[scale < 1e-9] = 1.0
    return (e - mean) / scale, mean, scale


def select_hp(e: np.ndarray, yy: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """(C, gamma multiplier) of the head with the best inner grouped 5-fold CV accuracy on these
    rows only (ties: v5's (1, 1), then grid order)."""
    from sklearn.metrics.pairwise import euclidean_distances

    xs = standardized(e)[0]
    d2 = euclidean_distances(xs, squared=True)
    g0 = 1.0 / (xs.shape[1] * xs.var())
    folds = list(StratifiedGroupKFold(5, shuffle=True, random_state=0).split(xs, yy, groups))
    scores: dict[tuple[float, float], int] = {}
    for gm in HP_GAMMA:
        k = np.exp(-gm * g0 * d2)
        for c in HP_C:
            scores[(c, gm)] = sum(int(((SVC(C=c, kernel="precomputed").fit(k[np.ix_(a, a)], yy[a])
                                        .decision_function(k[np.ix_(b, a)]) > 0) == (yy[b] == 1)).sum())
                                  for a, b in folds)
    best = max(scores.values())
    return (1.0, 1.0) if scores[(1.0, 1.0)] == best else next(p for p, v in scores.items() if v == best)


def svc_head(e: np.ndarray, yy: np.ndarray, C: float = T.SVM_C, gmul: float = 1.0,
             sample_weight: np.ndarray | None = None, **kw) -> Head:
    """The shipped RBF head's recipe with C, gamma (a multiple of "scale"), SVC options and
    per-row weights set."""
    xs, mean, scale = standardized(e)
    svc = SVC(C=C, kernel="rbf", gamma=gmul / (xs.shape[1] * xs.var()), **kw).fit(xs, yy, sample_weight=sample_weight)
    return Head(lambda q, qi: svc.decision_function((q - mean) / scale))


def teacher_counts(data_key: str):
    """Char 1-3-gram counts of each post with its comments (first TEACHER_CHARS), cached: the
    privileged view a teacher reads (fit_view cuts the vocabulary on its own training rows)."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    from trustscope.rumour.features import char_ngrams, comments_text

    path = cache_dir() / "rumour" / f"teacher-counts-{data_key[:16]}.npz"
    if path.exists():
        return sp.load_npz(path).tocsr()
    full, _ = T.read_events(DATA)
    docs = [e.text + "\n" + comments_text(e)[:TEACHER_CHARS] for e in full]
    x = CountVectorizer(analyzer=lambda d: char_ngrams(d, 1, 3), dtype=np.float64).fit_transform(docs).tocsr()
    sp.save_npz(path, x)
    return x


def teacher_oof(counts, y: np.ndarray, tr: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """P(rumour) of the post+comments teacher for each event of ``tr``, out of fold inside ``tr``."""
    p = np.zeros(len(tr))
    for a, b in StratifiedGroupKFold(5, shuffle=True, random_state=0).split(tr, y[tr], groups[tr]):
        view = T.fit_view(counts[tr[a]], y[tr[a]], T.BASELINE_PARAMS)
        p[b] = 1.0 / (1.0 + np.exp(-view.logits(counts[tr[b]])))
    return p


def privileged_head(lever: str, e: np.ndarray, yy: np.ndarray, pt: np.ndarray) -> Head:
    """The post head of levers piw / pid / krr (``pt``: the teacher's P(rumour) of each row)."""
    from sklearn.kernel_ridge import KernelRidge

    if lever == "piw":
        return svc_head(e, yy, sample_weight=np.where(yy == 1, pt, 1 - pt))
    xs, mean, scale = standardized(e)
    gamma = 1.0 / (xs.shape[1] * xs.var())
    target = 2.0 * yy - 1.0 if lever == "krr" else 2.0 * (0.5 * yy + 0.5 * pt) - 1.0
    krr = KernelRidge(alpha=KRR_ALPHA, kernel="rbf", gamma=gamma).fit(xs, target)
    return Head(lambda q, qi: krr.predict((q - mean) / scale))


class KnnView:
    """The rumour share of the KNN_K cosine-nearest reference posts (centred embedding)."""

    def __init__(self, emb: np.ndarray, y: np.ndarray, rows: np.ndarray) -> None:
        self.emb, self.rows = emb, np.asarray(rows)
        self.y = y[self.rows]
        self.mu = emb[self.rows].mean(0)
        self.ref = self._unit(self.rows)

    def _unit(self, rows: np.ndarray) -> np.ndarray:
        x = self.emb[rows] - self.mu
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    def logits(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        sim = self._unit(rows) @ self.ref.T
        sim[rows[:, None] == self.rows[None, :]] = -np.inf  # never the scored event itself
        top = np.argpartition(-sim, KNN_K, axis=1)[:, :KNN_K]
        return self.y[top].mean(1)


class DupView:
    """+1 / -1: the label of the most similar *earlier* reference post when its char-3-gram
    Jaccard >= DUP_J; 0 otherwise."""

    def __init__(self, sets, sizes: np.ndarray, times: np.ndarray, y: np.ndarray, rows: np.ndarray) -> None:
        self.sets, self.sizes, self.times = sets, sizes, times
        self.rows = np.asarray(rows)
        self.sign = 2.0 * y[self.rows] - 1.0

    def logits(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        inter = (self.sets[rows] @ self.sets[self.rows].T).toarray()
        jac = inter / np.maximum(self.sizes[rows][:, None] + self.sizes[self.rows][None, :] - inter, 1.0)
        jac[(self.times[self.rows][None, :] >= self.times[rows][:, None])
            | (rows[:, None] == self.rows[None, :])] = 0.0
        best = jac.argmax(1)
        return np.where(jac[np.arange(len(rows)), best] >= DUP_J, self.sign[best], 0.0)


def char3_sets(events) -> tuple:
    """Binary char-3-gram sets of the posts and their sizes (``near_duplicate_groups``' measure)."""
    from sklearn.feature_extraction.text import CountVectorizer

    from trustscope.rumour.features import char_ngrams

    vec = CountVectorizer(analyzer=lambda s: set(char_ngrams(s, 3, 3)), binary=True, dtype=np.float32)
    x = vec.fit_transform([e.text for e in events]).tocsr()
    return x, np.asarray(x.sum(axis=1)).ravel()


def profile_categories(path: Path, lever: str) -> list[tuple[str, ...]]:
    """Per event in file order: the profile's location (first word; "" = none, "-" = no profile)
    and / or verified_type, as the lever asks."""
    import gzip

    import orjson

    out = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                u = orjson.loads(line).get("user")
                if isinstance(u, dict):
                    loc = "loc:" + (str(u.get("location") or "").split() or [""])[0]
                    vt = "vt:" + str(u.get("verified_type", -1))
                else:
                    loc, vt = "loc:-", "vt:-"
                out.append({"loc": (loc,), "vt": (vt,), "locvt": (loc, vt)}[lever])
    return out


class ProfileView:
    """LR over one-hot profile categories; the categories come from the fitted rows only, and
    those with fewer than LOC_MIN of them share one "rare" column per field."""

    def __init__(self, cats: list[tuple[str, ...]], rows: np.ndarray, yy: np.ndarray) -> None:
        from collections import Counter

        self.cats = cats
        counts = Counter(c for i in rows for c in cats[i])
        fields = sorted({c.split(":")[0] for cs in cats for c in cs})
        keep = sorted(k for k, c in counts.items() if c >= LOC_MIN or k.endswith((":", ":-")))
        self.index = {k: j for j, k in enumerate(keep + [f + ":rare" for f in fields])}
        self.lr = LogisticRegression(C=1.0, max_iter=2000).fit(self.onehot(rows), yy)

    def onehot(self, rows: np.ndarray) -> np.ndarray:
        x = np.zeros((len(rows), len(self.index)))
        for r, i in enumerate(np.asarray(rows).tolist()):
            for c in self.cats[i]:
                x[r, self.index.get(c, self.index[c.split(":")[0] + ":rare"])] = 1.0
        return x

    def logits(self, rows: np.ndarray) -> np.ndarray:
        return self.lr.decision_function(self.onehot(np.asarray(rows)))


def column_view(lever: str, events, y: np.ndarray, emb: np.ndarray):
    """The extra stacker column's fit (rows, labels) -> view with ``logits(rows)``, or None."""
    if "style" in lever:
        feats = np.asarray([style_row(e, "styleh" in lever) for e in events])

        class StyleView:
            def __init__(self, rows: np.ndarray, yy: np.ndarray) -> None:
                self.m, self.s = feats[rows].mean(0), feats[rows].std(0) + 1e-9
                self.lr = LogisticRegression(C=1.0, max_iter=2000).fit((feats[rows] - self.m) / self.s, yy)

            def logits(self, rows: np.ndarray) -> np.ndarray:
                return self.lr.decision_function((feats[np.asarray(rows)] - self.m) / self.s)

        return StyleView
    if lever == "knn":
        return lambda rows, yy: KnnView(emb, y, rows)
    if lever in ("loc", "vt", "locvt"):
        cats = profile_categories(DATA, lever)
        assert len(cats) == len(events)
        return lambda rows, yy: ProfileView(cats, rows, yy)
    if lever == "dup":
        sets, sizes = char3_sets(events)
        times = np.asarray([e.time for e in events])
        return lambda rows, yy: DupView(sets, sizes, times, y, rows)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lever", choices=LEVERS)
    ap.add_argument("mode", choices=("dev", "confirm"))
    args = ap.parse_args()
    lever = args.lever
    events, y = T.read_events(DATA, with_reposts=False)
    n = len(events)
    ds = T.build_post_only(events, y)
    embedder = load_embedder(ENCODER)
    if embedder is None:
        raise SystemExit(f"no encoder at {ENCODER}")
    raw = cached_embeddings(embedder, events, sha256_file(DATA))
    emb = raw.post.astype(np.float64)
    strip_path = cache_dir() / "rumour" / f"strip-{embedder.encoder_id[:16]}-{sha256_file(DATA)[:16]}.npy"
    if strip_path.exists():
        strip = np.load(strip_path)
    else:  # one forward pass over the posts that change when URLs / @ / # are stripped
        strip = emb.copy()
        idx = [i for i, e in enumerate(events) if STRIP.search(e.text)]
        strip[idx] = embedder.pooled([re.sub(r"\s+", " ", STRIP.sub(" ", events[i].text)).strip() for i in idx])
        np.save(strip_path, strip)
    strip = strip.astype(np.float64)
    changed = np.flatnonzero(np.abs(strip - emb).max(1) > 0)
    post = (emb + strip) / 2 if lever == "avg" else emb
    if lever in LAYER_LEVERS:
        post = layer_input(lever, emb, [e.text for e in events], sha256_file(DATA))
        print(json.dumps({"lever": lever, "dim": post.shape[1], "max_abs_diff_vs_shipped_pool":
                          float(np.abs(post[:, :512] - emb).max())}), file=sys.stderr)
    ds.embeddings = EventEmbeddings(np.column_stack([post, np.arange(n)]), raw.comments, raw.comment_event,
                                    raw.comment_offset)
    ds.encoder_id, ds.encoder_name = embedder.encoder_id, ENCODER.name
    shipped_head = T.fit_post_head
    data_key = sha256_file(DATA)
    if lever == "rq":
        rep, rep_owner = repost_rows(embedder, n, data_key)
        print(json.dumps({"lever": lever, "repost_rows": len(rep_owner),
                          "events_with_one": int(np.unique(rep_owner).size)}), file=sys.stderr)
    hp = {"C": T.SVM_C, "gmul": 1.0}  # set per outer split by ``select_hp`` (lever hp)
    teacher_p = np.full(n, np.nan)  # set per outer split, on its training part only (piw / pid)
    tcounts = teacher_counts(data_key) if lever in ("piw", "pid") else None

    def fit_head(x: np.ndarray, yy: np.ndarray, kind: str = "rbf-svm") -> Head:
        e, idx = x[:, :-1], x[:, -1].astype(int)
        if lever.startswith("aug2"):
            extra = np.isin(idx, changed)
            h = shipped_head(np.vstack([e, strip[idx[extra]]]), np.concatenate([yy, yy[extra]]), "rbf-svm")
            return Head(lambda q, qi: (h.logit(q) + h.logit(strip[qi])) / 2)
        if lever == "rq":  # the training events' repost rows, labelled as their event
            extra = np.isin(rep_owner, idx)
            h = shipped_head(np.vstack([e, rep[extra]]), np.concatenate([yy, y[rep_owner[extra]]]), "rbf-svm")
            return Head(lambda q, qi: h.logit(q))
        if lever == "bal":
            return svc_head(e, yy, class_weight="balanced")
        if lever == "hp":
            return svc_head(e, yy, hp["C"], hp["gmul"])
        if lever in ("piw", "pid", "krr"):
            return privileged_head(lever, e, yy, teacher_p[idx])
        if lever != "mk":
            h = shipped_head(e, yy, "rbf-svm")
            return Head(lambda q, qi: h.logit(q))
        xs, mean, scale = standardized(e)
        gamma = 1.0 / (xs.shape[1] * xs.var())  # sklearn's "scale"
        view = T.fit_view(ds.post[idx], yy, T.POST_PARAMS)
        f = view.features(ds.post[idx])
        svc = SVC(C=T.SVM_C, kernel="precomputed").fit(rbf_kernel(xs, xs, gamma=gamma) + (f @ f.T).toarray(), yy)
        return Head(lambda q, qi: svc.decision_function(
            rbf_kernel((q - mean) / scale, xs, gamma=gamma) + (view.features(ds.post[qi]) @ f.T).toarray()))

    T.fit_post_head = fit_head
    column = column_view(lever, events, y, emb)
    style = column is not None  # the flag the band reads for its optional column
    if style:  # the word-view slot of the band carries the lever's column
        T.Dataset.word_counts = lambda self: np.arange(n)
        T.fit_word_view = lambda rows, yy, seed=0: column(np.asarray(rows), yy)
        shipped_extra = T._post_extra

        def post_extra(ds_, ev, words, history):
            out = shipped_extra(ds_, ev, None, history)
            if words is not None:
                out[:, 0] = words.logits(ev)
            return out

        T._post_extra = post_extra
        if lever in ("loc", "vt", "locvt"):  # a profile column: the no-profile stackers leave it out
            T.AUTHOR_COLUMNS = T.AUTHOR_COLUMNS | {"words_logit"}
    parts = T.PostBandParts(word_view=style)
    groups = T.near_duplicate_groups(ds.events, 0.8)
    keys = [author_key(e.author) for e in events]

    chosen: list[tuple[float, float]] = []
    teacher_acc: list[float] = []

    def split(tr: np.ndarray, te: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if lever == "hp":  # on the training part only, with fit_post_band's inner groups
            hp["C"], hp["gmul"] = select_hp(emb[tr], y[tr], T.near_duplicate_groups([events[i] for i in tr]))
            chosen.append((hp["C"], hp["gmul"]))
        teacher_p[:] = np.nan
        if tcounts is not None:
            teacher_p[tr] = teacher_oof(tcounts, y, tr, groups)
            teacher_acc.append(float(((teacher_p[tr] >= 0.5) == (y[tr] == 1)).mean()))
        p = T._post_only_split(ds, tr, te, 0, parts=parts)[0.0]["model"]
        seen = {keys[i] for i in tr if keys[i] is not None}
        unknown = np.array([keys[i] is None or keys[i] not in seen for i in te])
        return (p >= 0.5) == (y[te] == 1), unknown

    start, out = time.monotonic(), {"lever": lever, "mode": args.mode}
    if args.mode == "dev":
        dev, _ = T.time_split_indices(events, groups)
        accs = []
        for seed in (1, 2, 3, 4):
            folds = StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(dev, y[dev], groups[dev])
            accs.append(float(np.concatenate([split(dev[a], dev[b])[0] for a, b in folds]).mean()))
        out.update(dev=[round(a, 4) for a in accs], dev_mean=round(float(np.mean(accs)), 4))
    else:
        ok, unk = np.zeros(n, bool), np.zeros(n, bool)
        for tr, te in StratifiedGroupKFold(5, shuffle=True, random_state=0).split(np.zeros(n), y, groups):
            ok[te], unk[te] = split(tr, te)
        tr, te = T.time_split_indices(events, groups)
        okt, unkt = split(tr, te)
        out.update(cv=round(float(ok.mean()), 4), cv_right=int(ok.sum()), cv_unknown=round(float(ok[unk].mean()), 4),
                   time_split=round(float(okt.mean()), 4), ts_right=int(okt.sum()),
                   ts_unknown=round(float(okt[unkt].mean()), 4))
    if chosen:
        out["hp_chosen"] = chosen
    if teacher_acc:
        out["teacher_oof_acc"] = [round(a, 4) for a in teacher_acc]
    out["seconds"] = round(time.monotonic() - start)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
