"""A throwaway PostgreSQL server for the SQL store tests: initdb, start, stop, restart.

The server listens on 127.0.0.1 on a free port with trust authentication,
its Unix socket inside its own data directory, and ``fsync=off`` (the data
is thrown away, so durability buys nothing). PostgreSQL refuses to run as
root, so as root every command runs as the ``postgres`` OS user, on a data
directory owned by that user.

Binaries are looked up in ``$SESSIONSPEC_PG_BIN``, then ``pg_config
--bindir``, then ``/usr/lib/postgresql/<version>/bin`` (newest first), then
``PATH``. :func:`find_bin_dir` returns ``None`` when there are none; the
fixtures then fail under ``CI=true`` and skip elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "find_bin_dir", "postgres_url", "require_bin_dir", "running_server"]

_TOOLS = ("initdb", "pg_ctl", "postgres")
_OS_USER = "postgres"


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or ``None``."""
    candidates: list[Path] = []
    if os.environ.get("SESSIONSPEC_PG_BIN"):
        candidates.append(Path(os.environ["SESSIONSPEC_PG_BIN"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            candidates.append(Path(out))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in _TOOLS):
            return directory
    return None


def missing_reason() -> str:
    """Why no server can be started here."""
    return (
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install the "
        "'postgresql' package, set SESSIONSPEC_PG_BIN, or point SESSIONSPEC_POSTGRES_URL "
        "at a server"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One private cluster in a temporary directory; :meth:`cleanup` removes everything."""

    def __init__(self, bin_dir: Path, port: int | None = None, max_connections: int = 200) -> None:
        self.bin_dir = bin_dir
        self.port = port or free_port()
        #: A low value makes a client that leaks connections fail fast ("too many clients").
        self.max_connections = max_connections
        self.root = Path(tempfile.mkdtemp(prefix="sessionspec-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            user = pwd.getpwnam(_OS_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._initialised = False

    @property
    def url(self) -> str:
        """A SQLAlchemy URL for the ``postgres`` database (psycopg 3 driver)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", _OS_USER, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log[-2000:]}"
            )

    def start(self) -> None:
        """Start (initialising the cluster the first time); waits until it accepts connections."""
        if not self._initialised:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            )
            self._initialised = True
        settings = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off "
            f"-c max_connections={self.max_connections}"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            settings,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` kills it without a shutdown checkpoint)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def processes(self) -> list[int]:
        """The postmaster's PID and those of all its children (backends, checkpointer, ...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process has gone
                continue
            if int(fields[1]) == postmaster:  # the field after the state is the parent PID
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every child: the kernel still accepts and acknowledges
        connections and queries, but nothing ever answers (a hung server)."""
        self._frozen = self.processes()
        for pid in self._frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT every process :meth:`freeze` stopped (and any child found now)."""
        for pid in {*getattr(self, "_frozen", []), *self.processes()}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._frozen = []

    def cleanup(self) -> None:
        """Stop the server if it runs and delete its directory."""
        with contextlib.suppress(OSError, ValueError):
            self.thaw()  # a frozen server cannot shut down
        if self._initialised:
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_server(bin_dir: Path) -> Iterator[PostgresServer]:
    """A started private server, stopped and deleted on exit."""
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def require_bin_dir() -> Path:
    """The server binaries' directory, or a skip (a failure when ``CI=true``)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail(missing_reason())
        pytest.skip(missing_reason())
    return bin_dir


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``$SESSIONSPEC_POSTGRES_URL``, or a throwaway server for the whole session.

    Import it into a test module to use it (no conftest).
    """
    url = os.environ.get("SESSIONSPEC_POSTGRES_URL")
    if url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
        return
    with running_server(require_bin_dir()) as server:
        yield server.url
