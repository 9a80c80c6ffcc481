"""The rumour model: training on a small synthetic set, the numpy export giving the fitted
pipeline's probabilities, save/load, and the missing-author stacker."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("sklearn")

from trustscope.rumour import training as T  # noqa: E402
from trustscope.rumour.events import parse_event  # noqa: E402
from trustscope.rumour.features import AUTHOR_NAMES  # noqa: E402
from trustscope.rumour.model import RumourModel  # noqa: E402

T0 = 1_400_000_000
HORIZONS = (0.0, 1.0, None)


def synthetic(n: int = 80, seed: int = 1) -> list[dict]:
    """Rumours: '网传' posts, fast spread, doubting comments; the others: '发布' posts, calm replies."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rumour = i % 2 == 0
        words = ["网传", "紧急扩散", "据说"] if rumour else ["发布", "通知", "今日"]
        text = "".join(rng.choice(words) for _ in range(4)) + f"第{i}条"
        replies = ["真的假的", "求证", "已辟谣", "[泪]"] if rumour else ["支持", "转发微博", "好的"]
        step = 60 if rumour else 600
        reposts = [{"mid": f"m{i}_{k}", "parent": f"m{i}_{k - 1}" if rumour and k else "", "uid": f"u{k}",
                    "text": rng.choice(replies), "time": T0 + step * (k + 1)} for k in range(rng.randint(3, 30))]
        user = "empty" if i % 10 == 9 else {"followers": rng.randint(10, 10**6), "verified": not rumour,
                                            "verified_type": 0, "friends": 100, "time": T0 - 86400 * 100}
        out.append({"id": f"ev{i}", "label": "rumour" if rumour else "non_rumour", "text": text, "time": T0,
                    "user": user, "reposts": reposts})
    return out


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    rows = synthetic()
    events = [parse_event(r) for r in rows]
    y = np.asarray([1 if r["label"] == "rumour" else 0 for r in rows])
    ds = T.Dataset.build(events, y, HORIZONS)
    stack = T.fit_stack(ds, np.arange(len(events)), HORIZONS, inner_folds=3)
    model = stack.export(ds, {"engine": "rumour-test"})
    directory = tmp_path_factory.mktemp("rumour-model")
    model.save(directory)
    return ds, stack, RumourModel.load(directory), events, y


@pytest.mark.parametrize("h", HORIZONS)
def test_exported_model_matches_fitted_pipeline(fitted, h):
    ds, stack, model, events, _ = fitted
    idx = np.arange(len(events))
    want = stack.predict(ds, T.AugRows(idx, [h] * len(idx)))
    got = model.predict_proba([e.truncated(h) for e in events])
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_separates_the_synthetic_classes_and_uses_spread(fitted):
    _, _, model, events, y = fitted
    p_full = model.predict_proba(events)
    assert ((p_full >= 0.5) == (y == 1)).mean() >= 0.95
    assert model.engine == "rumour-test"


def test_missing_author_uses_the_no_author_stacker(fitted):
    _, _, model, events, _ = fitted
    assert model.stacker_no_author.cols.size == model.stacker.cols.size - len(AUTHOR_NAMES)
    names = set(model.stacker_no_author.names)
    assert "has_author" not in names and "log_followers" not in names
    ev = events[0]
    anon = parse_event({"text": ev.text, "time": ev.time})
    z = model.stack_inputs([anon])
    assert model.predict_proba([anon])[0] == pytest.approx(1 / (1 + np.exp(-model.stacker_no_author.logit(z)[0])))


def test_load_refuses_a_foreign_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        RumourModel.load(tmp_path)
    (tmp_path / "model.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="format"):
        RumourModel.load(tmp_path)


def test_a_model_saved_with_another_column_layout_serves_the_same(fitted, tmp_path):
    """A model written before features were added (its own stack_names order and length) loads with
    its stacker columns re-pointed by name, and scores as it did; an unknown name is refused."""
    import json

    from trustscope.rumour.model import ALL_NAMES

    _, _, model, events, _ = fitted
    model.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    used = sorted({n for st in model.stackers.values() for n in st.names})
    layout = list(reversed(used))  # an older file: fewer names, in another order
    pos = {n: i for i, n in enumerate(layout)}
    with np.load(tmp_path / "model.npz") as z:
        arrays = {k: z[k] for k in z.files}
    for key in meta["stackers"]:
        cols = arrays[f"stack.{key}.cols"]
        arrays[f"stack.{key}.cols"] = np.asarray([pos[ALL_NAMES[c]] for c in cols], np.int32)
    np.savez_compressed(tmp_path / "model.npz", **arrays)
    (tmp_path / "model.json").write_text(json.dumps({**meta, "stack_names": layout}))
    old = RumourModel.load(tmp_path)
    for h in HORIZONS:
        cut = [e.truncated(h) for e in events]
        np.testing.assert_allclose(old.predict_proba(cut), model.predict_proba(cut), atol=1e-12)
    (tmp_path / "model.json").write_text(json.dumps({**meta, "stack_names": layout + ["no_such_feature"]}))
    with pytest.raises(ValueError, match="no_such_feature"):
        RumourModel.load(tmp_path)


def test_near_duplicate_groups_and_metrics():
    events = [parse_event({"text": t, "time": T0}) for t in
              ["某某平台今日宣布停止兑付，请大家转告", "某某平台今日宣布停止兑付，请大家转告！", "完全不同的一条内容"]]
    g = T.near_duplicate_groups(events, 0.8)
    assert g[0] == g[1] != g[2]
    m = T.metrics(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.6]))
    assert m["accuracy"] == 0.5 and m["f1"] == pytest.approx(0.5)


