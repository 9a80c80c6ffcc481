"""Platform pages over the real pipeline: score and history from the maintained state, sentiment,
open alerts from the alerts index (details only for roles that may see them), the trust index with
its components, and degradation when Elasticsearch is unreachable."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from services.gateway.app import create_app
from tests.integration.helpers import ADMIN, ALERTS, READER, free_port
from tests.integration.scored_corpus import run_corpus
from trustscope.alerts.index import AlertIndices, index_alerts
from trustscope.alerts.models import Alert

pytestmark = pytest.mark.integration
PLATFORM = "alipay"


def _alert(i: int, status: str = "open") -> Alert:
    now = datetime.now(timezone.utc)
    return Alert(id=f"al-{i}", story_id=f"st-{i}", platform=PLATFORM, kind="rumour", status=status, severity=60.0 + i,
                 level="high", headline=f"听说{PLATFORM}要暴雷 {i}", headline_id=f"h{i}", volume=12, reposts=3, authors=7,
                 velocity_per_min=1.5, rumour_prob=0.8, negative_share=0.7, surprise=6.0, baseline_per_window=0.2,
                 first_seen=now, last_seen=now, opened_at=now, updated_at=now)


@pytest.fixture()
def request_cleanup():
    """Remove the alerts template this test installs (the ``es`` fixture removes the indices)."""
    made = []
    yield lambda es, indices: made.append((es, indices))
    for es, indices in made:
        es.options(ignore_status=404).indices.delete_index_template(name=indices.template)


def test_platform_page(settings, rclient, es, stages, pipeline, live_server, request_cleanup):
    run_corpus(settings, rclient, es, stages, pipeline)
    alert_indices = AlertIndices(settings.es_index_prefix)
    gw = settings.model_copy(update={"score_min_verified": 5})
    with live_server(create_app(gw)) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        page = c.get(f"/v1/platforms/{PLATFORM}/page").json()
        assert page["unavailable"] == [] and page["open_alerts_count"] == 0  # no alerts index yet: none
        score = c.get(f"/v1/platforms/{PLATFORM}/score").json()
        assert page["score"]["verified_score"] == score["verified_score"] and page["score"]["status"] == "ok"
        assert page["score_history"] and page["score_history"][-1]["verified"] == score["verified"]
        days = page["sentiment"]["daily"]
        assert sum(d["documents"] for d in days) == score["total"]
        assert sum(d["positive"] + d["negative"] + d["neutral"] for d in days) == score["total"]
        ti = page["trust_index"]
        assert ti["status"] == "ok" and 0 <= ti["index"] <= 100
        comps = {x["name"]: x for x in ti["components"]}
        assert set(comps) == {"satisfaction", "word_of_mouth", "violations", "rumour_load"}
        assert comps["satisfaction"]["value"] == round((score["verified_score"] - 1) / 4, 4)
        assert comps["violations"]["basis"]["reviews"] == score["total"]

        alert_indices.migrate(es)
        request_cleanup(es, alert_indices)
        index_alerts(es, alert_indices, [_alert(1), _alert(2), _alert(3, status="resolved")], refresh=True)
        public = c.get(f"/v1/platforms/{PLATFORM}/page").json()
        assert public["open_alerts_count"] == 2 and public["open_alerts"] is None
        risk = c.get(f"/v1/platforms/{PLATFORM}/page", headers=ALERTS).json()
        assert [a["id"] for a in risk["open_alerts"]] == ["al-2", "al-1"]  # by severity
        assert c.get(f"/v1/platforms/{PLATFORM}/page", headers=READER).json()["open_alerts"]
        assert c.get(f"/v1/platforms/{PLATFORM}/page", headers=ADMIN).json()["open_alerts"]
        loaded = {x["name"]: x for x in risk["trust_index"]["components"]}["rumour_load"]
        assert loaded["basis"]["open_alerts"] == 2 and loaded["value"] < comps["rumour_load"]["value"]
        assert c.get(f"/v1/platforms/{PLATFORM}/page", params={"days": 3}).status_code == 422
        assert c.get("/v1/platforms/nope/page").status_code == 404

    down = gw.model_copy(update={"es_url": f"http://127.0.0.1:{free_port()}"})
    with live_server(create_app(down)) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.get(f"/v1/platforms/{PLATFORM}/page")
        assert r.status_code == 200
        page = r.json()
        assert page["score"]["verified_score"] == score["verified_score"] and page["score_history"]
        assert page["sentiment"] is None and set(page["unavailable"]) == {"sentiment", "alerts"}
        assert page["trust_index"]["status"] == "withheld" and page["trust_index"]["index"] is None
