"""SQLStore: server-side sessions in one SQL table, through SQLAlchemy Core.

Any database SQLAlchemy 2 speaks works (SQLite by default; PostgreSQL with
``postgresql+psycopg://``). Each operation is one statement in autocommit
mode, so its atomicity is the database's own: create is a plain ``INSERT``
that fails on the primary key instead of overwriting, update is ``UPDATE
... WHERE id = ?`` whose row count says whether the session still exists,
and :meth:`SQLStore.purge_expired` is one ``DELETE``. Needs the
``sessionspec[sql]`` extra; see ``docs/backends/sql.md``. The statements
and engine settings (``reference_impl._store.sql``) are shared with the
async twin, ``reference_impl.aio.sql.AsyncSQLStore``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

try:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.dialects import mysql
    from sqlalchemy.engine import Connection, Engine
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "sqlalchemy", "sql", __name__) from None

from reference_impl._store.drivers import ServerSideStore
from reference_impl._store.sql import (
    PING,
    PURGE_BATCH,
    Armed,
    Compiled,
    DirectQueries,
    Queries,
    check_batch_size,
    check_sqlite_path,
    check_timeout,
    driver_error,
    driver_socket,
    engine_arguments,
    make_url_or_raise,
    missing_driver,
    store_error,
    timed_out,
    watchdog,
)
from spec import Clock, Options
from spec.errors import ConfigurationError, StoreError
from spec.protocols import Serializer

__all__ = ["DEFAULT_URL", "SQLStore", "create_engine", "session_table"]

DEFAULT_URL = "sqlite:///sessions.db"
_T = TypeVar("_T")
_P = ParamSpec("_P")
#: Letters, digits and ``_``; 48 at most so ``ix_<table>_expires_at`` fits in 63.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")


#: On MySQL/MariaDB the ID compares case-sensitively (``ascii_bin``): the server's default
#: collation is case-insensitive, which would let one row answer for IDs that differ.
#: IDs are 52 ASCII characters, so the key is 52 bytes.
_ID_TYPE = sa.String(52).with_variant(
    mysql.VARCHAR(52, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
)
#: MySQL's ``TEXT`` holds only 64 KiB and, outside strict mode, truncates longer
#: values silently (a corrupt record: a logged-out user); ``MEDIUMTEXT`` holds 16 MiB.
_DATA_TYPE = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
#: ``session.user_id``: at most 128 ASCII characters, compared exactly (S-10.11).
_USER_TYPE = sa.String(128).with_variant(
    mysql.VARCHAR(128, charset="ascii", collation="ascii_bin"), "mysql", "mariadb"
)


def session_table(name: str) -> sa.Table:
    """The schema: the ID, the securecookie text of the values, and the deadline.

    The name is checked because it goes into DDL and every statement.
    ``expires_at`` (Unix seconds on the store's clock, ``NULL`` when the
    store has no max age) is indexed, so purging is a range delete. On
    MySQL and MariaDB the ID is ``VARCHAR(52)`` in ``ascii_bin`` (exact
    comparison) and the data ``MEDIUMTEXT`` (16 MiB, not ``TEXT``'s 64 KiB).
    ``user_id`` (``NULL``: nobody logged in) is indexed, so listing or
    revoking a user's sessions reads only their rows; a table made before
    it existed needs the two statements in ``docs/backends/sql.md``.
    """
    if _TABLE_NAME.fullmatch(name) is None:
        raise ConfigurationError(
            f"table name {name!r} must be letters, digits and _ (at most 48, not a digit first)"
        )
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", _ID_TYPE, primary_key=True),
        sa.Column("data", _DATA_TYPE, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=True, index=True),
        sa.Column("user_id", _USER_TYPE, nullable=True, index=True),
        mysql_engine="InnoDB",
        mariadb_engine="InnoDB",
    )


class _SQLBackend:
    """The four record primitives, each one autocommitted statement (see :class:`Queries`).

    No read-then-write, so the database's own atomicity is the store's.
    Every SQLAlchemy error becomes :class:`StoreError` (without statement
    parameters: they hold session IDs), so an outage is never "no session".
    Each statement runs under a client-side deadline (``timeout``): a
    database that stops answering costs a request ``timeout`` seconds and a
    :class:`StoreError`, never a worker blocked forever.
    """

    def __init__(
        self,
        engine: Engine,
        table: sa.Table,
        clock: Clock,
        timeout: float = 5.0,
        pre_ping: bool = False,
    ) -> None:
        self.table, self._clock = table, clock
        self.timeout, self.pre_ping = timeout, pre_ping
        self._ready, self._lock = False, threading.Lock()
        self.queries = Queries(table)
        self.use_engine(engine)

    def use_engine(self, engine: Engine) -> None:
        self.engine = engine
        self._driver_error = driver_error(engine.dialect)
        # An engine made autocommit at creation (ours always is) needs no
        # per-checkout switch: setting it and resetting it on checkin cost more
        # than the two statements of a request (SQLite 1.2 ms against 0.4 ms).
        # SQLAlchemy itself treats such a connection as autocommit by the same test.
        on_connect = getattr(engine.dialect, "_on_connect_isolation_level", None)
        options = engine.get_execution_options()
        self._autocommit_engine = "AUTOCOMMIT" in (on_connect, options.get("isolation_level"))
        # The direct path needs an engine whose connections commit each statement
        # by themselves (autocommit from the connect on) and whose statements
        # compile the same on every connection (no other execution options,
        # such as a schema_translate_map).
        direct = on_connect == "AUTOCOMMIT" and not set(options) - {"isolation_level"}
        self._direct = DirectQueries(self.table, engine.dialect) if direct else None
        self._base_error = self._driver_error

    def _run(
        self,
        action: str,
        statement: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run one statement on a pooled connection; any failure is a :class:`StoreError`.

        A pooled connection found dead (the database restarted) is replaced
        and the statement retried once, so the first request after a restart
        succeeds. Every statement here may be retried: reads, updates and
        deletes are idempotent, and a create whose first attempt committed
        fails on the primary key, so the store draws another ID.
        """
        armed: list[Armed] = []
        try:
            self._ensure_table(armed)
            try:
                with self._connection(armed) as connection:
                    return self._statement(connection, statement, *args, **kwargs)
            except sa_exc.DBAPIError as exc:
                if not exc.connection_invalidated or any(a.fired for a in armed):
                    raise
            with self._connection(armed) as connection:  # on a new connection, once
                return self._statement(connection, statement, *args, **kwargs)
        except Exception as exc:
            failure = self._failure(action, exc, armed)
            if failure is exc:
                raise
            raise failure from exc

    def _direct_ready(self) -> DirectQueries | None:
        """The compiled statements, if this call may bypass SQLAlchemy's ``Connection``.

        Only while nobody listens: an engine or dialect event listener
        (tracing, statement logging, ``handle_error``) or ``echo`` must see
        every statement, so with any of them the call takes the ordinary
        path. Checked per call, since listeners can be added at any time.
        """
        engine = self.engine
        # ``_has_events`` is SQLAlchemy's own "anybody listening?" flag (2.0);
        # a version without it is treated as listened to: the ordinary path.
        listened = getattr(engine, "_has_events", True) or getattr(
            engine.dialect, "_has_events", True
        )
        if listened or engine.echo:
            return None
        return self._direct

    def _execute(self, action: str, statement: Compiled, values: dict[str, Any]) -> Any:
        """Run one compiled statement on a pooled DBAPI connection: its cursor after execute.

        The connection is checked out of and back into the engine's own pool
        (so its checkout, reset and recycling are SQLAlchemy's), under the
        same deadline and with the same single retry on a connection found
        dead as :meth:`_run`; a driver error is wrapped the way SQLAlchemy
        wraps it (so an ``IntegrityError`` is SQLAlchemy's), and a
        disconnect invalidates the pool as SQLAlchemy does after a restart.
        The caller reads the row or row count inside this call.
        """
        armed: list[Armed] = []
        parameters = statement.parameters(values)
        try:
            self._ensure_table(armed)
            try:
                return self._execute_once(statement.sql, parameters, armed)
            except sa_exc.DBAPIError as exc:
                if not exc.connection_invalidated or any(a.fired for a in armed):
                    raise
            return self._execute_once(statement.sql, parameters, armed)  # a new connection, once
        except Exception as exc:
            raise self._failure(action, exc, armed) from exc

    def _execute_once(
        self, sql: str, parameters: tuple[Any, ...] | dict[str, Any], armed: list[Armed]
    ) -> Any:
        direct = self._direct
        assert direct is not None
        connection = self.engine.raw_connection()
        try:
            with self._deadline_on(connection.driver_connection, armed):
                cursor = connection.cursor()
                try:
                    if self.pre_ping:
                        cursor.execute(direct.ping.sql, direct.ping.parameters({}))
                    cursor.execute(sql, parameters)
                    if cursor.description is not None:
                        return cursor.fetchone()
                    return cursor.rowcount
                except self._base_error as exc:
                    raise self._wrap(exc, sql, connection, cursor) from exc
                finally:
                    with contextlib.suppress(Exception):  # a dead connection's cursor
                        cursor.close()
        finally:
            connection.close()

    def _wrap(self, exc: Exception, sql: str, connection: Any, cursor: Any) -> Exception:
        """SQLAlchemy's exception for a driver error, invalidating the pool on a disconnect."""
        dialect = self.engine.dialect
        try:
            lost = bool(dialect.is_disconnect(cast(Any, exc), connection.dbapi_connection, cursor))
        except Exception:
            lost = False
        if lost:
            # As SQLAlchemy does: every connection opened before this one is
            # replaced at its next checkout (a restarted server killed them all).
            invalidate_all = getattr(self.engine.pool, "_invalidate", None)
            if invalidate_all is not None:  # SQLAlchemy 2.0's own step after a disconnect
                invalidate_all(connection, exc)  # this one too
            if connection.is_valid:
                connection.invalidate(exc)
        return sa_exc.DBAPIError.instance(
            sql,
            None,
            exc,
            self._base_error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=dialect,
        )

    def _failure(self, action: str, exc: Exception, armed: list[Armed]) -> Exception:
        """What a failed call raises: the original if it is not the database's, else StoreError."""
        if not isinstance(exc, sa_exc.SQLAlchemyError | self._driver_error):
            return exc
        if any(a.fired for a in armed):
            return timed_out(action, self.table, self.timeout)
        # SQLAlchemy leaves a driver error outside a statement unwrapped: a MySQL
        # connection's SET AUTOCOMMIT, from an engine passed in that is not autocommit.
        wrapped = (
            exc if isinstance(exc, sa_exc.SQLAlchemyError) else sa_exc.DBAPIError(None, None, exc)
        )
        return store_error(action, self.table, wrapped)

    @contextlib.contextmanager
    def _connection(self, armed: list[Armed]) -> Iterator[Connection]:
        """A pooled connection in autocommit mode, under the deadline from set-up to checkin.

        The mode is set inside the deadline, not at checkout: on an engine
        that is not autocommit already, a MySQL driver sends ``SET
        AUTOCOMMIT`` for it, and the pool's reset on checkin talks to the
        server too; a frozen server must not block either forever.
        """
        connection = self.engine.connect()
        with self._deadline(connection, armed), connection:
            if self._autocommit_engine:
                yield connection
            else:
                yield connection.execution_options(isolation_level="AUTOCOMMIT")

    def _statement(
        self,
        connection: Connection,
        statement: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        if self.pre_ping:  # inside the deadline, unlike SQLAlchemy's own pre-ping
            connection.execute(PING)
        return statement(connection, *args, **kwargs)

    def _deadline(
        self, connection: Connection, armed: list[Armed]
    ) -> contextlib.AbstractContextManager[None]:
        """Shut the connection's socket down if the database has not answered by the deadline."""
        return self._deadline_on(connection.connection.driver_connection, armed)

    @contextlib.contextmanager
    def _deadline_on(self, driver_connection: object, armed: list[Armed]) -> Iterator[None]:
        """:meth:`_deadline` for the driver's own connection object."""
        sock = driver_socket(driver_connection)
        if sock is None:
            yield
            return
        guard = Armed(sock, time.monotonic() + self.timeout)
        armed.append(guard)
        watchdog.arm(guard)
        try:
            yield
        finally:
            guard.disarm()

    def _ensure_table(self, armed: list[Armed]) -> None:
        """Create table and index on first use, in one transaction where DDL has them."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                try:
                    self._create_table(armed)
                except sa_exc.SQLAlchemyError:  # another process created it meanwhile
                    if any(a.fired for a in armed):
                        raise
                    self._create_table(armed)
                self._ready = True

    def _create_table(self, armed: list[Armed]) -> None:
        with self.engine.connect() as connection, self._deadline(connection, armed):
            default = connection.default_isolation_level
            if self._autocommit_engine and default is not None:  # a transaction for the DDL
                connection = connection.execution_options(isolation_level=default)
            with connection.begin():
                self.table.metadata.create_all(connection, checkfirst=True)

    def ping(self) -> None:
        self._run("ping the database", _ping)

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        direct = self._direct_ready()
        if direct is None:
            return self._run("read a session", self.queries.read, session_id)
        row = self._execute("read a session", direct.read, {"sid": session_id})
        if row is None:
            return None
        data, expires_at = row
        return str(data), None if expires_at is None else float(expires_at)

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        direct = self._direct_ready()
        if direct is None:
            return self._run("create a session", self.queries.create, session_id, data, expires_at)
        values = {"sid": session_id, "data": data, "exp": expires_at}
        try:
            self._execute("create a session", direct.create, values)
        except StoreError as exc:
            if isinstance(exc.__cause__, sa_exc.IntegrityError):
                return False  # the ID exists: never overwrite it
            raise
        return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        direct = self._direct_ready()
        if direct is None:
            return self._run("update a session", self.queries.update, session_id, data, expires_at)
        values = {"sid": session_id, "data": data, "exp": expires_at}
        return bool(self._execute("update a session", direct.update, values) > 0)

    def delete(self, session_id: str) -> bool:
        direct = self._direct_ready()
        if direct is None:
            return self._run("delete a session", self.queries.delete, session_id)
        return bool(self._execute("delete a session", direct.delete, {"sid": session_id}) > 0)

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        direct = self._direct_ready()
        if direct is None:
            return self._run(
                "touch a session", self.queries.swap, session_id, expected, data, expires_at
            )
        values = {"sid": session_id, "expected": expected, "data": data, "exp": expires_at}
        return bool(self._execute("touch a session", direct.swap, values) > 0)

    #: The user index is a column of the row itself: no refresh on every save.
    refresh_user_index = False

    def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        self._run("index a user's session", self.queries.index_user, session_id, user_id)

    def unindex_user(self, session_id: str, user_id: str) -> None:
        self._run("unindex a user's session", self.queries.unindex_user, session_id, user_id)

    def user_sessions(self, user_id: str, now: float) -> list[str]:
        return self._run("list a user's sessions", self.queries.user_sessions, user_id, now)

    def purge_expired(self, batch_size: int = PURGE_BATCH) -> int:
        check_batch_size(batch_size)
        now, total = self._clock(), 0
        while True:
            removed = self._run("purge sessions", self.queries.purge, now, batch_size)
            total += removed
            if removed < batch_size:
                return total


def _ping(connection: Connection) -> None:
    """``SELECT 1``: the database answers on this connection."""
    connection.execute(PING)


def create_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 10.0,
    connect_timeout: float = 5.0,
    statement_timeout: float = 10.0,
    pool_pre_ping: bool = False,
    pooled: bool = True,
) -> Engine:
    """An engine set up for sessions: short timeouts, hidden parameters, thread-safe SQLite.

    Statement parameters are kept out of logs and error messages: they hold
    session IDs, which are bearer credentials. A dead pooled connection is
    retried by the store anyway; ``pool_pre_ping`` (one more round trip per
    operation) also covers connections a firewall dropped silently.
    """
    args = engine_arguments(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        connect_timeout=connect_timeout,
        statement_timeout=statement_timeout,
        pool_pre_ping=pool_pre_ping,
        pooled=pooled,
    )
    # Autocommit from the connect on, for every backend: each of the store's
    # statements stands alone, and switching a pooled connection to autocommit
    # and back on every checkout cost more than the statements themselves.
    options = {"isolation_level": "AUTOCOMMIT", **args.options}
    try:
        engine = sa.create_engine(args.url, connect_args=args.connect_args, **options)
    except ImportError as exc:
        raise missing_driver(exc, args.url, "SQLStore", asynchronous=False) from None
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(f"cannot use database URL: {exc}") from None
    if args.wal:
        sa.event.listen(engine, "connect", _sqlite_wal)
    return engine


def _sqlite_wal(dbapi_connection: object, _record: object) -> None:
    """WAL, so readers never wait for the writer; with WAL, ``synchronous=NORMAL`` is safe."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SQLStore(ServerSideStore):
    """Sessions in a SQL table; the cookie holds only the signed ID.

    ``url`` is a SQLAlchemy URL (default ``sqlite:///sessions.db``); or pass
    a ready ``engine``, which the store shares and never disposes. The table
    is created on first use if missing. Each row keeps its deadline, so a
    session's shorter ``max_age`` is enforced server-side; expired rows stay
    unreadable until :meth:`purge_expired` deletes them. Rows hold the
    securecookie text (signed, and encrypted with a block key), so a leaked
    table neither reveals session values nor lets anyone forge them.

    ``timeout`` (seconds, default 5) bounds every statement on the client
    side: a database that stops answering (hung, frozen, partitioned) gives
    :class:`~spec.errors.StoreError` after ``timeout``, and a call in total
    within ``connect_timeout + timeout`` (plus ``pool_timeout`` when every
    pooled connection is busy) (S-10.10). It applies to psycopg 3 connections,
    including those of an engine you pass in; for those, connecting and the
    pool wait are bounded by your engine's own settings. ``pool_pre_ping``
    pings inside that bound (the store's engine does not use SQLAlchemy's
    own pre-ping, which would run outside it).
    """

    def __init__(
        self,
        *key_pairs: bytes,
        url: str | None = None,
        table: str = "sessions",
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        engine: Engine | None = None,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        statement_timeout: float = 10.0,
        pool_pre_ping: bool = False,
        timeout: float = 5.0,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
    ) -> None:
        sql_table = session_table(table)
        if engine is not None and url is not None:
            raise ConfigurationError("give SQLStore a url or an engine, not both")
        check_timeout(timeout)
        self._owns_engine = engine is None
        if engine is None:
            url = url or DEFAULT_URL
            check_sqlite_path(make_url_or_raise(url))
            engine = create_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                connect_timeout=connect_timeout,
                statement_timeout=statement_timeout,
            )
        self._sql = _SQLBackend(
            engine, sql_table, clock if clock is not None else time.time, timeout, pool_pre_ping
        )
        super().__init__(
            self._sql,
            *key_pairs,
            options=options,
            serializer=serializer,
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine holding the sessions."""
        return self._sql.engine

    @property
    def table(self) -> sa.Table:
        """The session table."""
        return self._sql.table

    def purge_expired(self, batch_size: int = PURGE_BATCH) -> int:
        """Delete every row past its deadline, ``batch_size`` rows per statement; count them.

        Each batch is its own short transaction, so a purge of millions of
        rows never locks the table for long (run it from cron or
        ``python -m reference_impl purge``).
        """
        return self._purged(self._sql.purge_expired(batch_size))

    def ping(self) -> None:
        """Check the database answers, for a readiness probe; :class:`StoreError` if not.

        ``SELECT 1`` through the store's own engine and deadline (``timeout``),
        after creating the table if it is missing, as the first request
        would: a ping passes only when a request could. The error's ``cause``
        is the driver's message.
        """
        self._sql.ping()

    def close(self) -> None:
        """Close the pooled connections of an engine this store created."""
        if self._owns_engine:
            self._sql.engine.dispose()
