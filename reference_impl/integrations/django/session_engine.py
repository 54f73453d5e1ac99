"""Django ``SESSION_ENGINE`` on any sessionspec store: ``request.session`` readable by gorilla.

::

    # settings.py
    SESSION_ENGINE = "reference_impl.integrations.django.session_engine"
    SESSIONSPEC_STORE = "myproject.sessions:store"   # "module:attribute", a sync Store

    # myproject/sessions.py
    store = FilesystemStore(HASH_KEY, BLOCK_KEY, path="/var/lib/sessions")

Django's own ``SessionMiddleware`` keeps doing what it does: it builds a
:class:`SessionStore` from the cookie, and writes the cookie with
``request.session.session_key`` as its value, with Django's
``SESSION_COOKIE_*`` attributes. Here that key *is* the value the
sessionspec store writes: the signed (and, with a block key, encrypted)
session for a :class:`~reference_impl.CookieStore`, the signed ID for a
server-side store. So ``django.contrib.auth``, the admin,
``contrib.messages`` and ``clearsessions`` work unchanged, and a gorilla
service with the same keys and session name reads the same cookie.

The store is driven only through the public :class:`spec.Store` protocol:
the key is handed to ``store.new`` as the one cookie of a small request,
and the ``Set-Cookie`` the store writes on ``store.save`` is captured to
become the new key. Any store that passes the conformance suite therefore
works here, including one you wrote.

``SESSIONSPEC_SESSION_NAME`` (default: ``SESSION_COOKIE_NAME``) is the
session name the store signs under. The MAC covers it, so a Go service must
use the same name; keep it equal to ``SESSION_COOKIE_NAME`` for gorilla,
which names the cookie after the session.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, MutableMapping, Sequence
from datetime import datetime
from typing import Any, cast

try:
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.contrib.sessions.backends.base import SessionBase, UpdateError
    from django.contrib.sessions.exceptions import SessionInterrupted
    from django.utils import timezone
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "django", "django", __name__) from None

from spec import Session, SessionKey, Store
from spec._tracked import TrackedDict
from spec.errors import (
    ConfigurationError,
    SessionInterruptedError,
    SessionNotFoundError,
    StoreError,
)
from spec.http import RecordingResponse
from spec.options import MAX_AGE_LIMIT
from spec.protocols import is_async_store

__all__ = [
    "DJANGO_JSON_SERIALIZER",
    "EXPIRY_KEY",
    "SessionStore",
    "check_settings",
    "configured_store",
    "session_name",
]

#: The value key Django keeps a session's own expiry under (``set_expiry``).
EXPIRY_KEY = "_session_expiry"

_HOW = (
    "set SESSIONSPEC_STORE = 'module:attribute' in Django's settings, naming a sync "
    "sessionspec store (for example 'myproject.sessions:store')"
)


def configured_store() -> Store:
    """The store named by the ``SESSIONSPEC_STORE`` setting (``"module:attribute"``).

    Resolved on every call (an import is a dictionary lookup once done), so
    a changed setting, as in a test's ``override_settings``, takes effect.

    Raises:
        ConfigurationError: the setting is missing or malformed, names
            nothing, names something that is not a store, or names an async
            store: Django's session engine calls its store synchronously.
    """
    path = getattr(settings, "SESSIONSPEC_STORE", None)
    if not isinstance(path, str) or not path:
        raise ConfigurationError(f"sessionspec: SESSIONSPEC_STORE is not set; {_HOW}")
    module_name, colon, attribute = path.partition(":")
    if not colon or not module_name or not attribute:
        raise ConfigurationError(
            f"sessionspec: SESSIONSPEC_STORE = {path!r} is not 'module:attribute'; {_HOW}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"sessionspec: SESSIONSPEC_STORE = {path!r}: cannot import {module_name!r} ({exc})"
        ) from exc
    try:
        store: object = functools.reduce(getattr, attribute.split("."), module)
    except AttributeError:
        raise ConfigurationError(
            f"sessionspec: SESSIONSPEC_STORE = {path!r}: {module_name!r} has no {attribute!r}"
        ) from None
    if _CHECKED.get(path) is store:  # the same object passed the checks below already
        return cast(Store, store)
    if is_async_store(store):
        raise ConfigurationError(
            f"sessionspec: SESSIONSPEC_STORE = {path!r} is an async store; Django's session "
            "engine calls its store synchronously: name the sync twin (reference_impl.RedisStore, "
            "not reference_impl.aio.RedisStore)"
        )
    if not isinstance(store, Store):
        raise ConfigurationError(
            f"sessionspec: SESSIONSPEC_STORE = {path!r} is a {type(store).__name__}, not a "
            f"sessionspec Store (get, new, save); {_HOW}"
        )
    _CHECKED[path] = store
    return store


#: The store each ``SESSIONSPEC_STORE`` path last resolved to and passed the
#: checks: the Protocol ``isinstance`` is slow, and runs per request otherwise.
_CHECKED: dict[str, object] = {}


#: Django's default ``SESSION_SERIALIZER``, the only value the engine accepts.
DJANGO_JSON_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"


def check_settings() -> None:
    """Refuse the Django session settings the engine cannot honour.

    ``SESSION_SERIALIZER`` would be silently ignored: the *store's*
    serializer (JSON by default, gob for gorilla's default) encodes the
    values, so that a Go service reads them. Any other value than Django's
    default therefore raises :class:`~spec.errors.ConfigurationError`
    rather than letting a project believe its serializer is in use.
    """
    serializer = getattr(settings, "SESSION_SERIALIZER", DJANGO_JSON_SERIALIZER)
    if serializer != DJANGO_JSON_SERIALIZER:
        raise ConfigurationError(
            f"sessionspec: SESSION_SERIALIZER = {serializer!r} is not used by the sessionspec "
            "engine (the store's serializer encodes the values): remove the setting and pass "
            "serializer=... to the store SESSIONSPEC_STORE names"
        )


def session_name() -> str:
    """The session name the store signs under: ``SESSIONSPEC_SESSION_NAME`` or the cookie's."""
    name = getattr(settings, "SESSIONSPEC_SESSION_NAME", None) or settings.SESSION_COOKIE_NAME
    if not isinstance(name, str):
        raise ConfigurationError(
            f"sessionspec: SESSIONSPEC_SESSION_NAME must be a string; got {type(name).__name__}"
        )
    return name


class _KeyRequest:
    """The :class:`spec.Request` a store sees: Django's session key as the one cookie sent."""

    __slots__ = ("_key", "_name", "_state")

    def __init__(self, name: str, key: str | None) -> None:
        self._name = name
        self._key = key
        self._state: dict[str, object] = {}

    def cookie_values(self, name: str) -> Sequence[str]:
        """``[key]`` for the session's name, nothing otherwise."""
        return [self._key] if self._key and name == self._name else []

    @property
    def state(self) -> MutableMapping[str, object]:
        """Per-call storage (no registry is used: the engine caches the session itself)."""
        return self._state


class SessionStore(SessionBase):
    """``request.session`` backed by the sessionspec store of ``SESSIONSPEC_STORE``.

    The session key is the cookie value the store wrote. Loading a key the
    store rejects (forged, expired, or logged out elsewhere) gives an empty
    session and drops the key, as Django's database backend does, so a
    planted key is never adopted (session fixation). Django's internal keys
    (``_auth_user_id``, ``_session_expiry``, ``_messages``, ...) are plain
    values, so a Go service sees the logged-in user ID as a string.

    Each save hands the store Django's expiry as the session's ``max_age``:
    ``0`` (``set_expiry(0)``, ``SESSION_EXPIRE_AT_BROWSER_CLOSE``) for a
    browser-session cookie, else ``get_expiry_age()`` seconds, so a
    server-side record expires when Django says the session does, instead of
    living for the store's default and outlasting a short "remember me: off".
    """

    def __init__(self, session_key: str | None = None) -> None:
        check_settings()
        super().__init__(session_key)
        self._store = configured_store()
        self._name = session_name()
        # The sessionspec session behind ``_loaded_key``: saving through it
        # keeps its ID, so a server-side save updates the record it loaded
        # (and fails if a logout elsewhere deleted it) instead of forking one.
        self._loaded: Session | None = None
        self._loaded_key: str | None = None

    # -- talking to the store ------------------------------------------------

    def _open(self, key: str | None) -> Session:
        """``store.new`` for the request that sent ``key`` as the session's cookie."""
        return self._store.new(_KeyRequest(self._name, key), self._name)

    def _remember(self, session: Session | None, key: str | None) -> None:
        self._loaded, self._loaded_key = session, key

    def _data(self, *, no_load: bool = False) -> dict[str, Any]:
        """Django's lazily loaded value cache (``SessionBase._get_session``)."""
        get_session: Callable[..., dict[str, Any]] = getattr(self, "_get_session")  # noqa: B009
        return get_session(no_load=no_load)

    def _current(self) -> Session:
        """The sessionspec session of the current key, to save the values into.

        Raises ``UpdateError`` when the key's record is gone (a logout in
        another tab): saving must not bring the session back. A key that
        never was a session (forged, from another app) gives a fresh one.
        """
        key = self.session_key
        if self._loaded is not None and self._loaded_key == key:
            return self._loaded
        session = self._open(key)
        if session.is_new and isinstance(session.load_error, SessionNotFoundError):
            raise UpdateError(f"sessionspec: the session {self._name!r} was deleted")
        return session

    def _max_age(self) -> int:
        """Django's expiry as a cookie ``max_age``: ``0`` for browser-close, else seconds >= 1."""
        if self.get_expire_at_browser_close():
            return 0
        return min(max(self.get_expiry_age(), 1), MAX_AGE_LIMIT)

    def _write(self, data: dict[str, Any], *, fresh: bool, regenerate: bool = False) -> None:
        """Save ``data`` through the store; the cookie value it writes becomes the key."""
        session = self._open(None) if fresh else self._current()
        values: dict[SessionKey, Any] = {key: value for key, value in data.items()}
        if not (fresh or regenerate) and self._touched(session, values):
            return
        if isinstance(session.values, TrackedDict):
            # Only the keys this request changed, so a concurrent save merges (S-10.20).
            session.values.assign(values)
        else:
            session.values = values
        max_age = self._max_age()
        if session.options.max_age != max_age:  # replace() validates a whole Options
            session.options = session.options.replace(max_age=max_age)
        if regenerate:
            session.regenerate_id()
        written = RecordingResponse()
        sent = None if fresh else self.session_key
        try:
            self._store.save(_KeyRequest(self._name, sent), written, session)
        except SessionInterruptedError as exc:
            raise UpdateError(str(exc)) from exc
        cookies = [c for c in written.cookies if c.name == self._name and c.value]
        if not cookies:
            raise StoreError(
                f"{type(self._store).__name__}.save wrote no cookie named {self._name!r}",
                action="save a session",
            )
        self._session_key = cookies[-1].value
        self._remember(session, cookies[-1].value)

    def _touched(self, session: Session, values: dict[SessionKey, Any]) -> bool:
        """Refresh an unchanged session by a touch, if the store has one (S-9.25).

        Django saves every request's session with ``SESSION_SAVE_EVERY_REQUEST``;
        rewriting the values it loaded would undo a change another request
        saved meanwhile, so a session whose values and expiry are as loaded
        is touched instead: its lifetime restarts, its values stay the
        store's. Returns ``False`` (save as usual) when anything changed.
        """
        touch = getattr(self._store, "touch", None)
        unchanged = (
            session is self._loaded
            and dict(session.values) == values
            and session.options.max_age == self._max_age()
        )
        if touch is None or not unchanged:
            return False
        written = RecordingResponse()
        touch(_KeyRequest(self._name, self.session_key), written, session, force=True)
        cookies = [c for c in written.cookies if c.name == self._name and c.value]
        if cookies:
            self._session_key = cookies[-1].value
            self._remember(session, cookies[-1].value)
        return True

    # -- SessionBase's storage methods ---------------------------------------

    def load(self) -> dict[str, Any]:
        """The values of the current key, or ``{}`` (and no key) if the store rejects it.

        A ``set_expiry(datetime)`` deadline that has passed also empties the
        session: a cookie store has no record to expire, and a replayed
        cookie must not outlive the deadline Django promised.
        """
        key = self.session_key
        session = self._open(key)
        if session.is_new or _past_deadline(session.values.get(EXPIRY_KEY)):
            self._session_key = None
            self._remember(None, None)
            return {}
        self._remember(session, key)
        return cast("dict[str, Any]", dict(session.values))

    def exists(self, session_key: str) -> bool:
        """Whether ``session_key`` loads as a session from the store."""
        return bool(session_key) and not self._open(session_key).is_new

    def create(self) -> None:
        """Save the current values (``{}`` if none) as a new session under a new key."""
        self._write(self._data(no_load=True), fresh=True)
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        """Save the values under the current key, or as a new session.

        ``must_create=True`` always makes a new session (a new ID for
        server-side stores; sessionspec never overwrites one, so Django's
        ``CreateError`` cannot occur). Otherwise a session whose record was
        deleted meanwhile raises ``UpdateError``, which Django's middleware
        turns into ``SessionInterrupted`` (400) rather than resurrecting it.
        """
        if self.session_key is None:
            self.create()
            return
        self._write(self._data(no_load=must_create), fresh=must_create)

    def delete(self, session_key: str | None = None) -> None:
        """Delete the session stored under ``session_key`` (default: the current key).

        A server-side record is removed at once, so the old key is dead
        even if someone copied it. A cookie store keeps nothing to delete:
        as with Django's ``signed_cookies``, an old cookie stays valid until
        its signed timestamp is older than the store's ``max_age``.
        """
        key = self.session_key if session_key is None else session_key
        if not key:
            return
        if self._loaded is not None and self._loaded_key == key:
            session = self._loaded
        else:
            session = self._open(key)
        if key == self._loaded_key:
            self._remember(None, None)
        if session.is_new:
            return
        session.options = session.options.replace(max_age=-1)
        self._store.save(_KeyRequest(self._name, key), RecordingResponse(), session)

    def cycle_key(self) -> None:
        """Move the values to a new key and kill the old one (``login()`` calls this).

        Done with :meth:`spec.Session.regenerate_id`, saved at once: a
        server-side store claims (deletes) the old record and creates a new
        one, so a key an attacker planted or learned before login is dead
        (session fixation), and a logout that raced this login wins
        (``SessionInterrupted``) instead of being undone.
        """
        data = self._data()
        if self.session_key is None:
            self.create()
        else:
            try:
                self._write(data, fresh=False, regenerate=True)
            except UpdateError as exc:
                raise SessionInterrupted(
                    "The request's session was deleted before the request completed."
                ) from exc
        self.modified = True

    async def acycle_key(self) -> None:
        """:meth:`cycle_key` in a worker thread (the store is sync)."""
        await sync_to_async(self.cycle_key)()

    @classmethod
    def clear_expired(cls) -> None:
        """Run the store's ``purge_expired()`` (``manage.py clearsessions``), if it has one.

        Stores without it need none: a cookie store keeps nothing on the
        server, and Redis expires its keys itself.
        """
        purge = getattr(configured_store(), "purge_expired", None)
        if callable(purge):
            purge()


def _past_deadline(expiry: object) -> bool:
    """Whether a ``set_expiry(datetime)`` deadline (an ISO string) has passed."""
    if not isinstance(expiry, str):
        return False
    try:
        deadline = datetime.fromisoformat(expiry)
    except ValueError:
        return False
    now = timezone.now()
    if (deadline.tzinfo is None) != (now.tzinfo is None):
        now = datetime.now(deadline.tzinfo)
    return deadline <= now
