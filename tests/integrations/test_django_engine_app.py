"""A Django app written for Django's own sessions, on the sessionspec engine, under a real server.

The app uses only Django's idioms: ``SessionMiddleware``,
``AuthenticationMiddleware`` and ``MessageMiddleware``, ``login()`` /
``logout()`` / ``@login_required``, ``messages.success`` with the session
message storage, ``request.session.set_expiry``. The one change is
``SESSION_ENGINE = "reference_impl.integrations.django.session_engine"``
with ``SESSIONSPEC_STORE``. It is served by wsgiref through
``get_wsgi_application()`` and driven by httpx with a cookie jar, once on a
``CookieStore`` and once on each of ``MemoryStore`` and ``FilesystemStore``.
The cookie Django writes is then read by the real gorilla/securecookie (the
Go oracle of tests/interop), and a cookie Go wrote is read by Django.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integrations._servers import require, serve_wsgi, set_cookies

require("django")

from django.conf import settings  # noqa: E402
from django.contrib import admin, messages  # noqa: E402
from django.contrib.auth import authenticate, get_user_model, login, logout  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from reference_impl import CookieStore, FilesystemStore, MemoryStore  # noqa: E402
from reference_impl.serializers import JSONSerializer  # noqa: E402
from spec import Options, Store  # noqa: E402
from spec.http import SimpleRequest  # noqa: E402
from tests.integrations.test_django import configure_django  # noqa: E402
from tests.interop.goracle import GoOracle  # noqa: E402

pytest_plugins = ["tests.interop.conftest"]  # the session-scoped go_oracle fixture

HASH, BLOCK = bytes(range(32)), bytes(range(100, 132))
HERE = __name__
#: Django's default SESSION_COOKIE_AGE (two weeks). Giving the store the same
#: default lifetime keeps default cookies byte-identical to what gorilla writes.
TWO_WEEKS = 1209600
#: The store the app uses in the current test (``SESSIONSPEC_STORE`` names it).
ACTIVE: Store | None = None

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]


# -- the app: Django's idioms only -------------------------------------------------


def visit(request: HttpRequest) -> HttpResponse:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return HttpResponse(str(request.session["visits"]))


def sign_in(request: HttpRequest) -> HttpResponse:
    user = authenticate(request, username="alice", password="correct horse")
    assert user is not None
    before = request.session.session_key
    login(request, user)
    if request.POST.get("remember") == "off":
        request.session.set_expiry(0)
    messages.success(request, "Welcome, alice")
    response = HttpResponseRedirect("/home")
    response["X-Key-Changed"] = str(before != request.session.session_key)
    return response


def home(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "user": request.user.get_username() if request.user.is_authenticated else None,
            "messages": [str(m) for m in messages.get_messages(request)],
            "visits": request.session.get("visits"),
        }
    )


@login_required
def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"secret for {request.user.get_username()}")


def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect("/home")


def boom(request: HttpRequest) -> HttpResponse:
    request.session["visits"] = 1000
    raise RuntimeError("the view fails after changing the session")


URLS = types.ModuleType("sessionspec_test_django_engine_urls")
URLS.urlpatterns = [  # type: ignore[attr-defined]
    path("visit", visit),
    path("login", sign_in),
    path("home", home),
    path("private", private),
    path("logout", sign_out),
    path("boom", boom),
]


# -- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """The app, served by wsgiref, with Django's session middleware stack."""
    from django.core.wsgi import get_wsgi_application

    configure_django()
    user_model = get_user_model()
    if not user_model.objects.filter(username="alice").exists():
        user_model.objects.create_user("alice", password="correct horse")
    if not user_model.objects.filter(username="root").exists():
        user_model.objects.create_superuser("root", password="admin password")
    if not any(str(p.pattern) == "admin/" for p in URLS.urlpatterns):  # type: ignore[attr-defined]
        URLS.urlpatterns.append(path("admin/", admin.site.urls))  # type: ignore[attr-defined]
    with (
        override_settings(
            ROOT_URLCONF=URLS, MIDDLEWARE=MIDDLEWARE, SESSIONSPEC_STORE=f"{HERE}:ACTIVE"
        ),
        serve_wsgi(get_wsgi_application()) as url,
    ):
        yield url


def _store(kind: str, directory: Path) -> Store:
    options = Options(max_age=TWO_WEEKS)
    if kind == "cookie":
        return CookieStore(HASH, BLOCK, options=options, serializer=JSONSerializer())
    if kind == "memory":
        return MemoryStore(HASH, BLOCK, options=options)
    return FilesystemStore(str(directory), HASH, BLOCK, options=options)


@pytest.fixture(params=["cookie", "memory", "filesystem"])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    global ACTIVE
    ACTIVE = _store(request.param, tmp_path)
    yield request.param
    ACTIVE = None


