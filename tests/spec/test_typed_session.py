"""TypedSession: a pydantic model as a session's schema, over the built-in stores (issue 18)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from reference_impl.aio.memory import AsyncMemoryStore
from reference_impl.cookie_store import CookieStore
from reference_impl.filesystem import FilesystemStore
from reference_impl.memory import MemoryStore
from reference_impl.serializers import JSONSerializer
from spec import (
    Cookie,
    ManualClock,
    Options,
    Registry,
    Request,
    ResponseWriter,
    Session,
    SessionValue,
    Store,
    TypedSession,
)
from spec.errors import ConfigurationError, MacInvalidError, SchemaError, SerializeError
from spec.http import CookieJar, RecordingResponse
from tests.stores._support import BLOCK, HASH


class Size(StrEnum):
    SMALL = "s"
    LARGE = "l"


class Item(BaseModel):
    sku: str
    price: Decimal
    size: Size = Size.SMALL


class Cart(BaseModel):
    items: list[Item] = Field(default_factory=list)
    updated: datetime | None = None
    owner: uuid.UUID | None = None
    coupons: list[str] = Field(default_factory=list)


SAMPLE = Cart(
    items=[Item(sku="tea", price=Decimal("3.50")), Item(sku="mug", price=Decimal("9"), size="l")],
    updated=datetime(2026, 12, 3, 13, 5, 7, 123456, tzinfo=UTC),
    owner=uuid.UUID(int=42),
    coupons=["WINTER"],
)


def round_trip(store: Store, value: Cart = SAMPLE) -> tuple[Cart, CookieJar]:
    """Save ``value`` in one request, load it in the next (a browser in between)."""
    carts = TypedSession(store, "cart", Cart)
    jar = CookieJar()
    request, response = jar.request(), RecordingResponse()
    assert carts.load(request) == Cart()  # a first visit: the defaults
    assert carts.load_error(request) is None
    carts.save(request, response, value)
    jar.update(response)
    request = jar.request()
    loaded = carts.load(request)
    assert carts.load_error(request) is None
    return loaded, jar


def test_round_trip_through_the_cookie_store() -> None:
    loaded, _ = round_trip(CookieStore(HASH, BLOCK))
    assert loaded == SAMPLE
    assert isinstance(loaded.updated, datetime) and loaded.updated.tzinfo is not None
    assert isinstance(loaded.items[0].price, Decimal)


def test_round_trip_through_the_cookie_store_with_json() -> None:
    loaded, _ = round_trip(CookieStore(HASH, BLOCK, serializer=JSONSerializer()))
    assert loaded == SAMPLE


def test_round_trip_through_the_memory_store() -> None:
    loaded, _ = round_trip(MemoryStore(HASH, BLOCK))
    assert loaded == SAMPLE


def test_round_trip_through_the_filesystem_store(tmp_path: Path) -> None:
    loaded, _ = round_trip(FilesystemStore(tmp_path, HASH, BLOCK))
    assert loaded == SAMPLE


def test_the_session_holds_plain_json_values() -> None:
    """What a Go service (or any serializer) sees: strings, lists, dicts, no Python types."""
    store = MemoryStore(HASH, BLOCK)
    carts = TypedSession(store, "cart", Cart)
    request = CookieJar().request()
    carts.save(request, RecordingResponse(), SAMPLE)
    values = dict(store.get(request, "cart").values)
    assert values == {
        "items": [
            {"sku": "tea", "price": "3.50", "size": "s"},
            {"sku": "mug", "price": "9", "size": "l"},
        ],
        "updated": "2026-12-03T13:05:07.123456Z",
        "owner": "00000000-0000-0000-0000-00000000002a",
        "coupons": ["WINTER"],
    }


def test_async_round_trip_over_an_async_store_and_a_sync_one(tmp_path: Path) -> None:
    async def main() -> None:
        for store in (AsyncMemoryStore(HASH, BLOCK), FilesystemStore(tmp_path, HASH, BLOCK)):
            carts = TypedSession(store, "cart", Cart)
            jar = CookieJar()
            request, response = jar.request(), RecordingResponse()
            assert await carts.aload(request) == Cart()
            await carts.asave(request, response, SAMPLE)
            jar.update(response)
            request = jar.request()
            assert await carts.aload(request) == SAMPLE
            assert await carts.aload_error(request) is None

    asyncio.run(main())


def test_sync_calls_on_an_async_store_are_refused() -> None:
    carts = TypedSession(AsyncMemoryStore(HASH, BLOCK), "cart", Cart)
    request = CookieJar().request()
    with pytest.raises(ConfigurationError, match="async store: use await"):
        carts.load(request)
    with pytest.raises(ConfigurationError, match="async store: use await asave"):
        carts.save(request, RecordingResponse(), Cart())


def test_invalid_stored_values_give_defaults_and_a_logged_schema_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore(HASH, BLOCK)
    jar = CookieJar()
    request, response = jar.request(), RecordingResponse()
    raw = store.get(request, "cart")
    raw.values["items"] = [{"sku": "tea", "price": "not a number"}]
    raw.values["updated"] = "yesterday"
    raw.save(request, response)
    jar.update(response)

    carts = TypedSession(store, "cart", Cart)
    request = jar.request()
    with caplog.at_level(logging.WARNING, logger="sessionspec.typed"):
        cart = carts.load(request)  # never raises
    assert cart == Cart()
    error = carts.load_error(request)
    assert isinstance(error, SchemaError)
    assert error.name == "cart" and error.model == "Cart"
    assert "items.0.price" in str(error) and "updated" in str(error)
    assert "migrate=" in str(error)  # says what to do
    assert "not a number" not in str(error)  # never echoes stored input
    assert [r.getMessage() for r in caplog.records] == [str(error)]


def test_values_that_are_not_json_give_a_schema_error() -> None:
    store = MemoryStore(HASH, BLOCK)
    request = CookieJar().request()
    store.get(request, "cart").values["coupons"] = b"\xff"
    carts = TypedSession(store, "cart", Cart)
    assert carts.load(request) == Cart()
    assert isinstance(carts.load_error(request), SchemaError)


def test_a_rejected_cookie_is_the_load_error() -> None:
    store = CookieStore(HASH, BLOCK)
    _, jar = round_trip(store)
    cookie = jar.get("cart")
    assert cookie is not None
    other = TypedSession(CookieStore(b"x" * 32, BLOCK), "cart", Cart)  # another key
    request = jar.request()
    assert other.load(request) == Cart()
    assert isinstance(other.load_error(request), MacInvalidError)


def test_a_required_field_is_refused_at_construction() -> None:
    class Login(BaseModel):
        user: str
        token: str
        remember: bool = False

    with pytest.raises(ConfigurationError, match=r"fields without a default \(user, token\)"):
        TypedSession(MemoryStore(HASH, BLOCK), "login", Login)
    with pytest.raises(ConfigurationError, match="pydantic model class"):
        TypedSession(MemoryStore(HASH, BLOCK), "login", dict)  # type: ignore[type-var]


def test_saving_something_else_than_the_model_is_refused() -> None:
    carts = TypedSession(MemoryStore(HASH, BLOCK), "cart", Cart)
    with pytest.raises(SerializeError, match="saves Cart instances, got dict"):
        carts.save(CookieJar().request(), RecordingResponse(), {"items": []})  # type: ignore[arg-type]


def test_flashes_live_beside_the_model_and_survive_a_save() -> None:
    store = MemoryStore(HASH, BLOCK)
    carts = TypedSession(store, "cart", Cart)
    jar = CookieJar()
    request, response = jar.request(), RecordingResponse()
    carts.add_flash(request, "added tea")
    carts.save(request, response, SAMPLE)
    jar.update(response)
    request, response = jar.request(), RecordingResponse()
    assert carts.flashes(request) == ["added tea"]
    assert carts.load(request) == SAMPLE  # the flash key is no field
    carts.save(request, response, carts.load(request))
    jar.update(response)
    assert carts.flashes(jar.request()) == []


def test_save_replaces_the_fields_and_keeps_private_and_int_keys() -> None:
    store = MemoryStore(HASH, BLOCK)
    request = CookieJar().request()
    raw = store.get(request, "cart")
    raw.values.update({"stale": 1, "_csrf": "t", 7: "seven"})
    TypedSession(store, "cart", Cart).save(request, RecordingResponse(), Cart())
    assert dict(raw.values) == {"_csrf": "t", 7: "seven", **Cart().model_dump(mode="json")}


class CartV2(BaseModel):
    version: int = 2
    lines: list[str] = Field(default_factory=list)


def _migrate(values: dict[str, object]) -> dict[str, object] | None:
    if values.get("version") == 2 or not values:
        return values
    items = values.get("items")
    if isinstance(items, list):  # version 1 kept {"sku": ...} objects
        return {"version": 2, "lines": [str(i["sku"]) for i in items if isinstance(i, dict)]}
    return None  # anything older: discard


def test_migrate_converts_or_discards_old_sessions() -> None:
    store = MemoryStore(HASH, BLOCK)
    request = CookieJar().request()
    TypedSession(store, "cart", Cart).save(request, RecordingResponse(), SAMPLE)
    carts = TypedSession(store, "cart", CartV2, migrate=_migrate)
    assert carts.load(request) == CartV2(lines=["tea", "mug"])
    assert carts.load_error(request) is None

    request = CookieJar().request()
    store.get(request, "cart").values["items"] = "garbage"
    assert carts.load(request) == CartV2()
    assert carts.load_error(request) is None  # discarded on purpose, not an error


def test_options_replace_rejects_unknown_and_mistyped_keywords_at_run_time_too() -> None:
    with pytest.raises(ConfigurationError, match="maxage"):
        Options().replace(maxage=3600)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="max_age"):
        Options().replace(max_age="3600")  # type: ignore[typeddict-item]
    assert Options().replace(same_site="strict", max_age=0).max_age == 0


def test_a_clock_is_not_needed_but_expiry_still_applies() -> None:
    clock = ManualClock()
    store = CookieStore(HASH, BLOCK, clock=clock, options=Options(max_age=60))
    loaded, jar = round_trip(store)
    assert loaded == SAMPLE
    clock.advance(3600)
    carts = TypedSession(store, "cart", Cart)
    request = jar.request()
    assert carts.load(request) == Cart()
    assert carts.load_error(request) is not None


def test_put_leaves_the_cookie_to_save_all() -> None:
    """What the framework integrations use: the middleware writes the session."""
    from spec import save_all

    store = MemoryStore(HASH, BLOCK)
    carts = TypedSession(store, "cart", Cart)
    jar = CookieJar()
    request, response = jar.request(), RecordingResponse()
    carts.put(request, SAMPLE)
    assert response.cookies == []
    assert store.get(request, "cart").modified
    save_all(request, response, only_modified=True)
    jar.update(response)
    assert carts.load(jar.request()) == SAMPLE


def test_aput_leaves_the_cookie_to_asave_all() -> None:
    from spec import asave_all

    async def main() -> None:
        store = AsyncMemoryStore(HASH, BLOCK)
        carts = TypedSession(store, "cart", Cart)
        jar = CookieJar()
        request, response = jar.request(), RecordingResponse()
        await carts.aput(request, SAMPLE)
        await asave_all(request, response, only_modified=True)
        jar.update(response)
        assert await carts.aload(jar.request()) == SAMPLE

    asyncio.run(main())


class _ThirdPartyStore:
    """A store written only against the protocols: no reference_impl, no Registry binding."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str | int, SessionValue]] = {}

    def get(self, request: Request, name: str) -> Session:
        return Registry.of(request).get(self, name)

    def new(self, request: Request, name: str) -> Session:
        session = Session(name=name)
        for value in request.cookie_values(name):
            if value in self.data:
                session.values = dict(self.data[value])
                session.id, session.is_new = value, False
        return session

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        session.id = session.id or f"id{len(self.data)}"
        self.data[session.id] = dict(session.values)
        response.set_cookie(Cookie.for_session(session.name, session.id, session.options, 0.0))


def test_a_third_party_store_works_unchanged() -> None:
    loaded, _ = round_trip(_ThirdPartyStore())
    assert loaded == SAMPLE
