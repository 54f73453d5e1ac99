"""Request cycles through the async API (``Registry.aget``, ``asave_all``), for any async store."""

from __future__ import annotations

import asyncio

import pytest

from conformance import Browser
from spec import AsyncStore, Registry, asave_all, save_all
from spec.errors import ConfigurationError, SaveAllError
from spec.http import RecordingResponse

__all__ = ["registry_round_trip"]


async def registry_round_trip(store: AsyncStore) -> None:
    """Load once per request, save only what changed, reload, refuse sync saves, log out (S-5.7)."""
    browser = Browser()
    request, response = browser.request(), RecordingResponse()
    first, again = await asyncio.gather(store.get(request, "app"), store.get(request, "app"))
    assert first is again and first.store is store
    assert first.is_new and not first.modified
    first.values["user"] = "alice"
    await store.get(request, "untouched")
    await asave_all(request, response, only_modified=True)
    assert [line.split("=")[0] for line in response.set_cookie_headers()] == ["app"]
    assert not first.modified
    browser.receive(response)

    request, response = browser.request(), RecordingResponse()
    loaded = await store.get(request, "app")
    assert (loaded.values, loaded.is_new, loaded.modified) == ({"user": "alice"}, False, False)
    with pytest.raises(ConfigurationError, match="asave"):
        loaded.save(request, response)
    loaded.values["n"] = 1
    with pytest.raises(SaveAllError) as refused:
        save_all(request, response)
    assert isinstance(refused.value.failures[0][1], ConfigurationError)
    await loaded.asave(request, response)
    browser.receive(response)
    assert (await store.new(browser.request(), "app")).values == {"user": "alice", "n": 1}

    request, response = browser.request(), RecordingResponse()
    leaving = await store.get(request, "app")
    leaving.options = leaving.options.replace(max_age=-1)
    await Registry.of(request).asave_all(response, only_modified=True)
    assert "Max-Age=0" in response.set_cookie_headers()[0]
    browser.receive(response)
    assert (await store.get(browser.request(), "app")).is_new
