"""A throwaway MariaDB server for the SQL store tests: install, start, stop, freeze.

``mariadb-install-db`` creates a private data directory in a temporary
directory; ``mariadbd`` then listens on 127.0.0.1 on a free port, with its
Unix socket, PID file and error log in that directory, and with durability
off (``innodb_flush_log_at_trx_commit=0``, no doublewrite, no binary log:
the data is thrown away). ``root`` connects over TCP without a password,
which only this private server allows. mariadbd refuses to run as root
unless told to, so as root it gets ``--user=root`` (the data directory is
then root's); as anyone else it runs as that user.

The server's defaults are MariaDB's own (``utf8mb4`` with its
case-insensitive ``utf8mb4_general_ci`` collation, strict mode), so the
tests see what a stock installation does. Missing binaries skip the tests
locally and fail them under ``CI=true``; so does a server that does not
start, so CI can never pass by not testing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = [
    "MariaDBServer",
    "find_binaries",
    "mariadb_url",
    "require_binaries",
    "running_server",
]

#: The database the tests use on the private server.
DATABASE = "sessionspec"
_START_TIMEOUT = 60.0
_URL_ENV = "SESSIONSPEC_MARIADB_URL"


def find_binaries() -> tuple[Path, Path] | None:
    """``(mariadb-install-db, mariadbd)``, or ``None`` when either is missing."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server_candidates = [
        os.environ.get("SESSIONSPEC_MARIADBD", ""),
        shutil.which("mariadbd") or "",
        "/usr/sbin/mariadbd",
        "/usr/sbin/mysqld",
    ]
    server = next((c for c in server_candidates if c and os.access(c, os.X_OK)), None)
    if install is None or server is None:
        return None
    return Path(install), Path(server)


def missing_reason() -> str:
    """Why no server can be started here."""
    return (
        "MariaDB server binaries (mariadb-install-db, mariadbd) not found: install the "
        f"'mariadb-server' package, or point {_URL_ENV} at a server "
        "(mysql+pymysql://user:password@host:3306/scratch)"
    )


def require_binaries() -> tuple[Path, Path]:
    """The binaries, or a skip (a failure when ``CI=true``)."""
    found = find_binaries()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(missing_reason())
        pytest.skip(missing_reason())
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MariaDBServer:
    """One private server in a temporary directory; :meth:`cleanup` removes everything."""

    def __init__(self, binaries: tuple[Path, Path], port: int | None = None) -> None:
        self.install_db, self.mariadbd = binaries
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sessionspec-mariadb-"))
        self.data = self.root / "data"
        self.socket = self.root / "mysqld.sock"
        self.log = self.root / "error.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._as_root = os.geteuid() == 0
        self._installed = False

    def url(self, driver: str = "pymysql") -> str:
        """A SQLAlchemy URL for the test database, ``mysql+<driver>://``."""
        return f"mysql+{driver}://root@127.0.0.1:{self.port}/{DATABASE}?charset=utf8mb4"

    def _user(self) -> list[str]:
        return ["--user=root"] if self._as_root else []

    def _install(self) -> None:
        result = subprocess.run(
            [
                str(self.install_db),
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                *self._user(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"mariadb-install-db failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
        self._installed = True

    def start(self) -> MariaDBServer:
        """Start (installing the data directory the first time); wait until it answers."""
        if not self._installed:
            self._install()
        self.process = subprocess.Popen(
            [
                str(self.mariadbd),
                "--no-defaults",
                f"--datadir={self.data}",
                f"--socket={self.socket}",
                f"--pid-file={self.root / 'mysqld.pid'}",
                f"--log-error={self.log}",
                "--bind-address=127.0.0.1",
                f"--port={self.port}",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--performance-schema=OFF",
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                "--max-connections=200",
                *self._user(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.root,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            error = self._try_setup()
            if error is None:
                return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._kill()
                log = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
                raise RuntimeError(
                    f"mariadbd did not start on port {self.port} ({error}):\n{log[-3000:]}"
                )
            time.sleep(0.1)

    def _try_setup(self) -> str | None:
        """Create the test database; ``None`` once that worked, else why not (yet)."""
        import pymysql

        try:
            connection = pymysql.connect(
                host="127.0.0.1", port=self.port, user="root", connect_timeout=2
            )
        except pymysql.err.OperationalError as exc:
            return str(exc)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        finally:
            connection.close()
        return None

    def stop(self) -> None:
        """Stop the server (SIGTERM: a clean shutdown); the data directory stays."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)  # a frozen server must see the signal
            self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._kill()
        self.process = None

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def freeze(self) -> None:
        """SIGSTOP mariadbd: the kernel still accepts and acknowledges, nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after :meth:`freeze`."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)

    def cleanup(self) -> None:
        """Stop the server if it runs and delete its directory."""
        with contextlib.suppress(OSError, RuntimeError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_server(binaries: tuple[Path, Path] | None = None) -> Iterator[MariaDBServer]:
    """A started private server, stopped and deleted on exit.

    A server that does not start is a test failure (never a skip): the
    binaries are there, so something is really broken.
    """
    server = MariaDBServer(binaries or require_binaries())
    try:
        try:
            server.start()
        except RuntimeError as exc:
            pytest.fail(f"MariaDB did not start: {exc}")
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer | None]:
    """A private server for the session, or ``None`` when ``$SESSIONSPEC_MARIADB_URL`` is set."""
    if os.environ.get(_URL_ENV):
        yield None
        return
    with running_server() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_url(mariadb_server: MariaDBServer | None) -> str:
    """``$SESSIONSPEC_MARIADB_URL`` (a ``mysql+pymysql://`` URL), or the private server's.

    Import it, with ``mariadb_server``, into a test module to use it (no conftest).
    """
    if mariadb_server is None:
        return os.environ[_URL_ENV]
    return mariadb_server.url()
