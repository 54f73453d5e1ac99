"""What the sync and async SQL stores share: their statements and engine settings.

``reference_impl.sql.SQLStore`` runs :class:`Queries` on a ``Connection``;
``reference_impl.aio.sql.AsyncSQLStore`` hands the very same functions to
``AsyncConnection.run_sync``. Both build their engines from
:func:`engine_arguments`. So the SQL, its checks and the safety settings
(hidden parameters, timeouts, pool recycling) exist once.
"""

from __future__ import annotations

import contextlib
import heapq
import inspect
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, cast

try:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import URL, Connection, make_url
    from sqlalchemy.pool import NullPool, StaticPool
    from sqlalchemy.sql.compiler import SQLCompiler
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "sqlalchemy", "sql", __name__) from None

from spec.errors import ConfigurationError, MissingDependencyError, StoreError

__all__ = [
    "PING",
    "PURGE_BATCH",
    "Armed",
    "Compiled",
    "DirectQueries",
    "EngineArguments",
    "Queries",
    "check_batch_size",
    "check_sqlite_path",
    "check_timeout",
    "driver_error",
    "driver_socket",
    "engine_arguments",
    "make_url_or_raise",
    "missing_driver",
    "store_error",
    "timed_out",
    "watchdog",
]

#: Pooled connections are replaced before a server or firewall drops idle ones.
_POOL_RECYCLE_SECONDS = 1800
#: SQLAlchemy 2.0.43 can skip the ROLLBACK it sends after each autocommit statement.
_SKIP_AUTOCOMMIT_ROLLBACK = (
    "skip_autocommit_rollback"
    in inspect.signature(sa.engine.default.DefaultDialect.__init__).parameters
)


class Queries:
    """Every statement of the store, built once per table, each a function of a connection.

    The sync backend calls them on a ``Connection``; the async one
    (``reference_impl.aio.sql``) hands the very same functions to
    ``AsyncConnection.run_sync``, so both run identical SQL with identical
    checks: the primary key makes a racing create fail rather than
    overwrite another browser's session (S-10.6), and the ``UPDATE``'s row
    count makes a save after a logout in another tab fail rather than
    resurrect the session (S-10.5), across threads, processes and hosts.
    """

    def __init__(self, table: sa.Table) -> None:
        c, sid = table.c, sa.bindparam("sid", type_=sa.String)
        self._select = sa.select(c.data, c.expires_at).where(c.id == sid)
        self._insert = sa.insert(table)
        self._update = (
            sa.update(table)
            .where(c.id == sid)
            .values(data=sa.bindparam("data"), expires_at=sa.bindparam("exp"))
        )
        self._swap = (
            sa.update(table)
            .where(c.id == sid, c.data == sa.bindparam("expected"))
            .values(data=sa.bindparam("data"), expires_at=sa.bindparam("exp"))
        )
        self._delete = sa.delete(table).where(c.id == sid)
        # The user index is the row's own user_id column (S-10.11), so it can
        # never disagree with the row's deadline or outlive the row.
        user: sa.BindParameter[str] = sa.bindparam("user", type_=sa.String)
        self._index_user = sa.update(table).where(c.id == sid).values(user_id=user)
        self._unindex_user = (
            sa.update(table).where(c.id == sid, c.user_id == user).values(user_id=None)
        )
        self._user_sessions = sa.select(c.id).where(
            c.user_id == user, sa.or_(c.expires_at.is_(None), c.expires_at >= sa.bindparam("now"))
        )
        now: sa.BindParameter[float] = sa.bindparam("now")
        self._expired_ids = sa.select(c.id).where(c.expires_at < now).limit(sa.bindparam("batch"))
        self._purge_ids = sa.delete(table).where(
            c.id.in_(sa.bindparam("ids", expanding=True)), c.expires_at < now
        )

    def read(self, connection: Connection, sid: str) -> tuple[str, float | None] | None:
        row = connection.execute(self._select, {"sid": sid}).first()
        return None if row is None else (row[0], row[1])

    def create(self, connection: Connection, sid: str, data: str, exp: float | None) -> bool:
        try:
            connection.execute(self._insert, {"id": sid, "data": data, "expires_at": exp})
        except sa_exc.IntegrityError:
            return False  # the ID exists: never overwrite it
        return True

    def update(self, connection: Connection, sid: str, data: str, exp: float | None) -> bool:
        return connection.execute(self._update, {"sid": sid, "data": data, "exp": exp}).rowcount > 0

    def swap(
        self, connection: Connection, sid: str, expected: str, data: str, exp: float | None
    ) -> bool:
        """Replace the row only if its data is still ``expected`` (a touch, S-9.23)."""
        params = {"sid": sid, "expected": expected, "data": data, "exp": exp}
        return connection.execute(self._swap, params).rowcount > 0

    def delete(self, connection: Connection, sid: str) -> bool:
        """Delete the row; ``True`` if it was there (the rowcount claims it, S-10.5).

        If a connection dies after the delete committed, the store retries
        it and this answers ``False``: a save claiming the row then fails
        closed with ``SessionInterruptedError``, never creating a second one.
        """
        return connection.execute(self._delete, {"sid": sid}).rowcount > 0

    def index_user(self, connection: Connection, sid: str, user: str) -> None:
        connection.execute(self._index_user, {"sid": sid, "user": user})

    def unindex_user(self, connection: Connection, sid: str, user: str) -> None:
        connection.execute(self._unindex_user, {"sid": sid, "user": user})

    def user_sessions(self, connection: Connection, user: str, now: float) -> list[str]:
        """The IDs of ``user``'s rows not past their deadline (the ``user_id`` index)."""
        rows = connection.execute(self._user_sessions, {"user": user, "now": now}).scalars()
        return [str(sid) for sid in rows]

    def purge(self, connection: Connection, now: float, batch: int) -> int:
        """Delete up to ``batch`` rows past their deadline; count them.

        Bounded so one call never holds locks on a whole table: the caller
        repeats it until a batch comes back short. The IDs are picked first
        and deleted by primary key (MySQL refuses ``LIMIT`` in a subquery of
        the same table), still only if past the deadline at delete time.
        """
        ids = list(connection.execute(self._expired_ids, {"now": now, "batch": batch}).scalars())
        if not ids:
            return 0
        return max(0, connection.execute(self._purge_ids, {"now": now, "ids": ids}).rowcount)


