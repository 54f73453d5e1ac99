"""Flask: ``flask.session`` backed by any sessionspec store, under Flask's own settings.

::

    from flask import Flask
    from reference_impl.integrations.flask import SessionspecInterface

    app = Flask(__name__)
    app.secret_key = os.environ["FLASK_SECRET_KEY"]
    app.session_interface = SessionspecInterface()            # CookieStore from secret_key
    # or SessionspecInterface(FilesystemStore(path, HASH_KEY, BLOCK_KEY))

``flask.session`` is then a :class:`FlaskSession`: a mutable mapping over the
``values`` of a sessionspec :class:`~spec.Session`, loaded through the
request's :class:`~spec.Registry` on first use. Flask's settings
(``SESSION_COOKIE_*``, ``PERMANENT_SESSION_LIFETIME``,
``SESSION_REFRESH_EACH_REQUEST``) and idioms (``session.permanent``,
``session.clear()``, ``session.modified``) mean what they mean with Flask's
own interface; :meth:`SessionspecInterface.settings_for` says how each
setting meets a store built with its own ``Options``. A setting that cannot
be honoured raises :class:`~spec.errors.ConfigurationError` at start-up
(:meth:`~SessionspecInterface.init_app`, or the first request) instead of
being dropped: a dropped ``SESSION_COOKIE_SECURE`` would send the session
over plain HTTP without a word.

At the end of the request every *modified* session of the registry is
saved, this one and any other the view loaded with
``store.get(spec_request(), name)``; see :mod:`reference_impl.integrations`
for why only modified ones, why ``Vary: Cookie``, and why a failed save must
leave the response without cookies.

This module imports Flask; nothing else in ``reference_impl`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel

try:
    import flask
    from flask import Flask, Request, Response
    from flask import request as current_request
    from flask.sessions import SessionInterface, SessionMixin
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "flask", "flask", __name__) from None

from reference_impl.cookie_store import CookieStore
from reference_impl.integrations._common import CookieCollector, registry_of, was_accessed
from reference_impl.integrations.wsgi import EnvironRequest, request_of
from reference_impl.securecookie import MIN_HASH_KEY_SIZE, warn_weak_key
from spec import Options, Registry, Session, Store, TypedSession, check_cookie_name
from spec.errors import ConfigurationError
from spec.registry import is_async_store

__all__ = [
    "BLOCK_KEY_INFO",
    "FLASK_FLASHES_KEY",
    "HASH_KEY_INFO",
    "FlaskSession",
    "FlaskSettings",
    "SessionspecInterface",
    "derive_keys",
    "save_typed_session",
    "sessionspec_session",
    "spec_request",
    "typed_session",
]

#: Where ``flask.flash`` keeps its messages (gorilla's ``add_flash`` uses ``_flash``).
FLASK_FLASHES_KEY = "_flashes"
#: HKDF ``info`` strings of the keys derived from ``app.secret_key`` (see :func:`derive_keys`).
HASH_KEY_INFO = b"sessionspec flask session hash key"
BLOCK_KEY_INFO = b"sessionspec flask session block key"

# Flask fills every setting with its default, so "left at the default" is the
# only sign of "not set" there is (see SessionspecInterface.settings_for).
_DEFAULTS = Flask.default_config


def derive_keys(secret_key: str | bytes) -> tuple[bytes, bytes]:
    """Derive the (hash key, block key) pair a default store uses from a Flask secret key.

    Each key is HKDF-SHA256 (RFC 5869) of the UTF-8 secret, no salt, 32
    bytes, with :data:`HASH_KEY_INFO` or :data:`BLOCK_KEY_INFO` as ``info``.
    Deriving, rather than using the secret directly, gives keys of the right
    length whatever the secret looks like, keeps them independent of each
    other and of whatever else Flask signs with ``secret_key`` (a cookie
    signed for the session can never pass for another Flask token), and a Go
    service can compute the same two keys to share the cookie.

    HKDF does not strengthen a weak secret: the keys are exactly as hard to
    guess as the secret, so a secret under 32 bytes draws a
    :class:`~spec.errors.SecurityWarning` (and a ``sessionspec.security``
    log line), as a short hash key does.
    """
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    if len(material) < MIN_HASH_KEY_SIZE:
        warn_weak_key(
            f"the Flask secret_key is {len(material)} bytes long, under {MIN_HASH_KEY_SIZE}",
            "set it to secrets.token_hex(32) or longer random text",
            stacklevel=2,
        )
    return _hkdf(material, HASH_KEY_INFO), _hkdf(material, BLOCK_KEY_INFO)


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(material)


def spec_request() -> EnvironRequest:
    """The :class:`spec.Request` of the current Flask request (for other stores' ``get``)."""
    return request_of(current_request.environ)


def sessionspec_session(session: SessionMixin | None = None) -> Session:
    """The :class:`spec.Session` behind ``flask.session`` (or ``session``), typed.

    ``flask.session`` is typed as Flask's ``SessionMixin``, so
    ``flask.session.sessionspec`` fails ``mypy --strict``; this returns the
    same object as a :class:`~spec.Session`, loading it if needed.

    Raises:
        ConfigurationError: ``flask.session`` is not ours, because the app's
            ``session_interface`` is not a :class:`SessionspecInterface` or
            because Flask fell back to its null session (no ``secret_key``
            and no store).
    """
    current: object = flask.session if session is None else session
    if not isinstance(current, FlaskSession):
        raise ConfigurationError(
            f"flask.session is a {type(current).__name__}, not a sessionspec session: set "
            "app.session_interface = SessionspecInterface(...), and set app.secret_key "
            "unless the interface was given a store"
        )
    return current.sessionspec


@dataclass(frozen=True, slots=True)
class FlaskSettings:
    """What one app's settings resolve to (see :meth:`SessionspecInterface.settings_for`)."""

    #: The cookie name (``SESSION_COOKIE_NAME`` or the interface's ``name``).
    name: str
    #: The store sessions are loaded from and saved to.
    store: Store
    #: Every session's cookie attributes; ``max_age`` is set per session (``permanent``).
    options: Options
    #: Seconds a permanent session lives (``PERMANENT_SESSION_LIFETIME`` or the store's).
    lifetime: int
    #: ``SESSION_REFRESH_EACH_REQUEST``: re-send a permanent session's cookie on every response.
    refresh: bool


class FlaskSession(SessionMixin):
    """``flask.session``: a mutable mapping over a sessionspec session's values.

    Only ``str`` keys are visible through the mapping (Flask's sessions are
    keyed by strings); gorilla-style ``int`` keys stay reachable through
    :attr:`sessionspec`, the underlying :class:`~spec.Session`, which also
    offers ``options``, ``regenerate_id()``, ``add_flash()`` and ``flashes()``.

    ``permanent`` is the session's own ``max_age`` (S-9.21): ``False`` is
    ``0``, a browser-session cookie; ``True`` is the permanent lifetime. It
    is stored with the session, so it holds on later requests. A new
    session is not permanent, as in Flask.

    The sessionspec session is loaded on first use, so a request that never
    touches ``flask.session`` never decodes a cookie or reads a store.
    """

    def __init__(
        self, request: EnvironRequest, load: Callable[[], Session], settings: FlaskSettings
    ) -> None:
        self.request = request
        self.settings = settings
        self._load = load
        self._session: Session | None = None
        #: Set by Flask whenever the view touches ``flask.session``.
        self.accessed = False

    @property
    def sessionspec(self) -> Session:
        """The underlying sessionspec session (loaded through the registry on first use)."""
        if self._session is None:
            self._session = self._load()
        return self._session

    @property
    def loaded(self) -> bool:
        """Whether the underlying session was loaded during this request."""
        return self._session is not None

    # -- the mapping -----------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self.sessionspec.values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key == FLASK_FLASHES_KEY and isinstance(value, list):
            # flask.flash() stores (category, message) tuples, which the JSON
            # serializer refuses (a tuple would come back as a list anyway).
            value = [list(item) if isinstance(item, tuple) else item for item in value]
        self.sessionspec.values[key] = value

    def __delitem__(self, key: str) -> None:
        del self.sessionspec.values[key]

    def __iter__(self) -> Iterator[str]:
        return (key for key in list(self.sessionspec.values) if isinstance(key, str))

    def __len__(self) -> int:
        return sum(1 for key in self.sessionspec.values if isinstance(key, str))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.sessionspec.values

    def clear(self) -> None:
        """Remove every value, ``int`` keys too, and the ``permanent`` mark, as Flask's does.

        A session left empty at the end of the request is deleted: its
        cookie is expired and a server-side record removed, so
        ``session.clear()`` is a logout, as it is with Flask's own sessions.
        """
        session = self.sessionspec
        session.values.clear()
        if session.options.max_age > 0:
            session.options = session.options.replace(max_age=0)

    # -- Flask's session attributes ---------------------------------------------

    @property
    def permanent(self) -> bool:
        """Whether the cookie outlives the browser (``max_age > 0``); stored with the session."""
        return self.sessionspec.options.max_age > 0

    @permanent.setter
    def permanent(self, value: bool) -> None:
        session = self.sessionspec
        if bool(value) == (session.options.max_age > 0):
            return  # unchanged: no write, and a custom lifetime is kept
        max_age = self.settings.lifetime if value else 0
        session.options = session.options.replace(max_age=max_age)

    @property
    def modified(self) -> bool:
        """Whether the session changed (S-4.7); set ``True`` after a nested change."""
        return self._session is not None and self._session.modified

    @modified.setter
    def modified(self, value: bool) -> None:
        if value:
            self.sessionspec.mark_modified()
        elif self._session is not None:
            self._session.mark_unmodified()

    @property
    def new(self) -> bool:
        """Whether no valid cookie was sent (the session was created, not loaded)."""
        return self.sessionspec.is_new

    @new.setter
    def new(self, value: bool) -> None:
        raise AttributeError("session.new is read-only: it says how the session was obtained")


class SessionspecInterface(SessionInterface):
    """A Flask ``SessionInterface`` that keeps ``flask.session`` in a sessionspec store.

    ``store`` is any sync :class:`~spec.Store`. Without one, a
    :class:`~reference_impl.CookieStore` is built from ``app.secret_key``
    (and ``SECRET_KEY_FALLBACKS``, for rotation) through :func:`derive_keys`:
    signed *and* encrypted, unlike Flask's default cookie. With no secret key
    Flask's null session is used, which refuses writes with Flask's own
    error.

    ``name`` is the cookie name; left out, ``SESSION_COOKIE_NAME`` names it.
    ``save_every_request=True`` re-saves every accessed session on each
    request (sliding expiry for all of them) instead of only the modified
    ones; ``SESSION_REFRESH_EACH_REQUEST`` (on by default, as in Flask)
    already re-sends a *permanent* ``flask.session`` on every response.

    Saving happens in Flask's ``save_session``: every modified session of
    the request's registry is saved into a collector first, and the
    ``Set-Cookie`` headers are added only if all saves succeeded. Otherwise
    the error propagates and Flask answers 500 without any of our cookies.
    """

    def __init__(
        self,
        store: Store | None = None,
        name: str | None = None,
        *,
        save_every_request: bool = False,
    ) -> None:
        if name is not None:
            check_cookie_name(name)
        if store is not None and is_async_store(store):
            raise ConfigurationError(
                f"{type(store).__name__} is an async store; Flask sessions need a sync store"
            )
        self.store = store
        self.name = name
        self.save_every_request = save_every_request
        self._derived: dict[tuple[object, ...], CookieStore] = {}
        self._resolved: dict[tuple[object, ...], FlaskSettings | None] = {}

    def init_app(self, app: Flask) -> None:
        """Install this interface on ``app`` and check its settings now (start-up).

        Raises:
            ConfigurationError: a setting this interface cannot honour, with
                what to change.
        """
        app.session_interface = self
        self.settings_for(app)

    def store_for(self, app: Flask) -> Store | None:
        """The store for ``app``: the one given, or one derived from its secret key."""
        settings = self.settings_for(app)
        return settings.store if settings is not None else None

    def settings_for(self, app: Flask) -> FlaskSettings | None:
        """Resolve ``app``'s session settings (``None``: no store and no secret key).

        Precedence: a store built with its own ``Options`` keeps them for
        every Flask setting the app left at Flask's default; a setting the
        app changed from Flask's default replaces the store's option. Flask
        fills in every setting, so a default value cannot be told from "not
        set", and letting Flask's default ``SESSION_COOKIE_SECURE=False`` win
        would strip ``Secure`` from a store built with
        ``Options(secure=True)`` without a word. The derived store starts
        from sessionspec's ``Options()`` (``SameSite=Lax`` where Flask sends
        none, since a cookie without it rides on cross-site form posts in
        older browsers) and lives ``PERMANENT_SESSION_LIFETIME``.

        The result is cached per configuration, so settings changed while
        the app runs are picked up on the next request.

        Raises:
            ConfigurationError: a setting cannot be honoured (a bad name,
                path, domain or ``SameSite``; ``SameSite=None`` or
                ``Partitioned`` without ``Secure``; a permanent lifetime the
                store's codecs would cut short; two different cookie names).
        """
        config = app.config
        fallbacks = config.get("SECRET_KEY_FALLBACKS") or []
        store_options = getattr(self.store, "options", None)
        key = (
            *(_raw(config.get(setting)) for setting in _SETTINGS),
            app.secret_key,
            *fallbacks,
            store_options if isinstance(store_options, Options) else None,
        )
        try:
            return self._resolved[key]
        except KeyError:
            pass
        settings = self._resolve(app)
        if len(self._resolved) >= _CACHE_LIMIT:
            self._resolved.clear()
        self._resolved[key] = settings
        return settings

    def _resolve(self, app: Flask) -> FlaskSettings | None:
        config = app.config
        name = self._cookie_name(config.get("SESSION_COOKIE_NAME"))
        lifetime_setting = _lifetime_seconds(config.get("PERMANENT_SESSION_LIFETIME"))
        lifetime_changed = lifetime_setting != _lifetime_seconds(
            _DEFAULTS["PERMANENT_SESSION_LIFETIME"]
        )
        store = self.store
        if store is not None:
            base = getattr(store, "options", None)
            if not isinstance(base, Options):
                base = Options()
            limit = _codec_limit(store)
            if lifetime_changed:
                lifetime = lifetime_setting
            elif base.max_age > 0:
                lifetime = base.max_age
            else:
                lifetime = limit or lifetime_setting
        else:
            base, lifetime, limit = Options(), lifetime_setting, 0
        options = _with_flask_settings(base, app).replace(max_age=0)
        try:
            options.replace(max_age=lifetime)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"PERMANENT_SESSION_LIFETIME cannot be honoured: {exc}; lower it"
            ) from exc
        if limit and lifetime > limit:
            raise ConfigurationError(
                f"PERMANENT_SESSION_LIFETIME is {lifetime} s, but {type(store).__name__} "
                f"accepts a cookie for {limit} s only (its max_age), so a permanent session "
                f"would end early: call store.max_age({lifetime}) when building the store, "
                "or lower PERMANENT_SESSION_LIFETIME"
            )
        if store is None:
            if not app.secret_key:
                return None
            store = self._derived_store(app, options, lifetime)
        return FlaskSettings(
            name=name,
            store=store,
            options=options,
            lifetime=lifetime,
            refresh=bool(config.get("SESSION_REFRESH_EACH_REQUEST")),
        )

    def _cookie_name(self, setting: object) -> str:
        if not isinstance(setting, str):
            raise ConfigurationError(f"SESSION_COOKIE_NAME must be a string; got {setting!r}")
        check_cookie_name(setting)
        if self.name is None:
            return setting
        if setting not in (_DEFAULTS["SESSION_COOKIE_NAME"], self.name):
            raise ConfigurationError(
                f"SessionspecInterface(name={self.name!r}) and SESSION_COOKIE_NAME="
                f"{setting!r} name the session cookie differently: set only one of them"
            )
        return self.name

    def _derived_store(self, app: Flask, options: Options, lifetime: int) -> CookieStore:
        """The CookieStore made from ``app.secret_key``, once per secrets and options.

        Its codecs accept a cookie for ``lifetime`` seconds, the longest a
        permanent session lives, as Flask's signature check does; its default
        ``max_age`` is ``0`` because a new Flask session is not permanent, so
        such a cookie carries nothing beyond its values (the same bytes as
        Go's for a store with ``Options.MaxAge = 0``).
        """
        assert app.secret_key
        fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or []
        secrets: tuple[str | bytes, ...] = (app.secret_key, *fallbacks)
        key = (*secrets, options, lifetime)
        store = self._derived.get(key)
        if store is None:
            keys = [key for secret in secrets for key in derive_keys(secret)]
            store = CookieStore(*keys, options=options.replace(max_age=lifetime))
            store.options = options
            store = self._derived.setdefault(key, store)
        return store

    def open_session(self, app: Flask, request: Request) -> FlaskSession | None:
        """Return a lazily loaded session, or ``None`` (Flask's null session) without a key."""
        settings = self.settings_for(app)
        if settings is None:
            return None
        spec = request_of(request.environ)
        Registry.of(spec)  # this request's own registry from the start (S-5.8)

        def load() -> Session:
            session = Registry.of(spec).get(settings.store, settings.name)
            _apply_settings(session, settings)
            return session

        return FlaskSession(spec, load, settings)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Save every modified session of the request, then add the cookies and ``Vary``.

        As Flask's own interface does: a session emptied during the request
        (``session.clear()``) is deleted, and with
        ``SESSION_REFRESH_EACH_REQUEST`` a permanent session's cookie is
        re-sent on every response, even one whose view never touched the
        session (the cookie is then decoded at the end of the request).
        """
        if not isinstance(session, FlaskSession):
            return
        request, settings = session.request, session.settings
        vary = session.accessed or was_accessed(request)
        refresh = settings.refresh and not self.save_every_request
        if refresh and not session.loaded and request.cookie_values(settings.name):
            _ = session.sessionspec  # loaded to learn whether it is permanent
        collector = CookieCollector()
        if session.loaded:
            spec = session.sessionspec
            if spec.modified and not spec.values and spec.options.max_age >= 0:
                # Emptied: delete the cookie (and the record), as Flask does.
                spec.options = spec.options.replace(max_age=-1)
            elif refresh and _unchanged_permanent(spec):
                _refresh(settings.store, request, collector, spec)
        registry = registry_of(request)
        if registry is not None:
            registry.save_all(collector, only_modified=not self.save_every_request)
        lines = collector.header_values()
        if vary or lines:
            response.vary.add("Cookie")
        for line in lines:
            response.headers.add("Set-Cookie", line)


# Every setting settings_for reads, in a fixed order (the cache key).
_SETTINGS = (
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "APPLICATION_ROOT",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_PARTITIONED",
    "SESSION_COOKIE_SAMESITE",
    "PERMANENT_SESSION_LIFETIME",
    "SESSION_REFRESH_EACH_REQUEST",
)
# Distinct configurations cached per interface (an app has one or two).
_CACHE_LIMIT = 64


def _raw(value: object) -> object:
    """A hashable stand-in for a setting's value, for the cache key."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return (type(value), value)


