"""Set-Cookie rendering and Cookie-header parsing (docs/spec.md S-3)."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spec import Cookie, Options, SameSite, cookie_values, parse_cookie_header
from spec.errors import ConfigurationError
from tests._vectors import load_vectors

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

NOW = 1_700_000_000


def render(options: Options, value: str = "v", now: float = NOW) -> str:
    return Cookie.for_session("s", value, options, now).render()


def test_attribute_order_and_format() -> None:
    """S-3.1: attributes in Go's order, Expires as IMF-fixdate GMT."""
    o = Options(
        path="/app",
        domain=".example.com",
        max_age=7200,
        secure=True,
        http_only=True,
        same_site=SameSite.NONE,
        partitioned=True,
    )
    assert render(o) == (
        "s=v; Path=/app; Domain=example.com; Expires=Wed, 15 Nov 2023 00:13:20 GMT; "
        "Max-Age=7200; HttpOnly; Secure; SameSite=None; Partitioned"
    )


def test_positive_max_age_sets_expires_from_the_clock() -> None:
    """S-3.2: Max-Age > 0 writes Max-Age and Expires = now + max_age (fraction dropped)."""
    line = render(Options(max_age=60), now=NOW + 0.9)
    assert "Expires=Tue, 14 Nov 2023 22:14:20 GMT; Max-Age=60" in line


def test_negative_max_age_is_the_deletion_form() -> None:
    """S-3.3: deletion is Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0."""
    assert render(Options(max_age=-1)) == (
        "s=v; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; SameSite=Lax"
    )


def test_zero_max_age_is_a_browser_session_cookie() -> None:
    """S-3.4: max_age == 0 writes neither Expires nor Max-Age."""
    assert render(Options(max_age=0)) == "s=v; Path=/; HttpOnly; SameSite=Lax"


def test_default_samesite_writes_no_attribute() -> None:
    """S-3.1: SameSite=default writes nothing, as current Go does."""
    assert "SameSite" not in render(Options(same_site=SameSite.DEFAULT))


def test_cookie_name_must_be_a_token() -> None:
    """S-3.5: Go silently drops a cookie with a bad name; we refuse to build it."""
    with pytest.raises(ConfigurationError, match="invalid character in cookie name"):
        Cookie(name="bad name", value="v")


def test_value_sanitizing_matches_go() -> None:
    """S-3.6: bytes Go drops are dropped; a space or comma makes Go quote the value."""
    assert Cookie(name="a", value='x;y"z\\\r\n').render() == "a=xyz"
    assert Cookie(name="a", value="x y").render() == 'a="x y"'
    assert Cookie(name="a", value="x,y").render() == 'a="x,y"'


# --- Go's own lines ---------------------------------------------------------

_GO_MODES = {
    "": SameSite.DEFAULT,
    "default": SameSite.DEFAULT,
    "lax": SameSite.LAX,
    "strict": SameSite.STRICT,
    "none": SameSite.NONE,
}


def _go_options(raw: dict[str, Any] | None) -> Options:
    """The Options Go's sessions 1.2.1 CookieStore used for a vector's request."""
    raw = raw or {}
    return Options(
        path=raw.get("path", "/"),
        domain=raw.get("domain", ""),
        max_age=raw.get("max_age", 2592000),
        secure=raw.get("secure", False),
        http_only=raw.get("http_only", False),
        same_site=_GO_MODES[raw.get("same_site", "")],
    )


def _mask(line: str) -> str:
    return re.sub(r"Expires=(?!Thu, 01 Jan 1970)[^;]+", "Expires=<EXPIRES>", line)


def _go_cases() -> list[tuple[str, dict[str, Any] | None, str]]:
    cases = []
    for vector in load_vectors("session"):
        expect = vector["expect"]
        if "set_cookie_masked_by_mode" in expect:
            for call in vector["calls"]:
                opts = call["request"]["options"]
                mode = opts["same_site"] or "unset"
                (line,) = expect["set_cookie_masked_by_mode"][mode]
                cases.append((f"{vector['id']}-{mode}", opts, line))
        else:
            for line in expect["set_cookie_masked"]:
                cases.append((vector["id"], vector["calls"][0]["request"].get("options"), line))
    return cases


GO_CASES = _go_cases()


def test_every_go_session_vector_is_covered() -> None:
    """The vector set has the lines this test relies on (guards against an empty parametrize)."""
    assert len(GO_CASES) >= 11


