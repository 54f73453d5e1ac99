"""The Django session engine, call by call: Django's documented ``SessionBase`` API on sessionspec.

Django's own backend tests (``SessionTestsMixin`` in Django's repository,
``tests/sessions_tests/tests.py``) are not shipped in the Django wheel:
nothing under ``django.contrib.sessions`` or ``django.test`` provides them.
These tests check the same behaviour, written here in our own words, on
three stores: ``CookieStore`` (the data in the cookie, like Django's
``signed_cookies``), ``MemoryStore`` and ``FilesystemStore`` (a signed ID in
the cookie, the data on the server, like Django's ``db`` and ``file``).
docs/integrations/django.md lists which calls are covered and which cannot
apply. The real-server flows (``login()``, ``logout()``, messages) are in
``test_django_engine_app.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.integrations._servers import require

require("django")

from django.contrib.sessions.backends.base import UpdateError  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from reference_impl import CookieStore, FilesystemStore, MemoryStore  # noqa: E402
from reference_impl.aio import AsyncMemoryStore  # noqa: E402
from reference_impl.gob import GobSerializer  # noqa: E402
from reference_impl.integrations.django.session_engine import (  # noqa: E402
    SessionStore,
    configured_store,
)
from spec import ManualClock, Store  # noqa: E402
from spec.errors import ConfigurationError  # noqa: E402
from spec.http import SimpleRequest  # noqa: E402
from tests.integrations.test_django import configure_django  # noqa: E402

HASH, BLOCK = b"h" * 32, b"b" * 32
HERE = __name__
#: The store the engine uses in the current test (``SESSIONSPEC_STORE`` names it).
ACTIVE: Store | None = None
CLOCK = ManualClock()
NOT_A_STORE = object()
ASYNC_STORE = AsyncMemoryStore(HASH)

SERVER_SIDE = ("memory", "filesystem")


@pytest.fixture(scope="module", autouse=True)
def _django() -> None:
    configure_django()


@pytest.fixture(params=["cookie", "memory", "filesystem"])
def kind(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A fresh store of each kind, named by ``SESSIONSPEC_STORE`` for one test."""
    global ACTIVE
    CLOCK.set(1_700_000_000.0)
    stores = {
        "cookie": lambda: CookieStore(HASH, BLOCK, clock=CLOCK),
        "memory": lambda: MemoryStore(HASH, BLOCK, clock=CLOCK),
        "filesystem": lambda: FilesystemStore(str(tmp_path), HASH, BLOCK, clock=CLOCK),
    }
    ACTIVE = stores[request.param]()
    with override_settings(SESSIONSPEC_STORE=f"{HERE}:ACTIVE"):
        yield request.param
    ACTIVE = None


def saved(values: dict[str, object]) -> str:
    """A session saved with ``values``; its key."""
    session = SessionStore()
    session.update(values)
    session.save()
    assert session.session_key is not None
    return session.session_key


# -- the mapping -----------------------------------------------------------------


def test_a_new_session_is_empty_and_untouched(kind: str) -> None:
    session = SessionStore()
    assert session.session_key is None and session.is_empty()
    assert not session.modified and not session.accessed
    assert session.get("missing") is None and session.get("missing", 7) == 7
    assert "missing" not in session
    assert session.accessed and not session.modified


def test_item_access_and_modified(kind: str) -> None:
    session = SessionStore()
    session["cat"] = "tom"
    assert session.modified
    assert session["cat"] == "tom" and "cat" in session and session.has_key("cat")
    del session["cat"]
    assert "cat" not in session
    with pytest.raises(KeyError):
        session["cat"]


def test_pop_with_and_without_default(kind: str) -> None:
    session = SessionStore(saved({"a": 1}))
    assert session.pop("missing", "d") == "d"
    assert not session.modified  # popping nothing changes nothing
    with pytest.raises(KeyError):
        session.pop("missing")
    assert session.pop("a") == 1 and session.modified
    assert "a" not in session


def test_setdefault_update_keys_values_items(kind: str) -> None:
    session = SessionStore()
    assert session.setdefault("a", 1) == 1
    assert session.setdefault("a", 2) == 1
    session.update({"b": 2})
    assert sorted(session.keys()) == ["a", "b"]
    assert sorted(session.values()) == [1, 2]
    assert sorted(session.items()) == [("a", 1), ("b", 2)]


