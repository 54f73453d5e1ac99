"""A TypedSession shares its session with a Go gorilla/securecookie service using JSON (issue 18).

The model's fields travel as plain JSON values (``model_dump(mode="json")``),
so Go reads them into a ``map[string]interface{}`` with
``securecookie.JSONEncoder`` and writes them back; the Python side gets a
validated model again, datetime and list included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from reference_impl.cookie_store import CookieStore
from reference_impl.serializers import JSONSerializer
from spec import TypedSession
from spec.errors import SchemaError
from spec.http import RecordingResponse, SimpleRequest
from tests.interop.goracle import GoOracle

HASH_KEY = bytes(range(32))
BLOCK_KEY = bytes(range(32, 64))
KEYS = [{"hash_key_hex": HASH_KEY.hex(), "block_key_hex": BLOCK_KEY.hex()}]
NAME = "cart"


class Cart(BaseModel):
    items: list[str] = Field(default_factory=list)
    quantity: int = 0
    updated: datetime | None = None


def _carts() -> TypedSession[Cart]:
    return TypedSession(CookieStore(HASH_KEY, BLOCK_KEY, serializer=JSONSerializer()), NAME, Cart)


def _go(oracle: GoOracle, request: dict[str, Any]) -> dict[str, Any]:
    reply = oracle.call({"key_pairs": KEYS, "name": NAME, "serializer": "json", **request})
    assert reply["ok"] is True, reply
    return reply


def test_python_saves_go_reads_and_writes_python_loads(go_oracle: GoOracle) -> None:
    carts = _carts()
    response = RecordingResponse()
    cart = Cart(items=["tea", "mug"], quantity=2, updated=datetime(2026, 12, 3, 13, 5, tzinfo=UTC))
    carts.save(SimpleRequest(), response, cart)
    (cookie,) = response.cookies

    seen = _go(go_oracle, {"op": "decode", "cookie": cookie.value, "dst": "map"})["value"]
    assert seen == {"items": ["tea", "mug"], "quantity": 2, "updated": "2026-12-03T13:05:00Z"}

    # The Go handler adds an item and saves the map with its JSONEncoder.
    changed = {**seen, "items": [*seen["items"], "spoon"], "quantity": 3}
    go_cookie = _go(go_oracle, {"op": "encode", "value": changed})["cookie"]

    request = SimpleRequest(f"{NAME}={go_cookie}")
    loaded = carts.load(request)
    assert carts.load_error(request) is None
    assert loaded == Cart(items=["tea", "mug", "spoon"], quantity=3, updated=cart.updated)
    assert isinstance(loaded.updated, datetime)


def test_go_values_that_do_not_fit_give_defaults_and_a_schema_error(go_oracle: GoOracle) -> None:
    go_cookie = _go(go_oracle, {"op": "encode", "value": {"items": "tea", "quantity": "many"}})
    carts = _carts()
    request = SimpleRequest(f"{NAME}={go_cookie['cookie']}")
    assert carts.load(request) == Cart()
    error = carts.load_error(request)
    assert isinstance(error, SchemaError)
    assert "items" in str(error) and "quantity" in str(error)
