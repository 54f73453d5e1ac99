"""SQLStore's engine is autocommit from the connect on: no isolation switch per request (issue 19).

Switching each pooled connection to autocommit on checkout, and back on
checkin, cost more than a request's two statements (SQLite 1.2 ms against
0.4 ms per request). The engine ``SQLStore`` builds is autocommit from the
start, so a request only runs its statements; each is committed on its
own (another connection sees it at once); the table's DDL still runs in a
transaction. Real SQLite and a real PostgreSQL server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from reference_impl.sql import SQLStore
from spec.http import RecordingResponse, SimpleRequest
from tests.backends import _postgres_server

postgres_url = _postgres_server.postgres_url  # the shared real-server fixture

HASH = b"h" * 32


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/sessions.db"
    else:
        url = request.getfixturevalue("postgres_url")
    made = SQLStore(HASH, url=url, table=f"autocommit_{tmp_path.name[-8:].replace('-', '_')}")
    yield made
    made.close()


def test_a_request_switches_no_isolation_level(store: SQLStore) -> None:
    """Load and save run their statements only; no per-checkout autocommit switch."""
    switches: list[object] = []
    statements: list[str] = []

    def on_options(conn: object, opts: dict[str, object]) -> None:
        if "isolation_level" in opts:
            switches.append(opts["isolation_level"])

    def on_execute(*args: object) -> None:
        statements.append(str(args[2]).split()[0].upper())

    request, response = SimpleRequest(), RecordingResponse()
    session = store.new(request, "s")
    session["k"] = 1
    store.save(request, response, session)  # creates the table too
    header = f"s={response.cookies[0].value}"
    sa.event.listen(store.engine, "set_connection_execution_options", on_options)
    sa.event.listen(store.engine, "before_cursor_execute", on_execute)
    try:
        for n in range(3):
            again = store.new(SimpleRequest(header), "s")
            again["k"] = n
            store.save(SimpleRequest(header), RecordingResponse(), again)
    finally:
        sa.event.remove(store.engine, "set_connection_execution_options", on_options)
        sa.event.remove(store.engine, "before_cursor_execute", on_execute)
    assert switches == []
    assert statements and set(statements) <= {"SELECT", "UPDATE", "INSERT", "DELETE"}
    assert statements.count("SELECT") == 3  # one read per request


def test_each_statement_is_committed_on_its_own(store: SQLStore) -> None:
    """A saved session is visible to a separate connection at once (autocommit)."""
    request, response = SimpleRequest(), RecordingResponse()
    session = store.new(request, "s")
    session["k"] = "v"
    store.save(request, response, session)
    other = sa.create_engine(store.engine.url.render_as_string(hide_password=False))
    try:
        with other.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(store.table)).scalar()
        assert rows == 1
    finally:
        other.dispose()
    assert store.engine.dialect._on_connect_isolation_level == "AUTOCOMMIT"  # type: ignore[attr-defined]


def test_a_request_sends_the_driver_only_its_two_statements(tmp_path: Path) -> None:
    """What SQLite itself runs for a request on a saved session: one SELECT, one UPDATE.

    No BEGIN, COMMIT or ROLLBACK around them and nothing per checkout: the
    store's statements are compiled once and run on the pooled connection.
    """
    store = SQLStore(HASH, url=f"sqlite:///{tmp_path}/direct.db")
    try:
        request, response = SimpleRequest(), RecordingResponse()
        session = store.new(request, "s")
        session["k"] = 0
        store.save(request, response, session)
        header = f"s={response.cookies[0].value}"
        store.engine.dispose()  # new connections, each traced from its connect on
        traced: list[str] = []

        def on_connect(dbapi_connection: object, _record: object) -> None:
            dbapi_connection.set_trace_callback(traced.append)  # type: ignore[attr-defined]

        sa.event.listen(store.engine, "connect", on_connect)
        # The compiled statements on the pooled DBAPI connection, not the Core path:
        # a pool "connect" hook is not a statement listener.
        assert store.backend._direct_ready() is not None  # type: ignore[union-attr]
        for n in range(1, 4):
            again = store.new(SimpleRequest(header), "s")
            again["k"] = n
            store.save(SimpleRequest(header), RecordingResponse(), again)
        assert [sql.split()[0] for sql in traced] == ["SELECT", "UPDATE"] * 3
        assert store.new(SimpleRequest(header), "s")["k"] == 3
    finally:
        store.close()
