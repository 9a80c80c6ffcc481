"""Model v4's post-only band: the author's track record (fitted on training rows only, out of fold
for the stackers' own rows), the optional NB word view (off in the shipped recipe) and its export,
and older model files still loading."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("jieba")

from trustscope.rumour import training as T  # noqa: E402
from trustscope.rumour.events import Author, parse_event  # noqa: E402
from trustscope.rumour.features import author_key, word_tokens  # noqa: E402
from trustscope.rumour.history import HISTORY_NAMES, AuthorHistory  # noqa: E402
from trustscope.rumour.model import ALL_NAMES, POST_EXTRA_NAMES, RumourModel  # noqa: E402

T0 = 1_400_000_000


def rows(n: int = 60, authors: int | None = None, seed: int = 3) -> list[dict]:
    """Rumour posts ('网传 ... 紧急扩散') and others ('官方 发布 通知'), each by account
    ``i % authors`` (every event its own account when ``authors`` is None)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rumour = i % 2 == 0
        words = ["网传", "紧急扩散", "据说有人"] if rumour else ["官方发布", "通知如下", "今日天气"]
        text = "，".join(rng.choice(words) for _ in range(3)) + f"。编号{i}号事件{rng.randint(0, 10**6)}"
        acct = i if authors is None else i % authors
        user = {"followers": rng.randint(10, 10**5), "friends": 100, "gender": "m",
                "time": T0 - 86400 * (400 + acct)}
        out.append({"id": f"e{i}", "label": "rumour" if rumour else "non_rumour", "text": text,
                    "time": T0 + i, "user": user, "reposts": []})
    return out


def dataset(data: list[dict]) -> T.Dataset:
    events = [parse_event(r) for r in data]
    y = np.asarray([1 if r["label"] == "rumour" else 0 for r in data])
    return T.build_post_only(events, y)


def test_author_key_is_the_account_creation_second_and_gender_not_the_drifting_counts():
    a = Author(created_at=1_300_000_000.0, gender_male=True, followers=10)
    same_account_later = Author(created_at=1_300_000_000.0, gender_male=True, followers=99)
    assert author_key(a) == author_key(same_account_later)
    assert author_key(a) != author_key(Author(created_at=1_300_000_000.0))
    assert author_key(a) != author_key(Author(created_at=1_300_000_001.0, gender_male=True))
    assert author_key(Author()) is None and author_key(None) is None


def test_author_history_counts_training_labels_and_knows_no_one_else():
    ds = dataset(rows(12, authors=3))
    hist = AuthorHistory.fit(ds.events[:9], ds.y[:9])
    # account 0 posted events 0, 3, 6 (rumour, non, rumour); account 1: 1, 4, 7 (non, rumour, non)
    got = hist.features([ds.events[0], ds.events[1]])
    np.testing.assert_allclose(got, np.log1p([[2, 1], [1, 2]]))
    stranger = parse_event({"text": "x", "time": T0, "user": {"time": T0 - 5}})
    anon = parse_event({"text": "x", "time": T0})
    np.testing.assert_array_equal(hist.features([stranger, anon]), np.zeros((2, len(HISTORY_NAMES))))
    again = AuthorHistory.from_arrays(hist.arrays())
    np.testing.assert_array_equal(again.features(ds.events), hist.features(ds.events))


def test_the_stackers_never_see_a_post_s_own_label_in_its_author_record():
    """Every event by its own account: a record fitted on all training rows would hand each row its
    own label (a perfect, leaking column); out of fold, every training row's record is empty."""
    ds = dataset(rows(60))
    band = T.fit_post_band(ds, np.arange(60), inner_folds=3)
    cols = [ALL_NAMES.index(n) for n in HISTORY_NAMES]
    assert np.abs(band.train_z[:, cols]).max() == 0.0
    # with shared accounts the record does fill in (from the other inner folds' posts only)
    shared = dataset(rows(60, authors=6))
    band = T.fit_post_band(shared, np.arange(60), inner_folds=3)
    assert np.abs(band.train_z[:, cols]).max() > 0.0
    assert int(band.history.total.sum()) == 60


def test_word_view_export_gives_the_fitted_logits():
    ds = dataset(rows(60))
    fitted = T.fit_word_view(ds.word_counts()[:40], ds.y[:40])
    view = fitted.export(ds.word_terms)
    texts = [e.text for e in ds.events[40:]] + ["网传 紧急扩散", "", "从未见过的词"]
    want = fitted.logits(ds.word_counts()[40:])
    np.testing.assert_allclose(view.logits(texts)[:20], want, atol=1e-9)
    assert view.logit("") == pytest.approx(float(fitted.lr.intercept_[0]))
    assert "网传" in word_tokens("网传紧急扩散") or "网" in word_tokens("网传紧急扩散")


