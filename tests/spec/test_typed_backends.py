"""TypedSession over the server-side stores, on real Redis and PostgreSQL servers (issue 18).

The servers come from the shared fixtures in tests/backends/ (a throwaway
redis-server and PostgreSQL cluster on free ports, or the URLs CI sets).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from reference_impl.aio.redis import AsyncRedisStore
from reference_impl.aio.sql import AsyncSQLStore
from reference_impl.redis import RedisStore
from reference_impl.sql import SQLStore
from spec import Store, TypedSession
from spec.errors import SchemaError
from spec.http import CookieJar, RecordingResponse
from tests.backends import _postgres_server, _redis_server
from tests.spec.test_typed_session import SAMPLE, Cart, round_trip
from tests.stores._support import BLOCK, HASH

redis_url = _redis_server.redis_url
postgres_url = _postgres_server.postgres_url


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisStore]:
    store = RedisStore(HASH, BLOCK, url=redis_url, prefix=f"typed-{uuid.uuid4().hex[:8]}:")
    yield store
    store.close()


@pytest.fixture
def sql_store(postgres_url: str) -> Iterator[SQLStore]:
    store = SQLStore(HASH, BLOCK, url=postgres_url, table=f"typed_{uuid.uuid4().hex[:12]}")
    yield store
    store.close()


def _corrupt(store: Store) -> CookieJar:
    """A stored session whose values do not fit Cart."""
    jar = CookieJar()
    request, response = jar.request(), RecordingResponse()
    session = store.get(request, "cart")
    session.values["items"] = "not a list"
    session.save(request, response)
    jar.update(response)
    return jar


def test_round_trip_through_redis(redis_store: RedisStore) -> None:
    loaded, _ = round_trip(redis_store)
    assert loaded == SAMPLE


def test_round_trip_through_postgresql(sql_store: SQLStore) -> None:
    loaded, _ = round_trip(sql_store)
    assert loaded == SAMPLE


@pytest.mark.parametrize("which", ["redis", "sql"])
def test_invalid_stored_values_give_defaults_and_a_load_error(
    which: str, request: pytest.FixtureRequest
) -> None:
    store: Store = request.getfixturevalue(f"{which}_store")
    jar = _corrupt(store)
    carts = TypedSession(store, "cart", Cart)
    req = jar.request()
    assert carts.load(req) == Cart()
    assert isinstance(carts.load_error(req), SchemaError)


def test_async_round_trip_through_redis_and_postgresql(redis_url: str, postgres_url: str) -> None:
    async def one(store: AsyncRedisStore | AsyncSQLStore) -> None:
        try:
            carts = TypedSession(store, "cart", Cart)
            jar = CookieJar()
            request, response = jar.request(), RecordingResponse()
            await carts.asave(request, response, SAMPLE)
            jar.update(response)
            assert await carts.aload(jar.request()) == SAMPLE
        finally:
            await store.close()

    async def main() -> None:
        await one(AsyncRedisStore(HASH, BLOCK, url=redis_url, prefix=f"t-{uuid.uuid4().hex}:"))
        table = f"typed_{uuid.uuid4().hex[:12]}"
        await one(AsyncSQLStore(HASH, BLOCK, url=postgres_url, table=table))

    asyncio.run(main())
