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
from datetime import datetime
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from tests.fault.redis_cluster import ClusterUnavailable, LocalRedisCluster, finish_slot_move, move_slot
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


def _events(n: int, seed: int, offset: int = 0) -> list[Any]:
    from trustscope.integrity import ReviewEvent
    from trustscope.samples import reviews

    out = []
    for i, r in enumerate(reviews(n, seed=seed)):
        out.append(ReviewEvent(
            id=f"e{offset + i}", platform=r["platforms"][0], author_id=r["author"]["id"], rating=r["rating"],
            text=r["text"], created_at=datetime.fromisoformat(r["created_at"]).timestamp(),
            author_created_at=datetime.fromisoformat(r["author"]["created_at"]).timestamp(),
            author_review_count=r["author"]["review_count"], prob_positive=0.2 if r["rating"] <= 2 else 0.8))
    return out


def _verdicts(updates: Sequence[Any]) -> list[tuple[str, str, float, int]]:
    return sorted((u.id, u.verdict, round(u.fake_prob, 4), u.revision) for u in updates)


def test_integrity_store_on_a_cluster_follows_ask_and_moved(cluster: LocalRedisCluster) -> None:
    """The integrity engine's script pipelines run on the master of the prefix's slot and give the
    same verdicts as the in-memory engine, also while that slot is being migrated (ASK: re-sent to
    the importing node; TRYAGAIN: waited out) and after the move (MOVED: slot map re-read)."""
    from trustscope.integrity import IntegrityEngine

    client = RedisCluster.from_url(cluster.url)
    prefix = "{" + f"g{uuid.uuid4().hex[:8]}" + "}:int"
    engine = IntegrityEngine.from_redis(client, prefix=prefix)
    reference = IntegrityEngine.in_memory()
    slot = client.keyslot(prefix)
    src = client.get_node_from_key(prefix).port
    dst = next(p for p in cluster.ports if p != src)
    # near-duplicate texts recur across batches, so later batches read and revise earlier state
    batches = [_events(200, seed=11, offset=0), _events(200, seed=11, offset=200), _events(200, seed=12, offset=400)]

    assert _verdicts(engine.process(batches[0])) == _verdicts(reference.process(batches[0]))
    moved = move_slot(cluster, slot, src, dst, finish=False)  # keys now on dst, slot still MIGRATING
    assert moved > 100
    # mid-migration: single-key commands are answered ASK (re-sent to dst after ASKING); a script
    # over new keys gets TRYAGAIN until the slot is assigned, then MOVED
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(engine.process(batches[1])))
    worker.start()
    worker.join(timeout=1.5)
    assert worker.is_alive() and not result  # waiting out the migration, not failing
    finish_slot_move(cluster, slot, dst)
    worker.join(timeout=30)
    assert result and _verdicts(result[0]) == _verdicts(reference.process(batches[1]))
    assert _verdicts(engine.process(batches[2])) == _verdicts(reference.process(batches[2]))
    assert client.get_node_from_key(prefix).port == dst  # re-read after MOVED
    with redis.Redis(host="127.0.0.1", port=src) as old:
        assert int(old.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)) == 0  # nothing written behind
    for key in client.scan_iter(f"{prefix}:*", count=1000, target_nodes=RedisCluster.ALL_NODES):
        client.delete(key)
    client.close()


