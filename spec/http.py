"""In-memory stand-ins for an HTTP request, a response and a browser's cookie jar.

They play the role Go's ``httptest`` plays for gorilla: stores are tested
(and the conformance suite runs) without a web framework or a server.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from spec.cookie import Cookie, cookie_values

__all__ = ["CookieJar", "RecordingResponse", "SimpleRequest"]


class SimpleRequest:
    """A request that carries only a ``Cookie`` header and per-request state."""

    def __init__(self, cookie_header: str = "") -> None:
        self.cookie_header = cookie_header
        self._state: dict[str, object] = {}

    def cookie_values(self, name: str) -> list[str]:
        """Every value of cookie ``name``, in header order."""
        return cookie_values(self.cookie_header, name)

    @property
    def state(self) -> MutableMapping[str, object]:
        """Per-request storage (the registry lives here)."""
        return self._state


class RecordingResponse:
    """A response that records the cookies set on it."""

    def __init__(self) -> None:
        self.cookies: list[Cookie] = []

    def set_cookie(self, cookie: Cookie) -> None:
        """Record ``cookie``."""
        self.cookies.append(cookie)

    def set_cookie_headers(self) -> list[str]:
        """The ``Set-Cookie`` header values written, in order."""
        return [cookie.render() for cookie in self.cookies]


class CookieJar:
    """A minimal browser: keeps the cookies responses set and sends them back.

    It honours deletion (``Max-Age`` < 0) and, given a clock, expiry of
    persistent cookies; it ignores path and domain scoping (every cookie is
    sent on every request), which is all store tests need.
    """

    def __init__(self) -> None:
        self._cookies: dict[str, Cookie] = {}

    def update(self, response: RecordingResponse) -> None:
        """Apply every ``Set-Cookie`` of ``response``."""
        for cookie in response.cookies:
            if cookie.max_age < 0:
                self._cookies.pop(cookie.name, None)
            else:
                self._cookies[cookie.name] = cookie

    def get(self, name: str) -> Cookie | None:
        """The cookie ``name`` the jar holds, if any."""
        return self._cookies.get(name)

    def end_browser_session(self) -> None:
        """Drop every cookie without ``Max-Age``, as closing the browser does."""
        self._cookies = {n: c for n, c in self._cookies.items() if c.max_age > 0}

    def request(self) -> SimpleRequest:
        """A new request carrying the jar's cookies."""
        header = "; ".join(f"{c.name}={c.value}" for c in self._cookies.values())
        return SimpleRequest(header)
