"""What the sync and async SQL stores share: their statements and engine settings.

``reference_impl.sql.SQLStore`` runs :class:`Queries` on a ``Connection``;
``reference_impl.aio.sql.AsyncSQLStore`` hands the very same functions to
``AsyncConnection.run_sync``. Both build their engines from
:func:`engine_arguments`. So the SQL, its checks and the safety settings
(hidden parameters, timeouts, pool recycling) exist once.
"""

from __future__ import annotations

from typing import NamedTuple

try:
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.engine import URL, Connection, make_url
    from sqlalchemy.pool import NullPool, StaticPool
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "sqlalchemy", "sql", __name__) from None

from spec.errors import ConfigurationError, StoreError

__all__ = ["EngineArguments", "Queries", "engine_arguments", "store_error"]

#: Pooled connections are replaced before a server or firewall drops idle ones.
_POOL_RECYCLE_SECONDS = 1800


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
        self._delete = sa.delete(table).where(c.id == sid)
        self._purge = sa.delete(table).where(c.expires_at < sa.bindparam("now"))

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

    def delete(self, connection: Connection, sid: str) -> bool:
        """Delete the row; ``True`` if it was there (the rowcount claims it, S-10.5).

        If a connection dies after the delete committed, the store retries
        it and this answers ``False``: a save claiming the row then fails
        closed with ``SessionInterruptedError``, never creating a second one.
        """
        return connection.execute(self._delete, {"sid": sid}).rowcount > 0

    def purge(self, connection: Connection, now: float) -> int:
        return max(0, connection.execute(self._purge, {"now": now}).rowcount)


def store_error(action: str, table: sa.Table, error: sa_exc.SQLAlchemyError) -> StoreError:
    """The :class:`StoreError` for a failed statement (never its parameters: they hold IDs)."""
    return StoreError(f"cannot {action} in table {table.name!r}: {_describe(error)}")


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
