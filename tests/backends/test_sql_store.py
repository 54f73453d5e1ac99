"""SQLStore on real SQLite and PostgreSQL: the whole conformance suite, outages, specifics.

PostgreSQL comes from ``$SESSIONSPEC_POSTGRES_URL`` if set, otherwise from a
throwaway server started here (``tests/backends/_postgres_server.py``); the
outage test always starts a private one, because it stops it. Without server
binaries those tests skip, or fail under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("sqlalchemy", reason="the 'sql' extra (SQLAlchemy) is not installed")

import sqlalchemy as sa

from conformance import Browser, Capabilities, StoreConformance
from reference_impl import sql, testing
from reference_impl._store import server_side as _server_side
from reference_impl.aio.sql import AsyncSQLStore
from reference_impl.securecookie import decode_multi
from reference_impl.sql import SQLStore
from spec import ManualClock
from spec.errors import ConfigurationError, SessionInterruptedError, StoreError
from spec.http import RecordingResponse, SimpleRequest
from tests.backends import _postgres_server
from tests.backends._hang import HANG_LIMIT, bounded
from tests.backends._postgres_server import running_server
from tests.stores._support import BLOCK, HASH, OLD_BLOCK, OLD_HASH

postgres_url = _postgres_server.postgres_url  # the shared real-server fixture
FORCED_ID = "A" * 52


class _Stores:
    """The stores one test makes, each in a new table; closed (and tables dropped) after."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[SQLStore] = []

    def make(
        self,
        *keys: bytes,
        clock: ManualClock | None = None,
        table: str | None = None,
        **settings: float,
    ) -> SQLStore:
        store = SQLStore(
            *(keys or (HASH, BLOCK)),
            url=self.url,
            table=table or f"sessions_{uuid.uuid4().hex[:12]}",
            clock=clock or ManualClock(),
            **settings,
        )  # type: ignore[arg-type]
        self.made.append(store)
        return store

    def close(self) -> None:
        tables = {store.table.name for store in self.made}
        for store in self.made:
            store.close()
        if not self.made or self.url.startswith("sqlite"):
            return  # nothing made, or the file lives in tmp_path
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as connection:
                for table in tables:
                    connection.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
        finally:
            engine.dispose()


class _SQLConformance(StoreConformance[SQLStore]):
    """The suite on one database; subclasses set ``self.url`` in an autouse fixture."""

    capabilities = Capabilities.model_validate(testing.sql.capabilities)
    url: str

    @pytest.fixture(autouse=True)
    def _open_stores(self) -> Iterator[None]:
        # Named to sort before the suite's ``_server_side_only``: pytest runs a
        # class's autouse fixtures by name, and that one may already build a store.
        self.stores = _Stores("")
        yield
        self.stores.close()

    def make_store(self, clock: ManualClock) -> SQLStore:
        self.stores.url = self.url
        return self.stores.make(HASH, BLOCK, clock=clock)

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> SQLStore:
        self.stores.url = self.url
        return self.stores.make(
            HASH, BLOCK, clock=clock, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout
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


class TestSQLiteStoreConformance(_SQLConformance):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path}/sessions.db"


class TestPostgresStoreConformance(_SQLConformance):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str) -> None:
        self.url = postgres_url


