"""MemoryStore specifics (docs/spec.md S-12); the shared clauses run in test_conformance_builtin."""

from __future__ import annotations

import asyncio
import logging

import pytest

from reference_impl.aio.memory import AsyncMemoryStore
from reference_impl.memory import DEFAULT_MAX_SESSIONS, MemoryStore
from spec import ManualClock
from spec.errors import ConfigurationError
from spec.http import RecordingResponse, SimpleRequest
from tests.stores._support import HASH, Browser


def test_records_belong_to_one_store_instance() -> None:
    """S-12.1: memory records live in their store object only."""
    one, two = MemoryStore(HASH), MemoryStore(HASH)
    browser = Browser()
    browser.visit(one, user="alice")
    assert browser.load(one).values == {"user": "alice"}
    assert browser.load(two).is_new


def _visit(store: MemoryStore, max_age: int | None = None, **values: object) -> Browser:
    browser = Browser()
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    if max_age is not None:
        session.options = session.options.replace(max_age=max_age)
    session.values.update(values)
    session.save(request, response)
    browser.receive(response)
    return browser


def test_memory_stays_bounded_over_many_saves(caplog: pytest.LogCaptureFixture) -> None:
    """S-12.2: 2,000 new sessions in a store of 50 keep 50 records and a small heap."""
    store = MemoryStore(HASH, max_sessions=50, clock=ManualClock())
    assert store.max_sessions == 50
    with caplog.at_level(logging.WARNING, logger="sessionspec"):
        for n in range(2000):
            _visit(store, n=n)
    assert len(store) == 50
    assert len(store.backend._records) == 50
    assert len(store.backend._deadlines) <= 2 * 50 + 64  # stale heap entries are compacted
    full = [r for r in caplog.records if "MemoryStore is full" in r.getMessage()]
    assert len(full) == 1  # said once, not once per eviction


def test_updates_do_not_grow_the_heap() -> None:
    """S-12.2: 5,000 saves of one session leave one record and a bounded heap."""
    store = MemoryStore(HASH, max_sessions=10, clock=ManualClock())
    browser = _visit(store, n=0)
    for n in range(1, 5000):
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.values["n"] = n
        session.save(request, response)
    assert len(store) == 1 and len(store.backend._deadlines) <= 2 + 64
    assert browser.load(store).values == {"n": 4999}


def test_eviction_takes_expired_records_first_then_the_closest_to_expiry() -> None:
    """S-12.2: full store: expired records go first, then the live one nearest its deadline."""
    clock = ManualClock()
    store = MemoryStore(HASH, max_sessions=3, clock=clock)
    long, short, middle = _visit(store, 300, k="long"), _visit(store, 50), _visit(store, 100)
    newcomer = _visit(store, 300, k="newcomer")  # full: `short` (deadline +50) is evicted
    assert short.load(store).is_new
    assert not middle.load(store).is_new and long.load(store).values == {"k": "long"}
    clock.advance(101)  # `middle` is now expired, `long` and `newcomer` are live
    assert len(store) == 2  # len counts live records only
    another = _visit(store, 30, k="another")
    also = _visit(store, 300, k="also")  # full again: `another` (deadline +30) is closest
    assert another.load(store).is_new
    for browser, value in ((long, "long"), (newcomer, "newcomer"), (also, "also")):
        assert browser.load(store).values == {"k": value}
    assert len(store) == 3


def test_sessions_without_a_deadline_are_evicted_last_oldest_first() -> None:
    """S-12.2: with no max age at all, records sort after every deadline, by age."""
    store = MemoryStore(HASH, max_sessions=2, clock=ManualClock())
    store.max_age(0)
    first, second = _visit(store, k=1), _visit(store, k=2)
    third = _visit(store, k=3)
    assert first.load(store).is_new
    assert second.load(store).values == {"k": 2} and third.load(store).values == {"k": 3}


def test_len_counts_live_records_only() -> None:
    """S-12.2: len(store) drops expired records without a purge."""
    clock = ManualClock()
    store = MemoryStore(HASH, clock=clock)
    _visit(store, 10)
    _visit(store, 1000)
    assert len(store) == 2
    clock.advance(11)
    assert len(store) == 1
    assert store.purge_expired() == 0  # len already dropped it


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "100"])
def test_max_sessions_must_be_a_positive_int(bad: object) -> None:
    """S-12.2: a nonsensical bound is a ConfigurationError naming the default."""
    with pytest.raises(ConfigurationError, match="max_sessions must be a positive int"):
        MemoryStore(HASH, max_sessions=bad)  # type: ignore[arg-type]


def test_the_default_bound_and_the_async_twin() -> None:
    """S-12.2: the default is DEFAULT_MAX_SESSIONS; AsyncMemoryStore takes the same bound."""
    assert MemoryStore(HASH).max_sessions == DEFAULT_MAX_SESSIONS == 100_000
    store = AsyncMemoryStore(HASH, max_sessions=5, clock=ManualClock())
    assert store.max_sessions == 5

    async def main() -> None:
        for n in range(20):
            request, response = SimpleRequest(), RecordingResponse()
            session = await store.get(request, "app")
            session.values["n"] = n
            await session.asave(request, response)

    asyncio.run(main())
    assert len(store) == 5
