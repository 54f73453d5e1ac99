"""An app written for Flask's own sessions runs unchanged on SessionspecInterface.

Every app here uses Flask idioms only (``from flask import session``,
``session["x"] = ...``, ``session.permanent``, ``session.clear()``,
``app.config[...]``) and runs under werkzeug's server, driven by a real
HTTP client. Each is run twice: on the CookieStore derived from
``secret_key`` and on a server-side MemoryStore. What is checked is what a
browser sees: every Flask setting shows up in the ``Set-Cookie`` line, a
session that is not permanent gets no ``Max-Age`` and keeps none across
later writes (S-9.21), ``session.clear()`` sends the deletion cookie with
the session's path and domain (S-9.31) and, server-side, ends the record,
and ``SESSION_REFRESH_EACH_REQUEST`` re-sends a permanent cookie. A setting
that cannot be honoured is a ConfigurationError at start-up.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integrations._servers import require, serve_werkzeug, set_cookies

require("flask")

from flask import Flask, jsonify, request, session  # noqa: E402

from reference_impl import CookieStore, MemoryStore  # noqa: E402
from reference_impl.integrations.flask import (  # noqa: E402
    SessionspecInterface,
    sessionspec_session,
)
from spec import Options, Session  # noqa: E402
from spec.errors import ConfigurationError, InvalidCookieNameError  # noqa: E402
from spec.http import SimpleRequest  # noqa: E402

SECRET = "correct horse battery staple, long enough"
SERVER_KEY = b"m" * 32
STORES = ["cookie", "memory"]


def make_app(kind: str, store: Any = None, **config: Any) -> Flask:
    """A Flask app written for Flask's own sessions, on sessionspec store ``kind``."""
    app = Flask(__name__)
    app.secret_key = SECRET
    app.config.update(config)
    if store is None and kind == "memory":
        store = MemoryStore(SERVER_KEY)
    SessionspecInterface(store).init_app(app)

    @app.post("/login")
    def login() -> str:
        session["user"] = "alice"
        session.permanent = request.args.get("remember") == "1"
        return "ok"

    @app.post("/forget-me")
    def forget_me() -> str:
        session.permanent = False
        return "ok"

    @app.post("/visit")
    def visit() -> str:
        session["visits"] = session.get("visits", 0) + 1
        return str(session["visits"])

    @app.get("/whoami")
    def whoami() -> str:
        return str(session.get("user", "anonymous"))

    @app.get("/permanent")
    def permanent() -> Any:
        return jsonify(session.permanent)

    @app.get("/static")
    def static_page() -> str:
        return "no session"

    @app.post("/logout")
    def logout() -> str:
        session.clear()
        return "bye"

    @app.post("/drop-user")
    def drop_user() -> str:
        session.pop("user", None)
        return "dropped"

    @app.post("/when")
    def when() -> str:
        session["when"] = datetime.now(UTC)  # Flask's tagged JSON keeps it; JSON cannot
        return "unreachable"

    @app.post("/nested")
    def nested() -> str:
        session.setdefault("tags", []).append("x")
        session.modified = True
        return "ok"

    return app


def parse(line: str) -> tuple[str, str, dict[str, str]]:
    """``name``, ``value`` and the attributes (lower-cased names) of a Set-Cookie line."""
    first, *rest = line.split("; ")
    name, _, value = first.partition("=")
    attrs: dict[str, str] = {}
    for part in rest:
        key, _, val = part.partition("=")
        attrs[key.lower()] = val
    return name, value, attrs


def one_cookie(response: httpx.Response, name: str = "session") -> tuple[str, dict[str, str]]:
    (line,) = set_cookies(response)
    got, value, attrs = parse(line)
    assert got == name, line
    return value, attrs


