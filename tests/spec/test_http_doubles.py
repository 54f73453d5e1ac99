"""The in-memory HTTP doubles (docs/spec.md S-6)."""

from __future__ import annotations

from spec import Cookie, Options
from spec.http import CookieJar, RecordingResponse, SimpleRequest


def test_simple_request_reads_every_value_in_order() -> None:
    """S-6.1: SimpleRequest exposes all values of a name, header order."""
    req = SimpleRequest('s=1; t=2; s="3"')
    assert req.cookie_values("s") == ["1", "3"]
    assert req.cookie_values("none") == []
    req.state["k"] = 1
    assert dict(req.state) == {"k": 1}


def test_recording_response_renders_lines() -> None:
    """S-6.2: set_cookie_headers gives the Set-Cookie lines in order."""
    resp = RecordingResponse()
    resp.set_cookie(Cookie(name="a", value="1"))
    resp.set_cookie(Cookie.for_session("b", "2", Options(max_age=0), 0))
    assert resp.set_cookie_headers() == ["a=1", "b=2; Path=/; HttpOnly; SameSite=Lax"]


def test_cookie_jar_applies_sets_and_deletions() -> None:
    """S-6.3: the jar keeps, replaces and deletes like a browser."""
    jar = CookieJar()
    resp = RecordingResponse()
    resp.set_cookie(Cookie.for_session("a", "1", Options(), 0))
    resp.set_cookie(Cookie.for_session("b", "2", Options(max_age=0), 0))
    jar.update(resp)
    assert jar.request().cookie_values("a") == ["1"]
    jar.end_browser_session()
    assert jar.get("b") is None and jar.get("a") is not None
    resp = RecordingResponse()
    resp.set_cookie(Cookie.for_session("a", "", Options(max_age=-1), 0))
    jar.update(resp)
    assert jar.request().cookie_header == ""