@pytest.mark.parametrize(("vid", "raw", "line"), GO_CASES, ids=[c[0] for c in GO_CASES])
def test_set_cookie_lines_equal_gos(vid: str, raw: dict[str, Any] | None, line: str) -> None:
    """S-3.1: for the same options our Set-Cookie line is byte-identical to Go's."""
    name, _, rest = line.partition("=")
    value = rest.split(";", 1)[0]
    if raw and raw.get("domain") == "bad domain!":
        # Go logs and drops an invalid domain; we refuse it at validation (S-2.4).
        with pytest.raises(ConfigurationError):
            _go_options(raw)
        raw = {k: v for k, v in raw.items() if k != "domain"}
    ours = Cookie.for_session(name, value, _go_options(raw), NOW).render()
    assert _mask(ours) == line


# --- Injection and parsing properties -----------------------------------------

printable = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=30)


@given(
    path=printable,
    domain=printable,
    max_age=st.integers(-5, 10**9),
    value=st.text(max_size=40),
    same_site=st.sampled_from(list(SameSite)),
    secure=st.booleans(),
    http_only=st.booleans(),
    partitioned=st.booleans(),
)
def test_no_options_value_can_inject_a_header(
    path: str,
    domain: str,
    max_age: int,
    value: str,
    same_site: SameSite,
    secure: bool,
    http_only: bool,
    partitioned: bool,
) -> None:
    """S-3.7: a rendered line never holds CR, LF or an attribute nobody asked for."""
    try:
        options = Options(
            path=path or "/",
            domain=domain,
            max_age=max_age,
            secure=secure,
            http_only=http_only,
            same_site=same_site,
            partitioned=partitioned,
        )
    except ConfigurationError:
        return
    line = Cookie.for_session("sid", value, options, NOW).render()
    assert "\r" not in line and "\n" not in line
    attrs = [a.split("=", 1)[0] for a in line.split("; ")[1:]]
    allowed = {
        "Path",
        "Domain",
        "Expires",
        "Max-Age",
        "HttpOnly",
        "Secure",
        "SameSite",
        "Partitioned",
    }
    assert set(attrs) <= allowed
    assert len(attrs) == len(set(attrs))
    assert line.count(";") == len(attrs)


def _assert_one_clean_line(line: str) -> None:
    assert "\r" not in line and "\n" not in line
    attrs = [a.split("=", 1)[0] for a in line.split("; ")[1:]]
    assert set(attrs) <= ALLOWED_ATTRIBUTES
    assert len(attrs) == len(set(attrs))


ALLOWED_ATTRIBUTES = {
    "Path",
    "Domain",
    "Expires",
    "Max-Age",
    "HttpOnly",
    "Secure",
    "SameSite",
    "Partitioned",
}


@given(
    name=st.text(max_size=12),
    path=printable,
    domain=printable,
    max_age=st.integers(-(10**13), 10**13),
    expires=st.none() | st.integers(-(10**13), 10**13),
    value=st.text(max_size=40),
)
def test_no_cookie_built_directly_can_inject_a_header(
    name: str, path: str, domain: str, max_age: int, expires: int | None, value: str
) -> None:
    """S-3.7, S-3.10: a Cookie built directly is held to the rules of Options."""
    try:
        cookie = Cookie(
            name=name, value=value, path=path, domain=domain, max_age=max_age, expires=expires
        )
    except ConfigurationError:
        return
    _assert_one_clean_line(cookie.render())


@given(
    path=printable,
    domain=printable,
    max_age=st.integers(-(10**13), 10**13),
    name=st.text(max_size=12),
)
def test_no_model_copy_can_inject_a_header(path: str, domain: str, max_age: int, name: str) -> None:
    """S-3.7, S-2.2: model_copy(update=...) validates, for Options and for Cookie alike."""
    try:
        options = Options().model_copy(update={"path": path, "domain": domain, "max_age": max_age})
    except ConfigurationError:
        options = Options()
    cookie = Cookie.for_session("sid", "v", options, NOW)
    _assert_one_clean_line(cookie.render())
    try:
        copied = cookie.model_copy(update={"name": name, "path": path, "domain": domain})
    except ConfigurationError:
        return
    _assert_one_clean_line(copied.render())


INJECTED = "example.com\r\nSet-Cookie: admin=1"


@pytest.mark.parametrize(
    "build",
    [
        lambda: Cookie(name="sid", value="v", domain=INJECTED),
        lambda: Cookie(name="sid", value="v").model_copy(update={"domain": INJECTED}),
        lambda: Options().model_copy(update={"domain": INJECTED}),
        lambda: Options().replace(domain=INJECTED),
        lambda: Options(domain=INJECTED),
    ],
    ids=["Cookie", "Cookie.model_copy", "Options.model_copy", "Options.replace", "Options"],
)
def test_crlf_in_domain_is_refused_at_construction(build: Callable[[], object]) -> None:
    """S-3.10, S-2.4: the injected domain fails when the object is built, naming the field."""
    with pytest.raises(ConfigurationError, match="domain must be a valid host name"):
        build()