class FakeEmbedder:
    """A deterministic stand-in encoder: a few character-presence dimensions plus hashed noise."""

    encoder_id = "f" * 64
    hidden_size = 8

    def pooled(self, texts):
        out = np.zeros((len(texts), self.hidden_size), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, 0] = float("网传" in t or "求证" in t)
            out[i, 1] = float("发布" in t or "支持" in t)
            out[i, 2:] = np.random.default_rng(abs(hash(t)) % (2**32)).normal(size=self.hidden_size - 2)
        return out


def embedded_dataset(seed: int, comments: int):
    """(dataset with FakeEmbedder embeddings, events) of ``synthetic(seed)``: the encoder-view tests' input."""
    from trustscope.rumour.encoder import embed_events

    rows = synthetic(seed=seed)
    events = [parse_event(r) for r in rows]
    y = np.asarray([1 if r["label"] == "rumour" else 0 for r in rows])
    ds = T.Dataset.build(events, y, HORIZONS)
    ds.embeddings = embed_events(FakeEmbedder(), events, comments=comments)
    ds.encoder_id, ds.encoder_name = FakeEmbedder.encoder_id, "fake"
    return ds, events


@pytest.fixture(scope="module")
def fitted_enc(tmp_path_factory):
    ds, events = embedded_dataset(seed=2, comments=8)
    stack = T.fit_stack(ds, np.arange(len(events)), HORIZONS, inner_folds=3)
    directory = tmp_path_factory.mktemp("rumour-model-enc")
    stack.export(ds, {"engine": "rumour-test"}).save(directory)
    return ds, stack, RumourModel.load(directory), events


@pytest.mark.parametrize("h", HORIZONS)
def test_encoder_view_export_matches_and_a_foreign_encoder_is_dropped(fitted_enc, h):
    from trustscope.rumour.encoder import encode_events
    from trustscope.rumour.model import EventEncoding

    ds, stack, model, events = fitted_enc
    assert model.encoder is not None and model.encoder.encoder_id == FakeEmbedder.encoder_id
    assert {"h0.a.enc", "h0.na.enc", "all.a.txt", "all.na.txt"} <= set(model.stackers)
    idx = np.arange(len(events))
    cut = [e.truncated(h) for e in events]
    enc = encode_events(FakeEmbedder(), cut, comments=8)
    got = model.predict_proba(cut, enc)
    np.testing.assert_allclose(got, stack.predict(ds, T.AugRows(idx, [h] * len(idx))), atol=1e-4)
    # an embedding from other weights must not be read by heads fitted on these: text-only stackers
    other = EventEncoding(enc.post, enc.comments, enc.comment_count, "0" * 64)
    text_only = stack.predict(ds, T.AugRows(idx, [h] * len(idx)), use_encoder=False)
    np.testing.assert_allclose(model.predict_proba(cut, other), text_only, atol=1e-4)
    np.testing.assert_allclose(model.predict_proba(cut), text_only, atol=1e-4)


def test_comment_mean_follows_the_horizon():
    from trustscope.rumour.encoder import embed_events

    ev = parse_event({"text": "网传", "time": T0, "reposts": [
        {"mid": "a", "text": "求证一下", "time": T0 + 60}, {"mid": "b", "text": "转发微博", "time": T0 + 120},
        {"mid": "c", "text": "支持支持", "time": T0 + 7200}]})
    emb = embed_events(FakeEmbedder(), [ev, parse_event({"text": "发布", "time": T0})], comments=8)
    assert emb.comments.shape[0] == 2  # the boilerplate repost is not embedded
    mean, count = emb.comment_mean(np.array([0, 0, 0, 1]), np.array([0.0, 3600.0, np.inf, np.inf]))
    assert count.tolist() == [0, 1, 2, 0]
    np.testing.assert_allclose(mean[1], emb.comments[0], atol=1e-6)
    np.testing.assert_allclose(mean[2], emb.comments.mean(axis=0), atol=1e-6)
    assert not mean[0].any() and not mean[3].any()