def test_clear_empties_without_loading(kind: str) -> None:
    session = SessionStore(saved({"a": 1}))
    session.clear()
    assert list(session.items()) == [] and session.modified


def test_the_test_cookie(kind: str) -> None:
    session = SessionStore()
    assert not session.test_cookie_worked()
    session.set_test_cookie()
    session.save()
    again = SessionStore(session.session_key)
    assert again.test_cookie_worked()
    again.delete_test_cookie()
    assert not again.test_cookie_worked()


# -- storage ---------------------------------------------------------------------


def test_save_then_load_by_key(kind: str) -> None:
    """The key is the store's cookie value; a new SessionStore loads the values from it."""
    key = saved({"_auth_user_id": "42", "n": 3})
    assert SessionStore(key)["n"] == 3
    # The key is exactly what the store would read from a cookie: Django's
    # internal keys are plain values of the sessionspec session.
    assert ACTIVE is not None
    loaded = ACTIVE.new(SimpleRequest(f"sessionid={key}"), "sessionid")
    assert loaded.values == {"_auth_user_id": "42", "n": 3}
    assert not loaded.is_new


def test_save_keeps_the_data_in_memory(kind: str) -> None:
    session = SessionStore()
    session["a"] = 1
    session.save()
    assert session["a"] == 1
    session["b"] = 2
    session.save()
    assert dict(SessionStore(session.session_key).items()) == {"a": 1, "b": 2}


def test_create_saves_a_new_session(kind: str) -> None:
    session = SessionStore()
    session.create()
    assert session.session_key is not None and session.modified
    assert session.exists(session.session_key)


def test_save_must_create_never_overwrites(kind: str) -> None:
    key = saved({"a": 1})
    session = SessionStore(key)
    session["a"] = 2
    session.save(must_create=True)
    assert session.session_key != key
    assert SessionStore(session.session_key)["a"] == 2
    assert SessionStore(key)["a"] == 1


def test_exists(kind: str) -> None:
    key = saved({"a": 1})
    assert SessionStore().exists(key)
    assert not SessionStore().exists("not-a-session-key")
    assert not SessionStore().exists("")


def test_a_key_the_store_rejects_is_dropped(kind: str) -> None:
    """A forged or unknown key loads nothing and is never adopted (session fixation)."""
    session = SessionStore("planted-by-an-attacker-0123456789")
    assert session.load() == {}
    assert session.session_key is None
    session["a"] = 1
    session.save()
    assert session.session_key not in (None, "planted-by-an-attacker-0123456789")


def test_short_and_empty_keys_are_no_keys(kind: str) -> None:
    assert SessionStore("").session_key is None
    assert SessionStore("1234567").session_key is None
    with pytest.raises(AttributeError):
        SessionStore().session_key = "x" * 40  # type: ignore[misc]


def test_delete(kind: str) -> None:
    """A server-side record is gone at once; a cookie store keeps nothing to delete."""
    key = saved({"a": 1})
    session = SessionStore(key)
    session.delete()
    assert SessionStore().exists(key) is (kind == "cookie")
    other = saved({"b": 2})
    SessionStore().delete(other)
    assert SessionStore().exists(other) is (kind == "cookie")


def test_flush_ends_the_session(kind: str) -> None:
    key = saved({"a": 1})
    session = SessionStore(key)
    session.flush()
    assert session.session_key is None and session.is_empty()
    assert list(session.items()) == []
    assert SessionStore(key).get("a") == (1 if kind == "cookie" else None)


def test_cycle_key_moves_the_data_to_a_new_key(kind: str) -> None:
    """What ``login()`` calls: same data, new key, and the old key is dead server-side."""
    key = saved({"a": 1})
    session = SessionStore(key)
    session["b"] = 2
    session.cycle_key()
    assert session.session_key not in (None, key)
    assert dict(session.items()) == {"a": 1, "b": 2}
    session.save()
    assert dict(SessionStore(session.session_key).items()) == {"a": 1, "b": 2}
    assert SessionStore().exists(key) is (kind == "cookie")


def test_cycle_key_without_reading_first(kind: str) -> None:
    key = saved({"a": 1})
    session = SessionStore(key)
    session.cycle_key()
    assert SessionStore(session.session_key)["a"] == 1


