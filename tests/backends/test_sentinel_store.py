"""RedisStore behind Redis Sentinel, on real processes: a failover, and durable deletes.

The failover test starts one primary, one replica and three sentinels
(``tests/backends/_sentinel_server.py``), builds sync and async stores with
``from_sentinel``, SIGKILLs the primary and keeps using the same store
objects: while the sentinels fail over, every request gets ``StoreError``
(a session that exists never loads as a fresh one), and once the replica
is promoted the same stores serve it again. Sentinel timers are short
(``down-after-milliseconds`` 500, ``failover-timeout`` 2000): the whole
test takes about ten seconds, and gives up after 30 s of failover.

The durable-delete tests run on a primary and a replica without sentinels:
``WAIT`` after a logout or a ``regenerate_id`` reports how many replicas
have the delete, and too few is a ``StoreError``. Without ``redis-server``
these tests skip, or fail under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("redis", reason="the 'redis' extra (redis-py) is not installed")

from redis.cluster import RedisCluster

from conformance import Browser
from reference_impl.aio.redis import AsyncRedisStore
from reference_impl.redis import RedisStore
from spec import ManualClock, Session
from spec.errors import ConfigurationError, StoreError
from spec.http import RecordingResponse, SimpleRequest
from tests.backends._redis_server import RedisCluster3, RedisServer, require_binary
from tests.backends._sentinel_server import SERVICE, sentinel_deployment
from tests.stores._support import BLOCK, HASH

#: How long the failover may take before the test fails (it takes ~1.5 s here).
FAILOVER_LIMIT = 30.0


def _prefix() -> str:
    return f"sentinel-test:{uuid.uuid4().hex[:12]}:"


def _logout(store: RedisStore, browser: Browser) -> RecordingResponse:
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.options = session.options.replace(max_age=-1)
    session.save(request, response)
    return response


class _Async:
    """An async store driven from this thread on its own event loop."""

    def __init__(self, store: AsyncRedisStore) -> None:
        self.store = store
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def visit(self, cookie: str = "", **values: object) -> str:
        request, response = SimpleRequest(cookie), RecordingResponse()
        session = self.run(self.store.new(request, "app"))
        session.values.update(values)
        self.run(session.asave(request, response))
        return response.set_cookie_headers()[0].split(";")[0]

    def load(self, cookie: str) -> Session:
        session: Session = self.run(self.store.new(SimpleRequest(cookie), "app"))
        return session

    def close(self) -> None:
        self.run(self.store.close())
        self.loop.close()


# -- a failover ------------------------------------------------------------------------------


def test_a_failover_gives_store_errors_then_the_same_stores_work_on_the_new_primary(
    tmp_path: Path,
) -> None:
    """Kill the primary: until Sentinel has promoted the replica every load and save of the
    sync and the async store raises StoreError (never a fresh session for an existing one,
    never a Set-Cookie), and afterwards the very same store objects read the replicated
    sessions and write new ones on the new primary, with no restart (S-10.4)."""
    with sentinel_deployment(tmp_path) as deployment:
        settings: dict[str, Any] = {
            "sentinels": deployment.addresses,
            "service_name": SERVICE,
            "socket_timeout": 1.0,
            "socket_connect_timeout": 0.5,
            "retries": 0,
        }
        prefix, clock = _prefix(), ManualClock()
        store = RedisStore.from_sentinel(HASH, BLOCK, prefix=prefix, clock=clock, **settings)
        twin = _Async(
            AsyncRedisStore.from_sentinel(HASH, BLOCK, prefix=prefix, clock=clock, **settings)
        )
        try:
            browser = Browser()
            session_id = browser.visit(store, user="alice").id
            async_cookie = twin.visit(user="bob")
            async_id = twin.load(async_cookie).id
            assert twin.load(async_cookie).values == {"user": "bob"}
            for key in (store.key_for(session_id), store.key_for(async_id)):
                deployment._wait_for(lambda k=key: deployment.replicated(k), "replication")
            held_request = browser.request()
            held = store.get(held_request, "app")
            old_primary = deployment.primary.port

            deployment.kill_primary()
            outcomes: list[str] = []
            deadline = time.monotonic() + FAILOVER_LIMIT
            while True:
                try:
                    loaded = browser.load(store)
                    async_loaded = twin.load(async_cookie)
                except StoreError:
                    outcomes.append("StoreError")
                    if time.monotonic() > deadline:
                        pytest.fail(f"no recovery within {FAILOVER_LIMIT} s: {outcomes[-5:]}")
                    time.sleep(0.05)
                    continue
                # The first success must be the session itself, never a fresh one.
                assert loaded.values == {"user": "alice"} and not loaded.is_new
                assert async_loaded.values == {"user": "bob"} and not async_loaded.is_new
                break
            assert outcomes and set(outcomes) == {"StoreError"}  # the failover was seen

            deployment.wait_for_promotion(FAILOVER_LIMIT)
            assert deployment.primary_port() == deployment.replica.port != old_primary
            # The same objects now write on the promoted replica: a session loaded before
            # the failover saves, and updates, creates and a logout work.
            held.values["late"] = True
            held_response = RecordingResponse()
            held.save(held_request, held_response)
            browser.receive(held_response)
            assert browser.load(store).values == {"user": "alice", "late": True}
            browser.visit(store, user="carol")
            assert browser.load(store).values == {"user": "carol", "late": True}
            assert Browser().visit(store, fresh=True).id
            cookie = twin.visit(async_cookie, user="dave")
            assert twin.load(cookie).values == {"user": "dave"}
            assert _logout(store, browser).set_cookie_headers()
            assert browser.load(store).is_new
        finally:
            store.close()
            twin.close()


def test_requests_during_a_failover_send_no_cookie(tmp_path: Path) -> None:
    """While no primary is reachable a save raises StoreError and writes no Set-Cookie, and a
    load of an existing session raises rather than handing out a fresh one (S-10.4)."""
    with sentinel_deployment(tmp_path) as deployment:
        store = RedisStore.from_sentinel(
            HASH,
            BLOCK,
            sentinels=deployment.addresses,
            service_name=SERVICE,
            prefix=_prefix(),
            socket_timeout=1.0,
            socket_connect_timeout=0.5,
            retries=0,
        )
        try:
            browser = Browser()
            browser.visit(store, user="alice")
            request = browser.request()
            session = store.get(request, "app")
            deployment.kill_primary()  # a failover needs >= 500 ms: these run before it
            session.values["user"] = "mallory"
            response = RecordingResponse()
            with pytest.raises(StoreError):
                session.save(request, response)
            assert response.set_cookie_headers() == []
            with pytest.raises(StoreError):
                browser.load(store)
            fresh_request, fresh_response = SimpleRequest(), RecordingResponse()
            fresh = store.new(fresh_request, "app")
            fresh.values["x"] = 1
            with pytest.raises(StoreError):
                fresh.save(fresh_request, fresh_response)
            assert fresh_response.set_cookie_headers() == []
            deployment.wait_for_promotion(FAILOVER_LIMIT)
            # The write that failed never happened: the replicated session is unchanged.
            assert browser.load(store).values == {"user": "alice"}
        finally:
            store.close()


def test_no_reachable_sentinel_is_a_store_error() -> None:
    """Sentinels that cannot be reached: StoreError (MasterNotFound), never "no session"."""
    store = RedisStore.from_sentinel(
        HASH,
        sentinels=[("127.0.0.1", 1)],
        service_name=SERVICE,
        socket_connect_timeout=0.5,
        retries=0,
    )
    try:
        with pytest.raises(StoreError, match="redis: cannot"):
            Browser().visit(store, user="alice")
    finally:
        store.close()


@pytest.mark.parametrize("store_class", [RedisStore, AsyncRedisStore])
def test_bad_sentinel_configuration_is_refused(
    store_class: type[RedisStore] | type[AsyncRedisStore],
) -> None:
    """No sentinels, a malformed address, no service name, or a pool setting Sentinel's pool
    would ignore (url, max_connections): ConfigurationError at once."""
    for sentinels, service in (([], SERVICE), (["127.0.0.1:26379"], SERVICE), ([("h", 1)], "")):
        with pytest.raises(ConfigurationError):
            store_class.from_sentinel(HASH, sentinels=sentinels, service_name=service)
    for ignored in ({"url": "redis://h:6379/0"}, {"max_connections": 5}):
        with pytest.raises(ConfigurationError, match="cannot be combined with sentinels"):
            store_class.from_sentinel(HASH, sentinels=[("h", 1)], service_name=SERVICE, **ignored)


# -- durable deletes (WAIT) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def replicated(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RedisServer, RedisServer]]:
    """A primary and one replica in sync with it."""
    require_binary("redis-cli")
    directory = tmp_path_factory.mktemp("replicated")
    primary = RedisServer(directory / "primary", "--repl-diskless-sync-delay", "0").start()
    replica = RedisServer(
        directory / "replica", "--replicaof", "127.0.0.1", str(primary.port)
    ).start()
    try:
        deadline = time.monotonic() + 20
        while "master_link_status:up" not in _cli(replica.port, "info", "replication"):
            if time.monotonic() > deadline:
                pytest.fail("the replica did not sync with the primary")
            time.sleep(0.05)
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


def _cli(port: int, *args: str) -> str:
    return subprocess.run(
        [require_binary("redis-cli"), "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout


def _on_replica(replica: RedisServer, key: str) -> bool:
    return _cli(replica.port, "exists", key).strip() == "1"


def test_a_durable_logout_is_on_the_replica_when_it_returns(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    """``durable_delete_replicas=1``: the logout returns only once the replica has applied
    the delete, so a failover right after it cannot bring the session back."""
    primary, replica = replicated
    store = RedisStore(HASH, url=primary.url, prefix=_prefix(), durable_delete_replicas=1)
    try:
        browser = Browser()
        session_id = browser.visit(store, user="alice").id
        key = store.key_for(session_id)
        deadline = time.monotonic() + 10
        while not _on_replica(replica, key):
            assert time.monotonic() < deadline, "the session never reached the replica"
            time.sleep(0.02)
        assert _logout(store, browser).set_cookie_headers()
        assert not _on_replica(replica, key)  # WAIT returned: the replica has the delete
        assert browser.load(store).is_new
    finally:
        store.close()


def test_a_delete_no_replica_acknowledges_is_a_store_error(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    """With the replica frozen, WAIT reports 0 of 1: logout and regenerate_id raise
    StoreError and send no cookie; asking for 2 replicas of 1 fails the same way. Without
    the option the same logout succeeds: durability is opt-in."""
    primary, replica = replicated
    prefix = _prefix()
    durable = RedisStore(
        HASH,
        url=primary.url,
        prefix=prefix,
        durable_delete_replicas=1,
        durable_delete_timeout_ms=300,
    )
    two = RedisStore(HASH, url=primary.url, prefix=prefix, durable_delete_replicas=2)
    plain = RedisStore(HASH, url=primary.url, prefix=prefix)
    try:
        first = Browser()
        first.visit(durable, user="zoe")
        with pytest.raises(StoreError, match=r"only 1 of 2 replica\(s\) acknowledged"):
            _logout(two, first)
        browser = Browser()
        browser.visit(durable, user="alice")
        replica.pause()
        try:
            request, response = browser.request(), RecordingResponse()
            session = durable.get(request, "app")
            session.options = session.options.replace(max_age=-1)
            with pytest.raises(StoreError, match=r"only 0 of 1 replica\(s\)") as info:
                session.save(request, response)
            assert response.set_cookie_headers() == []
            assert info.value.backend == "redis"

            other = Browser()
            other.visit(durable, user="bob")
            request, response = other.request(), RecordingResponse()
            session = durable.get(request, "app")
            session.regenerate_id()
            with pytest.raises(StoreError, match="acknowledged"):
                session.save(request, response)
            assert response.set_cookie_headers() == []

            third = Browser()
            third.visit(plain, user="carol")
            assert _logout(plain, third).set_cookie_headers()  # no WAIT: no error
        finally:
            replica.resume()
    finally:
        for store in (durable, two, plain):
            store.close()


def test_the_async_store_waits_too(replicated: tuple[RedisServer, RedisServer]) -> None:
    """AsyncRedisStore sends the same DEL + WAIT: applied on the replica when the logout
    returns, and StoreError when the replica does not acknowledge."""
    primary, replica = replicated
    twin = _Async(
        AsyncRedisStore(
            HASH,
            url=primary.url,
            prefix=_prefix(),
            durable_delete_replicas=1,
            durable_delete_timeout_ms=300,
        )
    )

    async def logout(cookie: str) -> RecordingResponse:
        request, response = SimpleRequest(cookie), RecordingResponse()
        session = await twin.store.new(request, "app")
        session.options = session.options.replace(max_age=-1)
        await session.asave(request, response)
        return response

    try:
        cookie = twin.visit(user="alice")
        key = twin.store.key_for(twin.load(cookie).id)
        deadline = time.monotonic() + 10
        while not _on_replica(replica, key):
            assert time.monotonic() < deadline, "the session never reached the replica"
            time.sleep(0.02)
        assert twin.run(logout(cookie)).set_cookie_headers()
        assert not _on_replica(replica, key)
        cookie = twin.visit(user="bob")
        replica.pause()
        try:
            with pytest.raises(StoreError, match=r"only 0 of 1"):
                twin.run(logout(cookie))
        finally:
            replica.resume()
    finally:
        twin.close()


def test_a_durable_delete_through_sentinel(tmp_path: Path) -> None:
    """``from_sentinel(..., durable_delete_replicas=1)``: WAIT through the Sentinel-managed
    pool. After a failover leaves no replica, the same logout is a StoreError: the caveat,
    made visible instead of silently weaker."""
    with sentinel_deployment(tmp_path) as deployment:
        store = RedisStore.from_sentinel(
            HASH,
            sentinels=deployment.addresses,
            service_name=SERVICE,
            prefix=_prefix(),
            durable_delete_replicas=1,
            durable_delete_timeout_ms=300,
            socket_timeout=1.0,
            socket_connect_timeout=0.5,
            retries=0,
        )
        try:
            browser = Browser()
            browser.visit(store, user="alice")
            assert _logout(store, browser).set_cookie_headers()
            browser.visit(store, user="bob")
            key = store.key_for(browser.load(store).id)
            deployment._wait_for(lambda: deployment.replicated(key), "replication")
            deployment.kill_primary()
            deployment.wait_for_promotion(FAILOVER_LIMIT)
            deadline = time.monotonic() + FAILOVER_LIMIT
            while True:  # the pool's old connections fail once each, then reconnect
                try:
                    assert browser.load(store).values == {"user": "bob"}
                    break
                except StoreError:
                    assert time.monotonic() < deadline
            with pytest.raises(StoreError, match=r"only 0 of 1"):
                _logout(store, browser)
        finally:
            store.close()


@pytest.mark.parametrize("store_class", [RedisStore, AsyncRedisStore])
def test_bad_durable_delete_settings_are_refused(
    store_class: type[RedisStore] | type[AsyncRedisStore],
) -> None:
    """A negative count, a WAIT timeout of 0 (forever) or one the socket would cut short:
    ConfigurationError when the store is built."""
    url = "redis://127.0.0.1:1/0"
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigurationError, match="durable_delete_replicas"):
            store_class(HASH, url=url, durable_delete_replicas=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="positive"):
        store_class(HASH, url=url, durable_delete_replicas=1, durable_delete_timeout_ms=0)
    with pytest.raises(ConfigurationError, match="below the socket_timeout"):
        store_class(
            HASH,
            url=url,
            socket_timeout=0.5,
            durable_delete_replicas=1,
            durable_delete_timeout_ms=500,
        )
    store_class(HASH, url=url, durable_delete_replicas=1, durable_delete_timeout_ms=1999)


def test_durable_deletes_are_refused_on_redis_cluster(tmp_path: Path) -> None:
    """Redis Cluster does not pipeline a WAIT with a DEL to the key's node: refused when
    the store is built rather than silently not waiting."""
    cluster = RedisCluster3(tmp_path).start()
    try:
        client = RedisCluster(host="127.0.0.1", port=cluster.ports[0], socket_timeout=2)
        try:
            with pytest.raises(ConfigurationError, match="Redis Cluster"):
                RedisStore(HASH, client=client, durable_delete_replicas=1)
            RedisStore(HASH, client=client)  # without the option, as before
        finally:
            client.close()
    finally:
        cluster.stop()
