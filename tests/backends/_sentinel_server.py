"""A throwaway Redis Sentinel deployment: one primary, one replica, three sentinels.

Every process listens on 127.0.0.1 on a free port and keeps its files in a
private directory; nothing is persisted. The sentinels watch the service
``SERVICE`` with quorum 2 and short timers (``down-after-milliseconds``
500, ``failover-timeout`` 2000), so a killed primary is replaced by the
replica within a few seconds. Sentinels are ``redis-server <conf>
--sentinel`` (Debian ships no separate ``redis-sentinel`` binary); each
needs a writable config file, which it rewrites as the deployment changes.

Missing binaries skip the tests locally and fail them in CI (``CI=true``),
as for the other Redis helpers; a deployment that does not come up, or a
failover that does not finish in time, fails the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends._redis_server import RedisServer, _ping, free_port, require_binary

__all__ = ["SERVICE", "SentinelDeployment", "sentinel_deployment"]

#: The monitored service's name, as a store gives it to ``from_sentinel``.
SERVICE = "sessions"
_DOWN_AFTER_MS = 500
_FAILOVER_TIMEOUT_MS = 2000
_START_TIMEOUT = 20.0


def _cli(port: int, *args: str) -> str:
    result = subprocess.run(
        [require_binary("redis-cli"), "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return result.stdout


class _Sentinel:
    """One sentinel process."""

    def __init__(self, directory: Path, primary_port: int) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = directory / "sentinel.conf"
        self.config.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            "daemonize no\n"
            f'dir "{directory}"\n'
            f'logfile "{directory / "sentinel.log"}"\n'
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {_DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} {_FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [require_binary("redis-server"), str(self.config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sentinel did not start on {self.port}:\n{self.log()}")
            time.sleep(0.02)

    def log(self) -> str:
        path = self.directory / "sentinel.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"

    def info(self) -> dict[str, str]:
        """``SENTINEL MASTER <service>`` as a dict."""
        lines = _cli(self.port, "sentinel", "master", SERVICE).split("\n")
        return dict(zip(lines[0::2], lines[1::2], strict=False))

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class SentinelDeployment:
    """A primary, its replica and three sentinels watching them."""

    def __init__(self, directory: Path) -> None:
        require_binary("redis-cli")
        # No 5-second wait before the full sync a new replica needs (the default delay).
        self.primary = RedisServer(directory / "primary", "--repl-diskless-sync-delay", "0")
        self.replica = RedisServer(
            directory / "replica", "--replicaof", "127.0.0.1", str(self.primary.port)
        )
        self.sentinels = [
            _Sentinel(directory / f"sentinel{i}", self.primary.port) for i in range(3)
        ]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The sentinels' ``(host, port)``, as a store is configured with them."""
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def start(self) -> SentinelDeployment:
        """Start everything; return once the replica is in sync and every sentinel knows
        the replica and the two other sentinels (without that, no failover is possible)."""
        try:
            self.primary.start()
            self.replica.start()
            for sentinel in self.sentinels:
                sentinel.start()
            self._wait_for(self._ready, "the replica to sync and the sentinels to meet")
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        link = "master_link_status:up" in _cli(self.replica.port, "info", "replication")
        return link and all(
            s.info().get("num-slaves") == "1" and s.info().get("num-other-sentinels") == "2"
            for s in self.sentinels
        )

    def _wait_for(self, condition: object, what: str) -> None:
        assert callable(condition)
        deadline = time.monotonic() + _START_TIMEOUT
        while not condition():
            if time.monotonic() > deadline:
                logs = "\n".join(s.log() for s in self.sentinels)
                raise RuntimeError(f"timed out waiting for {what}:\n{logs}")
            time.sleep(0.05)

    def primary_port(self) -> int:
        """The port every sentinel reports for the primary (they agree, or this waits)."""
        ports = {s.info().get("port") for s in self.sentinels}
        return int(ports.pop()) if len(ports) == 1 else -1

    def replicated(self, key: str) -> bool:
        """Whether ``key`` has reached the replica."""
        return _cli(self.replica.port, "exists", key).strip() == "1"

    def kill_primary(self) -> None:
        """SIGKILL the primary: no shutdown, no goodbye to the replica or the sentinels."""
        process = self.primary.process
        assert process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.primary.process = None

    def wait_for_promotion(self, timeout: float) -> None:
        """Wait until every sentinel names the replica as the primary, and it takes writes."""
        deadline = time.monotonic() + timeout
        while not (
            self.primary_port() == self.replica.port
            and "role:master" in _cli(self.replica.port, "info", "replication")
        ):
            if time.monotonic() > deadline:
                logs = "\n".join(s.log() for s in self.sentinels)
                raise RuntimeError(f"no promotion within {timeout} s:\n{logs}")
            time.sleep(0.05)

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.primary.stop()


@contextlib.contextmanager
def sentinel_deployment(directory: Path) -> Iterator[SentinelDeployment]:
    """A started deployment, stopped on exit; one that does not start fails the test."""
    deployment = SentinelDeployment(directory)
    try:
        deployment.start()
    except RuntimeError as exc:
        pytest.fail(f"the Sentinel deployment did not start: {exc}")
    try:
        yield deployment
    finally:
        deployment.stop()
