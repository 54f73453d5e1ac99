"""Flask's ``session`` on a sessionspec store, under werkzeug's server with a real client.

Clauses: modified tracking decides what is saved (S-4.7, S-5.6), flashes
show once (S-9.8), a second store in the same request (S-9.12), key rotation
through ``SECRET_KEY_FALLBACKS`` (S-9.13), an unsavable session (S-9.11).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.integrations._servers import require, serve_werkzeug, set_cookies

flask = require("flask")

from flask import Flask, flash, get_flashed_messages, jsonify, session  # noqa: E402

from reference_impl import CookieStore, MemoryStore  # noqa: E402
from reference_impl.integrations.flask import (  # noqa: E402
    FlaskSession,
    SessionspecInterface,
    derive_keys,
    spec_request,
)
from spec.errors import ConfigurationError, InvalidCookieNameError, SecurityWarning  # noqa: E402
from spec.http import SimpleRequest  # noqa: E402

SECRET = "correct horse battery staple, long enough"  # 32+ bytes: no SecurityWarning
CART = MemoryStore(b"c" * 32)


def make_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = SECRET
    app.session_interface = SessionspecInterface()

    @app.post("/login")
    def login() -> str:
        session["user"] = "alice"
        session["tags"] = []
        flash("Welcome, alice")
        flash("Check your mail", "info")
        return "ok"

    @app.get("/whoami")
    def whoami() -> str:
        return str(session.get("user", "anonymous"))

    @app.get("/static")
    def static_page() -> str:
        return "no session"

    @app.get("/flashes")
    def flashes() -> object:
        return jsonify(get_flashed_messages(with_categories=True))

    @app.post("/tag")
    def tag() -> str:
        session["tags"].append("new")  # in place: invisible...
        session.modified = True  # ...so say so, as with Flask's own sessions
        return "tagged"

    @app.get("/tags")
    def tags() -> object:
        return jsonify(session.get("tags"))

    @app.post("/cart")
    def cart() -> str:
        CART.get(spec_request(), "cart").values["items"] = ["apple"]
        session["n"] = 1
        return "both"

    @app.get("/cart")
    def read_cart() -> object:
        return jsonify(CART.get(spec_request(), "cart").values.get("items"))

    @app.post("/too-long")
    def too_long() -> str:
        session["blob"] = "x" * 5000
        return "unreachable"

    @app.post("/gorilla-flash")
    def gorilla_flash() -> str:
        assert isinstance(session, FlaskSession)
        session.sessionspec.add_flash(["warning", "from sessionspec"], key="_flashes")
        return "ok"

    @app.get("/new")
    def new() -> object:
        return jsonify(session.new)

    return app


APP = make_app()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_werkzeug(APP) as url:
        yield url


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


def test_login_sets_a_cookie_that_later_requests_see(client: httpx.Client) -> None:
    """flask.session writes go to the sessionspec store and come back (S-5.6, S-9.1).

    Not permanent (Flask's default), so a browser-session cookie: no Max-Age.
    """
    assert client.get("/new").json() is True
    login = client.post("/login")
    (line,) = set_cookies(login)
    assert re.fullmatch(r"session=[A-Za-z0-9_=-]+; Path=/; HttpOnly; SameSite=Lax", line), line
    assert login.headers["vary"] == "Cookie"
    assert client.get("/whoami").text == "alice"
    assert client.get("/new").json() is False


def test_the_default_store_uses_keys_derived_from_the_secret_key(client: httpx.Client) -> None:
    """The cookie is the CookieStore's, under HKDF-derived keys (documented)."""
    login = client.post("/login")
    value = set_cookies(login)[0].split(";")[0]
    store = CookieStore(*derive_keys(SECRET))
    loaded = store.new(SimpleRequest(value), "session")
    assert loaded.load_error is None
    assert loaded.values["user"] == "alice"


def test_a_request_that_only_reads_sends_no_set_cookie(client: httpx.Client) -> None:
    """Reads are not changes (S-4.7): Vary: Cookie but no Set-Cookie."""
    client.post("/login")
    read = client.get("/whoami")
    assert set_cookies(read) == []
    assert read.headers["vary"] == "Cookie"
    untouched = client.get("/static")
    assert set_cookies(untouched) == []
    assert "vary" not in untouched.headers


def test_flask_flashes_show_once(client: httpx.Client) -> None:
    """flask.flash / get_flashed_messages work; pairs come back as lists (S-9.8)."""
    client.post("/login")
    assert client.get("/flashes").json() == [
        ["message", "Welcome, alice"],
        ["info", "Check your mail"],
    ]
    assert client.get("/flashes").json() == []


def test_sessionspec_flashes_reach_get_flashed_messages(client: httpx.Client) -> None:
    """add_flash under Flask's key is seen by get_flashed_messages (S-4.4)."""
    client.post("/gorilla-flash")
    assert client.get("/flashes").json() == [["warning", "from sessionspec"]]


def test_setting_modified_saves_an_in_place_change(client: httpx.Client) -> None:
    """session.modified = True is mark_modified() (S-4.7)."""
    client.post("/login")
    assert set_cookies(client.post("/tag")) != []
    assert client.get("/tags").json() == ["new"]


def test_a_second_store_is_saved_in_the_same_response(client: httpx.Client) -> None:
    """Every modified session of the request's registry is saved (S-9.12)."""
    both = client.post("/cart")
    assert sorted(line.partition("=")[0] for line in set_cookies(both)) == ["cart", "session"]
    assert client.get("/cart").json() == ["apple"]


def test_a_save_error_is_a_500_with_no_cookie(client: httpx.Client) -> None:
    """A session too long for its cookie (S-9.11) answers 500 without Set-Cookie."""
    client.post("/login")
    failed = client.post("/too-long")
    assert failed.status_code == 500
    assert set_cookies(failed) == []
    assert client.get("/whoami").text == "alice"


def test_secret_key_fallbacks_rotate_keys(client: httpx.Client) -> None:
    """A new secret key with the old one as fallback still reads old cookies (S-9.13)."""
    client.post("/login")
    try:
        APP.secret_key = "a brand new secret, also 32 bytes long"
        APP.config["SECRET_KEY_FALLBACKS"] = [SECRET]
        assert client.get("/whoami").text == "alice"
        APP.config["SECRET_KEY_FALLBACKS"] = []
        assert client.get("/whoami").text == "anonymous"
    finally:
        APP.secret_key = SECRET
        APP.config["SECRET_KEY_FALLBACKS"] = []


def test_without_a_secret_key_flask_null_session_is_used() -> None:
    """No store and no secret key: Flask's null session, never a random key."""
    app = Flask(__name__)
    app.session_interface = SessionspecInterface()
    with app.test_request_context("/"):
        assert app.session_interface.open_session(app, flask.request) is None


def test_a_short_secret_key_warns_when_the_keys_are_derived(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 3-character secret_key works but warns and logs, like a short hash key (S-1.6)."""
    app = Flask(__name__)
    app.secret_key = "abc"
    interface = SessionspecInterface()
    with (
        caplog.at_level("WARNING", logger="sessionspec.security"),
        pytest.warns(SecurityWarning, match="Flask secret_key is 3 bytes long"),
    ):
        store = interface.store_for(app)
    assert store is not None
    logged = [r.getMessage() for r in caplog.records if r.name == "sessionspec.security"]
    assert len(logged) == 1 and "secrets.token_hex" in logged[0] and "abc" not in logged[0]
    assert interface.store_for(app) is store  # derived once, so warned once


def test_a_bad_cookie_name_is_refused_at_construction() -> None:
    """InvalidCookieNameError when the interface is built (S-5.3)."""
    with pytest.raises(InvalidCookieNameError):
        SessionspecInterface(name="bad name")


def test_mapping_hides_int_keys_but_keeps_them() -> None:
    """Only str keys show through flask.session; int keys stay in .sessionspec (S-4.2)."""
    app = Flask(__name__)
    app.secret_key = SECRET
    app.session_interface = SessionspecInterface()
    with app.test_request_context("/"):
        s = app.session_interface.open_session(app, flask.request)
        assert s is not None and not s.loaded and not s.modified
        s.sessionspec.values[42] = 43
        s["a"] = 1
        assert dict(s) == {"a": 1} and len(s) == 1 and 42 not in s
        assert s.sessionspec.values == {42: 43, "a": 1}
        assert json.loads(json.dumps(list(s))) == ["a"]


def test_an_async_store_is_refused_at_construction() -> None:
    """Flask's session interface is sync: an AsyncStore is a ConfigurationError (S-8.3)."""

    class AsyncStore:
        async def get(self, request: object, name: str) -> None: ...
        async def new(self, request: object, name: str) -> None: ...
        async def save(self, request: object, response: object, session: object) -> None: ...

    with pytest.raises(ConfigurationError, match="async store"):
        SessionspecInterface(AsyncStore())  # type: ignore[arg-type]
