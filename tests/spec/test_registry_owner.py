"""A registry is only ever handed back for the request it was made for (S-5.1, S-5.8)."""

from __future__ import annotations

import logging
import threading
from collections.abc import MutableMapping, Sequence
from typing import Any

import pytest

from reference_impl import CookieStore
from reference_impl.integrations import asgi as asgi_mw
from reference_impl.integrations import wsgi as wsgi_mw
from reference_impl.integrations._common import registry_of
from spec import Registry
from spec.errors import ConfigurationError
from spec.http import SimpleRequest
from spec.registry import REGISTRY_STATE_KEY, owner_of

STORE = CookieStore(b"registry-owner-test-hash-key-32b")


class _Shared:
    """A request whose ``state`` is shared with other requests (a broken server)."""

    def __init__(self, state: MutableMapping[str, object]) -> None:
        self._state = state
        self.owner = object()

    def cookie_values(self, name: str) -> Sequence[str]:
        return []

    @property
    def state(self) -> MutableMapping[str, object]:
        return self._state


def test_s5_8_foreign_registry_is_replaced_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """S-5.8: a registry made for another request is replaced, with a security log line."""
    state: dict[str, object] = {}
    first, second = _Shared(state), _Shared(state)
    mine = Registry.of(first)
    mine.get(STORE, "auth").values["user"] = "alice"
    with caplog.at_level(logging.WARNING, logger="sessionspec.security"):
        theirs = Registry.of(second)
    assert theirs is not mine
    assert theirs.get(STORE, "auth").values == {}
    assert theirs.owned_by(second) and not theirs.owned_by(first)
    assert [r.name for r in caplog.records] == ["sessionspec.security"]
    assert "another request" in caplog.records[0].getMessage()
    assert registry_of(first) is None  # not first's to save any more
    assert registry_of(second) is theirs


def test_s5_8_wrappers_made_per_call_share_the_scope_registry() -> None:
    """S-5.8: the owner is the scope or environ, so fresh wrappers find the same registry."""
    scope: dict[str, Any] = {"type": "http", "headers": []}
    environ: dict[str, Any] = {}
    asgi_registry = Registry.of(asgi_mw.request_of(scope))
    assert Registry.of(asgi_mw.request_of(scope)) is asgi_registry
    assert owner_of(asgi_mw.request_of(scope)) is scope
    wsgi_registry = Registry.of(wsgi_mw.request_of(environ))
    assert Registry.of(wsgi_mw.request_of(environ)) is wsgi_registry
    assert owner_of(wsgi_mw.request_of(environ)) is environ


def test_s5_8_a_shallow_state_copy_gets_a_fresh_registry() -> None:
    """S-5.8: what uvicorn does with lifespan state: the copied registry is not reused."""
    lifespan_state: dict[str, object] = {}
    planted = Registry.of(_Shared(lifespan_state))
    planted.get(STORE, "auth").values["user"] = "alice"
    for _ in range(3):
        scope: dict[str, Any] = {"type": "http", "headers": [], "state": dict(lifespan_state)}
        request = asgi_mw.request_of(scope)
        assert registry_of(request) is None
        assert STORE.get(request, "auth").values == {}
        assert Registry.of(request) is not planted


def test_s5_8_without_owner_the_state_identifies_the_request() -> None:
    """S-5.8: a Request with no ``owner`` is identified by its state mapping."""
    request = SimpleRequest()
    registry = Registry.of(request)
    assert owner_of(request) is request.state
    assert Registry.of(request) is registry
    copied = SimpleRequest()
    copied.state.update(request.state)  # a shallow copy of the state
    assert Registry.of(copied) is not registry


def test_s5_1_junk_in_the_registry_slot_is_a_configuration_error() -> None:
    """S-5.1: anything but a Registry under the key is refused, with what to do."""
    request = SimpleRequest()
    request.state[REGISTRY_STATE_KEY] = {"not": "a registry"}
    with pytest.raises(ConfigurationError, match="leave that key to sessionspec"):
        Registry.of(request)


def test_s5_8_threads_replacing_a_foreign_registry_agree_on_one() -> None:
    """S-5.4, S-5.8: threads of one request that all find a foreign registry get one new one."""
    scope: dict[str, Any] = {"type": "http", "headers": []}
    scope["state"] = {REGISTRY_STATE_KEY: Registry(SimpleRequest())}
    barrier = threading.Barrier(8)
    found: list[Registry] = []

    def grab() -> None:
        barrier.wait()
        found.append(Registry.of(asgi_mw.request_of(scope)))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and all(r is found[0] for r in found)
    assert scope["state"][REGISTRY_STATE_KEY] is found[0]
