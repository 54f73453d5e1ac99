"""A scripted browser: a cookie jar driving request/response cycles against a store."""

from __future__ import annotations

from spec import Session, SessionValue, Store
from spec.http import CookieJar, RecordingResponse, SimpleRequest

__all__ = ["Browser"]


class Browser:
    """One browser profile. Every request carries the cookies earlier responses set."""

    def __init__(self) -> None:
        self.jar = CookieJar()
        self.last = RecordingResponse()

    def request(self) -> SimpleRequest:
        """A new request with the jar's cookies."""
        return self.jar.request()

    def receive(self, response: RecordingResponse) -> RecordingResponse:
        """Apply a response's cookies to the jar."""
        self.jar.update(response)
        self.last = response
        return response

    def cookie(self, name: str = "app") -> str:
        """The current value of cookie ``name`` (``AssertionError`` if absent)."""
        cookie = self.jar.get(name)
        assert cookie is not None, f"the browser holds no cookie {name!r}"
        return cookie.value

    def visit(self, store: Store, name: str = "app", **values: SessionValue) -> Session:
        """Load session ``name``, set ``values``, save, keep the cookie; return the session."""
        request, response = self.request(), RecordingResponse()
        session = store.get(request, name)
        session.values.update(values)
        session.save(request, response)
        self.receive(response)
        return session

    def load(self, store: Store, name: str = "app") -> Session:
        """Load session ``name`` without saving."""
        return store.get(self.request(), name)