def _lifetime_seconds(value: object) -> int:
    """``PERMANENT_SESSION_LIFETIME`` (a ``timedelta`` or whole seconds) in whole seconds."""
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        raise ConfigurationError(
            f"PERMANENT_SESSION_LIFETIME must be a datetime.timedelta or whole seconds; "
            f"got {value!r}"
        )
    if seconds <= 0:
        raise ConfigurationError(
            f"PERMANENT_SESSION_LIFETIME must be at least one second; got {value!r}. "
            "For cookies that end with the browser, leave session.permanent False"
        )
    return seconds


def _codec_limit(store: object) -> int:
    """The longest (seconds) ``store`` accepts a cookie for, ``0`` if unknown or unlimited."""
    codecs = getattr(store, "codecs", None)
    if not isinstance(codecs, list) or not codecs:
        return 0
    limit = getattr(codecs[0], "max_age", 0)
    return limit if isinstance(limit, int) and limit > 0 else 0


def _with_flask_settings(base: Options, app: Flask) -> Options:
    """``base`` with every cookie setting the app changed from Flask's default applied."""
    config = app.config
    changes: dict[str, object] = {}
    domain = config.get("SESSION_COOKIE_DOMAIN")
    if domain:
        if not isinstance(domain, str):
            raise ConfigurationError(f"SESSION_COOKIE_DOMAIN must be a string; got {domain!r}")
        changes["domain"] = domain
    path = config.get("SESSION_COOKIE_PATH") or config.get("APPLICATION_ROOT") or "/"
    if path != "/":
        if not isinstance(path, str):
            raise ConfigurationError(f"SESSION_COOKIE_PATH must be a string; got {path!r}")
        changes["path"] = path
    for setting, option in (
        ("SESSION_COOKIE_HTTPONLY", "http_only"),
        ("SESSION_COOKIE_SECURE", "secure"),
        ("SESSION_COOKIE_PARTITIONED", "partitioned"),
    ):
        value = config.get(setting, _DEFAULTS[setting])
        if not isinstance(value, bool):
            raise ConfigurationError(f"{setting} must be True or False; got {value!r}")
        if value != _DEFAULTS[setting]:
            changes[option] = value
    same_site = config.get("SESSION_COOKIE_SAMESITE")
    if same_site is not None:
        if not isinstance(same_site, str) or same_site.lower() not in ("lax", "strict", "none"):
            raise ConfigurationError(
                f"SESSION_COOKIE_SAMESITE must be None, 'Lax', 'Strict' or 'None'; "
                f"got {same_site!r}"
            )
        changes["same_site"] = same_site.lower()
    try:
        return base.model_copy(update=changes)  # validated like replace (keys vary here)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"the SESSION_COOKIE_* settings cannot be honoured ({exc}). A browser drops a "
            "SameSite=None or Partitioned cookie without Secure: set SESSION_COOKIE_SECURE = "
            "True and serve over HTTPS, or change the SESSION_COOKIE_SAMESITE, _PARTITIONED, "
            "_PATH or _DOMAIN setting the reason names"
        ) from exc