class Compiled(NamedTuple):
    """One statement as the driver takes it: its SQL text and how to lay out its parameters."""

    sql: str
    #: Parameter names in placeholder order (positional paramstyles), or ``None`` for a dict.
    order: tuple[str, ...] | None
    #: The dialect's conversions of bound values (SQLite's ``Double`` makes floats), by name.
    convert: Mapping[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, statement: sa.ClauseElement, dialect: sa.engine.Dialect) -> Compiled:
        compiled = cast("SQLCompiler", statement.compile(dialect=dialect))
        order = tuple(compiled.positiontup or ()) if dialect.positional else None
        convert = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                convert[name] = processor
        return cls(compiled.string, order, convert)

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        for name, processor in self.convert.items():
            if name in values:
                values[name] = processor(values[name])
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)


class DirectQueries:
    """The per-request statements of :class:`Queries`, compiled once for one dialect.

    The sync store runs these on a pooled DBAPI connection's cursor
    (``SQLStore``'s direct path): the same SQL SQLAlchemy would send,
    without the per-statement work of a SQLAlchemy ``Connection`` (autobegin,
    execution context, result wrapping, a rollback at checkin), which cost
    more than the statement itself on SQLite: about 25 µs of the 45 µs of a
    session read. The store uses them only where nothing could notice the
    difference: an engine that is autocommit from the connect on, with no
    event listeners and no echo (see ``SQLStore``); everywhere else every
    statement goes through :class:`Queries`.
    """

    def __init__(self, table: sa.Table, dialect: sa.engine.Dialect) -> None:
        c = table.c
        sid = sa.bindparam("sid", type_=sa.String)
        data, exp = (
            sa.bindparam("data", type_=c.data.type),
            sa.bindparam("exp", type_=c.expires_at.type),
        )
        self.read = Compiled.of(sa.select(c.data, c.expires_at).where(c.id == sid), dialect)
        self.create = Compiled.of(
            sa.insert(table).values(id=sid, data=data, expires_at=exp), dialect
        )
        self.update = Compiled.of(
            sa.update(table).where(c.id == sid).values(data=data, expires_at=exp), dialect
        )
        self.swap = Compiled.of(
            sa.update(table)
            .where(c.id == sid, c.data == sa.bindparam("expected", type_=c.data.type))
            .values(data=data, expires_at=exp),
            dialect,
        )
        self.delete = Compiled.of(sa.delete(table).where(c.id == sid), dialect)
        self.ping = Compiled.of(PING, dialect)


#: Rows one purge statement deletes at most (``purge_expired(batch_size=...)``).
PURGE_BATCH = 1000


def check_batch_size(batch_size: int) -> None:
    """Refuse a purge batch that is not a positive int."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive int; got {batch_size!r}")


#: What the store's own pre-ping sends, inside the statement deadline.
PING: sa.Select[tuple[int]] = sa.select(sa.literal_column("1", sa.Integer))


def driver_error(dialect: sa.engine.Dialect) -> type[Exception]:
    """The driver's base exception (PEP 249 ``Error``), to catch what SQLAlchemy does not wrap."""
    error = getattr(dialect.loaded_dbapi, "Error", None)
    return error if isinstance(error, type) and issubclass(error, Exception) else sa_exc.DBAPIError


