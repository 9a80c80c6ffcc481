"""Pure parts of the rollup-backed sentiment analytics: which days are whole, bucket keys and gaps."""

from __future__ import annotations

from datetime import date, datetime, timezone

from services.gateway.queries import SearchFilters
from services.gateway.sentiment_view import Counts, SentimentQuery, _Plan, _rollups_can_answer, bucket_start, timeline
from trustscope.es.rollup import PlatformDay, local_day

SH = "Asia/Shanghai"


def _ms(y: int, m: int, d: int, tz: str = SH) -> int:
    from zoneinfo import ZoneInfo

    return int(datetime(y, m, d, tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def test_partial_days_at_the_edges_are_live_and_whole_days_are_rolled_up():
    # 2026-03-09 12:00 Shanghai .. 2026-03-12 00:00 Shanghai: the 9th is partial, 10-11 are whole
    plan = _Plan.make(SearchFilters(since=datetime(2026, 3, 9, 4, tzinfo=timezone.utc),
                                    until=datetime(2026, 3, 11, 16, tzinfo=timezone.utc)))
    assert plan.edges == [date(2026, 3, 9)] and (plan.first_full, plan.last_full) == (date(2026, 3, 10), date(2026, 3, 11))
    assert plan.is_full_day(date(2026, 3, 11)) and not plan.is_full_day(date(2026, 3, 9))
    same_day = _Plan.make(SearchFilters(since=datetime(2026, 3, 9, 1, tzinfo=timezone.utc),
                                        until=datetime(2026, 3, 9, 3, tzinfo=timezone.utc)))
    assert same_day.empty and same_day.edges == [date(2026, 3, 9)]
    open_ended = _Plan.make(SearchFilters())
    assert open_ended.edges == [] and open_ended.is_full_day(date(1999, 1, 1))
    assert local_day("2026-03-09T16:30:00Z") == date(2026, 3, 10)  # past midnight in Shanghai
    assert PlatformDay.parse("jd-finance|2026-03-09") == PlatformDay("jd-finance", date(2026, 3, 9))


def test_only_what_rollups_hold_is_answered_from_them():
    assert _rollups_can_answer(SentimentQuery(SearchFilters(kind="review", sentiment="negative"), "week"))
    assert not _rollups_can_answer(SentimentQuery(SearchFilters(q="催收"), "day"))
    assert not _rollups_can_answer(SentimentQuery(SearchFilters(rumour_min=0.5), "day"))
    assert not _rollups_can_answer(SentimentQuery(SearchFilters(), "hour"))
    assert not _rollups_can_answer(SentimentQuery(SearchFilters(), "day", tz="UTC"))


def test_timeline_fills_gaps_like_min_doc_count_zero_and_formats_keys_as_elasticsearch():
    a = Counts(documents=2, score_sum=1.0, score_n=2)
    a.labels["positive"] = 2
    weeks = timeline({_ms(2026, 3, 2): a, _ms(2026, 3, 23): Counts(documents=1)}, "week", SH, detail=False)
    assert [b["start"] for b in weeks] == ["2026-03-02T00:00:00.000+08:00", "2026-03-09T00:00:00.000+08:00",
                                           "2026-03-16T00:00:00.000+08:00", "2026-03-23T00:00:00.000+08:00"]
    assert weeks[0] == {"start": weeks[0]["start"], "documents": 2, "positive": 2, "negative": 0, "neutral": 0,
                        "avg_score": 0.5}
    assert weeks[1]["documents"] == 0 and weeks[1]["avg_score"] is None
    months = timeline({_ms(2025, 12, 1): a, _ms(2026, 2, 1): a}, "month", SH, detail=True)
    assert [b["start"][:10] for b in months] == ["2025-12-01", "2026-01-01", "2026-02-01"]
    assert months[1]["rumour_mentions"] == 0 and months[1]["verdicts"] == {}
    assert bucket_start(_ms(2026, 3, 9, "UTC"), "UTC") == "2026-03-09T00:00:00.000Z"
    # across a daylight-saving change the next local midnight is 23 hours later
    ny = timeline({_ms(2026, 3, 7, "America/New_York"): a, _ms(2026, 3, 9, "America/New_York"): a},
                  "day", "America/New_York", detail=False)
    assert [b["start"] for b in ny] == ["2026-03-07T00:00:00.000-05:00", "2026-03-08T00:00:00.000-05:00",
                                        "2026-03-09T00:00:00.000-04:00"]


def test_required_phrases_only_for_plain_conjunctions():
    from services.gateway.queries import required_phrases

    assert required_phrases("提現困難") == ["提现困难"]  # simplified, as the query is
    assert required_phrases("催收 同事") == ["催收", "同事"]
    assert required_phrases('abc提现 "hello world"') == ["提现"]  # other clauses are ANDed too
    for q in ("同事 | 跑路", "催收 -同事", "(催收)", "+催收", "催收\\", "app", "   "):
        assert required_phrases(q) is None, q
