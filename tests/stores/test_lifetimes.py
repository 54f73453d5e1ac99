"""Lifetimes in the reference stores: timeouts, touches and lifecycle events (issue 16)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from reference_impl import CookieStore, MemoryStore, ServerSideStore
from reference_impl.aio import AsyncMemoryStore
from spec import ManualClock, SessionEvent, asave_all, save_all
from spec.errors import AbsoluteTimeoutError, ConfigurationError, IdleTimeoutError
from spec.http import RecordingResponse, SimpleRequest
from tests.stores._support import BLOCK, HASH


class _Records:
    """A RecordBackend without swap: fine for sessions, not for idle_timeout."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, float | None]] = {}

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        return self.rows.get(session_id)

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        if session_id in self.rows:
            return False
        self.rows[session_id] = (data, expires_at)
        return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        if session_id not in self.rows:
            return False
        self.rows[session_id] = (data, expires_at)
        return True

    def delete(self, session_id: str) -> bool:
        return self.rows.pop(session_id, None) is not None


@pytest.mark.parametrize("bad", [-1, 1.5, True, "60"])
@pytest.mark.parametrize("keyword", ["absolute_timeout", "idle_timeout"])
def test_timeouts_are_whole_seconds_at_least_zero(keyword: str, bad: object) -> None:
    """A timeout that is not an int >= 0 is refused at construction, naming it (S-9.22)."""
    with pytest.raises(ConfigurationError, match=keyword):
        MemoryStore(HASH, **{keyword: bad})  # type: ignore[arg-type]


def test_idle_timeout_needs_a_backend_that_can_swap() -> None:
    """Without swap() a touch would have to rewrite values, so idle_timeout is refused (S-9.24)."""
    with pytest.raises(ConfigurationError, match="swap"):
        ServerSideStore(_Records(), HASH, idle_timeout=60)
    ServerSideStore(_Records(), HASH, absolute_timeout=60)  # needs no touch


def test_refusals_are_typed_and_say_what_to_do() -> None:
    """The two timeout errors are ExpiredTimestampErrors whose text names the limit (S-9.22)."""
    absolute = AbsoluteTimeoutError(100, 4000, 3600)
    idle = IdleTimeoutError(100, 800, 600)
    assert "absolute_timeout of 3600s" in str(absolute) and "sign in again" in str(absolute)
    assert "idle_timeout of 600s" in str(idle) and idle.limit == 600
    assert (absolute.timestamp, absolute.now) == (100, 4000)


def test_default_cookies_carry_nothing_extra_and_timed_ones_do() -> None:
    """created_at/used_at enter a cookie only when a timeout needs them (S-9.22, S-9.23)."""
    clock = ManualClock()
    for store, expected in (
        (CookieStore(HASH, clock=clock), {"user": "alice"}),
        (
            CookieStore(HASH, clock=clock, idle_timeout=600),
            {
                "user": "alice",
                "_sessionspec.created_at": int(clock()),
                "_sessionspec.used_at": int(clock()),
            },
        ),
    ):
        request, response = SimpleRequest(), RecordingResponse()
        session = store.get(request, "app")
        session["user"] = "alice"
        session.save(request, response)
        assert store.codecs[0].decode("app", response.cookies[0].value) == expected


def _events(store: MemoryStore | CookieStore) -> list[SessionEvent]:
    seen: list[SessionEvent] = []
    store.add_listener(seen.append)
    return seen


def test_server_side_events_in_order() -> None:
    """created, regenerated, expired, deleted and purged reach the listener (S-9.26)."""
    clock = ManualClock()
    store = MemoryStore(HASH, BLOCK, clock=clock, absolute_timeout=3600)
    seen = _events(store)
    request, response = SimpleRequest(), RecordingResponse()
    session = store.get(request, "app")
    session["user"] = "alice"
    session.save(request, response)
    first_id = session.id
    session.regenerate_id()
    session.save(request, response)
    second_id = session.id
    cookie = response.cookies[-1].value
    clock.advance(3601)
    assert isinstance(
        store.new(SimpleRequest(f"app={cookie}"), "app").load_error, AbsoluteTimeoutError
    )
    other_request, other_response = SimpleRequest(), RecordingResponse()
    doomed = store.get(other_request, "other")
    doomed["x"] = 1
    doomed.save(other_request, other_response)
    doomed.options = doomed.options.replace(max_age=-1)
    doomed.save(other_request, other_response)
    lapsed_request = SimpleRequest()
    lapsed = store.get(lapsed_request, "lapsed")
    lapsed["x"] = 1
    lapsed.save(lapsed_request, RecordingResponse())
    clock.advance(86400 * 31)
    assert store.purge_expired() == 1
    kinds = [(event.kind, event.name, event.session_id, event.previous_id) for event in seen]
    assert kinds == [
        ("created", "app", first_id, ""),
        ("regenerated", "app", second_id, first_id),
        ("expired", "app", "", ""),
        ("created", "other", doomed_id := kinds[3][2], ""),
        ("deleted", "other", doomed_id, ""),
        ("created", "lapsed", kinds[5][2], ""),
        ("purged", "", "", ""),
    ]
    assert isinstance(seen[2].error, AbsoluteTimeoutError)
    assert seen[-1].count == 1 and seen[-1].store == "MemoryStore"
    assert all(event.at <= clock() for event in seen)


