"""Django with SessionspecMiddleware, under wsgiref with a real client.

Django is configured with ``settings.configure()`` (no project files) and
served through ``get_wsgi_application()``. Clauses: only modified sessions
are saved (S-4.7, S-5.6), the cookie line is exactly ``Cookie.render()``'s
(S-3.1), two stores per request (S-9.12), flashes once (S-9.8), an unsavable
session (S-9.11).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import types
from collections.abc import Iterator

import httpx
import pytest

from tests.integrations._servers import require, serve_wsgi, set_cookies

require("django")

from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from reference_impl import CookieStore, MemoryStore  # noqa: E402
from reference_impl.integrations.django import sessions_of  # noqa: E402
from spec import Options  # noqa: E402
from spec.errors import ConfigurationError  # noqa: E402

HASH, BLOCK = b"h" * 32, b"b" * 32
COOKIES = CookieStore(HASH, BLOCK, options=Options(secure=True, partitioned=True))
CART = MemoryStore(HASH)


def login(request: HttpRequest) -> HttpResponse:
    session = sessions_of(request).get(COOKIES, "auth")
    session.values["user"] = "alice"
    session.add_flash("Welcome, alice")
    return HttpResponse("ok")


def whoami(request: HttpRequest) -> HttpResponse:
    session = request.sessionspec.get(COOKIES, "auth")  # type: ignore[attr-defined]
    return HttpResponse(str(session.values.get("user", "anonymous")))


def flashes(request: HttpRequest) -> JsonResponse:
    return JsonResponse(sessions_of(request).get(COOKIES, "auth").flashes(), safe=False)


def static(request: HttpRequest) -> HttpResponse:
    return HttpResponse("no session")


def both(request: HttpRequest) -> JsonResponse:
    sessions = sessions_of(request)
    auth, cart = sessions.get(COOKIES, "auth"), sessions.get(CART, "cart")
    if request.method == "POST":
        auth.values["n"] = 1
        cart.values["items"] = ["apple"]
    return JsonResponse([auth.values.get("n"), cart.values.get("items")], safe=False)


def too_long(request: HttpRequest) -> HttpResponse:
    sessions_of(request).get(CART, "cart").values["items"] = ["pear"]
    sessions_of(request).get(COOKIES, "auth").values["blob"] = "x" * 5000
    return HttpResponse("unreachable")


def half_done(request: HttpRequest) -> HttpResponse:
    sessions_of(request).get(CART, "cart").values["items"] = ["half", "done"]
    sessions_of(request).get(COOKIES, "auth").values["n"] = 2
    raise RuntimeError("the view fails after changing the sessions")


URLS = types.ModuleType("sessionspec_test_django_urls")
URLS.urlpatterns = [  # type: ignore[attr-defined]
    path("login", login),
    path("whoami", whoami),
    path("flashes", flashes),
    path("static", static),
    path("both", both),
    path("too-long", too_long),
    path("half-done", half_done),
]


def configure_django() -> None:
    """Configure Django once per test process, in code (no project files).

    Every ``test_django*.py`` module calls this: Django's settings can be
    configured only once per process, so they hold what all of them need
    (``contrib.admin``, ``contrib.auth``, ``contrib.messages`` and
    ``contrib.sessions`` with templates, an
    SQLite database in a temporary directory, migrated) and each module
    switches ``MIDDLEWARE``, ``ROOT_URLCONF`` and ``SESSIONSPEC_STORE``
    with ``override_settings`` while it serves its app.
    """
    import django
    from django.core.management import call_command

    if settings.configured:
        return
    directory = tempfile.mkdtemp(prefix="sessionspec-django-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django's own secret, not used by sessionspec",
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=URLS,
        MIDDLEWARE=["reference_impl.integrations.django.SessionspecMiddleware"],
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.messages",
            "django.contrib.sessions",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(directory, "db.sqlite3"),
            }
        },
        USE_TZ=True,
        SESSION_ENGINE="reference_impl.integrations.django.session_engine",
        MESSAGE_STORAGE="django.contrib.messages.storage.session.SessionStorage",
        # Fast hashing for test users only; never in production.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        LOGGING_CONFIG=None,  # leave the test run's logging alone
    )
    django.setup()
    call_command("migrate", verbosity=0)


@pytest.fixture(scope="module")
def configured() -> Iterator[None]:
    """Django configured, with this module's URLs and middleware."""
    from django.test.utils import override_settings

    configure_django()
    with override_settings(
        ROOT_URLCONF=URLS, MIDDLEWARE=["reference_impl.integrations.django.SessionspecMiddleware"]
    ):
        yield


