"""The stream bus on a real 3-master Redis Cluster (Debian's redis-server): with a hash-tagged
prefix (``{ts}``) every key a transaction touches (input stream, output stream, failure counts,
dead letters) hashes to one slot, so forward+ack, dead-lettering, replay and the repair tools run
unchanged, and two worker replicas share the group without loss or duplicates. Pipelines with
different tags land on different masters: that is how the streams spread over the cluster.

Skipped (with the reason) when a cluster cannot be started here."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence

import pytest
from redis.cluster import RedisCluster

from tests.fault.redis_cluster import ClusterUnavailable, LocalRedisCluster
from tests.integration.helpers import wait_until
from trustscope.bus import Message, StreamBus
from trustscope.pipeline_admin import DeadLetterFilter, pipeline_status, remove_dead_consumers, replay_dead_letters
from trustscope.settings import Settings
from trustscope.worker import StreamWorker

pytestmark = [pytest.mark.integration, pytest.mark.fault]
N = 600


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    c = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        c.start()
    except ClusterUnavailable as exc:
        pytest.skip(f"no local Redis Cluster: {exc}")
    try:
        yield c
    finally:
        c.stop()


class EchoStage:
    name = "sentiment"
    source = "ingest"
    dest = "scored"

    def process(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        if any(m.fields.get("poison") for m in messages):
            raise ValueError("poison payload")
        return [{"doc": m.fields["doc"]} for m in messages]


def test_bus_and_two_workers_on_a_3_master_cluster(cluster: LocalRedisCluster) -> None:
    client = RedisCluster.from_url(cluster.url)
    prefix = "{" + f"c{uuid.uuid4().hex[:8]}" + "}"
    settings = Settings(redis_url=cluster.url, redis_cluster=True, stream_prefix=prefix, claim_idle_ms=300,
                        max_deliveries=2, batch_size=32, batch_wait_ms=20, log_json=False, log_level="WARNING")
    bus = StreamBus(client, prefix, settings.max_deliveries, settings.claim_idle_ms)
    assert len({client.keyslot(bus.key(s)) for s in ("ingest", "scored", "dead")}) == 1
    bus.ensure_group("ingest", "sentiment")
    bus.publish("ingest", [{"doc": str(i)} for i in range(N)] + [{"doc": "bad", "poison": "1"}])

    workers = [StreamWorker(EchoStage(), bus, settings, consumer=f"r{i}") for i in range(2)]
    threads = [threading.Thread(target=w.run, kwargs={"max_idle_s": 3.0}, daemon=True) for w in workers]
    for t in threads:
        t.start()
    wait_until(lambda: bus.backlog("scored") >= N and bus.backlog("dead") == 1, timeout=60)
    for w in workers:
        w.stop_event.set()
    for t in threads:
        t.join(timeout=10)
    out = [client.xrange(bus.key("scored"), count=N * 2)]
    docs = [f[b"doc"].decode() for _id, f in out[0]]
    assert sorted(docs, key=int) == [str(i) for i in range(N)]  # none lost, none twice
    consumers = client.xinfo_consumers(bus.key("ingest"), "sentiment")
    assert sorted(c["name"].decode() for c in consumers) == ["r0", "r1"]
    assert all(int(c["pending"]) == 0 for c in consumers)

    st = pipeline_status(bus)
    assert st.dead_by_reason == {"ValueError": 1} and st.stages[0].length == 0
    report = replay_dead_letters(bus, DeadLetterFilter(stage="sentiment"), dry_run=False)
    assert report.replayed == 1 and bus.backlog("ingest") == 1 and bus.backlog("dead") == 0
    assert [c.consumer for c in remove_dead_consumers(bus, idle_ms=0, dry_run=True)] == ["r0", "r1"]

    # two pipelines with different tags: their keys live on different masters
    slots = {client.keyslot("{a}:stream:ingest"), client.keyslot("{b}:stream:ingest")}
    nodes = {client.get_node_from_key(k).port for k in ("{a}:stream:ingest", "{b}:stream:ingest")}
    assert len(slots) == 2 and len(nodes) == 2
    client.close()


def test_intake_on_a_3_master_cluster(cluster: LocalRedisCluster) -> None:
    """Intake's de-duplicate-and-publish script runs as direct calls with one-slot keys: 1,200 lines
    (three script calls) accepted once, re-sent as duplicates, an edit published as an update, and the
    script re-loaded by itself after SCRIPT FLUSH (what a Redis restart does to it)."""
    from trustscope.bus import redis_from_settings
    from trustscope.intake import Intake, redis_client
    from trustscope.samples import reviews
    from trustscope.schemas import DocumentIn

    prefix = "{" + f"i{uuid.uuid4().hex[:8]}" + "}"
    settings = Settings(redis_url=cluster.url, redis_cluster=True, stream_prefix=prefix, log_json=False,
                        log_level="WARNING")
    client = redis_client(settings)
    assert isinstance(client, RedisCluster)
    intake = Intake(client, settings)
    items = [DocumentIn.model_validate(r) for r in reviews(1_200, seed=3)]
    result = intake.submit_lines(list(enumerate(items, start=1)))
    assert not result.failed and len(result.published) == 1_200
    assert {o.status for _line, o in result.published} == {"accepted"}
    assert intake.bus.backlog("ingest") == 1_200
    intake.check_backpressure()  # XLEN of every stage stream, pipelined over the cluster
    assert intake.backlogs()["ingest"] == 1_200

    client.script_flush()  # as after a restart: the next call re-loads the script
    again = intake.submit(items[:10])
    assert [o.status for o in again] == ["duplicate"] * 10
    edited = items[0].model_copy(update={"text": items[0].text + " (edited)"})
    assert [o.status for o in intake.submit([edited])] == ["updated"]
    assert intake.bus.backlog("ingest") == 1_201
    assert client.keyslot(f"{prefix}:seen:{again[0].id}") == client.keyslot(intake.bus.key("ingest"))

    with pytest.raises(ValueError, match="hash tag"):
        redis_from_settings(Settings(redis_url=cluster.url, redis_cluster=True, stream_prefix="ts"))
    for key in client.scan_iter(f"{prefix}:*", count=1000, target_nodes=RedisCluster.ALL_NODES):
        client.delete(key)
    client.close()
