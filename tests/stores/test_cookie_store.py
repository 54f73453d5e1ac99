"""CookieStore specifics: encoding key, cookie size, memory (docs/spec.md S-9)."""

from __future__ import annotations

import gc
import sys

import pytest

from reference_impl.cookie_store import CookieStore
from reference_impl.securecookie import SecureCookie
from spec import save_all
from spec.errors import ValueTooLongError
from spec.http import RecordingResponse, SimpleRequest
from tests.stores._support import BLOCK, HASH, OLD_BLOCK, OLD_HASH, Browser


def test_new_cookies_are_encoded_with_the_first_key_only() -> None:
    """S-9.13: only the current key pair encodes; older pairs only decode."""
    store = CookieStore(HASH, BLOCK, OLD_HASH, OLD_BLOCK)
    browser = Browser()
    browser.visit(store, k=1)
    cookie = browser.jar.get("app")
    assert cookie is not None
    assert SecureCookie(HASH, BLOCK).decode("app", cookie.value) == {"k": 1}


def test_size_check_counts_the_name_as_browsers_do() -> None:
    """S-9.11: name=value must fit in max_length, not only the value."""
    name = "n" * 40
    store, codec = CookieStore(HASH), SecureCookie(HASH, max_length=0)
    length = next(
        n
        for n in range(1000, 4096)
        if 4096 - len(name) - 1 < len(codec.encode(name, {"v": "x" * n})) <= 4096
    )
    req, resp = SimpleRequest(), RecordingResponse()
    s = store.get(req, name)
    s.values["v"] = "x" * length
    with pytest.raises(ValueTooLongError) as info:
        s.save(req, resp)
    assert 4096 < info.value.length <= 4096 + len(name) + 1
    assert resp.set_cookie_headers() == []


def test_readme_example_values() -> None:
    """S-4.2: gorilla's README example, values['foo'] = 'bar' and values[42] = 43."""
    store = CookieStore(HASH)
    browser = Browser()
    req, resp = browser.request(), RecordingResponse()
    session = store.get(req, "session-name")
    session.values["foo"] = "bar"
    session.values[42] = 43
    save_all(req, resp)
    browser.receive(resp)
    assert browser.load(store, "session-name").values == {"foo": "bar", 42: 43}


def test_100k_requests_through_the_registry_leave_memory_flat() -> None:
    """S-5.1: a long run of requests with real cookies accumulates nothing."""
    store = CookieStore(HASH)
    browser = Browser()
    browser.visit(store, n=0)
    cookie = browser.jar.get("app")
    assert cookie is not None
    header = f"app={cookie.value}"

    def requests(count: int) -> None:
        for _ in range(count):
            req, resp = SimpleRequest(header), RecordingResponse()
            store.get(req, "app").values["seen"] = True
            save_all(req, resp)

    requests(5_000)
    gc.collect()
    blocks, objects = sys.getallocatedblocks(), len(gc.get_objects())
    requests(100_000)
    gc.collect()
    # A leak of even one object per request would add 100,000 of each.
    assert sys.getallocatedblocks() - blocks < 2_000
    assert len(gc.get_objects()) - objects < 500
