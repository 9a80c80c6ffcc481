"""Near-duplicate / template detector on hand-made texts."""

from trustscope.integrity.detectors import duplicate


def test_skeleton_folds_template_slots():
    a = duplicate.skeleton("在稳盈宝理财3个月了，收益稳定！客服Amy很耐心👍👍")
    b = duplicate.skeleton("在稳盈宝理财12个月了。收益稳定~ 客服Tony很耐心😊")
    assert a == b
    assert "0" in a and "a" in a and "👍" not in a and "，" not in a


def test_skeleton_folds_traditional_and_fullwidth():
    assert duplicate.skeleton("這個平台很穩定，收益１２％") == duplicate.skeleton("这个平台很稳定，收益12%")


def test_template_variants_are_similar_and_unrelated_texts_are_not():
    tpl = "在{p}理财{n}个月了，收益稳定，提现{m}分钟就到账，客服{name}特别耐心，推荐给大家"
    a = duplicate.signature(duplicate.skeleton(tpl.format(p="稳盈宝", n=3, m=5, name="小王")))
    b = duplicate.signature(duplicate.skeleton(tpl.format(p="稳盈宝", n=14, m=30, name="刘姐")))
    c = duplicate.signature(duplicate.skeleton("外卖送得很慢，饭都凉了，包装也破了，不会再点这家了"))
    rep_a = duplicate.compact(a)
    assert duplicate.jaccard_compact(b, rep_a) >= duplicate.MATCH_JACCARD
    assert duplicate.jaccard_compact(c, rep_a) < 0.2
    # identical skeletons share every LSH band; unrelated texts share none
    assert duplicate.band_keys(a) == duplicate.band_keys(a.copy())
    assert not set(duplicate.band_keys(a)) & set(duplicate.band_keys(c))


def test_signature_is_stable_across_calls():
    s = duplicate.skeleton("收益稳定，提现很快，推荐")
    assert (duplicate.signature(s) == duplicate.signature(s)).all()
    assert len(duplicate.signature(s)) == duplicate.NUM_PERM


def test_compact_representatives_round_trip_and_bad_input_is_harmless():
    rep = duplicate.compact(duplicate.signature("收益稳定提现很快推荐大家"))
    assert len(rep) == duplicate.NUM_PERM
    assert duplicate.split_reps(rep + rep) == [rep, rep] and duplicate.split_reps(b"") == []
    assert duplicate.jaccard_compact(duplicate.signature("abc"), b"short") == 0.0
    assert len(duplicate.cluster_id("x" * 64)) == 8


def test_bands_are_scoped_by_platform():
    sig = duplicate.signature("收益稳定提现很快推荐大家")
    assert not set(duplicate.band_keys(sig, "p1")) & set(duplicate.band_keys(sig, "p2"))


def test_score_grows_with_cluster_size():
    assert duplicate.score(1).score == 0.0
    assert 0 < duplicate.score(3).score < duplicate.score(5).score == 1.0
    assert "5 reviews" in duplicate.score(5).reason