def test_cycle_key_of_a_new_session(kind: str) -> None:
    session = SessionStore()
    session["a"] = 1
    session.cycle_key()
    assert SessionStore(session.session_key)["a"] == 1


@pytest.mark.parametrize("kind", SERVER_SIDE, indirect=True)
def test_load_creates_no_record(kind: str) -> None:
    session = SessionStore("someunknownkey-0123456789")
    session.load()
    assert session.session_key is None
    assert ACTIVE is not None and getattr(ACTIVE, "purge_expired")() == 0  # noqa: B009
    session.save()  # an empty session is still saved only when asked
    assert session.exists(str(session.session_key))


@pytest.mark.parametrize("kind", SERVER_SIDE, indirect=True)
def test_a_session_logged_out_elsewhere_is_not_resurrected(kind: str) -> None:
    """Another request flushed the session: this one's save raises UpdateError (a 400)."""
    key = saved({"user": "alice"})
    here = SessionStore(key)
    assert here["user"] == "alice"
    SessionStore(key).flush()  # logout in another tab
    here["cart"] = ["book"]
    with pytest.raises(UpdateError):
        here.save()
    assert not SessionStore().exists(key)


# -- expiry ----------------------------------------------------------------------


def test_default_expiry_is_session_cookie_age(kind: str) -> None:
    from django.conf import settings

    session = SessionStore()
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert (
        abs(
            (session.get_expiry_date() - timezone.now()).total_seconds()
            - settings.SESSION_COOKIE_AGE
        )
        < 5
    )
    assert session.get_expire_at_browser_close() is False


def test_custom_expiry_seconds_timedelta_datetime_and_reset(kind: str) -> None:
    session = SessionStore()
    session.set_expiry(10)
    assert session.get_expiry_age() == 10
    session.set_expiry(timedelta(seconds=100))
    assert 98 <= session.get_expiry_age() <= 100
    session.set_expiry(timezone.now() + timedelta(seconds=1000))
    assert 998 <= session.get_expiry_age() <= 1000
    session.save()
    assert 998 <= SessionStore(session.session_key).get_expiry_age() <= 1000
    session.set_expiry(None)
    assert "_session_expiry" not in session


def test_expire_at_browser_close(kind: str) -> None:
    session = SessionStore()
    session.set_expiry(0)
    assert session.get_expire_at_browser_close() is True
    session.set_expiry(60)
    assert session.get_expire_at_browser_close() is False
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        assert SessionStore().get_expire_at_browser_close() is True


def test_a_past_deadline_loads_nothing(kind: str) -> None:
    """``set_expiry`` in the past: the saved session does not load (cookie stores too)."""
    session = SessionStore()
    session["foo"] = "bar"
    session.set_expiry(-timedelta(seconds=10))
    session.save()
    assert "foo" not in SessionStore(session.session_key)


@pytest.mark.parametrize("kind", ["memory"], indirect=True)
def test_the_record_deadline_follows_django_expiry(kind: str) -> None:
    """``set_expiry(60)`` makes the record live 60 s, not the store's 30 days.

    Not FilesystemStore: gorilla's file format has no per-record deadline,
    so its files live for the store's ``max_age`` (documented).
    """
    session = SessionStore()
    session["a"] = 1
    session.set_expiry(60)
    session.save()
    key = str(session.session_key)
    CLOCK.advance(59)
    assert SessionStore(key).get("a") == 1
    CLOCK.advance(2)
    assert SessionStore(key).get("a") is None


def test_clearsessions_runs_the_store_purge(kind: str) -> None:
    """``clearsessions`` calls the store's ``purge_expired()`` (cookie stores have none)."""
    session = SessionStore()
    session["a"] = 1
    session.set_expiry(60)
    session.save()
    CLOCK.advance(61)
    call_command("clearsessions")
    purge = getattr(ACTIVE, "purge_expired", None)
    if kind == "cookie":
        assert purge is None
    else:
        assert purge is not None and purge() == 0  # clearsessions already removed it


# -- async API and serializers ---------------------------------------------------


def test_the_async_api(kind: str) -> None:
    async def flow() -> tuple[object, ...]:
        session = SessionStore()
        await session.aset("a", 1)
        await session.asave()
        key = session.session_key
        again = SessionStore(key)
        value = await again.aget("a")
        await again.acycle_key()
        await again.asave()
        moved = await SessionStore(again.session_key).aget("a")
        await again.aflush()
        return value, moved, again.session_key is None, key != again.session_key

    assert asyncio.run(flow()) == (1, 1, True, True)