@pytest.fixture
def client(url: str, kind: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


def session_line(response: httpx.Response) -> str:
    (line,) = [c for c in set_cookies(response) if c.startswith("sessionid=")]
    return line


def session_value(line: str) -> str:
    """The cookie value as the browser sends it back, and as Go and Django read it."""
    value = line.split(";")[0].partition("=")[2]
    return value[1:-1] if value.startswith('"') else value


# -- the flows ------------------------------------------------------------------


def test_login_then_a_protected_view_sees_the_user(client: httpx.Client) -> None:
    assert client.get("/private").status_code == 302  # to LOGIN_URL
    assert client.post("/login").status_code == 302
    assert client.get("/private").text == "secret for alice"
    assert client.get("/home").json()["user"] == "alice"


def test_login_cycles_the_key_and_kills_the_old_one(
    client: httpx.Client, url: str, kind: str
) -> None:
    """``login()`` calls ``cycle_key``: a new cookie value, and server-side the old one is dead."""
    first = client.get("/visit")
    old = session_value(session_line(first))
    signed_in = client.post("/login")
    assert signed_in.headers["x-key-changed"] == "True"
    new = session_value(session_line(signed_in))
    assert new != old
    assert client.get("/home").json()["visits"] == 1  # the data moved with the key
    replay = httpx.get(f"{url}/home", cookies={"sessionid": old})
    # A fixed or stolen pre-login cookie never carries the login.
    assert replay.json()["user"] is None
    assert replay.json()["visits"] == (1 if kind == "cookie" else None)


def test_logout_ends_the_session(client: httpx.Client, url: str, kind: str) -> None:
    client.post("/login")
    logged_in = client.cookies["sessionid"]
    out = client.post("/logout")
    assert 'sessionid=""' in session_line(out) and "Max-Age=0" in session_line(out)
    assert client.get("/home").json()["user"] is None
    assert client.get("/private").status_code == 302
    if kind != "cookie":  # the record is gone: the old cookie is worthless
        replay = httpx.get(f"{url}/private", cookies={"sessionid": logged_in})
        assert replay.status_code == 302


def test_messages_survive_the_redirect_once(client: httpx.Client) -> None:
    client.post("/login")
    assert client.get("/home").json()["messages"] == ["Welcome, alice"]
    again = client.get("/home")
    assert again.json()["messages"] == []


def test_set_expiry_0_is_a_browser_session_cookie_across_later_writes(
    client: httpx.Client, url: str
) -> None:
    """ "Remember me: off": no Max-Age/Expires, at login and on every later write."""
    signed_in = client.post("/login", data={"remember": "off"})
    for line in (session_line(signed_in), session_line(client.get("/visit"))):
        assert "Max-Age" not in line and "expires" not in line.lower(), line
    default = httpx.post(f"{url}/login")
    assert f"Max-Age={TWO_WEEKS}" in session_line(default)


def test_a_5xx_does_not_save(client: httpx.Client) -> None:
    client.get("/visit")
    failed = client.post("/boom")
    assert failed.status_code == 500
    assert set_cookies(failed) == []
    assert client.get("/home").json()["visits"] == 1


def test_the_cookie_is_django_s_line_with_the_store_s_value(client: httpx.Client) -> None:
    """Django writes the attributes; the value is the store's gorilla cookie (quoted by Django)."""
    line = session_line(client.get("/visit"))
    assert re.fullmatch(
        r'sessionid="?[A-Za-z0-9_=-]+"?; expires=[^;]+; HttpOnly; Max-Age=1209600; Path=/; '
        r"SameSite=Lax",
        line,
    ), line
    assert ACTIVE is not None
    loaded = ACTIVE.new(SimpleRequest(f"sessionid={session_value(line)}"), "sessionid")
    assert loaded.values == {"visits": 1}


# -- Go reads Django's cookie, Django reads Go's ----------------------------------


def _go_keys() -> list[dict[str, str]]:
    return [{"hash_key_hex": HASH.hex(), "block_key_hex": BLOCK.hex()}]


@pytest.mark.parametrize("kind", ["cookie"], indirect=True)
def test_go_reads_the_login_django_wrote(client: httpx.Client, go_oracle: GoOracle) -> None:
    """gorilla/securecookie (JSON) decodes the session cookie Django set at login."""
    from django.contrib.auth import get_user_model

    signed_in = client.post("/login")
    answer = go_oracle.call(
        {
            "op": "decode",
            "key_pairs": _go_keys(),
            "name": "sessionid",
            "serializer": "json",
            "cookie": session_value(session_line(signed_in)),
        }
    )
    assert answer["ok"], answer
    alice = get_user_model().objects.get(username="alice")
    values = answer["value"]
    assert values["_auth_user_id"] == str(alice.pk)
    assert values["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"
    assert values["_auth_user_hash"] == alice.get_session_auth_hash()
    assert json.loads(values["_messages"])  # contrib.messages' own encoding, a string


@pytest.mark.parametrize("kind", ["cookie"], indirect=True)
def test_django_reads_a_session_go_wrote(client: httpx.Client, go_oracle: GoOracle) -> None:
    answer = go_oracle.call(
        {
            "op": "encode",
            "key_pairs": _go_keys(),
            "name": "sessionid",
            "serializer": "json",
            "value": {"visits": 41},
        }
    )
    assert answer["ok"], answer
    client.cookies.set("sessionid", answer["cookie"])
    assert client.get("/visit").text == "42"


def test_the_admin_logs_in_with_its_csrf_token_in_the_session(
    client: httpx.Client, url: str
) -> None:
    """The admin's own login form, with ``CSRF_USE_SESSIONS``: the token lives in the session."""
    with override_settings(CSRF_USE_SESSIONS=True):
        form = client.get("/admin/login/?next=/admin/")
        assert form.status_code == 200
        assert "csrftoken" not in client.cookies  # the token is in the session
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None
        signed_in = client.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": "root",
                "password": "admin password",
                "next": "/admin/",
            },
            headers={"Referer": f"{url}/admin/login/"},
        )
        assert signed_in.status_code == 302, signed_in.text[:500]
        assert signed_in.headers["location"] == "/admin/"
        index = client.get("/admin/")
        assert index.status_code == 200 and "Site administration" in index.text
        assert client.get("/home").json()["user"] == "root"


def test_settings_stay_django_s(url: str) -> None:
    """The engine is selected by Django's own setting, nothing else."""
    assert settings.SESSION_ENGINE == "reference_impl.integrations.django.session_engine"