@pytest.fixture(params=STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def default_client(kind: str) -> Iterator[httpx.Client]:
    """A client of an app with Flask's default settings."""
    with serve_werkzeug(make_app(kind)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


# -- cookie attributes from app.config -------------------------------------------------


def test_every_cookie_setting_shows_up_in_set_cookie(kind: str) -> None:
    """NAME, DOMAIN, PATH, HTTPONLY, SECURE, SAMESITE, PARTITIONED reach the cookie (S-9.30)."""
    app = make_app(
        kind,
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_DOMAIN="example.test",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PARTITIONED=True,
    )
    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        value, attrs = one_cookie(client.post("/login"), "sid")
        assert attrs == {
            "path": "/",
            "domain": "example.test",
            "secure": "",
            "samesite": "Strict",
            "partitioned": "",
        }
        # A client keeps a Secure cookie off plain http; send it as a browser on https would.
        back = client.get("/whoami", headers={"cookie": f"sid={value}"})
        assert back.text == "alice"


def test_path_falls_back_to_application_root(kind: str) -> None:
    """SESSION_COOKIE_PATH unset: APPLICATION_ROOT is the path, as in Flask."""
    app = make_app(kind, APPLICATION_ROOT="/app", SESSION_COOKIE_SAMESITE="Lax")
    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        _, attrs = one_cookie(client.post("/login"))
        assert attrs["path"] == "/app"
        assert attrs["samesite"] == "Lax" and "httponly" in attrs and "secure" not in attrs
    app = make_app(kind, APPLICATION_ROOT="/app", SESSION_COOKIE_PATH="/shop")
    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert one_cookie(client.post("/login"))[1]["path"] == "/shop"


def test_flask_defaults_give_sessionspec_safe_defaults(default_client: httpx.Client) -> None:
    """Defaults: Path=/, HttpOnly, SameSite=Lax (Flask sends none), no Secure, no Max-Age."""
    login = default_client.post("/login")
    _, attrs = one_cookie(login)
    assert attrs == {"path": "/", "httponly": "", "samesite": "Lax"}
    assert login.headers["vary"] == "Cookie"


# -- permanent ---------------------------------------------------------------------------


@pytest.mark.parametrize("lifetime", [timedelta(hours=2), 7200])
def test_permanent_lifetime_is_max_age(kind: str, lifetime: object) -> None:
    """session.permanent = True: Max-Age and Expires from PERMANENT_SESSION_LIFETIME."""
    with (
        serve_werkzeug(make_app(kind, PERMANENT_SESSION_LIFETIME=lifetime)) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        _, attrs = one_cookie(client.post("/login?remember=1"))
        assert attrs["max-age"] == "7200" and attrs["expires"].endswith("GMT")
        assert client.get("/permanent").json() is True


def test_not_permanent_is_a_browser_session_cookie(default_client: httpx.Client) -> None:
    """Flask's default (permanent False): no Max-Age, no Expires."""
    _, attrs = one_cookie(default_client.post("/login"))
    assert "max-age" not in attrs and "expires" not in attrs
    assert default_client.get("/permanent").json() is False


def test_remember_me_off_stays_a_browser_session_across_later_writes(
    default_client: httpx.Client,
) -> None:
    """A session that is not permanent keeps no Max-Age on every later write (S-9.21)."""
    one_cookie(default_client.post("/login"))
    for expected in ("1", "2"):
        visit = default_client.post("/visit")
        assert visit.text == expected
        _, attrs = one_cookie(visit)
        assert "max-age" not in attrs and "expires" not in attrs
    assert default_client.get("/permanent").json() is False


def test_permanent_holds_on_later_requests_until_turned_off(
    kind: str, default_client: httpx.Client
) -> None:
    """permanent is stored with the session: later writes keep it, and False sticks too.

    The lifetime is Flask's default (31 days) for the store derived from
    secret_key, and the store's own max_age (30 days) for a store given.
    """
    _, attrs = one_cookie(default_client.post("/login?remember=1"))
    lifetime = attrs["max-age"]
    assert int(lifetime) == (31 if kind == "cookie" else 30) * 86400
    _, attrs = one_cookie(default_client.post("/visit"))
    assert attrs["max-age"] == lifetime
    assert default_client.get("/permanent").json() is True
    _, attrs = one_cookie(default_client.post("/forget-me"))
    assert "max-age" not in attrs
    _, attrs = one_cookie(default_client.post("/visit"))
    assert "max-age" not in attrs
    assert default_client.get("/permanent").json() is False


# -- clear, empty, modified ---------------------------------------------------------------


def test_clear_sends_the_deletion_cookie_with_path_and_domain(kind: str) -> None:
    """session.clear() deletes the cookie (S-9.9, S-9.31); server-side, the record too."""
    app = make_app(kind, SESSION_COOKIE_PATH="/", SESSION_COOKIE_DOMAIN="127.0.0.1")
    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        value, _ = one_cookie(client.post("/login?remember=1"))
        logout = client.post("/logout")
        deleted, attrs = one_cookie(logout)
        assert deleted == "" and attrs["max-age"] == "0"
        assert attrs["path"] == "/" and attrs["domain"] == "127.0.0.1"
        assert logout.headers["vary"] == "Cookie"
        assert client.get("/whoami").text == "anonymous"
        replayed = client.get("/whoami", headers={"cookie": f"session={value}"})
        if kind == "memory":
            assert replayed.text == "anonymous"  # the record is gone, not just the cookie


def test_popping_the_last_value_deletes_the_cookie(default_client: httpx.Client) -> None:
    """An emptied session is deleted, whichever way it was emptied, as in Flask."""
    default_client.post("/login")
    deleted, attrs = one_cookie(default_client.post("/drop-user"))
    assert deleted == "" and attrs["max-age"] == "0"


def test_clear_without_a_session_sends_nothing(default_client: httpx.Client) -> None:
    """Nothing to delete: no Set-Cookie at all."""
    assert set_cookies(default_client.post("/logout")) == []


def test_modified_saves_a_nested_change(default_client: httpx.Client) -> None:
    """session.modified = True after an in-place change is saved (S-4.7)."""
    one_cookie(default_client.post("/nested"))
    one_cookie(default_client.post("/nested"))


def test_a_value_json_cannot_hold_is_a_500_not_a_changed_value(
    default_client: httpx.Client,
) -> None:
    """A datetime fails the save: a 500 with no cookie, never a value that comes back a str."""
    default_client.post("/login")
    failed = default_client.post("/when")
    assert failed.status_code == 500 and set_cookies(failed) == []
    assert default_client.get("/whoami").text == "alice"


# -- refresh each request, Vary ------------------------------------------------------------


def test_refresh_each_request_resends_a_permanent_cookie(kind: str) -> None:
    """SESSION_REFRESH_EACH_REQUEST (Flask's default): every response re-sends it."""
    with serve_werkzeug(make_app(kind)) as url, httpx.Client(base_url=url, timeout=10) as client:
        first, _ = one_cookie(client.post("/login?remember=1"))
        read = client.get("/whoami")
        again, attrs = one_cookie(read)
        assert "max-age" in attrs and read.headers["vary"] == "Cookie"
        if kind == "memory":
            assert again == first  # the same session ID, re-stamped (never rewritten)
        untouched = client.get("/static")
        assert one_cookie(untouched)[1]["max-age"] == attrs["max-age"]
        assert client.get("/whoami").text == "alice"


def test_no_refresh_for_a_browser_session_or_when_turned_off(kind: str) -> None:
    """Not permanent, or SESSION_REFRESH_EACH_REQUEST=False: a read sends no cookie."""
    with serve_werkzeug(make_app(kind)) as url, httpx.Client(base_url=url, timeout=10) as client:
        client.post("/login")
        read = client.get("/whoami")
        assert set_cookies(read) == [] and read.headers["vary"] == "Cookie"
        untouched = client.get("/static")
        assert set_cookies(untouched) == [] and "vary" not in untouched.headers
    app = make_app(kind, SESSION_REFRESH_EACH_REQUEST=False)
    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        one_cookie(client.post("/login?remember=1"))
        assert set_cookies(client.get("/whoami")) == []
        assert set_cookies(client.get("/static")) == []
        assert client.get("/whoami").text == "alice"


# -- precedence with a store built with its own Options ----------------------------------


def test_store_options_hold_where_flask_settings_are_left_at_default() -> None:
    """A store's Options(secure=True) is not undone by Flask's default SECURE=False."""
    store = CookieStore(b"h" * 32, b"b" * 32, options=Options(secure=True, path="/x"))
    app = make_app("cookie", store, SESSION_COOKIE_SAMESITE="Strict")
    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        _, attrs = one_cookie(client.post("/login?remember=1"))
    assert "secure" in attrs and attrs["path"] == "/x"
    assert attrs["samesite"] == "Strict"  # changed from Flask's default: it wins
    assert attrs["max-age"] == str(30 * 86400)  # the store's lifetime (setting at default)


def test_a_store_with_a_browser_session_default_sends_go_identical_cookies() -> None:
    """Options(max_age=0): a new session carries no extra key; permanent lasts the codec's age."""
    store = CookieStore(b"h" * 32, b"b" * 32, options=Options(max_age=0))
    app = make_app("cookie", store)
    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        value, attrs = one_cookie(client.post("/login"))
        assert "max-age" not in attrs
        loaded = store.new(SimpleRequest(f"session={value}"), "session")
        assert dict(loaded.values) == {"user": "alice"}
        _, attrs = one_cookie(client.post("/login?remember=1"))
        assert attrs["max-age"] == str(30 * 86400)


# -- settings that cannot be honoured -------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"SESSION_COOKIE_SAMESITE": "None"}, "SESSION_COOKIE_SECURE = True"),
        ({"SESSION_COOKIE_PARTITIONED": True}, "SESSION_COOKIE_SECURE = True"),
        ({"SESSION_COOKIE_SAMESITE": "Sometimes"}, "'Lax', 'Strict' or 'None'"),
        ({"SESSION_COOKIE_PATH": "no-slash"}, "path must start with '/'"),
        ({"SESSION_COOKIE_DOMAIN": "bad domain"}, "domain must be a valid host name"),
        ({"SESSION_COOKIE_SECURE": "yes"}, "True or False"),
        ({"PERMANENT_SESSION_LIFETIME": 0}, "at least one second"),
        ({"PERMANENT_SESSION_LIFETIME": "31 days"}, "timedelta or whole seconds"),
        ({"SESSION_COOKIE_NAME": "bad name"}, "invalid character in cookie name"),
    ],
)
def test_a_setting_that_cannot_be_honoured_fails_init_app(
    config: dict[str, object], message: str
) -> None:
    """ConfigurationError at start-up, saying what to change, never a silently dropped setting."""
    app = Flask(__name__)
    app.secret_key = SECRET
    app.config.update(config)
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        SessionspecInterface().init_app(app)


def test_a_lifetime_longer_than_the_store_accepts_is_refused() -> None:
    """A permanent session the store's codecs would reject early: refused, with the fix."""
    app = Flask(__name__)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=90)
    store = MemoryStore(SERVER_KEY)
    with pytest.raises(ConfigurationError, match=r"store\.max_age\(7776000\)"):
        SessionspecInterface(store).init_app(app)
    store.max_age(90 * 86400)
    SessionspecInterface(store).init_app(app)