def driver_socket(driver_connection: object) -> socket.socket | None:
    """A private duplicate of the connection's socket, or ``None`` (no socket to watch).

    psycopg 3 (sync and async) exposes its libpq socket and PyMySQL its
    ``socket``; SQLite has none, and other drivers are bounded by their own
    settings (aiomysql: the async store's ``asyncio.timeout``). A duplicate
    keeps the socket open until :meth:`Armed.disarm`, so shutting it down
    can never hit a descriptor number the process has reused meanwhile.
    """
    pgconn = getattr(driver_connection, "pgconn", None)
    mysql_socket = getattr(driver_connection, "_sock", None)  # PyMySQL's, TLS or not
    try:
        if pgconn is not None:
            return socket.socket(fileno=os.dup(pgconn.socket))
        if isinstance(mysql_socket, socket.socket):
            return socket.socket(fileno=os.dup(mysql_socket.fileno()))
    except Exception:  # closed or broken: the statement will fail by itself
        return None
    return None


class Armed:
    """One statement's deadline: past it, its socket is shut down, so the driver's wait
    ends with a connection error at once instead of blocking forever on a hung server.

    Neither a server-side ``statement_timeout`` nor TCP keepalives help when
    the server process is frozen (SIGSTOP, a stuck host): its kernel still
    acknowledges every packet. Only the client can end the wait.
    """

    __slots__ = ("_lock", "_sock", "deadline", "done", "fired")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self.deadline = sock, deadline
        self._lock = threading.Lock()
        self.done = self.fired = False

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.fired = True
            with contextlib.suppress(OSError):  # already closed by the peer
                self._sock.shutdown(socket.SHUT_RDWR)

    def disarm(self) -> None:
        with self._lock:
            self.done = True
            self._sock.close()