def test_the_shipped_recipe_reads_the_record_but_not_the_word_view():
    """v4.1: the word view lost on the time split and cost ~3.6x text-only throughput, so it is off."""
    assert T.POST_PARTS == T.PostBandParts(word_view=False, author_record=True)
    band = T.fit_post_band(dataset(rows(60, authors=6)), np.arange(60), inner_folds=3)
    assert band.words is None and band.history is not None
    assert all("words_logit" not in st.names for st in band.stackers.values())
    assert set(HISTORY_NAMES) <= set(band.stackers["h0.a.txt"].names)


WITH_WORDS = T.PostBandParts(word_view=True, author_record=True)


@pytest.fixture(scope="module", params=[T.POST_PARTS, WITH_WORDS], ids=["shipped", "with-word-view"])
def model_dir(request, tmp_path_factory):
    parts = request.param
    ds = dataset(rows(60, authors=6))
    band = T.fit_post_band(ds, np.arange(60), inner_folds=3, parts=parts)
    post = T.fit_view(ds.post, ds.y, T.POST_PARAMS)
    words = None if band.words is None else band.words.export(ds.word_terms)
    model = RumourModel(post.export("post", ds.terms), post.export("comments", ds.terms),
                        [T.BANDS[0], T.BANDS[-1]],
                        {**band.stackers, **{k.replace("h0.", "all.", 1): v for k, v in band.stackers.items()}},
                        None, 0.5, {"engine": "rumour-test"}, words, band.history)
    directory = tmp_path_factory.mktemp("rumour-v4")
    model.save(directory)
    return ds, model, directory, parts


def test_only_the_profiled_post_only_stacker_reads_the_record(model_dir):
    _, model, _, parts = model_dir
    with_a, without = model.stackers["h0.a.txt"], model.stackers["h0.na.txt"]
    assert set(HISTORY_NAMES) <= set(with_a.names) and not set(HISTORY_NAMES) & set(without.names)
    for st in (with_a, without):
        assert ("words_logit" in st.names) == parts.word_view


def test_a_v4_model_round_trips_and_scores_from_its_files(model_dir):
    ds, model, directory, parts = model_dir
    loaded = RumourModel.load(directory)
    assert (loaded.words is not None) == parts.word_view
    assert (directory / "words.vocab.json").exists() == parts.word_view
    alone = [e.truncated(0.0) for e in ds.events]
    np.testing.assert_allclose(loaded.predict_proba(alone), model.predict_proba(alone), atol=1e-9)
    z = loaded.stack_inputs(alone)
    assert (np.abs(z[:, ALL_NAMES.index("words_logit")]).max() > 0) == parts.word_view
    assert np.abs(z[:, ALL_NAMES.index("log_author_rumours")]).max() > 0


def test_a_model_file_from_before_v4_loads_and_scores_as_it_did(model_dir, tmp_path):
    """A v3 file: stack_names without the v4 columns, no word view, no record; it must load and
    give what its own stackers give (the v4 columns, absent, are read by none of them)."""
    ds, model, directory, _ = model_dir
    old_names = [n for n in ALL_NAMES if n not in POST_EXTRA_NAMES]
    alone = [e.truncated(0.0) for e in ds.events]
    z = model.stack_inputs(alone)
    cols = np.asarray([ALL_NAMES.index(n) for n in ("post_logit", "log_followers", "log_post_len")])
    stackers = {k: T._fit_stacker(z, ds.y, cols) for k in model.stackers}
    v3 = RumourModel(model.post, model.comments, model.bands, stackers, None, 0.5, {"engine": "rumour-test"})
    v3.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta.pop("word_view"), meta.pop("author_history")
    (tmp_path / "model.json").write_text(json.dumps({**meta, "stack_names": old_names}))
    loaded = RumourModel.load(tmp_path)
    assert loaded.words is None and loaded.history is None and not loaded.extra_bands
    np.testing.assert_allclose(loaded.predict_proba(alone), v3.predict_proba(alone), atol=1e-12)


def test_a_stacker_reading_a_missing_part_is_refused(model_dir, tmp_path):
    _, model, _, parts = model_dir
    broken = RumourModel(model.post, model.comments, model.bands, model.stackers, None, 0.5, {}, None, None)
    broken.save(tmp_path)
    with pytest.raises(ValueError, match="words_logit" if parts.word_view else "log_author"):
        RumourModel.load(tmp_path)


def test_refitting_the_post_band_with_the_shipped_recipe_drops_the_word_view(model_dir):
    """`train --encoder-view-only` (how v4.1 was made from v4): the refit band follows POST_PARTS,
    and a v4 model's word view and its settings do not survive it."""
    ds, model, _, parts = model_dir
    old = RumourModel(model.post, model.comments, model.bands, model.stackers, None, 0.5,
                      {**model.meta, **T.post_band_meta(parts)}, model.words, model.history)
    refit = T.with_encoder_view(old, ds, inner_folds=3)
    assert refit.words is None and refit.history is not None
    assert "word_params" not in refit.meta and refit.meta["post_band_parts"]["word_view"] is False
    h0 = {k: v for k, v in refit.stackers.items() if k.startswith("h0.")}
    assert h0 and all("words_logit" not in st.names for st in h0.values())
