"""A throw-away 3-master Redis Cluster from the OS's redis-server, for tests and benches.

Three ``redis-server --cluster-enabled yes`` processes on free ports, joined with
``redis-cli --cluster create`` (no replicas, no persistence). ``start()`` raises ``ClusterUnavailable``
with the reason when the binaries are missing or the cluster does not form in time.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path


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
    def __init__(self, workdir: Path, masters: int = 3) -> None:
        self.workdir = workdir
        self.ports = [_free_low_port() for _ in range(masters)]
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
                 "--appendonly", "no", "--cluster-node-timeout", "5000"],
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
                                 "--cluster-replicas", "0", "--cluster-yes"],
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

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []
