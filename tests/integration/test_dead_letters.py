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


BAD_IDS = ["|", "", "(1", "+", "1-", "abc", "1-2-3", "18446744073709551616-0", "1-18446744073709551616", " 1"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_stream_id_is_checked_before_redis(bus, bad):
    """A malformed id is a StreamIdError (a ValueError) naming the parameter, never a Redis error."""
    from trustscope.bus import StreamIdError

    with pytest.raises(StreamIdError, match="after"):
        bus.dead_letters(10, after=bad)
    with pytest.raises(StreamIdError, match="dead_id"):
        bus.replay_dead_letter(bad)
    with pytest.raises(StreamIdError, match="dead_id"):
        bus.delete_dead_letter(bad)


def test_valid_ids_reach_redis(bus):
    assert bus.dead_letters(10, after="0") == []
    assert bus.dead_letters(10, after="18446744073709551615-18446744073709551615") == []
    assert bus.replay_dead_letter("1-0") is None
    assert bus.delete_dead_letter("1") is False


def test_gateway_answers_json_4xx_to_a_bad_dead_letter_id(settings, live_server):
    with live_server(create_gateway(settings)) as gw, httpx.Client(base_url=gw.url) as client:
        r = client.get("/v1/admin/dead-letters", params={"after": "|"}, headers=ADMIN)
        assert r.status_code == 400 and "after" in r.json()["message"]
        assert client.get("/v1/admin/dead-letters", params={"after": "-"}, headers=ADMIN).status_code == 200
        for method in ("post", "delete"):
            path = "/v1/admin/dead-letters/%7C" + ("/replay" if method == "post" else "")
            r = client.request(method.upper(), path, headers=ADMIN)
            # a malformed id names the field (400); a well-formed unknown one is a 404 (test above)
            assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
            assert "dead_id" in r.json()["message"]