def test_a_failing_listener_is_logged_and_breaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A listener that raises is logged with its traceback; the save still lands (S-9.26)."""
    store = CookieStore(HASH)
    calls: list[str] = []

    def broken(event: SessionEvent) -> None:
        raise RuntimeError("audit sink down")

    store.add_listener(broken)
    store.add_listener(lambda event: calls.append(event.kind))
    request, response = SimpleRequest(), RecordingResponse()
    session = store.get(request, "app")
    session["user"] = "alice"
    with caplog.at_level(logging.ERROR, logger="sessionspec"):
        session.save(request, response)
    assert response.cookies and calls == ["created"]
    assert "audit sink down" in caplog.text and "listener" in caplog.text
    store.remove_listener(broken)
    with pytest.raises(ValueError, match="not in list"):
        store.remove_listener(broken)


def test_a_touch_writes_no_values_and_an_untouched_store_writes_nothing() -> None:
    """Without idle_timeout a read-only request sends nothing; with it, the touch keeps values."""
    clock = ManualClock()
    plain, timed = MemoryStore(HASH, clock=clock), MemoryStore(HASH, clock=clock, idle_timeout=600)
    for store in (plain, timed):
        request, response = SimpleRequest(), RecordingResponse()
        session = store.get(request, "app")
        session["cart"] = ["apple"]
        session.save(request, response)
        cookie = f"app={response.cookies[0].value}"
        clock.advance(120)
        read_request, read_response = SimpleRequest(cookie), RecordingResponse()
        assert store.get(read_request, "app")["cart"] == ["apple"]
        save_all(read_request, read_response, only_modified=True)
        touched = bool(read_response.set_cookie_headers())
        assert touched is (store is timed)
        assert store.new(SimpleRequest(cookie), "app").values == {"cart": ["apple"]}


def test_async_store_touches_through_asave_all() -> None:
    """asave_all awaits an async store's touch, so reads keep an async session alive (S-9.23)."""
    asyncio.run(_async_reads_keep_alive())


async def _async_reads_keep_alive() -> None:
    clock = ManualClock()
    store = AsyncMemoryStore(HASH, clock=clock, idle_timeout=600)
    request, response = SimpleRequest(), RecordingResponse()
    session = await store.get(request, "app")
    session["user"] = "alice"
    await session.asave(request, response)
    cookie = f"app={response.cookies[0].value}"
    for _ in range(4):
        clock.advance(400)
        read_request, read_response = SimpleRequest(cookie), RecordingResponse()
        assert (await store.get(read_request, "app")).load_error is None
        await asave_all(read_request, read_response, only_modified=True)
        assert read_response.set_cookie_headers()
    clock.advance(601)
    assert isinstance((await store.new(SimpleRequest(cookie), "app")).load_error, IdleTimeoutError)


IGNORING = """
from conformance import Capabilities, StoreConformance
from reference_impl.memory import MemoryStore


class TestIgnoresTimeouts(StoreConformance):
    capabilities = Capabilities(server_side=True, regenerate_id=True)

    def make_store(self, clock):
        return MemoryStore(b"k" * 32, clock=clock)

    def make_store_with_timeouts(self, clock, *, absolute_timeout, idle_timeout):
        return MemoryStore(b"k" * 32, clock=clock)  # the limits are dropped
"""


def test_a_store_that_ignores_the_limits_fails_their_clauses(pytester: pytest.Pytester) -> None:
    """A store built without its timeouts is caught by S-9.22 and S-9.23, by name."""
    pytester.makepyfile(test_ignoring=IGNORING)
    result = pytester.runpytest_inprocess("-k", "s9_22 or s9_23", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    failed = {line.split("::")[-1].split(" ")[0] for line in result.outlines if "FAILED" in line}
    assert outcomes.get("failed", 0) >= 4, result.stdout.str()
    assert any(name.startswith("test_s9_22") for name in failed)
    assert any(name.startswith("test_s9_23") for name in failed)
