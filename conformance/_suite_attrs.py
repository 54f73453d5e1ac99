"""Clauses that hold a store to the session's own cookie, clock, types and copies (S-9).

Each test here names the flaw it rejects; ``tests/_broken_stores_2.py``
holds a realistic store for each flaw, and ``tests/test_conformance_teeth.py``
proves every one of them is rejected by the clause below that names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from decimal import Decimal
from typing import cast

import pytest

from conformance._async import real_store, run_async
from conformance._base import S, StoreBase, since
from conformance._blocking import watch_for_blocking
from conformance._browser import Browser
from conformance._cookies import SetCookie, own_line
from reference_impl.securecookie import SecureCookie
from reference_impl.serializers import JSONSerializer, NopSerializer
from spec import Cookie, ManualClock, Options, SameSite, SessionValue
from spec.errors import (
    ConfigurationError,
    DecodeError,
    EncodeError,
    ExpiredTimestampError,
    ValueTooLongError,
)
from spec.http import RecordingResponse, SimpleRequest
from spec.registry import is_async_store

__all__ = ["AttributeClauses", "same_typed"]

HASH, BLOCK = b"conformance-hash-key-0123456789!", b"conformance-block-key-0123456789"
SECURITY_LOGGER = "sessionspec.security"

#: Two sets of session options, each unlike the store defaults (S-2.1) in
#: every attribute, so a store that renders its own defaults, or drops an
#: attribute, fails one of them.
_OPTION_SETS = {
    "strict": Options(
        path="/app",
        domain="example.com",
        max_age=1234,
        secure=True,
        http_only=False,
        same_site=SameSite.STRICT,
        partitioned=True,
    ),
    "relaxed": Options(
        path="/a/b", max_age=77, secure=True, http_only=True, same_site=SameSite.NONE
    ),
    "plain": Options(
        path="/x", max_age=5, secure=False, http_only=False, same_site=SameSite.DEFAULT
    ),
}

#: Values chosen to expose silent conversions, by declared value kind: a
#: bool beside the ints it equals, floats whose last digits a lossy format
#: drops, the edges of the 53-bit and 64-bit ranges.
_TRICKY: dict[str, list[tuple[str | int, SessionValue]]] = {
    "none": [("nothing", None)],
    "bool": [("yes", True), ("no", False)],
    "int": [("zero", 0), ("one", 1), ("top", 2**53), ("bottom", -(2**53))],
    "big_int": [("big", 2**80), ("i64", 2**63 - 1), ("negbig", -(2**70))],
    "float": [
        ("sum", 0.1 + 0.2),
        ("third", 1 / 3),
        ("tiny", 5e-324),
        ("small", -2.5e-10),
        ("digits", 123456.78901234567),
    ],
    "str": [("empty", ""), ("text", "Zoë \u2028 <&> \x00")],
    "bytes": [("raw", b"\x00\xff\x80"), ("nobytes", b"")],
}


def same_typed(expected: object, actual: object, where: str = "values") -> str | None:
    """The first place ``actual`` differs from ``expected`` in type or value, or ``None``.

    ``==`` is not enough: ``True == 1`` and ``1 == 1.0`` would hide a bool
    or float turning into an int, and ``(1, 2) != [1, 2]`` is the only sign
    a tuple became a list.
    """
    if type(expected) is not type(actual):
        return (
            f"{where}: expected {type(expected).__name__} {expected!r}, "
            f"got {type(actual).__name__} {actual!r}"
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        if len(expected) != len(actual) or any(k not in actual for k in expected):
            want, got = sorted(map(repr, expected)), sorted(map(repr, actual))
            return f"{where}: expected keys {want}, got {got}"
        for key, value in expected.items():
            found = next(k for k in actual if k == key)
            if type(found) is not type(key):
                return (
                    f"{where}: key {key!r} came back as {type(found).__name__} {found!r}, "
                    f"not {type(key).__name__}"
                )
            problem = same_typed(value, actual[key], f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return f"{where}: expected {len(expected)} items, got {len(actual)}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            problem = same_typed(e, a, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, float) and isinstance(actual, float):
        if expected != actual and not (math.isnan(expected) and math.isnan(actual)):
            return f"{where}: expected float {expected!r}, got {actual!r} (digits lost)"
        return None
    if expected != actual:
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None


def _codec(store: object, clock: ManualClock, *, raw: bool = False) -> SecureCookie:
    """A codec on the suite's keys with the store's serializer (or raw bytes)."""
    serializer = NopSerializer() if raw else getattr(store, "serializer", None) or JSONSerializer()
    return SecureCookie(HASH, BLOCK, serializer=serializer, clock=clock)


class AttributeClauses(StoreBase[S]):
    """S-9 clauses about what a store sends, logs and keeps, beyond the round trip."""

    # S-9.1 -------------------------------------------------------------------

    @since("1.1")
    def test_s9_1_values_keep_their_exact_type(self, store: S) -> None:
        """Ensure values load back with their own type as well as value (S-9.1)."""
        kinds = self.capabilities.value_types
        expected: dict[str | int, SessionValue] = {}
        scalars: list[SessionValue] = []
        for kind, pairs in _TRICKY.items():
            if kind in kinds:
                expected.update(pairs)
                scalars.extend(value for _, value in pairs)
        if "list" in kinds:
            expected["mixed"] = list(scalars)
            expected["nested_list"] = [list(scalars[:3]), []]
        if "dict" in kinds:
            expected["nested_dict"] = {str(i): value for i, value in enumerate(scalars)}
            if "list" in kinds:
                expected["deep"] = {"a": [{"b": list(scalars[:2])}]}
        if "int_keys" in kinds:
            expected[7] = "seven"
            expected[-1] = "minus one"
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.values.update(expected)
        session.save(request, response)
        browser.receive(response)
        loaded = browser.load(store)
        assert loaded.load_error is None, f"the saved session did not load: {loaded.load_error!r}"
        problem = same_typed(expected, dict(loaded.values))
        assert problem is None, (
            f"{problem}: the serializer converted a value silently; keep the type "
            "(a tagged encoding) or refuse the value with SerializeError"
        )

    @since("1.1")
    @pytest.mark.parametrize(
        "value",
        [(1, 2), {1, 2}, frozenset({"a"}), Decimal("1.10"), complex(1, 2)],
        ids=["tuple", "set", "frozenset", "decimal", "complex"],
    )
    def test_s9_1_values_it_cannot_hold_are_refused(self, store: S, value: object) -> None:
        """Ensure a value the store cannot keep is refused, never converted (S-9.1)."""
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.values["v"] = cast("SessionValue", value)  # deliberately not one
        try:
            session.save(request, response)
        except EncodeError:
            assert response.set_cookie_headers() == [], (
                f"a refused save must send no Set-Cookie: {response.set_cookie_headers()!r}"
            )
            return
        except Exception as exc:  # the wrong family: an app cannot catch it as an encode failure
            pytest.fail(
                f"saving a {type(value).__name__} raised {type(exc).__name__}: {exc}; "
                "raise spec.errors.SerializeError (an EncodeError) instead"
            )
        browser.receive(response)
        loaded = browser.load(store)
        problem = same_typed({"v": value}, dict(loaded.values))
        assert problem is None, (
            f"{problem}: the store accepted a {type(value).__name__} and gave back something "
            "else; refuse it with SerializeError instead of converting it"
        )

    # S-9.5 -------------------------------------------------------------------

    @since("1.1")
    def test_s9_5_first_cookie_that_loads_wins(self, store: S) -> None:
        """Ensure that of several good cookies of one name the first wins (S-9.5)."""
        alice, bob = Browser(), Browser()
        alice.visit(store, user="alice")
        bob.visit(store, user="bob")
        for first, second, who in ((alice, bob, "alice"), (bob, alice, "bob")):
            header = f"app={first.cookie()}; app={second.cookie()}"
            session = store.new(SimpleRequest(header), "app")
            assert session.load_error is None, session.load_error
            assert dict(session.values) == {"user": who}, (
                f"with two valid cookies the session of the first ({who}) must load, "
                f"got {dict(session.values)!r}: try the cookies in header order and stop at "
                "the first that loads"
            )

    # S-9.11 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_11_oversized_update_keeps_the_old_record(self, store: S) -> None:
        """Ensure an oversized save of a loaded session writes nothing at all (S-9.11)."""
        limit = self.capabilities.max_value_bytes
        if limit is None:
            pytest.skip("capability 'max_value_bytes' is None: no size limit (S-9.11)")
        browser = Browser()
        browser.visit(store, user="alice")
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.values["blob"] = "x" * (limit + 100)
        with pytest.raises(ValueTooLongError):
            session.save(request, response)
        assert response.set_cookie_headers() == [], (
            f"a save refused for its size sent {response.set_cookie_headers()!r}: check the "
            "size before writing anything"
        )
        loaded = browser.load(store)
        assert dict(loaded.values) == {"user": "alice"}, (
            f"after a refused save the session holds {dict(loaded.values)!r}: the oversized "
            "record was written; check the size before the write, not after it"
        )

    # S-9.14 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_14_store_max_age_sets_lifetime_and_expiry(
        self, store: S, clock: ManualClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Ensure store.max_age(n) sets the cookie lifetime and the expiry (S-9.14)."""
        set_max_age = getattr(store, "max_age", None)
        if not callable(set_max_age):
            pytest.skip("the store has no max_age() method (S-9.14)")
        set_max_age(600)
        browser = Browser()
        session = browser.visit(store, user="alice")
        assert session.options.max_age == 600, "max_age(n) must set new sessions' max_age"
        assert SetCookie(own_line(browser.last)).get("Max-Age") == "600"
        clock.advance(600)
        assert dict(browser.load(store).values) == {"user": "alice"}
        clock.advance(1)
        expired = browser.load(store)
        assert expired.is_new and dict(expired.values) == {}, (
            "max_age(600) must also make the server refuse the session after 600 s"
        )
        assert isinstance(expired.load_error, ExpiredTimestampError), expired.load_error
        with pytest.raises(ConfigurationError):
            set_max_age(-1)
        with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
            set_max_age(0)
        assert any(r.levelno >= logging.WARNING for r in caplog.records), (
            "max_age(0) switches server-side expiry off: log it as a warning"
        )
        forever = Browser()
        forever.visit(store, user="bob")
        assert not SetCookie(own_line(forever.last)).has("Max-Age")
        clock.advance(86400 * 400)
        assert dict(forever.load(store).values) == {"user": "bob"}, (
            "after max_age(0) a session must not expire server-side"
        )

    # S-9.15 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_15_store_max_age_caps_a_longer_session(self, store: S, clock: ManualClock) -> None:
        """Ensure a session's longer max_age is capped by the store's (S-9.15)."""
        limit = self.capabilities.store_max_age
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.options = session.options.replace(max_age=limit * 2)
        session.values["user"] = "alice"
        session.save(request, response)
        browser.receive(response)
        clock.advance(limit)
        assert dict(browser.load(store).values) == {"user": "alice"}
        clock.advance(1)
        late = browser.load(store)
        assert late.is_new and dict(late.values) == {}, (
            f"a session with max_age={limit * 2} still loaded {limit + 1} s later: the "
            f"store's max age ({limit}) must cap it server-side"
        )
        assert isinstance(late.load_error, DecodeError)

    # S-9.17 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_17_stale_input_is_logged_at_debug(
        self, store: S, clock: ManualClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Ensure expired or unknown sessions are logged at DEBUG, never above (S-9.17)."""
        browser = Browser()
        browser.visit(store, user="alice")
        clock.advance(self.capabilities.store_max_age + 1)
        with caplog.at_level(logging.DEBUG, logger=SECURITY_LOGGER):
            assert browser.load(store).is_new
        records = [r for r in caplog.records if r.name == SECURITY_LOGGER]
        assert records, "log the expired session at DEBUG on 'sessionspec.security'"
        loud = [f"{r.levelname}: {r.getMessage()}" for r in records if r.levelno > logging.DEBUG]
        assert loud == [], (
            f"an expired cookie was logged as {loud!r}: it is every returning visitor's, "
            "log it at DEBUG (WARNING is for forged input)"
        )
        if self.capabilities.server_side:
            caplog.clear()
            other = Browser()
            other.visit(store, user="bob")
            stale = other.cookie()
            request, response = other.request(), RecordingResponse()
            logout = store.get(request, "app")
            logout.options = logout.options.replace(max_age=-1)
            logout.save(request, response)
            with caplog.at_level(logging.DEBUG, logger=SECURITY_LOGGER):
                assert store.new(SimpleRequest(f"app={stale}"), "app").is_new
            loud = [
                f"{r.levelname}: {r.getMessage()}"
                for r in caplog.records
                if r.name == SECURITY_LOGGER and r.levelno > logging.DEBUG
            ]
            assert loud == [], f"a logged-out session's cookie was logged as {loud!r}"

    @since("1.1")
    def test_s9_17_tampered_cookie_is_logged_at_warning(
        self, store: S, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Ensure a tampered real cookie is logged at WARNING (S-9.17)."""
        browser = Browser()
        browser.visit(store, user="alice")
        value = browser.cookie()
        middle = len(value) // 2
        forged = value[:middle] + ("x" if value[middle] != "x" else "y") + value[middle + 1 :]
        with caplog.at_level(logging.DEBUG, logger=SECURITY_LOGGER):
            assert store.new(SimpleRequest(f"app={forged}"), "app").is_new
        levels = [r.levelname for r in caplog.records if r.name == SECURITY_LOGGER]
        assert "WARNING" in levels, (
            f"a tampered cookie was logged at {levels!r}: forged input is WARNING"
        )

    # S-9.30 ------------------------------------------------------------------

    @since("1.1")
    @pytest.mark.parametrize("variant", sorted(_OPTION_SETS))
    def test_s9_30_cookie_carries_the_sessions_own_options(
        self, store: S, clock: ManualClock, variant: str
    ) -> None:
        """Ensure the session's cookie carries the session's own options (S-9.30)."""
        options = _OPTION_SETS[variant]
        request, response = SimpleRequest(), RecordingResponse()
        session = store.get(request, "app")
        session.options = options
        session.values["user"] = "alice"
        session.save(request, response)
        got = SetCookie(own_line(response))
        want = SetCookie(Cookie.for_session("app", "v", options, clock()).render())
        got.attributes.pop("expires", None)  # S-9.32 checks Expires
        want.attributes.pop("expires", None)
        assert got.attributes == want.attributes, (
            f"the session's options {options!r} must be rendered as {want.attributes!r}, got "
            f"{got.attributes!r}: build the cookie with "
            "Cookie.for_session(name, value, session.options, now)"
        )

    # S-9.31 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_31_deletion_cookie_keeps_path_and_domain(self, store: S) -> None:
        """Ensure the deletion cookie carries the session's Path and Domain (S-9.31)."""
        options = Options(path="/app", domain="example.com")
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.options = options
        session.values["user"] = "alice"
        session.save(request, response)
        browser.receive(response)
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.options = options.replace(max_age=-1)
        session.save(request, response)
        got = SetCookie(own_line(response))
        assert (got.get("Path"), got.get("Domain")) == ("/app", "example.com"), (
            f"the deletion cookie {got.line!r} must carry Path=/app and Domain=example.com: a "
            "browser deletes only the cookie whose path and domain match"
        )
        assert got.get("Max-Age") == "0" and got.expires() == 1, got.line

    # S-9.32 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_32_expires_follows_the_store_clock(self, store: S, clock: ManualClock) -> None:
        """Ensure Expires is floor(now) + max_age on the store's own clock (S-9.32)."""
        clock.advance(0.75)
        for step in (0, 1000):
            clock.advance(step)
            request, response = SimpleRequest(), RecordingResponse()
            session = store.get(request, "app")
            session.options = session.options.replace(max_age=3600)
            session.save(request, response)
            got = SetCookie(own_line(response))
            assert got.expires() == math.floor(clock()) + 3600, (
                f"Expires in {got.line!r} is {got.expires()}, expected floor(clock()) + 3600 = "
                f"{math.floor(clock()) + 3600}: take 'now' from the store's clock, not time.time()"
            )

    # S-9.33 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_33_foreign_payloads_give_a_fresh_session(self, clock: ManualClock) -> None:
        """Ensure an authentic payload of a foreign shape gives a fresh session (S-9.33)."""
        store = self.keyed_store(clock, "S-9.33", HASH, BLOCK)
        typed = _codec(store, clock)
        raw = _codec(store, clock, raw=True)
        cookies: dict[str, str] = {}
        payloads: list[tuple[str, object]] = [
            ("list", [1, 2]),
            ("int", 42),
            ("str", "text"),
            ("none", None),
        ]
        payloads += [("float keys", {1.5: "x"}), ("bool keys", {True: "x"})]
        for label, payload in payloads:
            # A payload the store's serializer cannot write (gob has no top-level
            # nil, JSON no float keys) cannot reach the store either.
            with contextlib.suppress(EncodeError):
                cookies[label] = typed.encode("app", payload)
        cookies["list json"] = raw.encode("app", b"[1, 2]")
        if self.capabilities.server_side:
            cookies["mapping id"] = typed.encode("app", {"user": "alice"})
            cookies["list id"] = typed.encode("app", ["A" * 52])
        for label, cookie in cookies.items():
            try:
                session = store.new(SimpleRequest(f"app={cookie}"), "app")
            except Exception as exc:
                pytest.fail(
                    f"a signed {label} payload made new() raise {type(exc).__name__}: {exc}; "
                    "check the decoded shape and report it in load_error (DeserializeError)"
                )
            assert session.is_new and dict(session.values) == {}, (label, session.values)
            assert isinstance(session.load_error, DecodeError), (label, session.load_error)

    # S-9.34 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_34_values_are_copied_in_and_out(self, store: S) -> None:
        """Ensure nested values are copied, never shared with the application (S-9.34)."""
        kinds = self.capabilities.value_types
        if "list" not in kinds or "dict" not in kinds:
            self.not_applicable("value_types lacks list or dict: nothing nested", "S-9.34")
        browser = Browser()
        items: list[SessionValue] = ["a"]
        nested: dict[str | int, SessionValue] = {"inner": ["b"]}
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.values.update(items=items, nested=nested)
        session.save(request, response)
        browser.receive(response)
        items.append("changed after save")
        inner = nested["inner"]
        assert isinstance(inner, list)
        inner.append("changed after save")
        loaded = browser.load(store)
        assert dict(loaded.values) == {"items": ["a"], "nested": {"inner": ["b"]}}, (
            f"changing lists after the save changed the stored session to {dict(loaded.values)!r}:"
            " store a deep copy (or the encoded form), not the caller's objects"
        )
        loaded_items = loaded.values["items"]
        assert isinstance(loaded_items, list)
        loaded_items.append("changed without save")
        again = browser.load(store)
        assert dict(again.values) == {"items": ["a"], "nested": {"inner": ["b"]}}, (
            f"changing a loaded session without saving it changed the store: {dict(again.values)!r}"
        )

    # S-9.35 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_35_async_store_never_blocks_the_loop(self, clock: ManualClock) -> None:
        """Ensure an async store makes no blocking call on its event loop (S-9.35)."""
        real = real_store(self.make_store(clock))
        if not is_async_store(real):
            self.not_applicable("not an async store", "S-9.35")

        async def work() -> None:
            browser = Browser()
            for i in range(4):
                request, response = browser.request(), RecordingResponse()
                session = await real.get(request, "app")
                session.values["i"] = i
                await real.save(request, response, session)
                browser.receive(response)
            await real.new(browser.request(), "app")
            request, response = browser.request(), RecordingResponse()
            session = await real.get(request, "app")
            session.options = session.options.replace(max_age=-1)
            await real.save(request, response, session)

        blocking = run_async(watch_for_blocking(work()))
        assert blocking == [], (
            f"the async store blocked its event loop with {blocking!r}: run blocking I/O "
            "with asyncio.to_thread or use an async client"
        )

    @since("1.1")
    def test_s9_35_async_get_caches_per_request(self, clock: ManualClock) -> None:
        """Ensure an async store's get returns one session per request, to every task (S-9.35)."""
        real = real_store(self.make_store(clock))
        if not is_async_store(real):
            self.not_applicable("not an async store", "S-9.35")

        async def gets() -> tuple[object, object, object, object]:
            request = SimpleRequest()
            first, second = await asyncio.gather(real.get(request, "app"), real.get(request, "app"))
            third = await real.get(request, "app")
            other = await real.get(SimpleRequest(), "app")
            return first, second, third, other

        first, second, third, other = run_async(gets())
        assert first is second is third, (
            "two awaits of get(request, name) in one request returned different sessions: "
            "return Registry.of(request).aget(self, name)"
        )
        assert other is not first
