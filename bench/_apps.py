"""The apps bench/run.py compares: each framework's own session beside sessionspec's.

Every app does the same thing per request: read the session (the 6-key
session of bench/codec.py, sent as a cookie), change one key, answer "ok".
So both sides decode one cookie, encode one cookie and send one
``Set-Cookie``. Importable by uvicorn (``--app-dir bench``, ``_apps:...``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SESSION: dict[str, Any] = {
    "user_id": 42,
    "username": "alice",
    "csrf": "k3JfQ9xVb2LmT8wZr4YhNc6PdA1sE7Gu",
    "roles": ["admin", "editor"],
    "cart": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}],
    "_flash": ["Welcome back!"],
}
HASH_KEY = bytes(range(32))
SECRET = "bench-secret-key-not-for-production"
MAX_AGE = 14 * 24 * 3600


def starlette_app(ours: bool) -> Any:
    """Starlette with its SessionMiddleware, or sessionspec's over a CookieStore."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def seed(request: Request) -> PlainTextResponse:
        request.session.update(SESSION)
        return PlainTextResponse("ok")

    async def hit(request: Request) -> PlainTextResponse:
        request.session["user_id"] = request.session.get("user_id", 0) + 1
        return PlainTextResponse("ok")

    if ours:
        from reference_impl import CookieStore
        from reference_impl.integrations.starlette import SessionMiddleware
        from spec import Options

        store = CookieStore(HASH_KEY, options=Options(max_age=MAX_AGE))
        middleware = Middleware(SessionMiddleware, store=store)
    else:
        from starlette.middleware.sessions import SessionMiddleware as Native

        middleware = Middleware(Native, secret_key=SECRET)
    routes = [Route("/seed", seed), Route("/", hit)]
    return Starlette(routes=routes, middleware=[middleware])


native_starlette = starlette_app(False)
ours_starlette = starlette_app(True)


def flask_app(ours: bool) -> Any:
    """Flask with its own cookie session, or sessionspec's interface (a CookieStore)."""
    from flask import Flask, session

    app = Flask(f"bench_{'ours' if ours else 'native'}")
    app.secret_key = SECRET
    if ours:
        from reference_impl.integrations.flask import SessionspecInterface

        SessionspecInterface().init_app(app)

    @app.route("/seed")
    def seed() -> str:
        session.update(SESSION)
        return "ok"

    @app.route("/")
    def hit() -> str:
        session["user_id"] = session.get("user_id", 0) + 1
        return "ok"

    return app


#: The store sessionspec's Django engine uses (SESSIONSPEC_STORE = "_apps:django_store").
django_store: Any = None


def django_apps() -> tuple[Any, Any]:
    """Two Django WSGI handlers: signed_cookies (Django's cookie session) and sessionspec's."""
    global django_store
    import django
    from django.conf import settings

    from reference_impl import CookieStore
    from spec import Options

    django_store = CookieStore(HASH_KEY, options=Options(max_age=1209600))
    if not settings.configured:
        settings.configure(
            SECRET_KEY=SECRET,
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["*"],
            MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
            INSTALLED_APPS=["django.contrib.sessions"],
            SESSIONSPEC_STORE=f"{__name__}:django_store",
            SESSION_SERIALIZER="django.contrib.sessions.serializers.JSONSerializer",
            USE_TZ=True,
        )
        django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    native = WSGIHandler()
    settings.SESSION_ENGINE = "reference_impl.integrations.django.session_engine"
    ours = WSGIHandler()
    return native, ours


def _django_seed(request: Any) -> Any:
    from django.http import HttpResponse

    request.session.update(SESSION)
    return HttpResponse("ok")


def _django_hit(request: Any) -> Any:
    from django.http import HttpResponse

    request.session["user_id"] = request.session.get("user_id", 0) + 1
    return HttpResponse("ok")


def store_request(store: Any) -> Callable[[], None]:
    """One request against a sync ``store``: load the session from its cookie, change a key, save.

    The session (SESSION) is saved once first, so every call loads a real one.
    """
    from spec.http import RecordingResponse, SimpleRequest

    req, resp = SimpleRequest(), RecordingResponse()
    session = store.new(req, "session")
    session.values.update(SESSION)
    store.save(req, resp, session)
    header = f"session={resp.cookies[0].value}"

    def one() -> None:
        r, w = SimpleRequest(header), RecordingResponse()
        s = store.new(r, "session")
        s["user_id"] = 43
        store.save(r, w, s)

    return one


def raw_sqlite_request(
    url: str, codec: Any, record: str
) -> tuple[Callable[[], None], Callable[[], None]]:
    """The SQLite reference for SQLStore: one Core SELECT and UPDATE of an encoded record.

    An AUTOCOMMIT engine on ``url`` with a one-row table holding ``record``;
    each call reads the row, decodes it with ``codec``, encodes it again and
    writes it back, as an application with no session library would.
    Returns the request and the engine's ``dispose``.
    """
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    meta = sqlalchemy.MetaData()
    table = sqlalchemy.Table(
        "raw",
        meta,
        sqlalchemy.Column("id", sqlalchemy.String, primary_key=True),
        sqlalchemy.Column("data", sqlalchemy.Text),
    )
    meta.create_all(engine)
    with engine.connect() as conn:
        conn.execute(table.insert().values(id="k", data=record))
    select = sqlalchemy.select(table.c.data).where(table.c.id == "k")
    update = table.update().where(table.c.id == "k")

    def one() -> None:
        with engine.connect() as conn:
            value = codec.decode("session", conn.execute(select).scalar_one())
            conn.execute(update.values(data=codec.encode("session", value)))

    return one, engine.dispose


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":  # Django's ROOT_URLCONF, built only when Django asks
        from django.urls import path

        return [path("seed", _django_seed), path("", _django_hit)]
    raise AttributeError(name)
