"""Scheduled cleanup on real servers: the purge command and PeriodicPurge (issue 16).

Sessions are made "in the past" by a store whose clock is set back, so
their deadlines have passed on the real clock the command and the helper
use, while a session saved on the real clock stays live. Nothing sleeps for
an expiry.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the 'sql' extra (SQLAlchemy) is not installed")
pytest.importorskip("redis", reason="the 'redis' extra is not installed")

import sqlalchemy as sa

from conformance import Browser
from reference_impl.aio.sql import AsyncSQLStore
from reference_impl.purge import PeriodicPurge, purge_once
from reference_impl.redis import RedisStore
from reference_impl.sql import SQLStore
from spec import ManualClock, Store
from spec.errors import ConfigurationError
from spec.http import RecordingResponse, SimpleRequest
from tests.backends import _postgres_server, _redis_server
from tests.stores._support import BLOCK, HASH

postgres_url = _postgres_server.postgres_url  # the shared real-server fixtures
redis_url = _redis_server.redis_url

ROOT = Path(__file__).resolve().parents[2]
EXPIRED, LIVE = 5, 2


def _populate(expired_store: Store, live_store: Store) -> list[Browser]:
    """EXPIRED sessions past their deadline on the real clock, LIVE ones current."""
    for n in range(EXPIRED):
        Browser().visit(expired_store, n=n)
    live = [Browser() for _ in range(LIVE)]
    for n, browser in enumerate(live):
        browser.visit(live_store, n=n)
    return live


def _past_clock() -> ManualClock:
    return ManualClock(time.time() - 2 * 86400)  # with max_age 1 day: a day past deadline


@pytest.fixture
def table() -> str:
    return f"purge_{uuid.uuid4().hex[:10]}"


def _run_cli(tmp_path: Path, source: str, target: str) -> subprocess.CompletedProcess[str]:
    """``python -m reference_impl purge app:TARGET`` with app.py in a scratch directory."""
    (tmp_path / "app.py").write_text(textwrap.dedent(source))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "reference_impl", "purge", f"app:{target}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _sql_app(url: str, table: str) -> str:
    return f"""
        from reference_impl.sql import SQLStore
        HASH = bytes(range(32))
        def make_store():
            store = SQLStore(HASH, url={url!r}, table={table!r})
            store.max_age(86400)
            return store
    """


def test_purge_command_on_postgresql(postgres_url: str, table: str, tmp_path: Path) -> None:
    """The command deletes exactly the expired rows, prints the count and exits 0."""
    old = SQLStore(HASH, BLOCK, url=postgres_url, table=table, clock=_past_clock())
    now = SQLStore(HASH, BLOCK, url=postgres_url, table=table)
    for store in (old, now):
        store.max_age(86400)
    live = _populate(old, now)
    try:
        done = _run_cli(tmp_path, _sql_app(postgres_url, table), "make_store")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"purged {EXPIRED} expired sessions from SQLStore"
        with now.engine.connect() as connection:
            rows = connection.execute(sa.select(sa.func.count()).select_from(now.table))
            assert rows.scalar_one() == LIVE
        assert [dict(browser.load(now).values) for browser in live] == [{"n": 0}, {"n": 1}]
        again = _run_cli(tmp_path, _sql_app(postgres_url, table), "make_store")
        assert again.stdout.strip() == "purged 0 expired sessions from SQLStore"
    finally:
        old.close()
        now.close()


def test_purge_command_reports_failures_with_its_exit_status(tmp_path: Path) -> None:
    """A dead database exits 1 with the error; a store that cannot purge exits 2."""
    dead = _run_cli(
        tmp_path,
        """
        from reference_impl.sql import SQLStore
        store = SQLStore(b"k" * 32, url="postgresql+psycopg://nobody@127.0.0.1:9/none",
                         connect_timeout=1, timeout=1)
        """,
        "store",
    )
    assert dead.returncode == 1, dead
    assert "purge: the backend failed" in dead.stderr and dead.stdout == ""
    cookie = _run_cli(
        tmp_path,
        "from reference_impl import CookieStore\nstore = CookieStore(b'k' * 32)\n",
        "store",
    )
    assert cookie.returncode == 2 and "has no purge_expired()" in cookie.stderr
    missing = _run_cli(tmp_path, "x = 1\n", "nothing")
    assert missing.returncode == 2 and "no attribute 'nothing'" in missing.stderr


def test_purge_on_redis_checks_each_deadline(redis_url: str) -> None:
    """RedisStore.purge_expired removes records past their deadline only, in SCAN batches."""
    prefix = f"purge-test:{uuid.uuid4().hex[:8]}:"
    old = RedisStore(HASH, BLOCK, url=redis_url, prefix=prefix, clock=_past_clock())
    now = RedisStore(HASH, BLOCK, url=redis_url, prefix=prefix)
    for store in (old, now):
        store.max_age(86400)
    live = _populate(old, now)
    try:
        assert purge_once(now) == EXPIRED
        assert sorted(now.client.scan_iter(match=prefix + "*")) == sorted(
            now.key_for(browser.load(now).id).encode() for browser in live
        )
        assert purge_once(now) == 0
        with pytest.raises(ConfigurationError, match="batch_size"):
            now.purge_expired(batch_size=0)
    finally:
        old.close()
        now.close()


def test_periodic_purge_runs_survives_a_failure_and_stops(postgres_url: str, table: str) -> None:
    """PeriodicPurge purges on schedule (async store), logs a failed run, and stops cleanly."""

    async def scenario() -> None:
        old = AsyncSQLStore(HASH, url=postgres_url, table=table, clock=_past_clock())
        now = AsyncSQLStore(HASH, url=postgres_url, table=table)
        for store in (old, now):
            store.max_age(86400)
        for n in range(EXPIRED):
            request, response = SimpleRequest(), RecordingResponse()
            session = await old.get(request, "app")
            session["n"] = n
            await session.asave(request, response)
        purge = PeriodicPurge(now, interval=0.05, jitter=0.5)
        assert 0.025 <= purge.next_delay() <= 0.075
        async with purge:
            for _ in range(200):
                await asyncio.sleep(0.02)
                if purge.purged == EXPIRED and purge.runs >= 2:
                    break
            assert purge.running
        assert not purge.running
        assert purge.purged == EXPIRED and purge.failures == 0
        runs = purge.runs
        await asyncio.sleep(0.15)
        assert purge.runs == runs  # stopped: no run after stop()
        await old.close()
        await now.close()
        dead = AsyncSQLStore(
            HASH, url="postgresql+psycopg://nobody@127.0.0.1:9/none", connect_timeout=1, timeout=1
        )
        broken = PeriodicPurge(dead, interval=0.01, jitter=0)
        async with broken:  # a failed run is logged and retried: the task lives on
            for _ in range(300):
                await asyncio.sleep(0.02)
                if broken.failures >= 2:
                    break
            assert broken.running and broken.failures >= 2 and broken.purged == 0
        await dead.close()

    asyncio.run(scenario())


def test_periodic_purge_refuses_bad_settings() -> None:
    """Bad intervals, jitter or a store with nothing to purge fail at construction."""
    from reference_impl import CookieStore, MemoryStore

    with pytest.raises(ConfigurationError, match="purge_expired"):
        PeriodicPurge(CookieStore(HASH))
    for bad in ({"interval": 0}, {"interval": -1.0}, {"jitter": 1.0}, {"jitter": -0.1}):
        with pytest.raises(ConfigurationError):
            PeriodicPurge(MemoryStore(HASH), **bad)  # type: ignore[arg-type]


def _redis_app(url: str, prefix: str) -> str:
    return f"""
        from reference_impl.redis import RedisStore
        HASH = bytes(range(32))
        store = RedisStore(HASH, url={url!r}, prefix={prefix!r})
        store.max_age(86400)
    """


def test_purge_command_and_periodic_purge_on_redis(redis_url: str, tmp_path: Path) -> None:
    """The command and PeriodicPurge both purge a real Redis: counts, exit 0, a clean stop."""
    prefix = f"purge-cli:{uuid.uuid4().hex[:8]}:"
    old = RedisStore(HASH, BLOCK, url=redis_url, prefix=prefix, clock=_past_clock())
    now = RedisStore(HASH, BLOCK, url=redis_url, prefix=prefix)
    for store in (old, now):
        store.max_age(86400)
    _populate(old, now)
    try:
        done = _run_cli(tmp_path, _redis_app(redis_url, prefix), "store")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"purged {EXPIRED} expired sessions from RedisStore"
        for n in range(EXPIRED):  # expired again, for the in-process helper
            Browser().visit(old, n=n)

        async def scenario() -> PeriodicPurge:
            purge = PeriodicPurge(now, interval=0.05, jitter=0.2)
            async with purge:
                for _ in range(200):
                    await asyncio.sleep(0.02)
                    if purge.purged == EXPIRED:
                        break
            return purge

        purge = asyncio.run(scenario())
        assert purge.purged == EXPIRED and purge.failures == 0 and not purge.running
        assert len(list(now.client.scan_iter(match=prefix + "*"))) == LIVE
    finally:
        old.close()
        now.close()
