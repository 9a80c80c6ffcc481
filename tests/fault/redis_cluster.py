"""A throw-away 3-master Redis Cluster from the OS's redis-server, for tests and benches.

Three ``redis-server --cluster-enabled yes`` masters on free ports (and ``replicas`` replicas of
each), joined with ``redis-cli --cluster create`` (no persistence). ``start()`` raises ``ClusterUnavailable``
with the reason when the binaries are missing or the cluster does not form in time.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis


class ClusterUnavailable(RuntimeError):
    pass


def _free_low_port() -> int:
    """A free port whose cluster bus port (+10000) is free too (both must be <= 65535)."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        ok = True
        for candidate in (port, port + 10000):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", candidate))
                except OSError:
                    ok = False
        if ok:
            return port
    raise ClusterUnavailable("no free port pair for a cluster node")


class LocalRedisCluster:
    def __init__(self, workdir: Path, masters: int = 3, replicas: int = 0, node_timeout_ms: int = 5000) -> None:
        self.workdir = workdir
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.ports = [_free_low_port() for _ in range(masters * (1 + replicas))]
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self, timeout: float = 30) -> LocalRedisCluster:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if not server or not cli:
            raise ClusterUnavailable("redis-server / redis-cli not found (Debian: apt-get install redis-server)")
        for port in self.ports:
            d = self.workdir / str(port)
            d.mkdir(parents=True, exist_ok=True)
            log = (d / "redis.log").open("ab")
            self.procs.append(subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", str(d / "nodes.conf"), "--dir", str(d), "--save", "",
                 "--appendonly", "no", "--cluster-node-timeout", str(self.node_timeout_ms)],
                stdout=log, stderr=subprocess.STDOUT))
            log.close()
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while subprocess.run([cli, "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip() != "PONG":
                if time.monotonic() > deadline:
                    self.stop()
                    raise ClusterUnavailable(f"redis-server on {port} did not answer")
                time.sleep(0.1)
        create = subprocess.run([cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                                 "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                                capture_output=True, text=True, timeout=timeout)
        if create.returncode != 0:
            self.stop()
            raise ClusterUnavailable(f"redis-cli --cluster create failed: {create.stdout[-500:]}{create.stderr[-500:]}")
        while True:
            states = [subprocess.run([cli, "-p", str(p), "cluster", "info"], capture_output=True, text=True).stdout
                      for p in self.ports]
            if all("cluster_state:ok" in s for s in states):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise ClusterUnavailable("cluster_state did not become ok")
            time.sleep(0.2)

    def kill(self, port: int) -> None:
        """SIGKILL the node on ``port`` (a crashed master: its replica is promoted after the node timeout)."""
        proc = self.procs[self.ports.index(port)]
        proc.kill()
        proc.wait(timeout=10)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []


def node_id(client: "redis.Redis") -> str:
    raw = client.execute_command("CLUSTER", "MYID")
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def move_slot(cluster: LocalRedisCluster, slot: int, src_port: int, dst_port: int, finish: bool = True) -> int:
    """Reshard one slot from ``src_port`` to ``dst_port`` the way ``redis-cli --cluster reshard`` does:
    IMPORTING / MIGRATING, MIGRATE every key, then (``finish``) assign the slot to the destination
    on every master. Unfinished, the source answers ASK for the moved keys; finished, every node
    answers MOVED. Returns the number of keys moved."""
    import redis

    nodes = {p: redis.Redis(host="127.0.0.1", port=p) for p in cluster.ports}
    try:
        src, dst = nodes[src_port], nodes[dst_port]
        src_id, dst_id = node_id(src), node_id(dst)
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        moved = 0
        while True:
            keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 500)
            if not keys:
                break
            src.execute_command("MIGRATE", "127.0.0.1", dst_port, "", 0, 10_000, "KEYS", *keys)
            moved += len(keys)
        if finish:
            for client in (dst, src, *(c for p, c in nodes.items() if p not in (src_port, dst_port))):
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        return moved
    finally:
        for client in nodes.values():
            client.close()


def finish_slot_move(cluster: LocalRedisCluster, slot: int, dst_port: int) -> None:
    """Assign a slot left MIGRATING / IMPORTING by ``move_slot(finish=False)`` to its destination."""
    import redis

    nodes = [redis.Redis(host="127.0.0.1", port=p) for p in cluster.ports]
    try:
        dst_id = node_id(next(c for c, p in zip(nodes, cluster.ports) if p == dst_port))
        for client in nodes:
            client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    finally:
        for client in nodes:
            client.close()
