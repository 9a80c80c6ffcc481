"""Pipelines of Lua scripts on a Redis Cluster: run on the master that owns the keys' hash slot.

Why: redis-py's cluster pipeline refuses script calls ("Calling pipelined function evalsha is
blocked"), yet the integrity engine and the score store queue dozens of script calls per batch in
one pipeline; one round trip per batch is what bounds their throughput. When every key of a
pipeline carries the same hash tag (``{ts}:int:...``) they all live in one slot, so the pipeline
can run unchanged on a plain connection to the master of that slot. What the cluster client would
otherwise do for us is done here:

* the owner is looked up in the cluster client's slot map when a pipeline is made;
* a ``MOVED`` reply (a failover or a resharding finished) re-reads the slot map and re-sends the
  commands that were refused, and only those, to the new owner; ``ASK`` (a slot being migrated)
  re-sends them to the importing node after ``ASKING``; ``TRYAGAIN`` (a multi-key script whose
  keys are split by a migration in progress) re-sends them to the owner after a short wait, for
  up to ``TRYAGAIN_BUDGET_S``. Refused commands did not run, and commands that ran are never
  repeated, so a resharding neither loses nor doubles an increment (a re-sent command may run
  after a later command of the same pipeline that was not refused: only while a slot moves);
* a connection error (the master died and a replica is taking over) marks the slot map stale, so
  the next pipeline looks the owner up again, and is raised: the worker treats it as an outage,
  holds its batch and retries (``trustscope.resilience``), as on a single Redis.

On a single Redis ``slot_pipeline`` is ``client.pipeline(transaction=False)``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from redis.client import Pipeline
from redis.exceptions import AskError, MovedError, RedisClusterException, SlotNotCoveredError, TryAgainError

MAX_ROUNDS = 30  # re-sends of refused commands within one execute()
TRYAGAIN_BUDGET_S = 10.0  # how long one execute() waits out a slot migration before raising
_REFUSED = (MovedError, AskError, TryAgainError)  # not run: safe to send again


def is_cluster(client: Any) -> bool:
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


class SlotRouter:
    """Plain connections to the master of one slot (and to redirect targets) of a cluster client."""

    def __init__(self, cluster: Any, key: str) -> None:
        self.cluster = cluster
        self.key = key
        self.slot = int(cluster.keyslot(key))
        self._lock = threading.Lock()
        self._stale = False
        self._extra: dict[tuple[str, int], redis.Redis] = {}

    def mark_stale(self) -> None:
        self._stale = True

    def refresh(self) -> None:
        """Re-read the slot map (after MOVED or a lost master); best effort during a failover."""
        with self._lock:
            self._stale = False
            try:
                self.cluster.nodes_manager.initialize()
            except (redis.RedisError, RedisClusterException):
                self._stale = True  # no node answered yet: try again with the next pipeline

    def owner(self) -> redis.Redis:
        if self._stale:
            self.refresh()
        try:
            node = self.cluster.get_node_from_key(self.key, replica=False)
        except SlotNotCoveredError:
            self.mark_stale()  # mid-failover: no master holds the slot yet
            raise
        return self.cluster.get_redis_connection(node)

    def node(self, host: str, port: int) -> redis.Redis:
        found = self.cluster.get_node(host=host, port=port)
        if found is not None:
            return self.cluster.get_redis_connection(found)
        with self._lock:
            client = self._extra.get((host, port))
            if client is None:
                kw = self.cluster.get_connection_kwargs() if hasattr(self.cluster, "get_connection_kwargs") else {}
                kw = {k: v for k, v in kw.items() if k not in ("host", "port", "connection_class")}
                client = self._extra[(host, port)] = redis.Redis(host=host, port=port, **kw)
            return client

    def pipeline(self) -> SlotPipeline:
        return SlotPipeline(self, self.owner())


class SlotPipeline(Pipeline):
    """A non-transactional pipeline on one node that follows MOVED / ASK for the refused commands."""

    def __init__(self, router: SlotRouter, node: redis.Redis) -> None:
        super().__init__(node.connection_pool, node.response_callbacks, False, None)
        self.router = router

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        stack = list(self.command_stack)
        scripts = set(self.scripts)
        try:
            results = super().execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError):
            self.router.mark_stale()
            raise
        deadline = time.monotonic() + TRYAGAIN_BUDGET_S
        for round_ in range(MAX_ROUNDS):
            refused = [i for i, r in enumerate(results) if isinstance(r, _REFUSED)]
            if not refused:
                break
            if any(isinstance(results[i], MovedError) for i in refused):
                self.router.refresh()
            if any(isinstance(results[i], TryAgainError) for i in refused):
                if time.monotonic() > deadline:
                    break  # still mid-migration: raised below, the worker retries its batch
                time.sleep(min(0.02 * 2 ** round_, 0.5))
            self._resend(stack, scripts, results, refused)
        if raise_on_error:
            for i, r in enumerate(results):
                if isinstance(r, Exception):
                    self.annotate_exception(r, i + 1, stack[i][0])
                    raise r
        return results

    def _resend(self, stack: list[Any], scripts: set[Any], results: list[Any], refused: list[int]) -> None:
        """Send the refused commands again, in their order, each where its error points: MOVED to
        the new owner, ASK to the importing node after ASKING, TRYAGAIN to the slot's owner."""
        groups: dict[tuple[int, bool], tuple[redis.Redis, list[int]]] = {}
        for i in refused:
            err = results[i]
            if isinstance(err, (MovedError, AskError)):
                target = self.router.node(err.host, err.port)
            else:
                target = self.router.owner()
            asking = isinstance(err, AskError)
            groups.setdefault((id(target), asking), (target, []))[1].append(i)
        for (_, asking), (target, indexes) in groups.items():
            redo = Pipeline(target.connection_pool, target.response_callbacks, False, None)
            redo.scripts = set(scripts)  # re-loaded there by execute() if that node lacks them
            for i in indexes:
                args, options = stack[i]
                if asking:
                    redo.execute_command("ASKING")
                redo.execute_command(*args, **options)
            try:
                out = redo.execute(raise_on_error=False)
            except (redis.ConnectionError, redis.TimeoutError):
                self.router.mark_stale()
                raise
            if asking:
                out = out[1::2]  # drop the ASKING replies
            for i, value in zip(indexes, out):
                results[i] = value


_routers: dict[tuple[int, str], SlotRouter] = {}
_routers_lock = threading.Lock()


def slot_router(client: Any, key: str) -> SlotRouter | None:
    """The router of ``key``'s slot on a cluster client (shared per client and tag), else None."""
    if not is_cluster(client):
        return None
    with _routers_lock:
        ident = (id(client), key)
        router = _routers.get(ident)
        if router is None or router.cluster is not client:
            router = _routers[ident] = SlotRouter(client, key)
        return router


def slot_pipeline(client: Any, key: str) -> Any:
    """A non-transactional pipeline for keys in ``key``'s hash slot that may queue script calls:
    on a cluster it runs on that slot's master (``SlotPipeline``), on a single Redis it is the
    client's own pipeline."""
    router = slot_router(client, key)
    return client.pipeline(transaction=False) if router is None else router.pipeline()