@pytest.mark.slow
def test_pipeline_with_integrity_on_a_cluster_while_its_slot_moves(cluster: LocalRedisCluster, es_url: str,
                                                                 spawn, cleanup) -> None:
    """Every stage on the cluster (``TS_REDIS_CLUSTER``): intake, sentiment, integrity (its state
    in the tag's slot) and the indexer with its score store. The tag's slot (streams, groups,
    integrity and score state) is resharded to another master in the middle of the run; every
    review is indexed exactly once with an integrity verdict, nothing pending or dead-lettered."""
    from tests.fault.harness import connect, indexed_ids, sample_inputs, settings_for, wait_indexed
    from trustscope.intake import Intake

    name = f"k{uuid.uuid4().hex[:8]}"
    settings = settings_for(cluster.url, es_url, "{" + name + "}", redis_cluster=True, es_index_prefix=name,
                            claim_idle_ms=3000, max_deliveries=5, batch_size=32, batch_wait_ms=20)
    _, bus, es = connect(settings)
    cleanup("es", es)
    client = RedisCluster.from_url(cluster.url)
    bus = StreamBus(client, settings.stream_prefix, settings.max_deliveries, settings.claim_idle_ms)
    workers = [spawn(stage, settings, TS_REDIS_CLUSTER="true") for stage in ("indexer", "integrity", "sentiment")]
    for w in workers:
        w.wait_ready(timeout=180)
    intake = Intake(client, settings)
    intake.registry.seed_defaults()
    items = sample_inputs(N, source=f"cluster-{name}")
    slot = client.keyslot(bus.key("ingest"))
    src = client.get_node_from_key(bus.key("ingest")).port
    dst = next(p for p in cluster.ports if p != src)
    for start in range(0, N, 100):
        assert all(o.status == "accepted" for o in intake.submit(items[start:start + 100]))
        if start == N // 2:
            wait_until(lambda: workers[1].metric("trustscope_stage_messages_total", stage="integrity") > 0,
                       timeout=60)
            move_slot(cluster, slot, src, dst)
    alias = f"{name}-docs"
    wait_indexed(es, alias, N, timeout=240)
    ids = indexed_ids(es, alias)
    assert len(ids) == len(set(ids)) == N
    es.indices.refresh(index=alias)
    unjudged = es.count(index=alias, query={"bool": {"must_not": {"exists": {"field": "integrity.verdict"}}}})
    assert unjudged["count"] == 0
    assert client.get_node_from_key(bus.key("ingest")).port == dst
    with redis.Redis(host="127.0.0.1", port=src) as old:
        assert int(old.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)) == 0
    integrity_ok = workers[1].metric("trustscope_stage_messages_total", stage="integrity", outcome="ok")
    assert integrity_ok == N  # each review judged once
    wait_until(lambda: all(client.xpending(bus.key(s), g)["pending"] == 0
                           for s, g in (("ingest", "sentiment"), ("scored", "integrity"), ("verified", "indexer"))),
               timeout=60, interval=0.5)
    assert bus.backlog("dead") == 0, [d.error for d in bus.dead_letters(5)]
    es.close()
    client.close()


def test_integrity_store_after_its_master_fails_over(tmp_path) -> None:
    """The master of the prefix's slot is killed -9: the first pipeline after it fails with a
    connection error (the worker's outage path: hold the batch, back off), the slot map is marked
    stale, and once the replica is promoted the next pipeline runs on it, with the same verdicts
    as the in-memory engine (nothing the old master acknowledged before WAIT is lost)."""
    import time

    from trustscope.integrity import IntegrityEngine
    from trustscope.resilience import dependency_of

    c = LocalRedisCluster(tmp_path, replicas=1, node_timeout_ms=2000)
    try:
        c.start(timeout=60)
    except ClusterUnavailable as exc:
        pytest.skip(f"no local Redis Cluster with replicas: {exc}")
    try:
        client = RedisCluster.from_url(c.url)
        prefix = "{" + f"v{uuid.uuid4().hex[:8]}" + "}:int"
        engine = IntegrityEngine.from_redis(client, prefix=prefix)
        reference = IntegrityEngine.in_memory()
        batches = [_events(200, seed=13, offset=0), _events(200, seed=13, offset=200)]
        assert _verdicts(engine.process(batches[0])) == _verdicts(reference.process(batches[0]))
        old_master = client.get_node_from_key(prefix).port
        with redis.Redis(host="127.0.0.1", port=old_master) as m:
            assert int(m.execute_command("WAIT", 1, 5000)) == 1  # the replica has batch 0
        c.kill(old_master)
        failures = 0
        deadline = time.monotonic() + 60
        while True:  # what StreamWorker does with a batch during an outage, without the backoff
            try:
                updates = engine.process(batches[1])
                break
            except Exception as exc:  # noqa: BLE001
                assert dependency_of(exc) == "redis", repr(exc)  # an outage, never the message's fault
                failures += 1
                assert time.monotonic() < deadline, "no failover within 60 s"
                time.sleep(0.5)
        assert failures >= 1
        assert _verdicts(updates) == _verdicts(reference.process(batches[1]))
        assert client.get_node_from_key(prefix).port != old_master
        client.close()
    finally:
        c.stop()
