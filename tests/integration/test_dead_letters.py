"""A message that keeps failing goes to the dead-letter stream; an admin lists and replays it."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.app import create_app as create_gateway
from tests.integration.helpers import ADMIN, READER, wait_until
from trustscope.worker import StreamWorker

pytestmark = pytest.mark.integration


class FlakyStage:
    name = "sentiment"
    source = "ingest"
    dest = "scored"

    def __init__(self) -> None:
        self.broken = True

    def process(self, messages):
        if self.broken and any(m.fields.get("poison") for m in messages):
            raise ValueError("cannot parse this document")
        return [{"doc": m.fields["doc"]} for m in messages]


def test_poison_message_is_dead_lettered_and_replayable(settings, bus, es, live_server):
    bus.publish("ingest", [{"doc": "{}", "n": "1"}, {"doc": "{}", "poison": "1"}, {"doc": "{}", "n": "3"}])
    stage = FlakyStage()
    worker = StreamWorker(stage, bus, settings)
    bus.ensure_group("ingest", "sentiment")

    def drained() -> bool:
        worker.run_once()
        return bus.backlog("dead") == 1

    wait_until(drained, timeout=30, interval=0.1)
    assert bus.backlog("scored") == 2  # the good ones went on
    assert bus.backlog("ingest") == 0

    with live_server(create_gateway(settings)) as gw, httpx.Client(base_url=gw.url) as client:
        assert client.get("/v1/admin/dead-letters", headers=READER).status_code == 403
        listing = client.get("/v1/admin/dead-letters", headers=ADMIN).json()
        assert listing["total"] == 1
        dead = listing["dead_letters"][0]
        assert dead["stream"] == "ingest" and "cannot parse" in dead["error"]
        assert dead["deliveries"] >= settings.max_deliveries
        stage.broken = False
        r = client.post(f"/v1/admin/dead-letters/{dead['id']}/replay", headers=ADMIN)
        assert r.status_code == 200
        assert client.post(f"/v1/admin/dead-letters/{dead['id']}/replay", headers=ADMIN).status_code == 404
    assert bus.backlog("dead") == 0
    wait_until(lambda: worker.run_once() or bus.backlog("scored") == 3, timeout=10)
