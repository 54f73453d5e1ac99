"""Build, start and talk to the Go interoperability oracle.

The oracle (``tests/interop/oracle/main.go``) is a small Go program that links
the real gorilla/securecookie from Debian's packages. It reads one JSON request
per line on stdin and answers with one JSON line on stdout, so a whole test
session shares a single process.

Gob values cross the pipe as "typed values" JSON (the convention of
``tests/vectors/gorilla/README.md``, extended with ``$struct``, ``$complex*``
and an exact ``$time`` form): :func:`to_typed` renders what our
``GobSerializer`` decodes, :func:`from_typed` builds what it encodes, and
:func:`canonical` puts either side's document in one comparable form.

The binary is built in GOPATH mode (``GO111MODULE=off``) against the sources
that ``golang-github-gorilla-*-dev`` install under ``/usr/share/gocode``; no
module is ever downloaded. It is cached in ``tests/interop/bin/`` (gitignored)
and rebuilt when any ``.go`` file of the oracle is newer than the binary.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import math
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from reference_impl.gob import (
    Complex64,
    Float32,
    GoList,
    GoMap,
    GoStruct,
    GoTime,
    GoType,
    Int8,
    Int16,
    Int32,
    Int64,
    Kind,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Uintptr,
    parse_type,
)
from reference_impl.gob._values import zero_value

__all__ = [
    "ADDRESS",
    "GOPATH_DEFAULT",
    "INSTALL_HINT",
    "PERSON",
    "STRUCTS",
    "GoOracle",
    "OracleError",
    "build_oracle",
    "canonical",
    "find_go",
    "from_typed",
    "missing_prerequisites",
    "to_typed",
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
    "Go toolchain or Debian gorilla packages not installed; run .ci/apt-install.sh "
    "golang-go golang-github-gorilla-securecookie-dev golang-github-gorilla-sessions-dev"
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


# --------------------------------------------------------------------------
# Typed values (see the typed-values section of oracle/main.go)

#: The struct types the oracle registers (``gob.Register(Address{})``, ``(&Person{})``).
ADDRESS = GoType.struct("Address", [("City", "string"), ("Zip", "int")], string="main.Address")
PERSON = GoType.struct(
    "Person",
    [
        ("Name", "string"), ("Age", "int"), ("Tags", "[]string"), ("Score", "float64"),
        ("Admin", "bool"), ("Home", ADDRESS), ("Extra", "interface {}"), ("Data", "[]uint8"),
        ("Seen", "time.Time"), ("Attrs", "map[string]int"),
    ],
    string="main.Person",
)  # fmt: skip
#: Registered name → struct type.
STRUCTS = {"*main.Person": PERSON, "main.Address": ADDRESS}
_WRAPPERS: dict[type, str] = {
    cls: cls.go_type
    for cls in (Int8, Int16, Int32, Int64, Uint, Uint8, Uint16, Uint32, Uint64, Uintptr)
}
_BY_TAG: dict[str, type] = {f"${name}": cls for cls, name in _WRAPPERS.items()}
_SPECIAL_FLOATS = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf, "-0": -0.0}


def _float_doc(number: float) -> Any:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0 and math.copysign(1, number) < 0:
        return "-0"
    return number


def _float_from(doc: Any) -> float:
    if isinstance(doc, str):
        return _SPECIAL_FLOATS[doc] if doc in _SPECIAL_FLOATS else float(doc)
    return float(doc)


def _pairs(items: list[list[Any]]) -> list[list[Any]]:
    return sorted(
        items, key=lambda pair: json.dumps(pair[0], sort_keys=True, separators=(",", ":"))
    )


def _time_doc(moment: GoTime) -> dict[str, Any]:
    return {"$time": {"unix": moment.unix, "nsec": moment.nanosecond, "offset": moment.offset}}


def to_typed(value: Any, *, top: bool = False) -> Any:
    """Render a value our GobSerializer reads (or accepts) as typed-values JSON."""
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind in _WRAPPERS:
        return {f"${_WRAPPERS[kind]}": int(value)}
    if kind is int:
        return value if -(2**63) <= value < 2**63 else {"$uint64": value}
    if kind is float:
        doc = _float_doc(value)
        return {"$float64": doc} if not isinstance(doc, float) or doc.is_integer() else doc
    if kind is Float32:
        return {"$float32": _float_doc(float(value))}
    if kind in (complex, Complex64):
        tag = "$complex64" if kind is Complex64 else "$complex128"
        return {tag: [_float_doc(value.real), _float_doc(value.imag)]}
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode()}
    if kind is list:
        return [to_typed(item) for item in value]
    if kind is GoTime:
        return _time_doc(value)
    if kind is GoList:
        return {f"${value.go_type}": _typed_out(value, value.wire_type)}
    if kind is GoStruct:
        return {"$struct": {"type": value.go_type, "fields": _typed_out(value, value.wire_type)}}
    if isinstance(value, dict):
        go_type = value.go_type if kind is GoMap else ""
        if go_type in ("", "map[string]interface {}") and all(type(k) is str for k in value):
            rendered = {k: to_typed(v) for k, v in value.items()}
            escape = len(value) == 1 and next(iter(value)).startswith("$")
            return {"$object": rendered} if escape else rendered
        if go_type in ("", "map[interface {}]interface {}"):
            return {"$map": _pairs([[to_typed(k), to_typed(v)] for k, v in value.items()])}
        return {f"${go_type}": _typed_out(value, value.wire_type)}
    raise TypeError(f"no typed-values form for {kind.__name__}")


def _typed_out(value: Any, wire: GoType) -> Any:
    """Render a value whose Go type ``wire`` is known from where it sits."""
    kind = wire.kind
    if kind is Kind.INTERFACE:
        return to_typed(value)
    if value is None and kind is Kind.STRUCT:  # Go sends a zero struct for a struct field
        return {name: _typed_out(None, field) for name, field in wire.fields}
    if value is None:
        zero = zero_value(wire)
        if zero is None:
            return None
        value = zero
    if kind in (Kind.BOOL, Kind.STRING, Kind.INT, Kind.UINT):
        return value if kind in (Kind.BOOL, Kind.STRING) else int(value)
    if kind is Kind.FLOAT:
        return _float_doc(float(value))
    if kind is Kind.COMPLEX:
        return [_float_doc(value.real), _float_doc(value.imag)]
    if kind is Kind.BYTES:
        return base64.b64encode(value).decode()
    if kind in (Kind.SLICE, Kind.ARRAY):
        assert wire.elem is not None
        return [_typed_out(item, wire.elem) for item in value]
    if kind is Kind.MAP:
        assert wire.key is not None and wire.elem is not None
        if wire.key.kind is Kind.STRING:
            return {k: _typed_out(v, wire.elem) for k, v in value.items()}
        items = [[_typed_out(k, wire.key), _typed_out(v, wire.elem)] for k, v in value.items()]
        return _pairs(items)
    if kind is Kind.STRUCT:
        return {name: _typed_out(value.get(name), field) for name, field in wire.fields}
    if isinstance(value, GoTime):
        return _time_doc(value)
    raise TypeError(f"no typed-values form for {wire}")


def from_typed(doc: Any, *, top: bool = False) -> Any:
    """The Python value a typed-values document describes (``top``: the session map)."""
    if doc is None or isinstance(doc, bool | str | int | float):
        return doc
    if isinstance(doc, list):
        return [from_typed(item) for item in doc]
    if len(doc) == 1:
        ((tag, payload),) = doc.items()
        if tag.startswith("$"):
            return _from_tag(tag, payload, top)
    return {k: from_typed(v) for k, v in doc.items()}


def _from_tag(tag: str, payload: Any, top: bool) -> Any:
    if tag in _BY_TAG:
        return _BY_TAG[tag](int(payload))
    if tag == "$object":
        return {k: from_typed(v) for k, v in payload.items()}
    if tag == "$map":
        pairs = {from_typed(k): from_typed(v) for k, v in payload}
        return pairs if top else GoMap("map[interface {}]interface {}", pairs)
    if tag == "$bytes":
        return base64.b64decode(payload, validate=True)
    if tag == "$float64":
        return _float_from(payload)
    if tag == "$float32":
        return Float32(_float_from(payload))
    if tag in ("$complex128", "$complex64"):
        number = complex(_float_from(payload[0]), _float_from(payload[1]))
        return Complex64(number) if tag == "$complex64" else number
    if tag == "$time":
        return _time_from(payload)
    if tag == "$struct":
        wire = STRUCTS[payload["type"]]
        return _typed_in(payload["fields"], wire, payload["type"])
    go_type = tag[1:]
    wire = parse_type(go_type)
    if wire.kind is Kind.MAP:
        return GoMap(go_type, _typed_in(payload, wire))
    return GoList(go_type, _typed_in(payload, wire))


def _time_from(payload: Any) -> GoTime:
    if isinstance(payload, str):
        return GoTime.from_datetime(datetime.datetime.fromisoformat(payload))
    offset = payload["offset"]
    return GoTime(
        int(payload["unix"]), int(payload["nsec"]), None if offset is None else int(offset)
    )


def _typed_in(doc: Any, wire: GoType, go_type: str = "") -> Any:
    """The Python value of typed-position JSON ``doc`` of Go type ``wire``."""
    kind = wire.kind
    if kind is Kind.INTERFACE:
        return from_typed(doc)
    if doc is None:
        return [] if kind is Kind.SLICE else None
    if kind in (Kind.BOOL, Kind.STRING):
        return doc
    if kind in (Kind.INT, Kind.UINT):
        return int(doc)
    if kind is Kind.FLOAT:
        number = _float_from(doc)
        return float(Float32(number)) if wire.name == "float32" else number
    if kind is Kind.COMPLEX:
        return complex(_float_from(doc[0]), _float_from(doc[1]))
    if kind is Kind.BYTES:
        return base64.b64decode(doc, validate=True)
    if kind in (Kind.SLICE, Kind.ARRAY):
        assert wire.elem is not None
        return [_typed_in(item, wire.elem) for item in doc]
    if kind is Kind.MAP:
        assert wire.key is not None and wire.elem is not None
        if isinstance(doc, dict):
            return {k: _typed_in(v, wire.elem) for k, v in doc.items()}
        return {_typed_in(k, wire.key): _typed_in(v, wire.elem) for k, v in doc}
    if kind is Kind.STRUCT:
        fields = {name: _typed_in(doc.get(name), field) for name, field in wire.fields}
        return GoStruct(go_type or str(wire), wire, fields)
    if kind is Kind.EXTERNAL:
        return _time_from(doc["$time"])
    raise TypeError(f"no Python value for {wire}")


def canonical(doc: Any, *, top: bool = True) -> str:
    """One comparable text for a typed-values document (Go's or ours)."""
    return json.dumps(to_typed(from_typed(doc, top=top), top=top), sort_keys=True)
