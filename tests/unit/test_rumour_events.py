"""Parsing and horizon truncation of rumour events, and the propagation features."""

from __future__ import annotations

import numpy as np
import pytest

from trustscope.rumour.events import MAX_COMMENT_CHARS, EventError, parse_event
from trustscope.rumour.features import DENSE_NAMES, comments_text, dense_features

T0 = 1_400_000_000


def _event(**over):
    obj = {"id": "e1", "text": "网传某平台跑路", "time": T0,
           "user": {"followers": 100, "friends": 10, "verified": True, "verified_type": 0, "time": T0 - 86400},
           "reposts": [
               {"mid": "a", "parent": "", "uid": "u1", "text": "真的假的？", "time": T0 + 60},
               {"mid": "b", "parent": "a", "uid": "u2", "text": "已辟谣", "time": T0 + 3600},
               {"mid": "c", "parent": "b", "uid": "u3", "text": "转发微博", "time": T0 + 3601},
               {"mid": "d", "parent": "a", "uid": "u1", "text": "x" * 1000, "time": T0 + 7200},
           ]}
    obj.update(over)
    return obj


def test_truncation_keeps_reposts_within_horizon_inclusive():
    ev = parse_event(_event())
    assert [r.mid for r in ev.truncated(0).reposts] == []
    assert [r.mid for r in ev.truncated(1).reposts] == ["a", "b"]  # exactly 1 h is within
    assert [r.mid for r in ev.truncated(2).reposts] == ["a", "b", "c", "d"]
    assert ev.truncated(None) is ev
    with pytest.raises(ValueError):
        ev.truncated(-1)


def test_reposts_sorted_and_bad_ones_dropped():
    obj = _event(reposts=[{"mid": "z", "time": T0 + 50, "text": "后"}, "junk", {"mid": "y", "time": "soon"},
                          {"mid": "x", "time": T0 + 10, "text": 5}, {"mid": "w", "time": T0 - 100}])
    ev = parse_event(obj)
    assert [r.mid for r in ev.reposts] == ["w", "x", "z"]  # skewed clock: counts as immediate
    assert ev.reposts[0].time == T0
    assert ev.reposts[1].text == ""
    assert ev.dropped_reposts == 2
    assert len(parse_event(_event()).reposts[3].text) == MAX_COMMENT_CHARS


@pytest.mark.parametrize("obj,field", [
    ([1, 2], "line"), ({"time": T0}, "text"), ({"text": "a"}, "time"), ({"text": "a", "time": "x"}, "time"),
    ({"text": "a", "time": T0, "reposts": {"a": 1}}, "reposts"), ({"text": 3, "time": T0}, "text"),
    ({"text": "a", "time": float("nan")}, "time"), ({"text": "a", "time": True}, "time"),
])
def test_unusable_lines_name_the_field(obj, field):
    with pytest.raises(EventError, match=f"^{field}"):
        parse_event(obj)


def test_missing_optional_fields_are_no_evidence():
    ev = parse_event({"text": "帖子", "time": T0})
    assert ev.id is None and ev.author is None and ev.reposts == []
    row = dense_features(ev.truncated(0))
    assert row.shape == (len(DENSE_NAMES),) and np.isfinite(row).all()
    assert parse_event({"text": "帖子", "time": T0, "user": "empty"}).author is None


def test_tree_velocity_and_doubt_features():
    ev = parse_event(_event())
    f = dict(zip(DENSE_NAMES, dense_features(ev.truncated(2))))
    assert f["log_reposts"] == pytest.approx(np.log1p(4))
    assert f["log_velocity_per_h"] == pytest.approx(np.log1p(2.0))  # 4 reposts in a 2 h window
    assert f["max_depth"] == pytest.approx(np.log1p(3))  # a -> b -> c
    assert f["frac_root_children"] == pytest.approx(0.25)
    assert f["log_max_fanout"] == pytest.approx(np.log1p(2))  # a has b and d
    assert f["distinct_user_ratio"] == pytest.approx(0.75)
    assert f["frac_doubt"] == pytest.approx(0.5)  # 真的假的, 辟谣
    assert f["frac_boilerplate"] == pytest.approx(0.25)
    assert f["log_min_to_1"] == pytest.approx(np.log1p(1.0))
    assert f["verified"] == 1.0 and f["has_author"] == 1.0
    early = dict(zip(DENSE_NAMES, dense_features(ev.truncated(0))))
    assert early["log_reposts"] == 0.0 and early["has_reposts"] == 0.0
    assert "转发微博" not in comments_text(ev) and "真的假的" in comments_text(ev)


def test_horizon_zero_is_the_post_alone_even_with_reposts_at_the_posts_second():
    ev = parse_event(_event(reposts=[{"mid": "a", "text": "同时转发", "time": T0},
                                     {"mid": "b", "text": "时钟偏差", "time": T0 - 30}]))
    assert [r.time for r in ev.reposts] == [T0, T0]  # a skewed clock counts as immediate
    assert ev.truncated(0).reposts == [] and ev.truncated(0).horizon_hours == 0
    assert len(ev.truncated(0.01).reposts) == 2
