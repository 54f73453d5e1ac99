"""AsyncSQLStore: server-side sessions in one SQL table, through SQLAlchemy's asyncio engine.

Needs the ``sessionspec[sql]`` extra plus an async driver: ``aiosqlite`` for
``sqlite+aiosqlite://`` (the ``sql-async`` extra), psycopg 3 (already in
``sql``) for ``postgresql+psycopg://``, aiomysql for ``mysql+aiomysql://``
(the ``mysql-async`` extra; MySQL and MariaDB). The table, the statements
(``reference_impl._store.sql.Queries``) and the engine settings are the sync
:class:`~reference_impl.sql.SQLStore`'s: each statement is the very function
the sync store runs, handed to ``AsyncConnection.run_sync``. So sync and
async stores share tables, and their guarantees are the same code.

aiosqlite runs each connection in its own non-daemon thread: ``await
store.close()`` (or dispose your engine) before the process exits, or it
waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Concatenate, ParamSpec, TypeVar

try:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import Connection, make_url
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
    from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "sqlalchemy", "sql-async", __name__) from None

from reference_impl import sql as sync_sql
from reference_impl._store.drivers import AsyncServerSideStore
from reference_impl._store.plan import Record
from reference_impl._store.sql import (
    PING,
    PURGE_BATCH,
    Armed,
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
)
from reference_impl.sql import session_table
from spec import Clock, Options
from spec.errors import ConfigurationError
from spec.protocols import Serializer

__all__ = [
    "DEFAULT_URL",
    "AsyncSQLStore",
    "async_url",
    "create_async_engine",
]

DEFAULT_URL = "sqlite+aiosqlite:///sessions.db"
_T = TypeVar("_T")
_P = ParamSpec("_P")
#: Sync drivers with an asyncio twin: psycopg 3 does both; SQLite needs aiosqlite,
#: MySQL/MariaDB aiomysql (PyMySQL's asyncio twin).
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+aiomysql",
    "mysql+pymysql": "mysql+aiomysql",
    "mariadb": "mariadb+aiomysql",
    "mariadb+pymysql": "mariadb+aiomysql",
}


def async_url(url: str) -> str:
    """``url`` with an asyncio driver: ``sqlite://`` → aiosqlite, ``postgresql://`` → psycopg,
    ``mysql://`` and ``mysql+pymysql://`` → aiomysql.

    Lets one URL setting (``sqlite:///sessions.db``) serve sync and async
    stores. URLs naming another driver are left as they are.
    """
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(f"invalid database URL: {exc}") from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        return url
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def create_async_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 10.0,
    connect_timeout: float = 5.0,
    statement_timeout: float = 10.0,
    pool_pre_ping: bool = False,
    pooled: bool = True,
) -> AsyncEngine:
    """:func:`reference_impl.sql.create_engine`'s settings, on an asyncio engine."""
    args = engine_arguments(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        connect_timeout=connect_timeout,
        statement_timeout=statement_timeout,
        pool_pre_ping=pool_pre_ping,
        pooled=pooled,
    )
    try:
        engine = sa_create_async_engine(args.url, connect_args=args.connect_args, **args.options)
    except ImportError as exc:
        raise missing_driver(exc, args.url, "AsyncSQLStore", asynchronous=True) from None
    except (sa_exc.ArgumentError, sa_exc.InvalidRequestError) as exc:
        raise ConfigurationError(f"cannot use database URL: {exc}") from None
    if args.wal:
        sa.event.listen(engine.sync_engine, "connect", sync_sql._sqlite_wal)
    return engine


class _AsyncSQLBackend:
    """The sync backend's statements, each awaited on an autocommit connection.

    Same rules as the sync backend: a pooled connection found dead is
    replaced and the statement retried once (every statement may be), the
    table is created on first use, and every SQLAlchemy error becomes a
    :class:`StoreError` without statement parameters. Each statement runs
    under the same client-side deadline (``timeout``); the whole call runs
    under ``asyncio.timeout(bound)`` as well, which cancels a pool wait or a
    connect that outlasts its own limit, for drivers that honour
    cancellation (aiosqlite does not interrupt a running SQLite call: there
    the busy timeout, ``statement_timeout``, bounds the wait).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        table: sa.Table,
        clock: Clock,
        timeout: float = 5.0,
        pre_ping: bool = False,
        bound: float = 20.0,
    ) -> None:
        self.table, self._clock, self._ready = table, clock, False
        self.timeout, self.pre_ping, self.bound = timeout, pre_ping, bound
        self.queries = Queries(table)
        self.use_engine(engine)

    def use_engine(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._driver_error = driver_error(engine.dialect)

    async def _run(
        self,
        action: str,
        statement: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        armed: list[Armed] = []
        try:
            async with asyncio.timeout(self.bound):
                return await self._attempts(armed, statement, *args, **kwargs)
        except TimeoutError as exc:
            raise timed_out(
                action, self.table, self.bound, "connect_timeout + timeout + pool_timeout"
            ) from exc
        except sa_exc.SQLAlchemyError as exc:
            if any(a.fired for a in armed):
                raise timed_out(action, self.table, self.timeout) from exc
            raise store_error(action, self.table, exc) from exc
        except Exception as exc:
            if not isinstance(exc, self._driver_error):
                raise
            # SQLAlchemy leaves a driver error outside a statement unwrapped: a MySQL
            # connection's SET AUTOCOMMIT on checkout, from an engine passed in.
            raise store_error(action, self.table, sa_exc.DBAPIError(None, None, exc)) from exc

    async def _attempts(
        self,
        armed: list[Armed],
        statement: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        await self._ensure_table(armed)
        try:
            async with self._autocommit.connect() as connection:
                with self._deadline(connection, armed):
                    return await connection.run_sync(self._statement, statement, *args, **kwargs)
        except sa_exc.DBAPIError as exc:
            if not exc.connection_invalidated or any(a.fired for a in armed):
                raise
        async with self._autocommit.connect() as connection:  # on a new connection, once
            with self._deadline(connection, armed):
                return await connection.run_sync(self._statement, statement, *args, **kwargs)

    def _statement(
        self,
        connection: Connection,
        statement: Callable[Concatenate[Connection, _P], _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        if self.pre_ping:  # inside the deadline, unlike SQLAlchemy's own pre-ping
            connection.execute(PING)
        return statement(connection, *args, **kwargs)

    @contextlib.contextmanager
    def _deadline(self, connection: AsyncConnection, armed: list[Armed]) -> Iterator[None]:
        """Shut the connection's socket down if the database has not answered by the deadline.

        Cancelling a psycopg statement instead (``asyncio.timeout`` alone)
        makes psycopg try to cancel it on the server and wait up to 10 s
        more for a hung one; a shut-down socket ends the wait at once.
        """
        sync = connection.sync_connection
        sock = None if sync is None else driver_socket(sync.connection.driver_connection)
        if sock is None:
            yield
            return
        guard = Armed(sock, time.monotonic() + self.timeout)
        armed.append(guard)
        handle = asyncio.get_running_loop().call_later(self.timeout, guard.fire)
        try:
            yield
        finally:
            handle.cancel()
            guard.disarm()

    async def _ensure_table(self, armed: list[Armed]) -> None:
        """Create table and index on first use (again if a racing creator got there first)."""
        if self._ready:
            return
        for attempt in (1, 2):
            try:
                async with self.engine.connect() as connection:
                    with self._deadline(connection, armed):
                        async with connection.begin():
                            await connection.run_sync(
                                self.table.metadata.create_all, checkfirst=True
                            )
                break
            except sa_exc.SQLAlchemyError:
                if attempt == 2 or any(a.fired for a in armed):
                    raise
        self._ready = True

    async def ping(self) -> None:
        await self._run("ping the database", sync_sql._ping)

    async def read(self, session_id: str) -> Record | None:
        return await self._run("read a session", self.queries.read, session_id)

    async def create(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        return await self._run(
            "create a session", self.queries.create, session_id, data, expires_at
        )

    async def update(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        return await self._run(
            "update a session", self.queries.update, session_id, data, expires_at
        )

    async def delete(self, session_id: str) -> bool:
        return await self._run("delete a session", self.queries.delete, session_id)

    async def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        return await self._run(
            "touch a session", self.queries.swap, session_id, expected, data, expires_at
        )

    #: The user index is a column of the row itself: no refresh on every save.
    refresh_user_index = False

    async def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        await self._run("index a user's session", self.queries.index_user, session_id, user_id)

    async def unindex_user(self, session_id: str, user_id: str) -> None:
        await self._run("unindex a user's session", self.queries.unindex_user, session_id, user_id)

    async def user_sessions(self, user_id: str, now: float) -> list[str]:
        return await self._run("list a user's sessions", self.queries.user_sessions, user_id, now)

    async def purge_expired(self, batch_size: int = PURGE_BATCH) -> int:
        check_batch_size(batch_size)
        now, total = self._clock(), 0
        while True:
            removed = await self._run("purge sessions", self.queries.purge, now, batch_size)
            total += removed
            if removed < batch_size:
                return total


class AsyncSQLStore(AsyncServerSideStore):
    """:class:`~reference_impl.sql.SQLStore` for async apps, on an ``AsyncEngine``.

    The same arguments: ``url`` (default ``sqlite+aiosqlite:///sessions.db``;
    a sync URL gets its async driver, see :func:`async_url`) or a ready
    ``engine`` (an ``AsyncEngine``, shared and never disposed by the store),
    not both; the same table, deadlines and guarantees. :meth:`close` (awaited)
    disposes an engine the store made. ``timeout`` bounds each statement as
    in the sync store, and the whole call is also cancelled by
    ``asyncio.timeout`` at ``connect_timeout + timeout + pool_timeout``
    (S-10.10).
    """

    def __init__(
        self,
        *key_pairs: bytes,
        url: str | None = None,
        table: str = "sessions",
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        engine: AsyncEngine | None = None,
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
            raise ConfigurationError("give AsyncSQLStore a url or an engine, not both")
        check_timeout(timeout)
        self._owns_engine = engine is None
        if engine is None:
            url = async_url(url or DEFAULT_URL)
            check_sqlite_path(make_url_or_raise(url))
            engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                connect_timeout=connect_timeout,
                statement_timeout=statement_timeout,
            )
        self._sql = _AsyncSQLBackend(
            engine,
            sql_table,
            clock if clock is not None else time.time,
            timeout,
            pool_pre_ping,
            bound=connect_timeout + timeout + pool_timeout,
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
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy async engine holding the sessions."""
        return self._sql.engine

    @property
    def table(self) -> sa.Table:
        """The session table."""
        return self._sql.table

    async def purge_expired(self, batch_size: int = PURGE_BATCH) -> int:
        """Delete every row past its deadline, ``batch_size`` rows per statement; count them."""
        return self._purged(await self._sql.purge_expired(batch_size))

    async def aping(self) -> None:
        """Check the database answers, for a readiness probe; :class:`StoreError` if not.

        The sync store's :meth:`~reference_impl.sql.SQLStore.ping`, awaited.
        """
        await self._sql.ping()

    async def close(self) -> None:
        """Close the pooled connections of an engine this store created."""
        if self._owns_engine:
            await self._sql.engine.dispose()


#: Per URL, the async engine the conformance stores share (on the suite's event loop).
