"""The demo application: sessionspec in a small Starlette app.

Three sessions, from two stores, on every page:

``demo_auth`` (:class:`~reference_impl.FilesystemStore`)
    Who is signed in, whether to remember them, and the CSRF token. Only a
    signed random ID travels in the cookie, so signing out really ends the
    session: a copy of the old cookie no longer signs anyone in.
``demo_ui`` (:class:`~reference_impl.CookieStore`)
    A visit counter and the "signed out" flash: small, harmless data that
    can live in the (signed and encrypted) cookie itself.
``demo_note`` (:class:`~reference_impl.CookieStore`)
    A free-text note, to show the 4096-byte cookie limit: a note too long
    for a cookie is refused with :class:`~spec.errors.ValueTooLongError`
    before anything is sent, instead of being silently dropped by the browser.

:class:`~reference_impl.integrations.starlette.SessionMiddleware` saves every
session a handler modified when the response starts; handlers only change
values and options.
"""

from __future__ import annotations

import hmac
import html
import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from examples.demo.config import DemoConfig
from reference_impl import CookieStore, FilesystemStore
from reference_impl.integrations.starlette import SessionMiddleware, get_session, spec_request
from spec import Options, Session
from spec.errors import ValueTooLongError
from spec.http import RecordingResponse

__all__ = ["AUTH_COOKIE", "NOTE_COOKIE", "UI_COOKIE", "DemoApp", "build_app"]

AUTH_COOKIE = "demo_auth"
UI_COOKIE = "demo_ui"
NOTE_COOKIE = "demo_note"

#: The form field (and session value) carrying the CSRF token.
CSRF_FIELD = "csrf_token"