def test_two_cookie_names_are_refused() -> None:
    """name= and a changed SESSION_COOKIE_NAME that differ: which one? Refused."""
    app = Flask(__name__)
    app.config["SESSION_COOKIE_NAME"] = "sid"
    with pytest.raises(ConfigurationError, match="set only one of them"):
        SessionspecInterface(MemoryStore(SERVER_KEY), name="auth").init_app(app)
    SessionspecInterface(MemoryStore(SERVER_KEY), name="sid").init_app(app)
    with pytest.raises(InvalidCookieNameError):
        SessionspecInterface(name="bad name")


def test_a_bad_setting_is_a_500_on_the_first_request_without_init_app(kind: str) -> None:
    """Set after init_app (or without it): the first request fails, with no cookie."""
    app = make_app(kind)
    app.config["SESSION_COOKIE_SAMESITE"] = "None"
    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        failed = client.post("/login")
    assert failed.status_code == 500 and set_cookies(failed) == []


# -- the typed accessor ---------------------------------------------------------------------


def test_sessionspec_session_is_the_spec_session(kind: str) -> None:
    """sessionspec_session() returns flask.session's spec.Session; a null session is refused."""
    app = make_app(kind)

    @app.post("/regenerate")
    def regenerate() -> str:
        spec: Session = sessionspec_session()
        spec.values["user"] = "bob"
        spec.regenerate_id()
        return spec.name

    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert client.post("/regenerate").text == "session"
        assert client.get("/whoami").text == "bob"
    bare = Flask(__name__)
    bare.session_interface = SessionspecInterface()  # no secret key: Flask's null session
    with (
        bare.test_request_context("/"),
        pytest.raises(ConfigurationError, match=r"set app\.secret_key"),
    ):
        sessionspec_session()


def test_the_flask_page_passes_mypy_strict(tmp_path: Path) -> None:
    """docs/integrations/flask.md type-checks as printed: no ``session.sessionspec`` hole."""
    root = Path(__file__).parents[2]
    page = (root / "docs" / "integrations" / "flask.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert blocks
    source = tmp_path / "flask_page.py"
    source.write_text("\n".join(blocks))
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(source)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