# -- the same specifics on both databases ---------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Stores]:
    url = (
        f"sqlite:///{tmp_path}/sessions.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    made = _Stores(url)
    yield made
    made.close()


def _has_table(store: SQLStore) -> bool:
    with store.engine.connect() as connection:
        return sa.inspect(connection).has_table(store.table.name)


def test_table_and_index_are_created_on_first_use(stores: _Stores) -> None:
    """Constructing a store touches nothing; the first request creates table and index."""
    store = stores.make()
    assert not _has_table(store)
    Browser().visit(store, user="alice")
    assert _has_table(store)
    with store.engine.connect() as connection:
        indexes = sa.inspect(connection).get_indexes(store.table.name)
    assert sorted(index["column_names"] for index in indexes) == [["expires_at"], ["user_id"]]
    again = stores.make(table=store.table.name)  # an existing table is reused as it is
    assert Browser().visit(again, user="bob").id


@pytest.mark.parametrize(
    "name",
    [
        "",
        "1sessions",
        "sessions; DROP TABLE users",
        'x"y',
        "se-ssions",
        "a" * 49,
        "sessions.x",
        "séssions",
    ],
)
def test_bad_table_names_are_refused(name: str) -> None:
    """The table name goes into DDL, so anything but a plain identifier is refused."""
    with pytest.raises(ConfigurationError):
        SQLStore(HASH, url="sqlite://", table=name)


def test_bad_configuration_is_refused(tmp_path: Path) -> None:
    """URL and engine together, a malformed URL or an unknown driver fail at construction."""
    engine = sa.create_engine("sqlite://")
    with pytest.raises(ConfigurationError):
        SQLStore(HASH, url="sqlite://", engine=engine)
    with pytest.raises(ConfigurationError):
        SQLStore(HASH, url="not a url")
    with pytest.raises(ConfigurationError):
        SQLStore(HASH, url="nosuchdb+nosuchdriver://x/y")
    engine.dispose()


def test_purge_is_bounded_per_batch_and_counts(stores: _Stores) -> None:
    """purge_expired deletes in batches of at most batch_size rows and counts them (S-10.9)."""
    clock = ManualClock()
    store = stores.make(clock=clock)
    for n in range(5):
        Browser().visit(store, n=n)
    clock.advance(86400 * 30 - 10)
    survivor = Browser()
    survivor.visit(store, n="young")
    clock.advance(11)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        assert store.purge_expired(batch_size=2) == 5
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
    deletes = [s for s in statements if s.lstrip().upper().startswith("DELETE")]
    # 2 + 2 + 1: three bounded DELETEs by primary key, each after a LIMITed SELECT.
    assert len(deletes) == 3 and len(statements) == 6
    assert all(" IN " in s.upper() for s in deletes)
    assert all("LIMIT" in s.upper() for s in statements if s not in deletes)
    assert store.purge_expired() == 0
    assert survivor.load(store).values == {"n": "young"}


def test_sessions_without_a_deadline_are_never_purged(stores: _Stores) -> None:
    """With store max_age 0 rows carry no deadline (NULL) and purge leaves them alone."""
    clock = ManualClock()
    store = stores.make(clock=clock)
    store.max_age(0)
    browser = Browser()
    browser.visit(store, user="alice")
    clock.advance(86400 * 365)
    assert store.purge_expired() == 0
    assert browser.load(store).values == {"user": "alice"}


def test_an_id_collision_draws_another_id(stores: _Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    """A create that hits an existing ID leaves that record alone and retries (S-10.6)."""
    store = stores.make()
    first = Browser()
    ids = iter([FORCED_ID, FORCED_ID, "B" * 52])
    monkeypatch.setattr(_server_side, "new_session_id", lambda: next(ids))
    assert first.visit(store, owner="first").id == FORCED_ID
    assert Browser().visit(store, owner="second").id == "B" * 52
    assert first.load(store).values == {"owner": "first"}


def test_concurrent_creates_on_one_id_never_overwrite(
    stores: _Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads forced onto one ID: the primary key lets exactly one win (S-10.6)."""
    store = stores.make()
    monkeypatch.setattr(_server_side, "new_session_id", lambda: FORCED_ID)
    barrier = threading.Barrier(8)
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

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == 7
    assert "unique session ID" in str(refused[0])
    data = store.backend.read(FORCED_ID)
    assert data is not None
    stored = decode_multi("app", data[0], store.codecs)
    assert isinstance(stored, dict)
    assert stored.pop("_sessionspec.created_at") == 1700000000  # kept with the record (S-9.22)
    assert stored == {"owner": won[0]}


def test_two_processes_share_one_table(stores: _Stores) -> None:
    """Stores with their own engines (two workers) on one table see each other's writes,
    and a logout in one is not undone by a save in the other (S-10.5)."""
    one = stores.make()
    two = stores.make(OLD_HASH, OLD_BLOCK, table=one.table.name)
    two = two.with_keys(HASH, BLOCK)
    browser = Browser()
    browser.visit(one, user="alice")
    assert browser.load(two).values == {"user": "alice"}
    request, response = browser.request(), RecordingResponse()
    held = one.get(request, "app")
    logout_request = browser.request()
    logout = two.get(logout_request, "app")
    logout.options = logout.options.replace(max_age=-1)
    logout.save(logout_request, RecordingResponse())
    held.values["user"] = "mallory"
    with pytest.raises(SessionInterruptedError):
        held.save(request, response)
    assert browser.load(one).is_new


def test_a_database_error_is_a_store_error_without_the_id(stores: _Stores) -> None:
    """A dropped table is an outage, not "no session", and the message hides the ID (S-10.4)."""
    store = stores.make()
    browser = Browser()
    session_id = browser.visit(store, user="alice").id
    with store.engine.begin() as connection:
        connection.execute(sa.text(f'DROP TABLE "{store.table.name}"'))
    with pytest.raises(StoreError) as info:
        browser.load(store)
    assert session_id not in str(info.value)
    assert (info.value.backend, info.value.action) == ("sql", "read a session")
    assert str(info.value).startswith(f"sql: cannot read a session: table {store.table.name!r}: ")


def test_an_engine_passed_in_is_shared_and_left_open(tmp_path: Path) -> None:
    """Stores on one engine (one pool) in different tables are independent; close() keeps it."""
    engine = sql.create_engine(f"sqlite:///{tmp_path}/shared.db")
    try:
        one = SQLStore(HASH, engine=engine, table="one")
        two = SQLStore(HASH, engine=engine, table="two")
        browser = Browser()
        browser.visit(one, user="alice")
        assert browser.load(two).is_new
        one.close()
        assert browser.load(one).values == {"user": "alice"}
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_one_database_for_all_threads() -> None:
    """``sqlite://`` keeps one connection, so every thread sees the same sessions."""
    store = SQLStore(HASH, url="sqlite://")
    try:
        browser = Browser()
        browser.visit(store, user="alice")
        seen: list[object] = []
        thread = threading.Thread(target=lambda: seen.append(browser.load(store).values))
        thread.start()
        thread.join()
        assert seen == [{"user": "alice"}]
    finally:
        store.close()


# -- the conformance factory -------------------------------------------------------


def test_factory_makes_fresh_sqlite_stores_and_breaks_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SESSIONSPEC_SQL_URL each store gets its own file; break_backend fails it (S-10.4)."""
    monkeypatch.delenv("SESSIONSPEC_SQL_URL", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    one, two = testing.sql(ManualClock()), testing.sql(ManualClock())
    assert isinstance(one, SQLStore) and isinstance(two, SQLStore)
    assert one.engine.url != two.engine.url
    browser = Browser()
    browser.visit(one, user="alice")
    testing.sql.break_backend(one)
    with pytest.raises(StoreError):
        browser.load(one)


def test_factory_uses_the_url_from_the_environment(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With SESSIONSPEC_SQL_URL stores share one engine there, in tables dropped at exit."""
    monkeypatch.setenv("SESSIONSPEC_SQL_URL", postgres_url)
    one, two = testing.sql(ManualClock()), testing.sql(ManualClock())
    assert isinstance(one, SQLStore) and isinstance(two, SQLStore)
    try:
        assert one.engine is two.engine
        assert one.table.name != two.table.name
        browser = Browser()
        browser.visit(one, user="alice")
        assert browser.load(two).is_new
        testing.sql.break_backend(two)
        with pytest.raises(StoreError):
            browser.load(two)
        assert browser.load(one).values == {"user": "alice"}
    finally:
        testing._drop_conformance_tables()  # what runs at exit: the tables go, the pool closes
    probe = SQLStore(HASH, url=postgres_url, table=one.table.name)
    try:
        assert not _has_table(probe)
    finally:
        probe.close()


def test_missing_server_binaries_skip_locally_and_fail_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without initdb/pg_ctl the PostgreSQL tests skip with the reason, or fail under CI=true."""
    monkeypatch.setattr(_postgres_server, "find_bin_dir", lambda: None)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="initdb"):
        _postgres_server.require_bin_dir()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="initdb"):
        _postgres_server.require_bin_dir()


# -- a real outage ---------------------------------------------------------------------


def test_postgres_outage_raises_store_error_then_recovers() -> None:
    """Stop the server mid-test: get, new and save raise StoreError; after a restart on
    the same port the same store object works again (S-10.4)."""
    with running_server(_postgres_server.require_bin_dir()) as server:
        store = SQLStore(HASH, BLOCK, url=server.url, connect_timeout=2, statement_timeout=5)
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
            fresh = store.new(request, "app")  # no cookie: no I/O until the save
            fresh.values["x"] = 1
            with pytest.raises(StoreError):
                fresh.save(request, response)
            assert response.set_cookie_headers() == []

            server.start()
            assert browser.load(store).values == {"user": "alice"}
            browser.visit(store, user="carol")
            assert browser.load(store).values == {"user": "carol"}
            assert Browser().visit(store, x=1).id

            # A restart between two requests: the pooled connection is dead, but
            # the next request is served (the dead connection is replaced once).
            server.stop()
            server.start()
            assert browser.load(store).values == {"user": "carol"}
            assert Browser().visit(store, x=2).id
        finally:
            store.close()


# -- a hung server (S-10.10) -------------------------------------------------------------


def _assert_store_error(error: BaseException | None, match: str = "") -> None:
    assert isinstance(error, StoreError), repr(error)
    assert match in str(error), str(error)


def test_a_frozen_postgres_gives_store_error_within_the_timeout() -> None:
    """SIGSTOP the postmaster and its backends: the kernel still acknowledges every packet,
    so only a client-side bound ends the wait. Every call raises StoreError, on a pooled
    connection (the statement deadline), a new one (connect_timeout), with the store's
    own pre-ping and on an engine passed in; after SIGCONT the same stores work (S-10.10)."""
    with running_server(_postgres_server.require_bin_dir()) as server:
        store = SQLStore(HASH, BLOCK, url=server.url, timeout=1, connect_timeout=2)
        pinging = SQLStore(
            HASH, BLOCK, url=server.url, table=store.table.name, timeout=1, pool_pre_ping=True
        )
        engine = sa.create_engine(server.url)  # the user's engine: default settings
        theirs = SQLStore(HASH, BLOCK, engine=engine, table=store.table.name, timeout=1)
        browser = Browser()
        try:
            browser.visit(store, user="alice")
            for other in (pinging, theirs):
                assert browser.load(other).values == {"user": "alice"}  # a pooled connection
            held_request = browser.request()
            held = store.get(held_request, "app")
            server.freeze()
            try:
                _assert_store_error(bounded(lambda: browser.load(store)), "within 1 s")
                _assert_store_error(bounded(lambda: browser.load(store)), "timeout expired")
                _assert_store_error(bounded(lambda: browser.load(pinging)), "within 1 s")
                _assert_store_error(bounded(lambda: browser.load(theirs)), "within 1 s")
                held.values["user"] = "bob"
                response = RecordingResponse()
                _assert_store_error(bounded(lambda: held.save(held_request, response)))
                assert response.set_cookie_headers() == []
            finally:
                server.thaw()
            for each in (store, pinging, theirs):
                assert browser.load(each).values == {"user": "alice"}
        finally:
            for each in (store, pinging, theirs):
                each.close()
            engine.dispose()


def test_a_frozen_postgres_gives_the_async_store_store_error_within_the_timeout() -> None:
    """The same for AsyncSQLStore: StoreError on a pooled connection and on a new one, and
    the store works again after SIGCONT (S-10.10)."""
    with running_server(_postgres_server.require_bin_dir()) as server:
        store = AsyncSQLStore(HASH, BLOCK, url=server.url, timeout=1, connect_timeout=2)
        loop = asyncio.new_event_loop()
        on_loop = loop.run_until_complete
        try:
            request, response = SimpleRequest(), RecordingResponse()
            session = on_loop(store.new(request, "app"))
            session.values["user"] = "alice"
            on_loop(session.asave(request, response))
            cookie = response.set_cookie_headers()[0].split(";")[0]
            server.freeze()
            try:
                load = lambda: on_loop(store.get(SimpleRequest(cookie), "app"))  # noqa: E731
                _assert_store_error(bounded(load), "within 1 s")
                _assert_store_error(bounded(load), "timeout expired")
            finally:
                server.thaw()
            assert on_loop(store.get(SimpleRequest(cookie), "app")).values == {"user": "alice"}
        finally:
            on_loop(store.close())
            loop.close()


def test_the_bound_holds_in_a_worker_forked_after_use() -> None:
    """gunicorn --preload forks workers from a process that may have used the store: the
    watchdog thread does not survive a fork, so the child must start its own (S-10.10)."""
    with running_server(_postgres_server.require_bin_dir()) as server:
        store = SQLStore(HASH, BLOCK, url=server.url, timeout=1, connect_timeout=2)
        browser = Browser()
        browser.visit(store, user="alice")  # the parent's watchdog thread is running
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: its own connections, then a hung server
            code = 3
            try:
                store.engine.dispose(close=False)
                browser.load(store)
                os.write(from_child, b"r")
                os.read(to_child, 1)  # the parent froze the server
                try:
                    browser.load(store)
                    code = 1
                except StoreError as exc:
                    code = 0 if "within 1 s" in str(exc) else 2
            finally:
                os._exit(code)
        try:
            assert os.read(to_parent, 1) == b"r"
            server.freeze()
            os.write(from_parent, b"f")
            deadline = time.monotonic() + HANG_LIMIT
            while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            if done[0] == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the forked worker was still blocked after {HANG_LIMIT} s")
            assert os.waitstatus_to_exitcode(done[1]) == 0
        finally:
            server.thaw()
            store.close()
            for fd in (to_child, from_parent, to_parent, from_child):
                os.close(fd)


def test_the_timeout_must_be_positive() -> None:
    """A zero or negative bound would fail every call: refused at construction."""
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ConfigurationError, match="timeout must be a positive"):
            SQLStore(HASH, url="sqlite://", timeout=bad)
        with pytest.raises(ConfigurationError, match="timeout must be a positive"):
            AsyncSQLStore(HASH, url="sqlite://", timeout=bad)


# -- an unopenable SQLite file -------------------------------------------------------------


@pytest.mark.parametrize("store_class", [SQLStore, AsyncSQLStore])
def test_an_unopenable_sqlite_path_fails_at_construction(
    store_class: type[SQLStore] | type[AsyncSQLStore], tmp_path: Path
) -> None:
    """A missing directory, a directory as the file, or a read-only place is a
    ConfigurationError when the store is built, saying what to do, not a StoreError on
    every request after deployment."""
    with pytest.raises(ConfigurationError, match="does not exist; create it"):
        store_class(HASH, url="sqlite:////nonexistent-dir/x.db")
    with pytest.raises(ConfigurationError, match="does not exist"):
        store_class(HASH, url=f"sqlite:///{tmp_path}/missing/sessions.db")
    with pytest.raises(ConfigurationError, match="is a directory"):
        store_class(HASH, url=f"sqlite:///{tmp_path}")
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ConfigurationError, match="not readable and writable"):
            store_class(HASH, url=f"sqlite:///{locked}/sessions.db")
    store_class(HASH, url=f"sqlite:///{tmp_path}/sessions.db")  # a fine path still works
