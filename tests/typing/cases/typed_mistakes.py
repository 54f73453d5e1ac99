"""Each line marked ``# error`` is a mistake mypy --strict must report on that very line."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from reference_impl.aio.memory import AsyncMemoryStore
from reference_impl.memory import MemoryStore
from spec import Options, Request, ResponseWriter, TypedSession


class Cart(BaseModel):
    items: list[str] = Field(default_factory=list)


KEY = b"k" * 32
store = MemoryStore(KEY)
async_store = AsyncMemoryStore(KEY)
carts = TypedSession(store, "cart", Cart)

LONG = Options().replace(max_age="3600")  # error: a str where max_age is an int
TYPO = Options().replace(maxage=3600)  # error: a misspelt option


def values(request: Request) -> None:
    session = store.get(request, "app")
    session.values["tags"] = {"a", "b"}  # error: a set is no session value
    session.values["when"] = datetime.now()  # error: nor is a datetime


async def async_save(request: Request, response: ResponseWriter) -> None:
    (await async_store.get(request, "s")).save(request, response)  # error: sync save, async store


def typed(request: Request, response: ResponseWriter) -> None:
    print(carts.load(request).itemz)  # error: no such field
    carts.save(request, response, {"items": []})  # error: a dict is not a Cart
