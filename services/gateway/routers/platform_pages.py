"""Platform pages (public): verified score and its daily history, sentiment over time, open rumour
alerts and the trust index with every component beside it (``trustscope.scores.trust``).

Open alerts come from the alerts index (``{es_index_prefix}-alerts``, written by the rumour work);
a missing index means no alerts. Anyone sees how many are open; their headlines and figures go only
to keys that may see alerts for this platform (risk_team, regulator, admin, or the platform's own
key). With Elasticsearch down the page still answers: score and history come from Redis, the
ES-backed parts are null and listed in ``unavailable``, and the trust index is withheld.
"""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import Elasticsearch, NotFoundError
from fastapi import APIRouter, Query, Request

from services.gateway import scores
from services.gateway.deps import ES, Indices, KnownPlatform, PrincipalDep, SettingsDep
from trustscope.auth import Principal
from trustscope.observability import get_logger
from trustscope.scores import trust

log = get_logger("trustscope.gateway.platform_pages")
router = APIRouter(tags=["platform pages"])
ES_TIMEOUT_S = 3.0
ALERT_FIELDS = ["id", "platform", "kind", "status", "level", "severity", "headline", "volume", "authors",
                "first_seen", "last_seen", "opened_at", "rumour_prob", "negative_share"]


def sentiment_body(platform_id: str, days: int, tz: str) -> dict[str, Any]:
    """Daily sentiment of everything about the platform, plus the two 30-day windows of the index."""
    labels = {"terms": {"field": "sentiment.label", "size": 5}}
    rumour = {"filter": {"range": {"rumour.score": {"gte": trust.RUMOUR_THRESHOLD}}}}
    w = trust.WINDOW_DAYS
    return {"size": 0, "query": {"bool": {"filter": [{"term": {"platforms": platform_id}},
                                                      {"range": {"created_at": {"gte": f"now-{max(days, 2 * w)}d/d"}}}]}},
            "aggs": {
                "daily": {"filter": {"range": {"created_at": {"gte": f"now-{days}d/d"}}},
                          "aggs": {"days": {"date_histogram": {"field": "created_at", "calendar_interval": "day",
                                                               "time_zone": tz, "min_doc_count": 0},
                                            "aggs": {"labels": labels, "avg": {"avg": {"field": "sentiment.score"}},
                                                     "rumour": rumour}}}},
                "recent": {"filter": {"range": {"created_at": {"gte": f"now-{w}d"}}}, "aggs": {"labels": labels, "rumour": rumour}},
                "previous": {"filter": {"range": {"created_at": {"gte": f"now-{2 * w}d", "lt": f"now-{w}d"}}},
                             "aggs": {"labels": labels}},
            }}


def _labels(bucket: dict[str, Any]) -> dict[str, int]:
    return {b["key"]: b["doc_count"] for b in bucket["labels"]["buckets"]}


def sentiment(es: Elasticsearch, index: str, platform_id: str, days: int, tz: str) -> dict[str, Any]:
    aggs = es.options(request_timeout=ES_TIMEOUT_S, max_retries=0).search(
        index=index, **sentiment_body(platform_id, days, tz)).body["aggregations"]
    daily = [{"date": b["key_as_string"][:10], "documents": b["doc_count"], **{k: 0 for k in ("positive", "negative", "neutral")},
              **_labels(b), "avg_score": None if b["avg"]["value"] is None else round(b["avg"]["value"], 4),
              "rumour_mentions": b["rumour"]["doc_count"]} for b in aggs["daily"]["days"]["buckets"]]
    return {"daily": daily, "recent": _labels(aggs["recent"]), "previous": _labels(aggs["previous"]),
            "recent_documents": aggs["recent"]["doc_count"], "recent_rumour": aggs["recent"]["rumour"]["doc_count"]}


def open_alerts(es: Elasticsearch, index_prefix: str, platform_id: str) -> list[dict[str, Any]]:
    try:
        body = es.options(request_timeout=ES_TIMEOUT_S, max_retries=0).search(
            index=f"{index_prefix}-alerts", size=50, ignore_unavailable=True, source=ALERT_FIELDS,
            query={"bool": {"filter": [{"term": {"platform": platform_id}}, {"term": {"status": "open"}}]}},
            sort=[{"severity": {"order": "desc", "unmapped_type": "float"}}]).body
    except NotFoundError:
        return []
    return [h["_source"] for h in body["hits"]["hits"]]


def may_see_alerts(principal: Principal, platform_id: str) -> bool:
    if principal.has("risk_team") or principal.has("regulator"):
        return True
    return principal.has("platform") and principal.may_access_platform(platform_id)


@router.get("/v1/platforms/{platform_id}/page", summary="Platform page: score, history, sentiment, alerts, trust index")
def platform_page(request: Request, platform: KnownPlatform, es: ES, indices: Indices, settings: SettingsDep,
                  principal: PrincipalDep,
                  days: Annotated[int, Query(ge=7, le=365, description="days of daily sentiment")] = 90,
                  tz: Annotated[str, Query(max_length=40, pattern=r"^[A-Za-z_+\-/0-9]+$")] = "Asia/Shanghai",
                  lang: Annotated[str, Query(pattern="^(zh|en)$")] = "en") -> dict[str, Any]:
    store = scores.store_of(request)
    score = scores.platform_score_view(store, platform.id, settings.score_min_verified, lang).to_dict()
    unavailable: list[str] = []
    try:
        senti: dict[str, Any] | None = sentiment(es, indices.read_alias, platform.id, days, tz)
    except Exception as exc:  # noqa: BLE001 - the page degrades; the error is logged
        log.warning("platform_page.sentiment_unavailable", platform=platform.id, error=type(exc).__name__)
        senti, unavailable = None, [*unavailable, "sentiment"]
    try:
        alerts: list[dict[str, Any]] | None = open_alerts(es, settings.es_index_prefix, platform.id)
    except Exception as exc:  # noqa: BLE001
        log.warning("platform_page.alerts_unavailable", platform=platform.id, error=type(exc).__name__)
        alerts, unavailable = None, [*unavailable, "alerts"]
    components = [
        trust.satisfaction(score),
        trust.word_of_mouth(senti["recent"] if senti else None, senti["previous"] if senti else None),
        trust.violations(score),
        trust.rumour_load(senti["recent_rumour"] if senti else None, senti["recent_documents"] if senti else None, alerts),
    ]
    return {
        "platform": platform.model_dump(),
        "score": score,
        "score_history": store.history(platform.id, settings.score_min_verified),
        "sentiment": None if senti is None else {"days": days, "tz": tz, "daily": senti["daily"]},
        "open_alerts_count": None if alerts is None else len(alerts),
        "open_alerts": (alerts if alerts is not None and may_see_alerts(principal, platform.id) else None),
        "trust_index": trust.trust_index(components).model_dump(),
        "unavailable": unavailable,
    }
