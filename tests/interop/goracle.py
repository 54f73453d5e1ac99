"""Build, start and talk to the Go interoperability oracle.

The oracle (``tests/interop/oracle/main.go``) is a small Go program that links
the real gorilla/securecookie from Debian's packages. It reads one JSON request
per line on stdin and answers with one JSON line on stdout, so a whole test
session shares a single process.

The binary is built in GOPATH mode (``GO111MODULE=off``) against the sources
that ``golang-github-gorilla-*-dev`` install under ``/usr/share/gocode``; no
module is ever downloaded. It is cached in ``tests/interop/bin/`` (gitignored)
and rebuilt when any ``.go`` file of the oracle is newer than the binary.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = [
    "GOPATH_DEFAULT",
    "INSTALL_HINT",
    "GoOracle",
    "OracleError",
    "build_oracle",
    "find_go",
    "missing_prerequisites",
]

HERE = Path(__file__).resolve().parent
ORACLE_SRC = HERE / "oracle"
BIN_DIR = HERE / "bin"
ORACLE_BIN = BIN_DIR / "oracle"

#: Where Debian's ``golang-*-dev`` packages put Go sources (a GOPATH root).
GOPATH_DEFAULT = "/usr/share/gocode"
#: Overrides the GOPATH root holding ``src/github.com/gorilla/...``.
GOPATH_ENV = "SESSIONSPEC_GOPATH"
#: Go packages the oracle imports (sessions is checked now for later ops).
REQUIRED_GO_PACKAGES = ("github.com/gorilla/securecookie", "github.com/gorilla/sessions")

INSTALL_HINT = (
    "Go toolchain or Debian gorilla packages not installed; run .ci/install-go-interop.sh"
)

DEFAULT_TIMEOUT = 30.0


class OracleError(RuntimeError):
    """The oracle could not be built, started, or did not answer properly."""


def find_go() -> str | None:
    """Return the path of the ``go`` command, or ``None`` if there is none."""
    found = shutil.which("go")
    if found:
        return found
    for candidate in ("/usr/lib/go/bin/go", "/usr/local/go/bin/go"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def gopath() -> str:
    """Return the GOPATH root that holds the gorilla sources."""
    return os.environ.get(GOPATH_ENV, GOPATH_DEFAULT)


def missing_prerequisites() -> str | None:
    """Say what is missing to build the oracle, or return ``None`` if nothing is."""
    missing: list[str] = []
    if find_go() is None:
        missing.append("no `go` command on PATH")
    root = Path(gopath())
    for package in REQUIRED_GO_PACKAGES:
        if not (root / "src" / package).is_dir():
            missing.append(f"no Go package {package} under {root}/src")
    if not missing:
        return None
    return f"{INSTALL_HINT} ({'; '.join(missing)})"


def _newest_source_mtime() -> float:
    return max(path.stat().st_mtime for path in ORACLE_SRC.glob("*.go"))


def build_command(go: str, output: Path) -> list[str]:
    """Return the ``go build`` argv that compiles the oracle into ``output``."""
    return [go, "build", "-o", str(output), "."]


def build_env() -> dict[str, str]:
    """Return the environment for an offline GOPATH-mode build."""
    env = dict(os.environ)
    env.update(
        {
            "GO111MODULE": "off",
            "GOPATH": gopath(),
            "GOCACHE": str(BIN_DIR / "gocache"),
            "GOFLAGS": "",
            "GOPROXY": "off",
            "CGO_ENABLED": "0",
        }
    )
    return env


def build_oracle(*, force: bool = False) -> Path:
    """Compile the oracle if the cached binary is missing or stale; return its path.

    Raises :class:`OracleError` if the toolchain is missing or the build fails.
    """
    fresh = ORACLE_BIN.exists() and ORACLE_BIN.stat().st_mtime >= _newest_source_mtime()
    if fresh and not force:
        return ORACLE_BIN
    go = find_go()
    if go is None:
        raise OracleError(INSTALL_HINT)
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    # Build next to the final place, then rename: a concurrent reader never
    # sees a half-written binary.
    fd, tmp_name = tempfile.mkstemp(prefix=".oracle-", dir=BIN_DIR)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        result = subprocess.run(
            build_command(go, tmp),
            cwd=ORACLE_SRC,
            env=build_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if result.returncode != 0:
            raise OracleError(
                f"go build of the oracle failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        tmp.chmod(0o755)
        tmp.replace(ORACLE_BIN)
    finally:
        tmp.unlink(missing_ok=True)
    return ORACLE_BIN


class GoOracle:
    """A running oracle process; :meth:`call` sends one request and returns the reply."""

    def __init__(self, binary: Path, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        # Kept open for the life of the process; closed in close().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            [str(binary)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._buffer = b""

    @classmethod
    def start(cls, *, timeout: float = DEFAULT_TIMEOUT) -> GoOracle:
        """Build the oracle if needed, start it, and check that it answers."""
        oracle = cls(build_oracle(), timeout=timeout)
        reply = oracle.call({"op": "ping"})
        if reply != {"ok": True, "pong": True}:
            oracle.close()
            raise OracleError(f"oracle answered ping with {reply!r}")
        return oracle

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send ``request`` and return the oracle's decoded JSON response.

        Raises :class:`OracleError` if the process died, timed out, or the
        request itself was malformed (``bad_request`` in the reply).
        """
        stdin = self._proc.stdin
        if stdin is None or self._proc.poll() is not None:
            raise OracleError(f"oracle is not running{self._stderr_tail()}")
        line = json.dumps(request, separators=(",", ":")).encode() + b"\n"
        try:
            stdin.write(line)
            stdin.flush()
        except BrokenPipeError as exc:
            raise OracleError(f"oracle closed its input{self._stderr_tail()}") from exc
        reply = json.loads(self._read_line())
        if not isinstance(reply, dict):
            raise OracleError(f"oracle sent a non-object reply: {reply!r}")
        if reply.get("bad_request"):
            raise OracleError(f"oracle rejected request {request!r}: {reply.get('error')}")
        return reply

    def _read_line(self) -> bytes:
        stdout = self._proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], self.timeout)
            if not ready:
                raise OracleError(f"oracle gave no answer within {self.timeout} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self._proc.wait(timeout=5)
                raise OracleError(
                    f"oracle exited with code {self._proc.returncode}{self._stderr_tail()}"
                )
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read()[-4000:].decode(errors="replace").strip()
        return f"; stderr:\n{text}" if text else ""

    def close(self) -> None:
        """Stop the process (closing stdin ends it) and release its pipes."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