def test_a_gob_store_keeps_django_values() -> None:
    """With gorilla's default serializer (gob), Django's values keep their types."""
    global ACTIVE
    ACTIVE = CookieStore(HASH, BLOCK, serializer=GobSerializer())
    try:
        with override_settings(SESSIONSPEC_STORE=f"{HERE}:ACTIVE"):
            session = SessionStore()
            session.update({"_auth_user_id": "7", "n": 3, "tags": ["a", "b"]})
            session.set_expiry(0)
            session.save()
            loaded = SessionStore(session.session_key)
            assert dict(loaded.items()) == {
                "_auth_user_id": "7",
                "n": 3,
                "tags": ["a", "b"],
                "_session_expiry": 0,
            }
    finally:
        ACTIVE = None


# -- configuration ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "SESSIONSPEC_STORE is not set"),
        ("no_colon_here", "is not 'module:attribute'"),
        ("tests.no_such_module_here:store", "cannot import"),
        (f"{HERE}:NO_SUCH_NAME", "has no 'NO_SUCH_NAME'"),
        (f"{HERE}:NOT_A_STORE", "not a sessionspec Store"),
        (f"{HERE}:ASYNC_STORE", "async store"),
    ],
)
def test_a_bad_setting_says_what_to_set(value: str | None, message: str) -> None:
    with override_settings(SESSIONSPEC_STORE=value), pytest.raises(ConfigurationError) as caught:
        SessionStore()
    assert message in str(caught.value)
    assert "SESSIONSPEC_STORE" in str(caught.value)


def test_the_setting_is_read_when_used() -> None:
    with override_settings(SESSIONSPEC_STORE=f"{HERE}:ASYNC_STORE"):
        with pytest.raises(ConfigurationError):
            configured_store()
        with (
            override_settings(SESSIONSPEC_STORE=f"{HERE}:CLOCK"),
            pytest.raises(ConfigurationError, match="ManualClock"),
        ):
            configured_store()


def test_a_store_swapped_under_the_same_setting_is_checked_again() -> None:
    """The per-path check cache (issue 19) holds only for the very object that passed it."""
    global ACTIVE
    ACTIVE = CookieStore(HASH)
    try:
        with override_settings(SESSIONSPEC_STORE=f"{HERE}:ACTIVE"):
            assert configured_store() is ACTIVE
            assert configured_store() is ACTIVE  # cached: same object
            ACTIVE = ASYNC_STORE  # type: ignore[assignment]
            with pytest.raises(ConfigurationError, match="async store"):
                configured_store()
            ACTIVE = NOT_A_STORE  # type: ignore[assignment]
            with pytest.raises(ConfigurationError, match="not a sessionspec Store"):
                configured_store()
    finally:
        ACTIVE = None


def test_a_django_serializer_setting_is_refused_not_ignored() -> None:
    """``SESSION_SERIALIZER`` cannot apply (the store's serializer encodes): it raises."""
    global ACTIVE
    ACTIVE = CookieStore(HASH)
    try:
        with (
            override_settings(
                SESSIONSPEC_STORE=f"{HERE}:ACTIVE",
                SESSION_SERIALIZER="myproject.serializers.MsgPackSerializer",
            ),
            pytest.raises(ConfigurationError, match=r"SESSION_SERIALIZER.*serializer="),
        ):
            SessionStore()
        with override_settings(SESSIONSPEC_STORE=f"{HERE}:ACTIVE"):
            SessionStore()  # Django's default is fine
    finally:
        ACTIVE = None


@pytest.mark.parametrize("kind", SERVER_SIDE, indirect=True)
def test_save_every_request_touches_and_keeps_a_concurrent_write(kind: str) -> None:
    """SESSION_SAVE_EVERY_REQUEST on an unchanged session keeps a concurrent write (S-9.25)."""
    key = saved({"cart": "empty"})
    reader = SessionStore(key)
    assert reader["cart"] == "empty"
    writer = SessionStore(key)
    writer["cart"] = "full"
    writer.save()
    reader.save()  # what Django's middleware does at the end of every request
    assert SessionStore(reader.session_key)["cart"] == "full"
    assert SessionStore(writer.session_key)["cart"] == "full"