def _apply_settings(session: Session, settings: FlaskSettings) -> None:
    """Give a just-loaded session the app's cookie attributes and its ``permanent`` state.

    The attributes come from the settings on every request (only a
    session's ``max_age`` is stored with it, S-9.21). A new session is not
    permanent (``max_age`` 0), as in Flask; a stored one keeps its own
    ``max_age``, capped at the permanent lifetime so no session outlives
    ``PERMANENT_SESSION_LIFETIME``. Loading is not a change: the session
    stays unmodified unless it already was.
    """
    own = session.options.max_age
    max_age = 0 if session.is_new or own <= 0 else min(own, settings.lifetime)
    wanted = settings.options.replace(max_age=max_age) if max_age else settings.options
    if session.options == wanted:
        return
    was_modified = session.modified
    session.options = wanted
    if not was_modified:
        session.mark_unmodified()


def _unchanged_permanent(session: Session) -> bool:
    """Whether Flask would re-send this session's cookie only to refresh it."""
    return (
        not session.modified
        and not session.is_new
        and bool(session.values)
        and session.options.max_age > 0
    )


def _refresh(
    store: Store, request: EnvironRequest, collector: CookieCollector, session: Session
) -> None:
    """Re-send an unchanged permanent session's cookie (``SESSION_REFRESH_EACH_REQUEST``).

    A store that can ``touch`` re-stamps the record without rewriting the
    values, so a concurrent request's change is never undone by this
    request's stale copy; any other store saves the session again.
    """
    touch = getattr(store, "touch", None)
    if touch is not None:
        touch(request, collector, session, force=True)
    else:
        session.mark_modified()


# -- typed sessions in one line (spec.TypedSession) ----------------------------

_Model = TypeVar("_Model", bound=BaseModel)


def typed_session(typed: TypedSession[_Model]) -> _Model:
    """The current request's session of ``typed`` as its model: ``cart = typed_session(carts)``.

    Stored values that do not fit the model give its defaults, never a 500;
    ``typed.load_error(spec_request())`` says why.
    """
    return typed.load(spec_request())


def save_typed_session(typed: TypedSession[_Model], value: _Model) -> None:
    """Keep ``value`` as the session's values; the interface writes the cookie with the response."""
    typed.put(spec_request(), value)