class DemoApp:
    """The stores and the request handlers of the demo (see the module docstring)."""

    def __init__(self, config: DemoConfig) -> None:
        options = Options(secure=config.secure_cookies)
        self.config = config
        # Both stores take the same key pairs: (new_hash, new_block, old_hash, old_block...).
        self.auth_store = FilesystemStore(config.session_dir, *config.key_pairs, options=options)
        self.cookie_store = CookieStore(*config.key_pairs, options=options)
        # The store's max age is the longest a cookie is ever accepted: the
        # "remember me" lifetime. Sessions without it shorten only what the
        # browser keeps (options.max_age=0: a browser-session cookie).
        self.auth_store.max_age(config.remember_seconds)
        self.cookie_store.max_age(config.remember_seconds)

    # -- sessions ---------------------------------------------------------------

    async def sessions(self, request: Request) -> tuple[Session, Session, Session]:
        """Load this request's (auth, ui, note) sessions; each is loaded once per request."""
        auth = await get_session(request, self.auth_store, AUTH_COOKIE)
        ui = await get_session(request, self.cookie_store, UI_COOKIE)
        note = await get_session(request, self.cookie_store, NOTE_COOKIE)
        return auth, ui, note

    @staticmethod
    def csrf_token(auth: Session) -> str:
        """The session's CSRF token, created (and so saved) on first use."""
        token = auth.values.get(CSRF_FIELD)
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            auth.values[CSRF_FIELD] = token
        return token

    @staticmethod
    def csrf_ok(auth: Session, form: Mapping[str, str]) -> bool:
        """Whether the form carries the session's CSRF token (compared in constant time)."""
        expected = auth.values.get(CSRF_FIELD)
        sent = form.get(CSRF_FIELD, "")
        return isinstance(expected, str) and hmac.compare_digest(expected, sent)

    def apply_lifetime(self, auth: Session) -> None:
        """Give a modified auth session the cookie lifetime its "remember me" choice asks for.

        A remembered login gets the store's max age (a persistent cookie,
        ``Max-Age``/``Expires``); any other session ``max_age=0``, a cookie
        the browser drops when it closes. The session keeps its own
        ``max_age`` from then on (S-9.21), so later writes (reading the
        welcome flash) send the same kind of cookie; both ways are set
        explicitly because an anonymous session, already stored with
        ``max_age=0``, may become a remembered login. A session being
        deleted (``max_age < 0``) is left alone.
        """
        if not auth.modified or auth.options.max_age < 0:
            return
        wanted = self.auth_store.options.max_age if auth.values.get("remember") else 0
        if auth.options.max_age != wanted:
            auth.options = auth.options.replace(max_age=wanted)

    # -- handlers -----------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        """The only page: status, flash messages, the forms, the counter and the note."""
        auth, ui, note = await self.sessions(request)
        visits = ui.values.get("visits", 0)
        ui.values["visits"] = (visits if isinstance(visits, int) else 0) + 1
        messages = [*auth.flashes(), *ui.flashes()]  # shown once: removed and saved
        page = self.render(request, auth, ui, note, messages)
        self.apply_lifetime(auth)
        return page

    async def login(self, request: Request) -> Response:
        """Sign in (no password in this demo), with or without "remember me"."""
        auth, _, _ = await self.sessions(request)
        form = await read_form(request)
        if not self.csrf_ok(auth, form):
            return forbidden()
        user = form.get("username", "").strip()[:64]
        if not user:
            auth.add_flash("Please enter a user name.")
        else:
            # Privileges change: new session ID (the old file is deleted), new CSRF token.
            auth.regenerate_id()
            auth.values["user"] = user
            auth.values["remember"] = form.get("remember") == "on"
            auth.values[CSRF_FIELD] = secrets.token_urlsafe(32)
            auth.add_flash(f"Welcome, {user}!")
        self.apply_lifetime(auth)
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        """Sign out: delete the server-side session and tell the browser to drop its cookie."""
        auth, ui, _ = await self.sessions(request)
        form = await read_form(request)
        if not self.csrf_ok(auth, form):
            return forbidden()
        auth.options = auth.options.replace(max_age=-1)
        ui.add_flash("You have been signed out.")  # auth is gone; the flash lives in ui
        return RedirectResponse("/", status_code=303)

    async def save_note(self, request: Request) -> Response:
        """Keep a note in its own cookie, or refuse it if the cookie would be too long.

        The note session is saved here rather than by the middleware, so that
        :class:`ValueTooLongError` becomes a friendly page instead of a 500.
        """
        auth, ui, note = await self.sessions(request)
        form = await read_form(request)
        if not self.csrf_ok(auth, form):
            return forbidden()
        previous = dict(note.values)
        note.values["note"] = form.get("note", "")
        written = RecordingResponse()
        try:
            note.save(spec_request(request), written)
        except ValueTooLongError as exc:
            # Nothing was sent. Put the session back as the browser still has it,
            # so the middleware does not try (and fail) to save it again.
            note.values = previous
            note.mark_unmodified()
            error = (
                f"Refused: the note cookie would be {exc.length} bytes, over the "
                f"{exc.limit}-byte limit browsers enforce. Nothing was sent; your "
                "previous note is kept."
            )
            return self.render(request, auth, ui, note, [], error=error, status_code=413)
        response = RedirectResponse("/", status_code=303)
        for line in written.set_cookie_headers():
            response.headers.append("set-cookie", line)
            size = len(line.split(";", 1)[0])
            ui.add_flash(f"Note saved: its cookie is {size} bytes.")
        return response

    # -- HTML -----------------------------------------------------------------------

    def render(
        self,
        request: Request,
        auth: Session,
        ui: Session,
        note: Session,
        messages: Sequence[object],
        *,
        error: str = "",
        status_code: int = 200,
    ) -> HTMLResponse:
        """The page, as plain HTML (no template engine needed for a demo)."""
        token = html.escape(self.csrf_token(auth))
        hidden = f'<input type="hidden" name="{CSRF_FIELD}" value="{token}">'
        user = auth.values.get("user")
        if isinstance(user, str):
            kept = (
                f"remembered for {self.config.remember_seconds // 86400} days"
                if auth.values.get("remember")
                else "until you close the browser"
            )
            status = f"Signed in as <b>{html.escape(user)}</b>, {kept}."
            account = f"""
<form method="post" action="/logout">{hidden}<button id="logout">Sign out</button></form>"""
        else:
            status = "Not signed in."
            account = f"""
<form method="post" action="/login">{hidden}
  <label>User name <input id="username" name="username" required></label>
  <label><input id="remember" type="checkbox" name="remember"> Remember me</label>
  <button id="login">Sign in</button>
</form>"""
        flash_items = "".join(f"<li>{html.escape(str(m))}</li>" for m in messages)
        current = note.values.get("note")
        note_text = current if isinstance(current, str) else ""
        raw_note = spec_request(request).cookie_values(NOTE_COOKIE)
        note_size = len(NOTE_COOKIE) + 1 + len(raw_note[0]) if raw_note else 0
        error_html = f'<p id="error" role="alert">{html.escape(error)}</p>' if error else ""
        body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sessionspec demo</title></head>
<body>
<h1>sessionspec demo</h1>
<ul id="flashes">{flash_items}</ul>
{error_html}
<p id="status">{status}</p>
{account}
<p id="visits">Visits (kept in the {UI_COOKIE} cookie): {ui.values.get("visits", 0)!s}</p>
<h2>Note</h2>
<p id="note-info">{len(note_text)} characters, cookie {note_size} bytes of 4096.</p>
<form method="post" action="/note">{hidden}
  <textarea id="note" name="note" rows="4" cols="60">{html.escape(note_text)}</textarea>
  <button id="save-note">Save note</button>
</form>
</body></html>"""
        return HTMLResponse(body, status_code=status_code)


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST, first value per field (no multipart dependency)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def forbidden() -> Response:
    """The answer to a POST without the session's CSRF token."""
    return HTMLResponse("<h1>403 Forbidden</h1><p>CSRF check failed.</p>", status_code=403)


def build_app(config: DemoConfig) -> Starlette:
    """The Starlette application for ``config``."""
    demo = DemoApp(config)
    return Starlette(
        routes=[
            Route("/", demo.index),
            Route("/login", demo.login, methods=["POST"]),
            Route("/logout", demo.logout, methods=["POST"]),
            Route("/note", demo.save_note, methods=["POST"]),
        ],
        middleware=[Middleware(SessionMiddleware)],
    )