def _raw_response_head(base_url: str) -> list[bytes]:
    """The status line and header lines exactly as the server wrote them."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


@pytest.mark.parametrize("via", ["session options", "cookie"])
def test_crlf_domain_never_reaches_a_real_servers_wire(via: str) -> None:
    """S-3.7: under wsgiref, a CRLF domain gives no second header (it fails at construction).

    Before the fix, ``model_copy(update=...)`` and ``Cookie(...)`` skipped the
    domain check and wsgiref sent ``Set-Cookie: admin=1`` as its own header.
    """
    from reference_impl import MemoryStore
    from reference_impl.integrations.wsgi import SessionMiddleware, request_of
    from tests.integrations._servers import serve_wsgi

    store = MemoryStore(b"h" * 32)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            if via == "cookie":
                line = Cookie(name="sid", value="v", domain=INJECTED).render()
                start_response("200 OK", [("Set-Cookie", line)])
                return [b"sent"]
            session = store.get(request_of(environ), "sid")
            session.options = session.options.model_copy(update={"domain": INJECTED})
            session.values["user"] = "alice"
        except ConfigurationError:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"refused"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"saved"]

    with serve_wsgi(SessionMiddleware(app)) as base_url:
        head = _raw_response_head(base_url)
    assert not [line for line in head if line.lower().startswith(b"set-cookie: admin")]
    assert head[0].split(b" ")[1] == b"400", head


TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
token = st.text(alphabet=TCHARS, min_size=1, max_size=20)
safe_value = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='";\\,'),
    max_size=60,
)


@given(name=token, value=safe_value)
def test_render_then_parse_returns_name_and_value(name: str, value: str) -> None:
    """S-3.8: what we render, the parser reads back unchanged."""
    line = Cookie(name=name, value=value, path="/").render()
    pair = line.split("; ")[0]
    assert parse_cookie_header(pair) == [(name, value)]


def test_parser_keeps_duplicates_in_order_and_skips_malformed_pairs() -> None:
    """S-3.9: every value of a name in header order; bad pairs do not stop parsing."""
    header = 'a=1; bad name=2; b="q"; c=x"y; a=3;;d=; e=\\'
    assert parse_cookie_header(header) == [("a", "1"), ("b", "q"), ("a", "3"), ("d", "")]
    assert cookie_values(header, "a") == ["1", "3"]
    assert cookie_values(header, "zzz") == []


def test_parser_strips_one_pair_of_quotes_only() -> None:
    """S-3.9: surrounding double quotes are removed, as Go does; a lone quote is invalid."""
    assert cookie_values('a=""', "a") == [""]
    assert cookie_values('a="x"', "a") == ["x"]
    assert cookie_values('a="', "a") == []
    assert cookie_values('a=""x""', "a") == []


@given(st.characters())
def test_fast_value_check_equals_gos_byte_rule(ch: str) -> None:
    """S-3.9: the parser's value pattern accepts exactly Go's validCookieValueByte set."""
    from spec._tokens import is_valid_value_byte
    from spec.cookie import _VALUE

    assert bool(_VALUE.fullmatch(ch)) == is_valid_value_byte(ch)


@given(st.text(max_size=60))
def test_one_pass_sanitizers_equal_gos_per_byte_rules(text: str) -> None:
    """S-3.9: rendering's regex passes drop exactly what Go's per-byte loops drop (issue 19)."""
    from spec._tokens import is_valid_value_byte
    from spec.cookie import _sanitize_path, _sanitize_value

    kept = "".join(c for c in text if is_valid_value_byte(c))
    assert _sanitize_value(text) == (f'"{kept}"' if " " in kept or "," in kept else kept)
    path = "".join(c for c in text if 0x20 <= ord(c) < 0x7F and c != ";")
    assert _sanitize_path(text) == path


def test_cookie_expires_and_max_age_are_bounded() -> None:
    """S-3.10, S-2.6: a Cookie cannot carry an Expires past year 9999 or an unbounded max_age."""
    from spec.options import MAX_AGE_LIMIT

    last = 253402300799
    assert (
        "Expires=Fri, 31 Dec 9999 23:59:59 GMT" in Cookie(name="a", value="", expires=last).render()
    )
    with pytest.raises(ConfigurationError, match="expires must be at most"):
        Cookie(name="a", value="", expires=last + 1)
    with pytest.raises(ConfigurationError, match="max_age must be between"):
        Cookie(name="a", value="", max_age=MAX_AGE_LIMIT + 1)
    with pytest.raises(ConfigurationError, match="path must start"):
        Cookie(name="a", value="", path="x")
    assert Cookie(name="a", value="", path="").render() == "a="
