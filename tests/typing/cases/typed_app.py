"""A small typed app: mypy --strict passes it with no ignore, no cast, no Any."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from reference_impl.aio.memory import AsyncMemoryStore
from reference_impl.memory import MemoryStore
from spec import Options, Request, ResponseWriter, SameSite, SessionValue, TypedSession
from spec.errors import SessionError


class Item(BaseModel):
    sku: str
    quantity: int = 1


class Cart(BaseModel):
    items: list[Item] = Field(default_factory=list)
    updated: datetime | None = None


KEY = b"k" * 32
store = MemoryStore(KEY, options=Options().replace(max_age=3600, same_site=SameSite.STRICT))
carts = TypedSession(store, "cart", Cart)


def add_item(request: Request, response: ResponseWriter, sku: str) -> int:
    cart = carts.load(request)  # Cart, inferred
    cart.items.append(Item(sku=sku))
    cart.updated = datetime.now(UTC)
    carts.add_flash(request, f"added {sku}")
    carts.save(request, response, cart)
    problem: SessionError | None = carts.load_error(request)
    return len(cart.items) if problem is None else 0


def plain_values(request: Request, response: ResponseWriter) -> list[SessionValue]:
    session = store.get(request, "app")
    session.values["tags"] = ["a", "b"]
    session.values["seen"] = datetime.now(UTC).isoformat()
    visits = session.values.get("visits", 0)
    session.values["visits"] = visits + 1 if isinstance(visits, int) else 1
    session.options = session.options.replace(max_age=0)
    session.save(request, response)
    return session.flashes()


async_store = AsyncMemoryStore(KEY)
async_carts = TypedSession(async_store, "cart", Cart)


async def async_view(request: Request, response: ResponseWriter) -> int:
    session = await async_store.get(request, "app")
    session.values["user"] = "alice"
    await session.asave(request, response)
    cart = await async_carts.aload(request)
    await async_carts.asave(request, response, cart)
    return len(cart.items)