def test_scorer_reads_a_matching_embedding_and_ignores_a_foreign_one(fitted_enc):
    from trustscope.rumour.encoder import encode_events
    from trustscope.rumour.events import RumourEvent
    from trustscope.rumour.model import EventEncoding
    from trustscope.rumour.scorer import RumourScorer

    _, _, model, events = fitted_enc
    texts = [e.text for e in events[:6]]
    scorer = RumourScorer(model)
    enc = encode_events(FakeEmbedder(), [RumourEvent(None, t, 0.0, None, [], 0.0) for t in texts])
    plain = [s.score for s in scorer.score_texts(texts)]
    with_enc = [s.score for s in scorer.score_texts(texts, encoding=enc)]
    want = model.predict_proba([RumourEvent(None, t, 0.0, None, [], 0.0) for t in texts], enc)
    np.testing.assert_allclose(with_enc, want, atol=1e-4)
    assert with_enc != plain
    foreign = EventEncoding(enc.post, enc.comments, enc.comment_count, "0" * 64)
    assert [s.score for s in scorer.score_texts(texts, encoding=foreign)] == plain
    # rows of the encoding follow the texts even when some texts are not scored by the model
    mixed = scorer.score_texts(texts, use_model=[i % 2 == 0 for i in range(6)], encoding=enc)
    np.testing.assert_allclose([mixed[i].score for i in (0, 2, 4)], [with_enc[i] for i in (0, 2, 4)], atol=1e-6)


def test_post_only_evaluation_is_the_zero_hour_band_of_the_full_recipe(fitted_enc):
    from trustscope.rumour.encoder import embed_events

    ds, _, _, events = fitted_enc
    lite = T.build_post_only(events, ds.y)
    lite.embeddings = embed_events(FakeEmbedder(), events, comments=0)
    tr, te = np.arange(0, 60), np.arange(60, len(events))
    full = T.fit_stack(ds, tr, HORIZONS, inner_folds=5)
    want = full.predict(ds, T.AugRows(te, [0.0] * len(te)))
    got = T._post_only_split(lite, tr, te, seed=0)
    np.testing.assert_allclose(got[0.0]["model"], want, atol=1e-6)
    np.testing.assert_allclose(got[T.TEXT_ONLY]["model"],
                               full.predict(ds, T.AugRows(te, [0.0] * len(te)), drop_author=True,
                                            use_encoder=False), atol=1e-6)


def test_refitting_the_encoder_view_alone_gives_what_training_gives(fitted_enc, tmp_path):
    from trustscope.rumour.encoder import embed_events

    ds, _, _, events = fitted_enc
    plain = T.Dataset.build(events, ds.y, HORIZONS)  # no embeddings: a text-only model
    text_model = T.fit_stack(plain, np.arange(len(events)), HORIZONS).export(plain, {})
    assert text_model.encoder is None and not any(k.endswith(".enc") for k in text_model.stackers)
    lite = T.build_post_only(events, ds.y)
    lite.embeddings = embed_events(FakeEmbedder(), events, comments=0)
    lite.encoder_id, lite.encoder_name = FakeEmbedder.encoder_id, "fake"
    refit = T.with_encoder_view(text_model, lite)
    refit.save(tmp_path)
    loaded = RumourModel.load(tmp_path)
    # what a full training run with the same embeddings gives
    plain.embeddings, plain.encoder_id = lite.embeddings, lite.encoder_id
    want = T.fit_stack(plain, np.arange(len(events)), HORIZONS).export(plain, {})
    from trustscope.rumour.encoder import encode_events

    alone = [e.truncated(0.0) for e in events]
    enc = encode_events(FakeEmbedder(), alone, comments=0)
    np.testing.assert_allclose(loaded.predict_proba(alone, enc), want.predict_proba(alone, enc), atol=1e-6)
    np.testing.assert_allclose(loaded.predict_proba(events), want.predict_proba(events), atol=1e-6)


def test_a_one_band_model_gets_the_post_only_band_added(fitted):
    from trustscope.rumour.model import Band

    ds, stack, model, events, y = fitted
    one_band = RumourModel(model.post, model.comments, [Band("all", None)],
                           {k: v for k, v in model.stackers.items() if k.startswith("all.")}, None)
    upgraded = T.with_encoder_view(one_band, T.build_post_only(events, y), inner_folds=3)
    assert [b.name for b in upgraded.bands] == ["h0", "all"] and upgraded.encoder is None
    np.testing.assert_allclose(upgraded.predict_proba([e.truncated(0.0) for e in events]),
                               model.predict_proba([e.truncated(0.0) for e in events]), atol=1e-6)
    np.testing.assert_allclose(upgraded.predict_proba(events), model.predict_proba(events), atol=1e-9)


def test_load_embedder_refuses_other_weights_and_missing_ones(tmp_path):
    from trustscope.rumour.encoder import encoder_id, load_embedder
    from trustscope.rumour.model import DEFAULT_DIR

    small = DEFAULT_DIR.parent / "trustscope-sentiment-zh"
    assert load_embedder(tmp_path) is None  # no weights at all
    if (small / "model.safetensors").exists():
        assert load_embedder(small, expected_id="0" * 64) is None  # other weights: not even loaded
        assert encoder_id(small) != "0" * 64
