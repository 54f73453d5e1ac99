"""SQLStore and AsyncSQLStore on a real MariaDB: the whole suite, outages, the table.

MariaDB comes from ``$SESSIONSPEC_MARIADB_URL`` (a ``mysql+pymysql://`` URL)
if set, otherwise from a throwaway server started here
(``tests/backends/_mariadb_server.py``); the outage tests always start a
private one, because they stop it. Without the server binaries these tests
skip, or fail under ``CI=true``. The sync store runs on PyMySQL
(``mysql+pymysql://``, the ``mysql`` extra), the async one on aiomysql
(``mysql+aiomysql://``, the ``mysql-async`` extra). The last tests check that
a missing driver, for any URL, names the extra that installs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("sqlalchemy", reason="the 'sql' extra (SQLAlchemy) is not installed")
    pytest.importorskip("pymysql", reason="the 'mysql' extra (PyMySQL) is not installed")
    pytest.importorskip("aiomysql", reason="the 'mysql-async' extra (aiomysql) is not installed")

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from conformance import Browser, Capabilities, StoreConformance, run_async
from reference_impl import testing
from reference_impl._store import server_side as _server_side
from reference_impl.aio.sql import AsyncSQLStore, async_url, create_async_engine
from reference_impl.sql import SQLStore, session_table
from spec import ManualClock
from spec.errors import ConfigurationError, SessionInterruptedError, StoreError
from spec.http import RecordingResponse, SimpleRequest
from tests.backends import _mariadb_server
from tests.backends._hang import bounded
from tests.backends._mariadb_server import MariaDBServer, running_server
from tests.stores._support import BLOCK, HASH

# The real-server fixtures, defined once beside the server.
mariadb_server = _mariadb_server.mariadb_server
mariadb_url = _mariadb_server.mariadb_url

ROOT = Path(__file__).parents[2]
FORCED_ID = "A" * 52


def _table() -> str:
    return f"sessions_{uuid.uuid4().hex[:12]}"


def _drop(url: str, tables: list[str]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            for table in tables:
                session_table(table).drop(connection, checkfirst=True)
    finally:
        engine.dispose()


class _Stores:
    """The sync stores one test makes, each in a new table; closed and dropped after."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[SQLStore] = []

    def make(self, *keys: bytes, clock: ManualClock | None = None, **settings: Any) -> SQLStore:
        settings.setdefault("table", _table())
        store = SQLStore(
            *(keys or (HASH, BLOCK)), url=self.url, clock=clock or ManualClock(), **settings
        )
        self.made.append(store)
        return store

    def close(self) -> None:
        for store in self.made:
            store.close()
        _drop(self.url, sorted({store.table.name for store in self.made}))


@pytest.fixture
def stores(mariadb_url: str) -> Iterator[_Stores]:
    made = _Stores(mariadb_url)
    yield made
    made.close()


# -- the whole suite, every server-side capability declared --------------------------------


