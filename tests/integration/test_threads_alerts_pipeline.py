"""Threads and alerts through the real pipeline: posts with parents go in over HTTP, through the
sentiment, integrity and indexer stages into Elasticsearch with parent_id/root_id/depth, the gateway
returns the thread, and the alerter (on its own tap stream) turns the spreading claim into one alert."""

from __future__ import annotations


import httpx
import orjson
import pytest

from services.alerter.stage import AlerterStage
from services.gateway.app import create_app as create_gateway
from services.ingest.app import create_app as create_ingest
from tests.integration.helpers import ALERTS, INGEST, READER, Pipeline, wait_until
from trustscope.alerts.config import AlertConfig
from trustscope.alerts.engine import AlertEngine
from trustscope.alerts.index import AlertIndices
from trustscope.bus import StreamBus
from trustscope.schemas import utcnow

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _post(sid: str, text: str, author: str, minutes_ago: float, **thread) -> dict:
    created = utcnow().timestamp() - minutes_ago * 60
    return {"kind": "social", "source": "weibo", "source_id": sid, "text": text, "author": {"id": author},
            "created_at": created, **thread}


def test_threads_reach_es_and_the_claim_becomes_one_alert(settings, rclient, es, stages, live_server):
    alert_indices = AlertIndices(settings.es_index_prefix)
    alert_indices.migrate(es, replicas=0)
    tapped = StreamBus(rclient, settings.stream_prefix, settings.max_deliveries, settings.claim_idle_ms,
                       taps={"verified": ["alerting"]})
    alerter = AlerterStage(AlertEngine(rclient, AlertConfig.from_settings(settings)), es, alert_indices)
    root = _post("r0", "听说小赢卡贷跑路了，提现困难，有人知道吗", "u0", 9)
    replies = [_post("c1", "真的假的？求证", "u1", 8, parent_id="r0", root_id="r0"),
               _post("c2", "我也提现不了", "u2", 7, parent_id="c1", root_id="r0", depth=2),
               _post("c3", "转发", "u3", 6, parent_id="r0")]
    copies = [_post(f"d{i}", f"小赢卡贷跑路了！提现困难，大家快把钱取出来 {'!' * i}", f"v{i}", 5 - i * 0.5)
              for i in range(5)]
    try:
        with live_server(create_ingest(settings)) as ingest, live_server(create_gateway(settings)) as gw, \
                Pipeline(settings, tapped, [*stages, alerter]):
            with httpx.Client(base_url=ingest.url, headers=INGEST, timeout=60) as c:
                body = b"\n".join(orjson.dumps(p) for p in [root, *replies, *copies])
                result = c.post("/v1/documents/batch", content=body).json()
                assert result["accepted"] == 9, result
            ids = dict(zip([p["source_id"] for p in [root, *replies, *copies]], result["ids"]))
            alias = f"{settings.es_index_prefix}-docs"

            def indexed() -> bool:
                es.indices.refresh(index=alias)
                return es.count(index=alias)["count"] >= 9

            wait_until(indexed, timeout=120)
            c2 = es.get(index=alias, id=ids["c2"])["_source"]
            assert (c2["parent_id"], c2["root_id"], c2["depth"]) == (ids["c1"], ids["r0"], 2)
            c3 = es.get(index=alias, id=ids["c3"])["_source"]
            assert (c3["parent_id"], c3["root_id"], c3["depth"]) == (ids["r0"], ids["r0"], 1)
            assert "parent_id" not in es.get(index=alias, id=ids["r0"])["_source"]
            assert es.count(index=alias, query={"term": {"root_id": ids["r0"]}})["count"] == 3

            with httpx.Client(base_url=gw.url, timeout=30) as g:
                thread = g.get(f"/v1/documents/{ids['c2']}/thread", headers=READER).json()
                assert thread["root_id"] == ids["r0"] and thread["root_indexed"] and thread["total"] == 4
                assert [p["id"] for p in thread["posts"]][0] == ids["r0"]
                assert [p.get("depth", 0) for p in thread["posts"]] == sorted(p.get("depth", 0) for p in thread["posts"])
                assert g.get(f"/v1/documents/{ids['c2']}/thread", headers=ALERTS).status_code == 200
                assert g.get(f"/v1/documents/{ids['c2']}/thread").status_code == 401
                assert g.get("/v1/documents/nope/thread", headers=READER).status_code == 404

                def alerted() -> list:
                    return g.get("/v1/alerts", params={"platform": "xiaoying"}, headers=ALERTS).json()["alerts"]

                alerts = wait_until(alerted, timeout=60)
            assert len(alerts) == 1
            alert = alerts[0]
            # root, its three replies (by thread) and the five copies (by MinHash): one story
            assert alert["volume"] == 9 and alert["reposts"] == 3 and alert["authors"] == 9
            assert alert["kind"] == "rumour" and alert["rumour_prob"] >= 0.5 and alert["latency_s"] < 60
            assert set(alert["terms"]) >= {"跑路", "提现困难"}
    finally:
        es.options(ignore_status=404).indices.delete_index_template(name=alert_indices.template)
