"""The alert rules and the Grafana dashboard only name metrics the services export, and a worker's
HTTP side answers /metrics, /healthz and /readyz (503 until its loop takes work)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import yaml
from prometheus_client import REGISTRY

import trustscope.observability as obs  # noqa: F401 - registers the metrics
from tests.integration.helpers import free_port

INFRA = Path(__file__).resolve().parents[2] / "infra"
NAME = re.compile(r"\btrustscope_[a-z_]+")


def _exported() -> set[str]:
    import services.indexer.stage  # noqa: F401
    import trustscope.pollers.metrics  # noqa: F401
    import trustscope.resilience  # noqa: F401
    import trustscope.worker  # noqa: F401

    names: set[str] = set()
    for family in REGISTRY.collect():
        names |= {family.name + s for s in ("", "_total", "_bucket", "_sum", "_count", "_created")}
    return names


def test_alert_rules_name_exported_metrics() -> None:
    rules = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert len(exprs) >= 5
    used = {n for e in exprs for n in NAME.findall(e)}
    assert {"trustscope_stream_lag", "trustscope_dead_letters_total"} <= used
    assert used <= _exported(), used - _exported()


def test_dashboard_names_exported_metrics() -> None:
    dash = json.loads((INFRA / "grafana" / "trustscope-pipeline.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {n for e in exprs for n in NAME.findall(e)}
    assert used <= _exported(), used - _exported()
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])


def test_worker_http_readiness() -> None:
    port = free_port()
    http = obs.WorkerHTTP(port, host="127.0.0.1")
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 503  # not started yet
        http.status = lambda: {"ready": False, "dependencies_down": ["elasticsearch"]}
        r = httpx.get(f"{base}/readyz")
        assert r.status_code == 503 and r.json()["dependencies_down"] == ["elasticsearch"]
        http.status = lambda: {"ready": True, "dependencies_down": []}
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert "trustscope_stage_messages" in httpx.get(f"{base}/metrics").text
    finally:
        http.close()
