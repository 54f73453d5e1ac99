"""Flask: ``flask.session`` backed by any sessionspec store.

::

    from flask import Flask
    from reference_impl.integrations.flask import SessionspecInterface

    app = Flask(__name__)
    app.secret_key = os.environ["FLASK_SECRET_KEY"]
    app.session_interface = SessionspecInterface()            # CookieStore from secret_key
    # or SessionspecInterface(FilesystemStore(path, HASH_KEY, BLOCK_KEY), name="auth")

``flask.session`` is then a :class:`FlaskSession`: a mutable mapping over the
``values`` of a sessionspec :class:`~spec.Session`, loaded through the
request's :class:`~spec.Registry` on first use. ``session.modified`` is the
sessionspec session's (S-4.7), and setting it to ``True`` after changing a
nested value is :meth:`~spec.Session.mark_modified`. At the end of the request
every *modified* session of the registry is saved, this one and any other
the view loaded with ``store.get(spec_request(), name)``; see
:mod:`reference_impl.integrations` for why only modified ones, why ``Vary:
Cookie``, and why a failed save must leave the response without cookies.

This module imports Flask; nothing else in ``reference_impl`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

try:
    from flask import Flask, Request, Response
    from flask import request as current_request
    from flask.sessions import SessionInterface, SessionMixin
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "flask", "flask", __name__) from None

from reference_impl.cookie_store import CookieStore
from reference_impl.integrations._common import collect_session_headers, was_accessed
from reference_impl.integrations.wsgi import EnvironRequest, request_of
from reference_impl.securecookie import MIN_HASH_KEY_SIZE, warn_weak_key
from spec import Registry, Session, Store, check_cookie_name
from spec.errors import ConfigurationError
from spec.registry import is_async_store

__all__ = [
    "BLOCK_KEY_INFO",
    "FLASK_FLASHES_KEY",
    "HASH_KEY_INFO",
    "FlaskSession",
    "SessionspecInterface",
    "derive_keys",
    "spec_request",
]

#: Where ``flask.flash`` keeps its messages (gorilla's ``add_flash`` uses ``_flash``).
FLASK_FLASHES_KEY = "_flashes"
#: HKDF ``info`` strings of the keys derived from ``app.secret_key`` (see :func:`derive_keys`).
HASH_KEY_INFO = b"sessionspec flask session hash key"
BLOCK_KEY_INFO = b"sessionspec flask session block key"


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


class FlaskSession(SessionMixin):
    """``flask.session``: a mutable mapping over a sessionspec session's values.

    Only ``str`` keys are visible through the mapping (Flask's sessions are
    keyed by strings); gorilla-style ``int`` keys stay reachable through
    :attr:`sessionspec`, the underlying :class:`~spec.Session`, which also
    offers ``options``, ``regenerate_id()``, ``add_flash()`` and ``flashes()``.

    The sessionspec session is loaded on first use, so a request that never
    touches ``flask.session`` never decodes a cookie or reads a store.
    """

    def __init__(self, request: EnvironRequest, load: Callable[[], Session]) -> None:
        self.request = request
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

    # -- Flask's session attributes ---------------------------------------------

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
    error. Cookie attributes come from the store's ``Options``; Flask's
    ``SESSION_COOKIE_*`` settings and ``session.permanent`` do not apply.

    ``name`` is the cookie name. ``save_every_request=True`` re-saves every
    accessed session on each request (sliding expiry) instead of only the
    modified ones.

    Saving happens in Flask's ``save_session``: every modified session of
    the request's registry is saved into a collector first, and the
    ``Set-Cookie`` headers are added only if all saves succeeded. Otherwise
    the error propagates and Flask answers 500 without any of our cookies.
    """

    def __init__(
        self,
        store: Store | None = None,
        name: str = "session",
        *,
        save_every_request: bool = False,
    ) -> None:
        check_cookie_name(name)
        if store is not None and is_async_store(store):
            raise ConfigurationError(
                f"{type(store).__name__} is an async store; Flask sessions need a sync store"
            )
        self.store = store
        self.name = name
        self.save_every_request = save_every_request
        self._derived: dict[tuple[str | bytes, ...], CookieStore] = {}

    def store_for(self, app: Flask) -> Store | None:
        """The store for ``app``: the one given, or one derived from its secret key."""
        if self.store is not None:
            return self.store
        if not app.secret_key:
            return None
        fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or []
        secrets: tuple[str | bytes, ...] = (app.secret_key, *fallbacks)
        store = self._derived.get(secrets)
        if store is None:
            keys = [key for secret in secrets for key in derive_keys(secret)]
            store = self._derived.setdefault(secrets, CookieStore(*keys))
        return store

    def open_session(self, app: Flask, request: Request) -> FlaskSession | None:
        """Return a lazily loaded session, or ``None`` (Flask's null session) without a key."""
        store = self.store_for(app)
        if store is None:
            return None
        spec = request_of(request.environ)
        Registry.of(spec)  # this request's own registry from the start (S-5.8)
        name = self.name
        return FlaskSession(spec, lambda: Registry.of(spec).get(store, name))

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Save every modified session of the request, then add the cookies and ``Vary``."""
        if not isinstance(session, FlaskSession):
            return
        pending = collect_session_headers(
            session.request, only_modified=not self.save_every_request
        )
        if session.accessed or pending.accessed or was_accessed(session.request):
            response.vary.add("Cookie")
        for line in pending.set_cookies:
            response.headers.add("Set-Cookie", line)