class _Watchdog:
    """One daemon thread firing the sync stores' :class:`Armed` deadlines.

    Arming is a heap push (the thread is woken only when the new deadline is
    the earliest); disarmed entries are dropped when the thread next wakes.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """No deadlines and no thread; also in a forked child, which inherits no thread
        (gunicorn ``--preload``): the next :meth:`arm` starts one there."""
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Armed]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, armed: Armed) -> None:
        with self._cond:
            heapq.heappush(self._heap, (armed.deadline, next(self._order), armed))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="sessionspec-sql-watchdog", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is armed:
                self._cond.notify()

    def _loop(self) -> None:
        while True:
            due: list[Armed] = []
            with self._cond:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    armed = heapq.heappop(self._heap)[2]
                    if not armed.done:
                        due.append(armed)
                if not due:
                    self._cond.wait(max(self._heap[0][0] - now, 0.01) if self._heap else None)
            for armed in due:
                armed.fire()


watchdog = _Watchdog()
os.register_at_fork(after_in_child=watchdog.reset)


def timed_out(
    action: str, table: sa.Table, seconds: float, what: str = "timeout; the connection was closed"
) -> StoreError:
    """The :class:`StoreError` for a call the database did not answer in time."""
    return StoreError(
        f"table {table.name!r}: the database did not answer within {seconds:g} s ({what})",
        backend="sql",
        action=action,
    )


def check_timeout(timeout: float) -> None:
    """``timeout`` must be a positive number of seconds."""
    if not timeout > 0:
        raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout!r}")


def make_url_or_raise(url: str) -> URL:
    """The parsed URL, or :class:`ConfigurationError` saying it is malformed."""
    try:
        return make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(f"invalid database URL: {exc}") from None


def check_sqlite_path(url: URL) -> None:
    """Refuse a SQLite file that cannot be opened, at construction rather than per request.

    Otherwise a typo in the path would only show as a :class:`StoreError`
    on every request, long after deployment.
    """
    database = url.database
    if url.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return
    if database.startswith("file:") or url.query.get("uri") in ("true", "1"):
        return  # a SQLite URI: its own rules
    path = Path(database)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ConfigurationError(
            f"cannot open SQLite database {database!r}: directory {str(directory)!r} does "
            "not exist; create it or fix the URL (sqlite:////absolute/path/sessions.db)"
        )
    if path.is_dir():
        raise ConfigurationError(
            f"cannot open SQLite database {database!r}: it is a directory; name a file in it"
        )
    target = path if path.exists() else directory
    if not os.access(target, os.R_OK | os.W_OK):
        raise ConfigurationError(
            f"cannot open SQLite database {database!r}: {str(target)!r} is not readable and "
            "writable by this process; fix its permissions or choose another path"
        )


#: The database driver modules an extra installs: (extra for a sync store, for an async one).
_DRIVER_EXTRAS = {
    "psycopg": ("sql", "sql"),
    "pymysql": ("mysql", "mysql-async"),  # aiomysql is built on PyMySQL
    "aiomysql": ("mysql-async", "mysql-async"),
    "aiosqlite": ("sql-async", "sql-async"),
}
#: Drivers no extra installs (SQLAlchemy's defaults for a bare URL): the URL that uses
#: the one the extra does install, and that extra.
_OTHER_DRIVERS = {
    "MySQLdb": ("mysql+pymysql://", "mysql"),
    "psycopg2": ("postgresql+psycopg://", "sql"),
    "asyncpg": ("postgresql+psycopg://", "sql"),
}


def missing_driver(exc: ImportError, url: URL, store: str, *, asynchronous: bool) -> Exception:
    """The error for an engine whose DBAPI driver is not installed.

    :class:`MissingDependencyError` naming the extra to install when an
    extra provides the driver (``mysql://`` means MySQLdb, which none does:
    the message says to write ``mysql+pymysql://``); otherwise a
    :class:`ConfigurationError` naming the module. Either way at
    construction, not a bare ``ModuleNotFoundError`` from inside SQLAlchemy.
    """
    module = (exc.name or "").split(".")[0]
    scheme = f"{url.drivername}://"
    if module in _DRIVER_EXTRAS:
        extra = _DRIVER_EXTRAS[module][1 if asynchronous else 0]
        return MissingDependencyError(module, extra, f"{store} with a {scheme!r} URL")
    if module in _OTHER_DRIVERS:
        instead, extra = _OTHER_DRIVERS[module]
        if asynchronous and extra == "mysql":
            instead, extra = "mysql+aiomysql://", "mysql-async"
        return MissingDependencyError(
            module,
            extra,
            f"{store} with a {scheme!r} URL (a driver no extra installs; write "
            f"{instead!r} for the one the extra below does)",
        )
    return ConfigurationError(
        f"{store}: the driver of {scheme!r} URLs, {module or exc}, is not installed; "
        "install it or use a driver an extra provides (see docs/backends/sql.md)"
    )


def store_error(action: str, table: sa.Table, error: sa_exc.SQLAlchemyError) -> StoreError:
    """The :class:`StoreError` for a failed statement (never its parameters: they hold IDs)."""
    return StoreError(f"table {table.name!r}: {_describe(error)}", backend="sql", action=action)


def _describe(error: sa_exc.SQLAlchemyError) -> str:
    """The driver's message, first line only: never the statement or its parameters."""
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        lines = str(error.orig).strip().splitlines() or [""]
        return f"{type(error.orig).__name__}: {lines[0]}"
    return type(error).__name__


class EngineArguments(NamedTuple):
    """What :func:`create_engine` and its async twin pass on; ``wal``: a SQLite file."""

    url: URL
    connect_args: dict[str, object]
    options: dict[str, object]
    wal: bool


def engine_arguments(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 10.0,
    connect_timeout: float = 5.0,
    statement_timeout: float = 10.0,
    pool_pre_ping: bool = False,
    pooled: bool = True,
) -> EngineArguments:
    """The engine settings for sessions, for sync and async engines alike."""
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(f"invalid database URL: {exc}") from None
    options: dict[str, object] = {"pool_pre_ping": pool_pre_ping, "hide_parameters": True}
    connect: dict[str, object] = {}
    memory = backend == "sqlite" and parsed.database in (None, "", ":memory:")
    if backend == "sqlite":  # threads share pooled connections; writers wait for the lock
        connect = {"check_same_thread": False, "timeout": statement_timeout}
    elif backend in ("postgresql", "mysql", "mariadb"):
        connect["connect_timeout"] = max(1, round(connect_timeout))
    if backend in ("mysql", "mariadb"):
        # Autocommit from the connect on, so the store's per-statement autocommit costs no
        # SET AUTOCOMMIT round trips on checkout and checkin (MySQL drivers send one for
        # each), and a connection found dead fails inside a statement, where SQLAlchemy
        # notices it, invalidates the pool and the store retries once. With no transaction
        # ever open, the pool's ROLLBACK on every checkin is a wasted round trip too.
        options.update(isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
        if _SKIP_AUTOCOMMIT_ROLLBACK:
            options["skip_autocommit_rollback"] = True
    if backend in ("mysql", "mariadb") and parsed.get_driver_name() == "pymysql":
        # PyMySQL's connect_timeout covers only the TCP connect: without these a server
        # that accepts but never answers (frozen) blocks the handshake forever.
        connect["read_timeout"] = connect["write_timeout"] = max(1, round(statement_timeout))
    if backend == "postgresql":
        connect["options"] = f"-c statement_timeout={round(statement_timeout * 1000)}"
    if memory:
        options["poolclass"] = StaticPool  # one connection, or each would be a new database
    elif not pooled:
        options["poolclass"] = NullPool
    else:
        options.update(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=_POOL_RECYCLE_SECONDS,
        )
    return EngineArguments(parsed, connect, options, backend == "sqlite" and not memory)
