"""Session-wide test servers: a private Redis (``redis_url``) and a private Elasticsearch (``es_url``).

Why these come from infra/local/*.sh: the tests then run the very node set-up that `make up`
runs (same distribution, same settings, same mappings), not a look-alike. Each test run gets
its own instances on their own ports and data dirs, wiped at start and stopped at the end.

- ``TS_TEST_REDIS_URL`` / ``TS_TEST_ES_URL``: use existing servers instead (nothing is started).
- ``TS_TEST_REDIS_PORT`` (6391) / ``TS_TEST_ES_PORT`` (9251): preferred ports. A port owned by
  another live test run is skipped; one left behind by a dead run is reclaimed (its server is
  stopped first). Owner files live in ``$TS_RUN_DIR/test-owners``.
- ``TS_TEST_ES_HEAP`` (1g): heap of the test node.
- Elasticsearch starts lazily, when the first test asks for ``es_url`` (it takes ~20-40 s), and
  at most once per run: a failed start is not retried by later tests.
- When a server cannot be provided (no redis-server, no JDK, no network for the first fetch)
  the test is skipped with the reason, or fails under CI (``CI`` set), where a silent skip
  would hide a broken set-up. Tests that do not ask for these fixtures never notice.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = REPO_DIR / "infra" / "local"
PORT_TRIES = 20
_started: list[str] = []  # human-readable lines for the terminal summary


def _run_dir() -> Path:
    if os.environ.get("TS_RUN_DIR"):
        return Path(os.environ["TS_RUN_DIR"])
    cache = os.environ.get("TS_CACHE_DIR") or str(Path.home() / ".cache" / "trustscope")
    return Path(cache) / "run"


def _unavailable(reason: str) -> None:
    """Skip locally, fail under CI: CI must never pass by skipping its integration tests."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _script(name: str, action: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(LOCAL_DIR / name), action],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed run whose parent never reaped it is a zombie: dead for our purpose
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _claim_port(kind: str, preferred: int, script: str, port_env: str) -> tuple[int, Path]:
    """A free port for this run's ``kind`` server, with an owner file naming this process."""
    owners = _run_dir() / "test-owners"
    owners.mkdir(parents=True, exist_ok=True)
    me = str(os.getpid())
    for port in range(preferred, preferred + PORT_TRIES):
        owner = owners / f"{kind}-{port}"
        try:
            fd = os.open(owner, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            text = owner.read_text().strip() if owner.exists() else ""
            if text.isdigit() and text != me and _pid_alive(int(text)):
                continue  # another live test run owns it
            # Left behind by a dead run: its server may still be up; stop it and take over.
            _script(script, "stop", {port_env: str(port)}, timeout=90)
            owner.write_text(me)
        else:
            os.write(fd, me.encode())
            os.close(fd)
        if _port_in_use(port):  # a process that is not a test server of ours
            owner.unlink(missing_ok=True)
            continue
        return port, owner
    _unavailable(f"no free port for a test {kind} in {preferred}-{preferred + PORT_TRIES - 1}")
    raise AssertionError("unreachable")


def _start_failed(what: str, proc: subprocess.CompletedProcess[str]) -> None:
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-60:])
    pytest.fail(f"could not start the test {what} (exit {proc.returncode}):\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a private, empty Redis (no persistence) for this test run."""
    if url := os.environ.get("TS_TEST_REDIS_URL"):
        yield url
        return
    binary = os.environ.get("TS_LOCAL_REDIS_BIN", "redis-server")
    if not shutil.which(binary):
        _unavailable(f"{binary} not found: install it (Debian: apt-get install redis-server) "
                     "or set TS_TEST_REDIS_URL")
    port, owner = _claim_port("redis", int(os.environ.get("TS_TEST_REDIS_PORT", "6391")),
                              "redis.sh", "TS_LOCAL_REDIS_PORT")
    env = {"TS_LOCAL_REDIS_PORT": str(port), "TS_LOCAL_REDIS_AOF": "no", "TS_LOCAL_REDIS_WIPE": "1"}
    try:
        t0 = time.monotonic()
        proc = _script("redis.sh", "start", env, timeout=90)
        if proc.returncode != 0:
            _start_failed("Redis", proc)
        _started.append(f"redis on 127.0.0.1:{port} ready in {time.monotonic() - t0:.1f}s")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _script("redis.sh", "stop", env, timeout=90)
        owner.unlink(missing_ok=True)


def _java_available() -> bool:
    if os.environ.get("ES_JAVA_HOME"):
        return Path(os.environ["ES_JAVA_HOME"], "bin", "java").exists()
    return bool(list(Path("/usr/lib/jvm").glob("java-*-openjdk*/bin/java"))) or bool(shutil.which("java"))


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """URL of a private single-node Elasticsearch (security off, fresh data dir) for this run."""
    if url := os.environ.get("TS_TEST_ES_URL"):
        yield url
        return
    if not _java_available():
        _unavailable("no JDK for Elasticsearch: apt-get install openjdk-17-jre-headless, "
                     "set ES_JAVA_HOME, or set TS_TEST_ES_URL")
    fetch = _script("elasticsearch.sh", "fetch", {}, timeout=600)
    if fetch.returncode != 0:
        tail = "\n".join((fetch.stdout + fetch.stderr).strip().splitlines()[-20:])
        _unavailable(f"Elasticsearch distribution not available (make es-fetch, or set TS_TEST_ES_URL):\n{tail}")
    port, owner = _claim_port("elasticsearch", int(os.environ.get("TS_TEST_ES_PORT", "9251")),
                              "elasticsearch.sh", "TS_LOCAL_ES_PORT")
    env = {
        "TS_LOCAL_ES_PORT": str(port),
        "TS_LOCAL_ES_WIPE": "1",
        "TS_LOCAL_ES_HEAP": os.environ.get("TS_TEST_ES_HEAP", "1g"),
        "TS_LOCAL_ES_TIMEOUT": os.environ.get("TS_LOCAL_ES_TIMEOUT", "180"),
    }
    try:
        t0 = time.monotonic()
        proc = _script("elasticsearch.sh", "start", env, timeout=300)
        if proc.returncode != 0:
            _start_failed("Elasticsearch", proc)
        _started.append(f"elasticsearch on 127.0.0.1:{port} ready in {time.monotonic() - t0:.1f}s")
        yield f"http://127.0.0.1:{port}"
    finally:
        _script("elasticsearch.sh", "stop", env, timeout=120)
        owner.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which servers this run started and how long they took (CI timing at a glance)."""
    if _started:
        terminalreporter.section("test servers")
        for line in _started:
            terminalreporter.write_line(line)