class TestMariaDBStoreConformance(StoreConformance[SQLStore]):
    """SQLStore through ``mysql+pymysql://``: ``testing.sql``'s capabilities, all of them."""

    capabilities = Capabilities.model_validate(testing.sql.capabilities)
    url: str

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _database(cls, mariadb_url: str) -> None:
        cls.url = mariadb_url  # before any hook runs, whatever the suite calls first

    @pytest.fixture(autouse=True)
    def _drop_tables(self) -> Iterator[None]:
        yield
        self._stores().close()

    def _stores(self) -> _Stores:
        stores: _Stores = self.__dict__.setdefault("_mariadb_stores", _Stores(self.url))
        return stores

    def make_store(self, clock: ManualClock) -> SQLStore:
        return self._stores().make(HASH, BLOCK, clock=clock)

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> SQLStore:
        return self._stores().make(
            HASH,
            BLOCK,
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> SQLStore:
        if "_base" not in self.__dict__:
            self._base = self.make_store(clock)
        return self._base.with_keys(*key_pairs)

    def raw_record(self, store: SQLStore, session_id: str) -> object | None:
        table = store.table
        with store.engine.connect() as connection:
            row = connection.execute(
                sa.select(table.c.data, table.c.expires_at).where(table.c.id == session_id)
            ).first()
        return None if row is None else tuple(row)

    def break_backend(self, store: SQLStore) -> None:
        testing.sql.break_backend(store)


class TestAsyncMariaDBStoreConformance(StoreConformance[Any]):
    """AsyncSQLStore through ``mysql+aiomysql://`` (the sync URL, mapped by ``async_url``)."""

    capabilities = Capabilities.model_validate(testing.async_sql.capabilities).model_copy(
        update={"id_sample_size": 2000}  # as tests/aio: each draw crosses to the loop and back
    )

    url: str

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _database(cls, mariadb_url: str) -> None:
        cls.url = mariadb_url  # before any hook runs, whatever the suite calls first

    @pytest.fixture(autouse=True)
    def _drop_tables(self) -> Iterator[None]:
        yield
        engine: AsyncEngine | None = self.__dict__.get("_engine")
        if engine is not None:
            run_async(engine.dispose())
        _drop(self.url, self.__dict__.get("_tables", []))

    def _store(self, clock: ManualClock, *keys: bytes, **settings: int) -> AsyncSQLStore:
        if "_engine" not in self.__dict__:
            self._engine = create_async_engine(self.url)
            assert self._engine.url.drivername == "mysql+aiomysql"
        tables: list[str] = self.__dict__.setdefault("_tables", [])
        tables.append(_table())
        return AsyncSQLStore(*keys, engine=self._engine, table=tables[-1], clock=clock, **settings)

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> AsyncSQLStore:
        return self._store(
            clock, HASH, BLOCK, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout
        )

    def make_store(self, clock: ManualClock) -> AsyncSQLStore:
        return self._store(clock, HASH, BLOCK)

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> AsyncSQLStore:
        if "_base" not in self.__dict__:
            self._base = self._store(clock, HASH, BLOCK)
        return self._base.with_keys(*key_pairs)

    async def raw_record(self, store: AsyncSQLStore, session_id: str) -> object | None:
        table = store.table
        async with store.engine.connect() as connection:
            result = await connection.execute(
                sa.select(table.c.data, table.c.expires_at).where(table.c.id == session_id)
            )
            row = result.first()
        return None if row is None else tuple(row)

    def break_backend(self, store: AsyncSQLStore) -> None:
        testing.async_sql.break_backend(store)


def test_the_conformance_factories_run_on_mariadb(
    mariadb_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``SESSIONSPEC_SQL_URL=mysql+pymysql://... python -m conformance reference_impl.testing:sql``
    works: the factories build stores there (the async one on aiomysql), break them, and drop
    their tables at exit."""
    monkeypatch.setenv("SESSIONSPEC_SQL_URL", mariadb_url)
    store = testing.sql(ManualClock())
    assert isinstance(store, SQLStore)
    try:
        browser = Browser()
        browser.visit(store, user="alice")
        assert browser.load(store).values == {"user": "alice"}
        testing.sql.break_backend(store)
        with pytest.raises(StoreError):
            browser.load(store)
    finally:
        testing._drop_conformance_tables()
    probe = SQLStore(HASH, url=mariadb_url, table=store.table.name)
    try:
        with probe.engine.connect() as connection:
            assert not sa.inspect(connection).has_table(store.table.name)
    finally:
        probe.close()


def test_python_m_conformance_passes_on_mariadb(mariadb_url: str) -> None:
    """The command docs/backends/sql.md prints, as a user runs it: ``python -m conformance
    --level server-side`` on ``reference_impl.testing:sql`` (PyMySQL) and ``:async_sql``
    (aiomysql) against MariaDB, every server-side capability declared, exits 0."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "--level",
            "server-side",
            "reference_impl.testing:sql",
            "reference_impl.testing:async_sql",
        ],
        env={**os.environ, "SESSIONSPEC_SQL_URL": mariadb_url},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    # --level server-side: non-zero unless every server-side clause ran and passed
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "sql: server-side" in result.stdout and "async-sql: server-side" in result.stdout


# -- the table as MariaDB sees it -------------------------------------------------------------


def _show_create(store: SQLStore) -> str:
    with store.engine.connect() as connection:
        row = connection.execute(sa.text(f"SHOW CREATE TABLE `{store.table.name}`")).one()
    return str(row[1])


def test_the_table_definition_on_mariadb(stores: _Stores) -> None:
    """Created on first use: InnoDB, a 52-byte ``ascii_bin`` primary key, ``MEDIUMTEXT`` data,
    a ``DOUBLE`` deadline with its index, whatever the server's default collation."""
    store = stores.make()
    Browser().visit(store, user="alice")
    ddl = _show_create(store)
    assert "`id` varchar(52) CHARACTER SET ascii COLLATE ascii_bin NOT NULL" in ddl
    assert "`data` mediumtext" in ddl and "NOT NULL" in ddl
    assert "`expires_at` double DEFAULT NULL" in ddl
    assert "PRIMARY KEY (`id`)" in ddl
    assert "KEY `ix_" in ddl and "(`expires_at`)" in ddl
    assert "ENGINE=InnoDB" in ddl
    with store.engine.connect() as connection:
        collation = connection.execute(sa.text("SELECT @@collation_server")).scalar()
    assert collation == "utf8mb4_general_ci"  # the server's default is case-insensitive


def test_ids_compare_byte_for_byte(stores: _Stores) -> None:
    """A row answers only for its exact ID: under the server's default collation ``AAAA``
    and ``aaaa`` would be one key. (``ascii_bin`` still pads: ``ID`` and ``ID `` compare
    equal, which cannot matter because IDs are validated before any query, S-10.3.)"""
    store = stores.make()
    Browser().visit(store, user="warm-up")  # creates the table
    lower = "a" * 52
    with store.engine.begin() as connection:
        connection.execute(sa.insert(store.table).values(id=lower, data="x", expires_at=None))
    assert store.backend.read(lower) == ("x", None)
    assert store.backend.read("A" * 52) is None
    # and the upper-case ID is a different row, not a duplicate key
    assert store.backend.create("A" * 52, "y", None, None) is True
    assert store.backend.read("A" * 52) == ("y", None)


def test_records_larger_than_text_round_trip(stores: _Stores) -> None:
    """With the size check off (``max_length(0)``) a 200 KB record round trips: MySQL's
    ``TEXT`` holds 64 KiB and would refuse it (or, outside strict mode, truncate it into a
    corrupt record: a silent logout)."""
    store = stores.make()
    store.max_length(0)
    browser = Browser()
    big = os.urandom(100_000).hex()  # incompressible: the record is larger still
    browser.visit(store, blob=big)
    session_id = browser.load(store).id
    record = store.backend.read(session_id)
    assert record is not None and len(record[0]) > 150_000
    assert browser.load(store).values == {"blob": big}


def test_the_deadline_keeps_its_precision(stores: _Stores) -> None:
    """``DOUBLE`` keeps a float deadline exactly (sub-second, far-future): no rounding moves
    a session's end, as a ``DATETIME`` without fractional seconds or a ``FLOAT`` would."""
    store = stores.make()
    Browser().visit(store, user="warm-up")
    for deadline in (1702592000.123456789, 4102444800.000001, 0.1, 1e15 + 0.5):
        session_id = uuid.uuid4().hex.upper() + "B" * 20
        assert store.backend.create(session_id, "x", deadline, None)
        assert store.backend.read(session_id) == ("x", deadline)


def test_an_update_that_changes_nothing_still_counts(stores: _Stores) -> None:
    """The dialect's ``FOUND_ROWS`` flag: an ``UPDATE`` writing the same values reports the
    row (matched, not changed), so saving an unchanged session is not read as "deleted
    meanwhile" (S-10.5), sync and async."""
    store = stores.make()
    Browser().visit(store, user="warm-up")
    assert store.backend.create(FORCED_ID, "same", 5.0, None)
    assert store.backend.update(FORCED_ID, "same", 5.0, None) is True

    async def on_aiomysql() -> bool:
        twin = AsyncSQLStore(HASH, url=stores.url, table=store.table.name)
        try:
            return await twin.backend.update(FORCED_ID, "same", 5.0, None)
        finally:
            await twin.close()

    assert asyncio.run(on_aiomysql()) is True


def test_concurrent_creates_on_one_id_never_overwrite(
    stores: _Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads forced onto one ID: InnoDB's primary key lets exactly one win (S-10.6)."""
    store = stores.make()
    Browser().visit(store, user="warm-up")
    monkeypatch.setattr(_server_side, "new_session_id", lambda: FORCED_ID)
    barrier = threading.Barrier(6)
    won: list[int] = []
    refused: list[BaseException] = []

    def create(n: int) -> None:
        request, response = SimpleRequest(), RecordingResponse()
        session = store.new(request, "app")
        session.values["owner"] = n
        barrier.wait()
        try:
            session.save(request, response)
            won.append(n)
        except StoreError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == 5


def test_a_logout_in_one_worker_is_not_undone_by_another(stores: _Stores) -> None:
    """Two stores with their own pools (two workers): a save after a logout elsewhere
    fails with SessionInterruptedError instead of resurrecting the row (S-10.5)."""
    one = stores.make()
    two = stores.make(table=one.table.name)
    browser = Browser()
    browser.visit(one, user="alice")
    request = browser.request()
    held = one.get(request, "app")
    logout_request = browser.request()
    logout = two.get(logout_request, "app")
    logout.options = logout.options.replace(max_age=-1)
    logout.save(logout_request, RecordingResponse())
    held.values["user"] = "mallory"
    with pytest.raises(SessionInterruptedError):
        held.save(request, RecordingResponse())
    assert browser.load(one).is_new


def test_sync_and_async_stores_share_a_table(stores: _Stores) -> None:
    """PyMySQL and aiomysql stores on one table read each other's sessions (one schema)."""
    store = stores.make()
    browser = Browser()
    browser.visit(store, user="alice")

    async def main() -> None:
        twin = AsyncSQLStore(HASH, BLOCK, url=stores.url, table=store.table.name, clock=store.clock)
        try:
            request, response = browser.request(), RecordingResponse()
            session = await twin.get(request, "app")
            assert session.values == {"user": "alice"}
            session.values["seen"] = True
            await session.asave(request, response)
            browser.receive(response)
        finally:
            await twin.close()

    asyncio.run(main())
    assert browser.load(store).values == {"user": "alice", "seen": True}


_COUNTERS = ("Com_select", "Com_update", "Com_rollback", "Com_commit", "Com_set_option")


class _Counters:
    """MariaDB's global statement counters, read on one connection opened up front, so
    the probe adds nothing to them (``SHOW GLOBAL STATUS`` is counted elsewhere)."""

    def __init__(self, url: str) -> None:
        import pymysql

        parsed = sa.engine.make_url(url)
        self.connection = pymysql.connect(
            host=parsed.host, port=parsed.port, user=parsed.username, autocommit=None
        )

    def read(self) -> dict[str, int]:
        with self.connection.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Com_%'")
            values = {str(name): value for name, value in cursor.fetchall()}
        return {name: int(values[name]) for name in _COUNTERS}

    def close(self) -> None:
        self.connection.close()


def test_a_request_costs_one_select_and_one_update(stores: _Stores) -> None:
    """Load + save of an existing session is exactly a SELECT and an UPDATE on the server,
    sync and async: no SET AUTOCOMMIT per checkout and no ROLLBACK per checkin (the
    defaults of a MySQL engine, which would triple the round trips)."""
    counters = _Counters(stores.url)
    store = stores.make()
    browser = Browser()
    browser.visit(store, n=0)
    before = counters.read()
    for n in range(1, 21):
        browser.visit(store, n=n)
    after = counters.read()
    assert {k: after[k] - before[k] for k in _COUNTERS} == {
        "Com_select": 20,
        "Com_update": 20,
        "Com_rollback": 0,
        "Com_commit": 0,
        "Com_set_option": 0,
    }

    async def on_aiomysql() -> dict[str, int]:
        twin = AsyncSQLStore(HASH, BLOCK, url=stores.url, table=store.table.name, clock=store.clock)
        try:
            request, response = browser.request(), RecordingResponse()
            await (await twin.get(request, "app")).asave(request, response)  # warm the pool
            start = counters.read()
            for n in range(20):
                request, response = browser.request(), RecordingResponse()
                session = await twin.new(request, "app")
                session.values["n"] = n
                await session.asave(request, response)
            end = counters.read()
            return {k: end[k] - start[k] for k in _COUNTERS}
        finally:
            await twin.close()

    try:
        assert asyncio.run(on_aiomysql()) == {
            "Com_select": 20,
            "Com_update": 20,
            "Com_rollback": 0,
            "Com_commit": 0,
            "Com_set_option": 0,
        }
    finally:
        counters.close()


def test_mysql_urls_get_aiomysql_for_the_async_store() -> None:
    """One URL setting serves both stores: the sync PyMySQL URL maps to aiomysql."""
    assert async_url("mysql+pymysql://u:p@h/db") == "mysql+aiomysql://u:p@h/db"
    assert async_url("mysql://u:p@h/db") == "mysql+aiomysql://u:p@h/db"
    assert async_url("mariadb+pymysql://h/db") == "mariadb+aiomysql://h/db"
    assert async_url("mysql+aiomysql://h/db") == "mysql+aiomysql://h/db"


# -- a real outage ------------------------------------------------------------------------------


def _mariadb_url_of(server: MariaDBServer, driver: str = "pymysql") -> str:
    return server.url(driver)


def test_mariadb_outage_raises_store_error_then_recovers() -> None:
    """Stop MariaDB mid-test: get, new and save raise StoreError and send no cookie; after
    a restart on the same port the same store object works again, also when the restart
    happened between two requests (a dead pooled connection is replaced once) (S-10.4)."""
    with running_server() as server:
        store = SQLStore(HASH, BLOCK, url=_mariadb_url_of(server), connect_timeout=2)
        try:
            browser = Browser()
            browser.visit(store, user="alice")
            held_request = browser.request()
            held = store.get(held_request, "app")
            server.stop()
            with pytest.raises(StoreError):
                browser.load(store)
            with pytest.raises(StoreError):
                store.new(browser.request(), "app")
            held.values["user"] = "bob"
            held_response = RecordingResponse()
            with pytest.raises(StoreError):
                held.save(held_request, held_response)
            assert held_response.set_cookie_headers() == []
            request, response = SimpleRequest(), RecordingResponse()
            fresh = store.new(request, "app")
            fresh.values["x"] = 1
            with pytest.raises(StoreError):
                fresh.save(request, response)
            assert response.set_cookie_headers() == []

            server.start()
            assert browser.load(store).values == {"user": "alice"}
            browser.visit(store, user="carol")
            assert browser.load(store).values == {"user": "carol"}

            server.stop()
            server.start()
            assert browser.load(store).values == {"user": "carol"}
            assert Browser().visit(store, x=2).id
        finally:
            store.close()


def test_an_engine_passed_in_survives_a_restart_as_store_errors_only() -> None:
    """A default engine of the user's (not autocommit: each checkout sends ``SET
    AUTOCOMMIT``, outside any statement, where SQLAlchemy wraps no error) gives StoreError
    across a restart, never a raw driver error; with ``pool_pre_ping=True`` on the engine,
    as docs/backends/sql.md advises, the first request after the restart is served."""
    with running_server() as server:
        plain = sa.create_engine(server.url())
        pinging = sa.create_engine(server.url(), pool_pre_ping=True)
        theirs = SQLStore(HASH, BLOCK, engine=plain)
        pinged = SQLStore(HASH, BLOCK, engine=pinging)
        try:
            browser = Browser()
            browser.visit(theirs, user="alice")
            assert browser.load(pinged).values == {"user": "alice"}
            server.stop()
            server.start()
            assert browser.load(pinged).values == {"user": "alice"}
            outcomes: list[object] = []
            for _ in range(plain.pool.size() + 2):
                try:
                    outcomes.append(browser.load(theirs).values)
                except StoreError as exc:
                    outcomes.append(type(exc))
            assert set(map(str, outcomes)) <= {str(StoreError), str({"user": "alice"})}
            assert outcomes[-1] == {"user": "alice"}
        finally:
            plain.dispose()
            pinging.dispose()


def test_mariadb_outage_gives_the_async_store_store_error_then_recovers() -> None:
    """The same for AsyncSQLStore on aiomysql: StoreError while down, and the same store
    object serves again after the restart (S-10.4)."""
    with running_server() as server:

        async def main() -> None:
            store = AsyncSQLStore(HASH, BLOCK, url=_mariadb_url_of(server), connect_timeout=2)
            try:
                request, response = SimpleRequest(), RecordingResponse()
                session = await store.new(request, "app")
                session.values["user"] = "alice"
                await session.asave(request, response)
                cookie = response.set_cookie_headers()[0].split(";")[0]
                server.stop()
                with pytest.raises(StoreError):
                    await store.new(SimpleRequest(cookie), "app")
                again = await store.new(SimpleRequest(), "app")
                again.values["x"] = 1
                failed = RecordingResponse()
                with pytest.raises(StoreError):
                    await again.asave(SimpleRequest(), failed)
                assert failed.set_cookie_headers() == []
                server.start()
                loaded = await store.new(SimpleRequest(cookie), "app")
                assert loaded.values == {"user": "alice"}
            finally:
                await store.close()

        asyncio.run(main())


def _assert_store_error(error: BaseException | None, match: str = "") -> None:
    assert isinstance(error, StoreError), repr(error)
    assert match in str(error), str(error)


def test_a_frozen_mariadb_gives_store_error_within_the_timeout() -> None:
    """SIGSTOP mariadbd: the kernel still acknowledges every packet, so only a client-side
    bound ends the wait. PyMySQL connections get the store's statement deadline (a pooled
    connection, an engine passed in) and read_timeout = statement_timeout (the handshake of
    a new one); aiomysql the async store's overall bound. After SIGCONT the same stores
    work (S-10.10)."""
    with running_server() as server:
        store = SQLStore(
            HASH, BLOCK, url=server.url(), timeout=1, connect_timeout=2, statement_timeout=2
        )
        engine = sa.create_engine(server.url())  # the user's engine: default settings
        theirs = SQLStore(HASH, BLOCK, engine=engine, table=store.table.name, timeout=1)
        twin = AsyncSQLStore(
            HASH,
            BLOCK,
            url=server.url(),
            table=store.table.name,
            timeout=1,
            connect_timeout=1,
            pool_timeout=1,
        )
        loop = asyncio.new_event_loop()
        browser = Browser()
        try:
            browser.visit(store, user="alice")
            assert browser.load(theirs).values == {"user": "alice"}  # a pooled connection
            request = browser.request()
            assert loop.run_until_complete(twin.get(request, "app")).values == {"user": "alice"}
            held_request = browser.request()
            held = store.get(held_request, "app")
            server.freeze()
            try:
                _assert_store_error(bounded(lambda: browser.load(store)), "within 1 s")
                # a new connection: the handshake is bounded by read_timeout
                _assert_store_error(bounded(lambda: browser.load(store)), "timed out")
                _assert_store_error(bounded(lambda: browser.load(theirs)), "within 1 s")
                held.values["user"] = "bob"
                response = RecordingResponse()
                _assert_store_error(bounded(lambda: held.save(held_request, response)))
                assert response.set_cookie_headers() == []
                load = lambda: loop.run_until_complete(  # noqa: E731
                    twin.new(browser.request(), "app")
                )
                _assert_store_error(bounded(load), "did not answer within 3 s")
            finally:
                server.thaw()
            for each in (store, theirs):
                assert browser.load(each).values == {"user": "alice"}
            again = loop.run_until_complete(twin.new(browser.request(), "app"))
            assert again.values == {"user": "alice"}
        finally:
            loop.run_until_complete(twin.close())
            loop.close()
            store.close()
            engine.dispose()


# -- the throwaway server itself ---------------------------------------------------------------


def test_missing_server_binaries_skip_locally_and_fail_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without mariadb-install-db/mariadbd the tests skip with the reason, or fail under CI."""
    monkeypatch.setattr(_mariadb_server, "find_binaries", lambda: None)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="mariadb-server"):
        _mariadb_server.require_binaries()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="mariadb-server"):
        _mariadb_server.require_binaries()


def test_a_server_that_does_not_start_fails_the_tests(tmp_path: Path) -> None:
    """Binaries that are there but do not work are a failure, never a skip."""
    broken = tmp_path / "mariadbd"
    broken.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 1\n")
    broken.chmod(0o755)
    binaries = _mariadb_server.require_binaries()
    with (
        pytest.raises(pytest.fail.Exception, match="MariaDB did not start"),
        running_server((binaries[0], broken)),
    ):
        pass


# -- missing drivers name their extra (S-7.4) ---------------------------------------------------


def _construct_without(module: str, store: str, url: str) -> dict[str, object]:
    code = (
        "import json, sys\n"
        f"sys.modules[{module!r}] = None\n"
        "from spec.errors import ConfigurationError\n"
        "from reference_impl.sql import SQLStore\n"
        "from reference_impl.aio.sql import AsyncSQLStore\n"
        "try:\n"
        f"    {store}(b'k' * 32, url={url!r})\n"
        "except ConfigurationError as exc:\n"
        "    print(json.dumps({'type': type(exc).__name__, 'message': str(exc),\n"
        "        'import_error': isinstance(exc, ImportError),\n"
        "        'name': getattr(exc, 'name', None),\n"
        "        'chained': exc.__cause__ is not None or not exc.__suppress_context__}))\n"
        "else:\n"
        "    print(json.dumps(None))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    outcome: dict[str, object] = json.loads(result.stdout)
    return outcome


@pytest.mark.parametrize(
    ("module", "store", "url", "extra"),
    [
        ("pymysql", "SQLStore", "mysql+pymysql://u@h/db", "mysql"),
        ("pymysql", "SQLStore", "mariadb+pymysql://u@h/db", "mysql"),
        ("aiomysql", "AsyncSQLStore", "mysql+pymysql://u@h/db", "mysql-async"),
        ("pymysql", "AsyncSQLStore", "mysql+aiomysql://u@h/db", "mysql-async"),
        ("MySQLdb", "SQLStore", "mysql://u@h/db", "mysql"),
        ("aiosqlite", "AsyncSQLStore", "sqlite:///sessions.db", "sql-async"),
        ("psycopg", "SQLStore", "postgresql+psycopg://u@h/db", "sql"),
        ("psycopg", "AsyncSQLStore", "postgresql://u@h/db", "sql"),
    ],
)
def test_a_missing_driver_names_the_extra(module: str, store: str, url: str, extra: str) -> None:
    """A URL whose driver is not installed fails at construction with MissingDependencyError
    saying ``pip install 'sessionspec[extra]'`` (still an ImportError), not a bare
    ``No module named ...`` (S-7.4)."""
    outcome = _construct_without(module, store, url)
    assert outcome is not None, f"{store}({url}) was built without {module}"
    assert outcome["type"] == "MissingDependencyError"
    assert outcome["import_error"] and outcome["name"] == module
    message = str(outcome["message"])
    assert f"pip install 'sessionspec[{extra}]'" in message
    assert f"needs the package '{module}'" in message
    assert not outcome["chained"]
    if module == "MySQLdb":  # no extra installs MySQLdb: the message says what to write
        assert "'mysql+pymysql://'" in message


def test_a_driver_no_extra_provides_is_a_configuration_error() -> None:
    """Another database's missing driver: a ConfigurationError naming the module."""
    with pytest.raises(ConfigurationError, match=r"cx_Oracle.*not installed"):
        SQLStore(HASH, url="oracle+cx_oracle://u@h/db")
