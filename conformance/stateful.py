"""A Hypothesis state machine that plays several browsers against one store.

It keeps an independent model (a dict per browser) of what each browser's
session should hold and checks the store against it after every step:
values set and deleted, flashes added and read, saves, deletions, changes of
``max_age``, time passing, ID regeneration, replayed old cookies and
tampered cookies. Use it through :func:`state_machine_for`::

    TestMyStoreMachine = state_machine_for(lambda clock: MyStore(KEY, clock=clock),
                                           Capabilities(server_side=True)).TestCase
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conformance import strategies
from conformance._browser import Browser
from conformance._capabilities import Capabilities
from conformance._profiles import active_profile, hypothesis_settings
from spec import ManualClock, SessionValue, Store
from spec.errors import DecodeError
from spec.http import RecordingResponse, SimpleRequest

__all__ = ["StoreStateMachine", "state_machine_for"]

NAME = "app"


@dataclass
class _Model:
    """What one browser's session should contain."""

    values: dict[str | int, SessionValue] = field(default_factory=dict)
    saved_at: float | None = None  # None: the browser holds no live session
    lifetime: int = 0  # 0: only the store's max age limits the session
    browser_session: bool = False
    old_cookies: list[str] = field(default_factory=list)


class StoreStateMachine(RuleBasedStateMachine):
    """The machine; :func:`state_machine_for` binds it to a store factory."""

    factory: Callable[[ManualClock], Store]
    capabilities: Capabilities
    #: Releases a store when a run ends (the suite closes its connections).
    close: Callable[[Any], object] = staticmethod(lambda store: None)

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.store = self.factory(self.clock)
        self.browsers = [Browser() for _ in range(3)]
        self.models = [_Model() for _ in range(3)]
        self.revoked: set[str] = set()

    def teardown(self) -> None:
        """Close this run's store, so runs never pile up open connections."""
        self.close(self.store)

    # -- helpers ---------------------------------------------------------------

    def _live(self) -> list[int]:
        return [i for i, model in enumerate(self.models) if self._alive(model)]

    def _with_values(self) -> list[int]:
        return [i for i in self._live() if self.models[i].values]

    def _with_revoked(self) -> list[int]:
        return [
            i
            for i, model in enumerate(self.models)
            if any(c in self.revoked for c in model.old_cookies)
        ]

    def _with_cookie(self) -> list[int]:
        return [
            i
            for i, browser in enumerate(self.browsers)
            if (cookie := browser.jar.get(NAME)) is not None and len(cookie.value) >= 8
        ]

    def _alive(self, model: _Model) -> bool:
        if model.saved_at is None:
            return False
        age = self.clock() - model.saved_at
        if age > self.capabilities.store_max_age:
            return False
        if model.lifetime and self.capabilities.record_deadlines:
            return age <= model.lifetime
        return True

    def _save(self, index: int, change: Callable[[dict[str | int, SessionValue]], None]) -> None:
        browser, model = self.browsers[index], self.models[index]
        request, response = browser.request(), RecordingResponse()
        session = self.store.get(request, NAME)
        change(session.values)
        if not self._alive(model):
            model.values = {}
        change_model = dict(model.values)
        change(change_model)
        previous = browser.jar.get(NAME)
        session.save(request, response)
        browser.receive(response)
        if previous is not None:
            model.old_cookies.append(previous.value)
        model.values = change_model
        self._saved(model, session.options.max_age)

    def _saved(self, model: _Model, max_age: int) -> None:
        model.saved_at = self.clock()
        model.lifetime = max(max_age, 0)
        model.browser_session = max_age == 0

    # -- rules -----------------------------------------------------------------

    @rule(index=st.integers(0, 2), data=st.data())
    def set_value(self, index: int, data: st.DataObject) -> None:
        kinds = self.capabilities.value_types
        key = data.draw(strategies.session_keys(kinds), label="key")
        value = data.draw(strategies.values(kinds), label="value")
        note(f"browser {index}: values[{key!r}] = {value!r}; save")

        def change(values: dict[str | int, SessionValue]) -> None:
            values[key] = value

        self._save(index, change)

    @precondition(lambda self: bool(self._with_values()))
    @rule(data=st.data())
    def delete_value(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from(self._with_values()), label="index")
        model = self.models[index]
        key = data.draw(st.sampled_from(sorted(model.values, key=repr)))
        note(f"browser {index}: del values[{key!r}]; save")

        def change(values: dict[str | int, SessionValue]) -> None:
            values.pop(key, None)

        self._save(index, change)

    @rule(index=st.integers(0, 2), message=st.text(max_size=10))
    def add_flash(self, index: int, message: str) -> None:
        note(f"browser {index}: add_flash({message!r}); save")

        def change(values: dict[str | int, SessionValue]) -> None:
            current = values.get("_flash")
            values["_flash"] = [*current, message] if isinstance(current, list) else [message]

        self._save(index, change)

    @rule(index=st.integers(0, 2))
    def read_flashes(self, index: int) -> None:
        browser, model = self.browsers[index], self.models[index]
        request, response = browser.request(), RecordingResponse()
        session = self.store.get(request, NAME)
        expected = model.values.get("_flash", []) if self._alive(model) else []
        note(f"browser {index}: flashes() -> expect {expected!r}; save")
        assert session.flashes() == expected
        if self._alive(model):
            session.save(request, response)
            browser.receive(response)
            model.values.pop("_flash", None)
            self._saved(model, session.options.max_age)

    @rule(index=st.integers(0, 2))
    def delete_session(self, index: int) -> None:
        browser, model = self.browsers[index], self.models[index]
        note(f"browser {index}: delete session")
        current = browser.jar.get(NAME)
        request, response = browser.request(), RecordingResponse()
        session = self.store.get(request, NAME)
        session.options = session.options.replace(max_age=-1)
        session.save(request, response)
        browser.receive(response)
        # Only a request carrying the cookie reaches the record: after the
        # browser dropped a browser-session cookie, the record (and the old
        # cookies naming it) lives on until it expires.
        if self.capabilities.server_side and current is not None:
            self.revoked.update(model.old_cookies)
            model.old_cookies.append(current.value)
            self.revoked.add(current.value)
        model.values, model.saved_at = {}, None

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data(), max_age=st.sampled_from([0, 60, 3600]))
    def change_max_age(self, data: st.DataObject, max_age: int) -> None:
        index = data.draw(st.sampled_from(self._live()), label="index")
        browser, model = self.browsers[index], self.models[index]
        note(f"browser {index}: options.max_age = {max_age}; save")
        request, response = browser.request(), RecordingResponse()
        session = self.store.get(request, NAME)
        session.options = session.options.replace(max_age=max_age)
        session.save(request, response)
        browser.receive(response)
        self._saved(model, max_age)

    @rule(seconds=st.sampled_from([1, 59, 61, 3600, 86400 * 29, 86400 * 31]))
    def advance_clock(self, seconds: int) -> None:
        note(f"clock += {seconds}")
        self.clock.advance(seconds)

    @precondition(lambda self: self.capabilities.regenerate_id and bool(self._live()))
    @rule(data=st.data())
    def regenerate(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from(self._live()), label="index")
        browser, model = self.browsers[index], self.models[index]
        note(f"browser {index}: regenerate_id(); save")
        previous = browser.cookie(NAME)
        request, response = browser.request(), RecordingResponse()
        session = self.store.get(request, NAME)
        session.regenerate_id()
        session.save(request, response)
        browser.receive(response)
        self.revoked.update([*model.old_cookies, previous])
        model.old_cookies.append(previous)
        self._saved(model, session.options.max_age)

    @precondition(lambda self: bool(self._with_revoked()))
    @rule(data=st.data())
    def replay_old_cookie(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from(self._with_revoked()), label="index")
        model = self.models[index]
        revoked = [c for c in model.old_cookies if c in self.revoked]
        note(f"browser {index}: replay a revoked cookie")
        session = self.store.new(SimpleRequest(f"{NAME}={revoked[-1]}"), NAME)
        assert session.is_new and session.values == {}

    @precondition(lambda self: bool(self._with_cookie()))
    @rule(data=st.data(), position=st.integers(0, 10_000))
    def tamper(self, data: st.DataObject, position: int) -> None:
        index = data.draw(st.sampled_from(self._with_cookie()), label="index")
        value = self.browsers[index].cookie(NAME)
        # Stay clear of the last base64 quantum: its unused low bits may
        # change without changing the decoded bytes (Go accepts that too).
        pos = position % (len(value) - 4)
        forged = value[:pos] + ("A" if value[pos] != "A" else "B") + value[pos + 1 :]
        note(f"browser {index}: tampered cookie at {pos}")
        session = self.store.new(SimpleRequest(f"{NAME}={forged}"), NAME)
        assert session.is_new and session.values == {}
        assert isinstance(session.load_error, DecodeError)

    @rule(index=st.integers(0, 2))
    def close_browser(self, index: int) -> None:
        note(f"browser {index}: closed")
        self.browsers[index].jar.end_browser_session()
        if self.models[index].browser_session:
            self.models[index].saved_at = None

    def _holding_cookies(self) -> list[int]:
        return [i for i, browser in enumerate(self.browsers) if browser.jar.get(NAME) is not None]

    @precondition(lambda self: len(self._holding_cookies()) >= 2)
    @rule(data=st.data())
    def send_two_cookies(self, data: st.DataObject) -> None:
        """One request carries two browsers' cookies: the first that loads wins (S-9.5)."""
        first, second = data.draw(st.permutations(self._holding_cookies()), label="order")[:2]
        note(f"a request with the cookies of browsers {first} and {second}, in that order")
        header = "; ".join(f"{NAME}={self.browsers[i].cookie(NAME)}" for i in (first, second))
        session = self.store.new(SimpleRequest(header), NAME)
        live = [i for i in (first, second) if self._alive(self.models[i])]
        if live:
            assert session.values == self.models[live[0]].values, (
                f"browser {live[0]}'s session must load, the first live one; got {session.values!r}"
            )
        else:
            assert session.is_new and session.values == {}, session.values

    @precondition(lambda self: self.capabilities.purge_expired)
    @rule()
    def purge(self) -> None:
        """purge_expired() never removes a live session (S-10.9; the invariant checks)."""
        note("purge_expired()")
        removed = getattr(self.store, "purge_expired")()  # noqa: B009 - declared by capability
        assert isinstance(removed, int) and removed >= 0, removed

    # -- the check ---------------------------------------------------------------

    @invariant()
    def sessions_match_the_model(self) -> None:
        for index, (browser, model) in enumerate(zip(self.browsers, self.models, strict=True)):
            session = self.store.new(browser.request(), NAME)
            if self._alive(model) and browser.jar.get(NAME) is not None:
                assert session.load_error is None, (
                    f"browser {index}: a live session failed to load: {session.load_error!r}"
                )
                assert session.values == model.values, (
                    f"browser {index}: the store loaded {session.values!r}; "
                    f"the model holds {model.values!r}"
                )
            else:
                assert session.values == {}, (
                    f"browser {index}: a dead or deleted session loaded {session.values!r}"
                )
                assert session.is_new, f"browser {index}: a dead session is not new"


def state_machine_for(
    factory: Callable[[ManualClock], Store],
    capabilities: Capabilities,
    *,
    max_examples: int | None = None,
    close: Callable[[Any], object] | None = None,
) -> type[StoreStateMachine]:
    """Return a state machine class bound to ``factory``; use its ``TestCase``.

    ``max_examples`` (runs) and the steps per run default to the active
    Hypothesis profile (``conformance._profiles``); ``close`` releases each
    run's store when the run ends.
    """

    class BoundStoreStateMachine(StoreStateMachine):
        pass

    profile = active_profile()
    BoundStoreStateMachine.factory = staticmethod(factory)
    BoundStoreStateMachine.capabilities = capabilities
    if close is not None:
        BoundStoreStateMachine.close = staticmethod(close)
    BoundStoreStateMachine.TestCase.settings = hypothesis_settings(
        max_examples=max_examples if max_examples is not None else profile.stateful_examples,
        stateful_step_count=profile.stateful_steps,
    )
    return BoundStoreStateMachine