@pytest.fixture(scope="module")
def url(configured: None) -> Iterator[str]:
    from django.core.wsgi import get_wsgi_application

    with serve_wsgi(get_wsgi_application()) as url:
        yield url


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


def test_login_sets_the_exact_rendered_cookie(client: httpx.Client) -> None:
    """The Set-Cookie line is Cookie.render()'s, Partitioned included (S-3.1, S-5.6)."""
    login = client.post("/login")
    assert login.status_code == 200
    (line,) = set_cookies(login)
    assert re.fullmatch(
        r"auth=[A-Za-z0-9_=-]+; Path=/; Expires=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT; "
        r"Max-Age=2592000; HttpOnly; Secure; SameSite=Lax; Partitioned",
        line,
    ), line
    assert login.headers["vary"] == "Cookie"


def test_later_requests_see_the_session_and_reads_send_no_cookie(url: str) -> None:
    """A read-only request: Vary: Cookie, no Set-Cookie (S-4.7)."""
    # The cookie is Secure, so the jar would not send it over http: send it by hand.
    login = httpx.post(f"{url}/login")
    cookie = set_cookies(login)[0].split(";")[0]
    read = httpx.get(f"{url}/whoami", headers={"Cookie": cookie})
    assert read.text == "alice"
    assert set_cookies(read) == []
    assert read.headers["vary"] == "Cookie"
    untouched = httpx.get(f"{url}/static", headers={"Cookie": cookie})
    assert set_cookies(untouched) == [] and "vary" not in untouched.headers


def test_a_flash_shows_once(url: str) -> None:
    """Reading a flash removes it, and the removal is saved (S-9.8)."""
    cookie = set_cookies(httpx.post(f"{url}/login"))[0].split(";")[0]
    first = httpx.get(f"{url}/flashes", headers={"Cookie": cookie})
    assert first.json() == ["Welcome, alice"]
    cookie = set_cookies(first)[0].split(";")[0]
    assert httpx.get(f"{url}/flashes", headers={"Cookie": cookie}).json() == []


def test_two_stores_are_saved_in_one_response(client: httpx.Client) -> None:
    """Sessions of two stores in one request are both saved (S-9.12)."""
    both_ = client.post("/both")
    names = sorted(line.partition("=")[0] for line in set_cookies(both_))
    assert names == ["auth", "cart"]
    cart_cookie = next(c for c in set_cookies(both_) if c.startswith("cart="))
    assert "Secure" not in cart_cookie  # each store keeps its own options


def test_a_save_error_is_a_500_with_no_cookie(client: httpx.Client) -> None:
    """An unsavable session (S-9.11): Django's 500 page, no Set-Cookie at all."""
    failed = client.post("/too-long")
    assert failed.status_code == 500
    assert set_cookies(failed) == []


def test_sessions_of_without_the_middleware_is_a_configuration_error(configured: None) -> None:
    """Forgetting the middleware fails loudly instead of dropping changes."""
    with pytest.raises(ConfigurationError, match="SessionspecMiddleware"):
        sessions_of(HttpRequest())


def test_a_5xx_saves_nothing(url: str) -> None:
    """A view that changes its sessions and then raises: 500, no Set-Cookie, nothing stored.

    Django turns the exception into its 500 response before the middleware
    sees it; as with Django's own SessionMiddleware, a 5xx skips the save,
    so the cart record keeps its previous items (the old code updated it).
    """
    created = httpx.post(f"{url}/both")
    cookies = "; ".join(line.split(";")[0] for line in set_cookies(created))
    failed = httpx.post(f"{url}/half-done", headers={"Cookie": cookies})
    assert failed.status_code == 500
    assert set_cookies(failed) == []
    assert failed.headers["vary"] == "Cookie"  # the sessions were read
    after = httpx.get(f"{url}/both", headers={"Cookie": cookies})
    assert after.json() == [1, ["apple"]]
