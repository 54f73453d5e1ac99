"""Throwaway memcached processes for the Memcached store tests (no conftest, no plugin).

Each server listens on 127.0.0.1 on a free port, with no UDP. A missing
binary skips the tests locally and fails them in CI (``CI=true``), so CI can
never pass by not testing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends._redis_server import free_port

__all__ = ["MemcachedServer", "memcached_server", "require_memcached"]

_START_TIMEOUT = 10.0


def require_memcached() -> str:
    """The path of ``memcached``, or a skip (a failure when ``CI=true``) saying how to get it."""
    path = shutil.which("memcached") or (
        "/usr/bin/memcached" if os.access("/usr/bin/memcached", os.X_OK) else None
    )
    if path is None:
        reason = "memcached is not installed (Debian: apt-get install memcached)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def _version(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"version\r\n")
            return sock.recv(64).startswith(b"VERSION")
    except OSError:
        return False


class MemcachedServer:
    """One memcached process; ``stop()`` and ``start()`` again reuse the same port.

    ``memory_mb`` is memcached's ``-m`` (its item memory); a small one makes
    eviction easy to provoke. ``pause()``/``resume()`` freeze and thaw it.
    """

    def __init__(self, directory: Path, *extra: str, memory_mb: int = 64) -> None:
        self.binary = require_memcached()
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.memory_mb = memory_mb
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> MemcachedServer:
        log = self.directory / "memcached.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "-l",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "0",
                    "-m",
                    str(self.memory_mb),
                    "-u",
                    "nobody",
                    *self.extra,
                ],
                stdout=out,
                stderr=out,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while not _version(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                text = log.read_text() if log.exists() else "(no log)"
                raise RuntimeError(f"memcached did not start on {self.port}:\n{text[-2000:]}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL): memcached keeps nothing."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a paused server must see the signal
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections are accepted by the kernel, never answered."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture(scope="session")
def memcached_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemcachedServer]:
    """A private memcached for the whole session; import it into a test module to use it."""
    server = MemcachedServer(tmp_path_factory.mktemp("memcached")).start()
    try:
        yield server
    finally:
        server.stop()
