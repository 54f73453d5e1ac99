"""Cookies: the ``Set-Cookie`` line a store writes and the ``Cookie`` header it reads.

Rendering follows Go's net/http byte for byte (attribute order, date format,
deletion form), so a Python and a Go service behind one domain emit identical
headers. Parsing is our own rather than :class:`http.cookies.SimpleCookie`,
which stops at the first malformed pair and keeps the *last* duplicate, where
browsers and Go keep going and the first one wins.
"""

from __future__ import annotations

import functools
import re
import time

from pydantic import ConfigDict, field_validator

from spec._model import ValidatedModel
from spec._tokens import (
    LAST_EXPIRES,
    TOKEN,
    check_cookie_domain,
    check_cookie_name,
    check_cookie_path,
    check_max_age,
    is_cookie_domain,
)
from spec.options import Options, SameSite

__all__ = ["DELETED_EXPIRES", "Cookie", "cookie_values", "parse_cookie_header"]

#: Unix time 1: Go writes this ``Expires`` on deletion cookies.
DELETED_EXPIRES = 1
# Go only writes Expires for years >= 1601 (the start of Windows' epoch).
_MIN_EXPIRES = -11644473600
_WHITESPACE = " \t\r\n"
# Go's validCookieValueByte: 0x20-0x7E except '"', ';' and '\'.
_VALUE = re.compile(r"[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*")
# What rendering removes, in one regex pass each (a per-character Python loop
# cost three times the whole codec on a 400-character cookie).
_NOT_VALUE = re.compile(r"[^\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]+")
_NOT_PATH = re.compile(r"[^\x20-\x3a\x3c-\x7e]+")
# The same byte set for bytes.translate, which deletes every allowed byte: a
# value is clean when nothing is left (twice as fast as the regex on the
# 400-character cookies every response carries).
_VALUE_BYTES = bytes(b for b in range(128) if _VALUE.fullmatch(chr(b)))


class Cookie(ValidatedModel):
    """One cookie to send, with Go's ``http.Cookie`` semantics.

    ``max_age`` follows Go: ``> 0`` writes ``Max-Age=N``, ``< 0`` writes
    ``Max-Age=0`` (delete now), ``0`` writes nothing. ``expires`` is a Unix
    time in whole seconds, or ``None`` for no ``Expires`` attribute.

    The name, path, domain and lifetime are checked here with the same rules
    as :class:`~spec.Options` (one shared set of checks), not only in the
    options: a cookie can be built directly or copied with
    ``model_copy(update=...)``, and a ``Domain`` holding CR LF would end the
    header and start an attacker's one. An empty path or domain means the
    attribute is left out. Failures raise :class:`~spec.errors.ConfigurationError`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str
    value: str
    path: str = ""
    domain: str = ""
    expires: int | None = None
    max_age: int = 0
    secure: bool = False
    http_only: bool = False
    same_site: SameSite = SameSite.DEFAULT
    partitioned: bool = False

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        check_cookie_name(value)  # InvalidCookieNameError is a ValueError: pydantic wraps it
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return value and check_cookie_path(value)

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        return check_cookie_domain(value)

    @field_validator("max_age")
    @classmethod
    def _check_max_age(cls, value: int) -> int:
        return check_max_age(value)

    @field_validator("expires")
    @classmethod
    def _check_expires(cls, value: int | None) -> int | None:
        if value is not None and value > LAST_EXPIRES:
            raise ValueError(
                f"expires must be at most {LAST_EXPIRES} (9999-12-31T23:59:59Z); got {value}"
            )
        return value

    @classmethod
    def for_session(cls, name: str, value: str, options: Options, now: float) -> Cookie:
        """Build the cookie a store sends for ``options`` at time ``now`` (Go's NewCookie).

        A positive ``max_age`` also sets ``Expires = now + max_age`` for old
        browsers that ignore ``Max-Age``; a negative one gives the deletion
        form ``Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0``.

        ``Expires`` is capped at the end of year 9999. Options bound
        ``max_age`` so that this only matters after 2100 or with a clock set
        that far ahead; browsers obey ``Max-Age`` over ``Expires`` anyway.
        """
        expires: int | None = None
        if options.max_age > 0:
            expires = min(int(now) + options.max_age, LAST_EXPIRES)
        elif options.max_age < 0:
            expires = DELETED_EXPIRES
        if TOKEN.fullmatch(name) is not None and type(options) is Options:
            # Every field is already checked: the name just now, path, domain
            # and max_age when the Options were built, expires bounded above;
            # the value is cleaned by render(). Skipping the validators per
            # request keeps them as the only rules while costing no time.
            state = _fields_from(options).copy()
            state["name"], state["value"], state["expires"] = name, value, expires
            cookie = cls.__new__(cls)
            object.__setattr__(cookie, "__dict__", state)
            object.__setattr__(cookie, "__pydantic_fields_set__", set(_FIELDS))
            object.__setattr__(cookie, "__pydantic_extra__", None)
            object.__setattr__(cookie, "__pydantic_private__", None)
            return cookie
        return cls(  # reports the bad name as ConfigurationError
            name=name,
            value=value,
            path=options.path,
            domain=options.domain,
            expires=expires,
            max_age=options.max_age,
            secure=options.secure,
            http_only=options.http_only,
            same_site=options.same_site,
            partitioned=options.partitioned,
        )

    def render(self) -> str:
        """Return the ``Set-Cookie`` header value, exactly as Go's ``Cookie.String``.

        Characters that could end the attribute or the header (``;``, CR, LF
        and other controls) are removed from the value and path, and a domain
        that is not a host name is left out (as Go does), so no input can
        inject an attribute or a header. (The constructor has already refused
        such a path or domain; these checks are a second line of defence.)
        """
        head, tail = _attributes(
            self.path,
            self.domain,
            self.max_age,
            self.http_only,
            self.secure,
            self.same_site,
            self.partitioned,
        )
        line = f"{self.name}={_sanitize_value(self.value)}{head}"
        if self.expires is not None and _MIN_EXPIRES <= self.expires <= LAST_EXPIRES:
            line += "; Expires=" + http_date(self.expires)
        return line + tail


_FIELDS = frozenset(Cookie.model_fields)

#: Per options object: the cookie's fields in field order, those from the
#: options filled in. The entry holds the options, so the id is never reused
#: while it is cached; a store hands every session the same few objects.
_BY_OPTIONS: dict[int, tuple[Options, dict[str, object]]] = {}


def _fields_from(options: Options) -> dict[str, object]:
    found = _BY_OPTIONS.get(id(options))
    if found is not None and found[0] is options:
        return found[1]
    fields: dict[str, object] = {
        "name": "",
        "value": "",
        "path": options.path,
        "domain": options.domain,
        "expires": None,
        "max_age": options.max_age,
        "secure": options.secure,
        "http_only": options.http_only,
        "same_site": options.same_site,
        "partitioned": options.partitioned,
    }
    if len(_BY_OPTIONS) >= 256:  # sessions with options of their own: start again
        _BY_OPTIONS.clear()
    _BY_OPTIONS[id(options)] = (options, fields)
    return fields


# typed: ``"lax"`` and ``SameSite.LAX``, or ``1`` and ``True``, are equal keys
# that render differently; a cookie built with model_construct must not be
# able to plant its rendering under the key of a validated one.
@functools.lru_cache(maxsize=256, typed=True)
def _attributes(
    path: str,
    domain: str,
    max_age: int,
    http_only: bool,
    secure: bool,
    same_site: SameSite,
    partitioned: bool,
) -> tuple[str, str]:
    """The attributes around ``Expires``, in Go's order: (before it, after it).

    Everything but the value and ``Expires`` comes from a store's few
    :class:`~spec.Options`, so it is worked out once per distinct set of
    them instead of on every response; the cleaning is the same either way.
    """
    head = ""
    if path:
        head += "; Path=" + _sanitize_path(path)
    domain = domain.removeprefix(".")
    if domain and is_cookie_domain(domain):
        head += "; Domain=" + domain
    parts: list[str] = []
    if max_age > 0:
        parts.append(f"Max-Age={max_age}")
    elif max_age < 0:
        parts.append("Max-Age=0")
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if same_site is SameSite.LAX:
        parts.append("SameSite=Lax")
    elif same_site is SameSite.STRICT:
        parts.append("SameSite=Strict")
    elif same_site is SameSite.NONE:
        parts.append("SameSite=None")
    if partitioned:
        parts.append("Partitioned")
    return head, "".join("; " + part for part in parts)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(seconds: int) -> str:
    """``Thu, 01 Jan 1970 00:00:01 GMT``: Go's http.TimeFormat, as email's formatdate writes it.

    Fixed English names rather than ``strftime``, whose names follow the
    process locale; a third of the cost of ``formatdate(usegmt=True)``. The
    last date written is kept: every response in the same second with the
    same lifetime has the same ``Expires``.
    """
    global _last_date
    last = _last_date
    if last[0] == seconds:
        return last[1]
    t = time.gmtime(seconds)
    text = (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )
    _last_date = (seconds, text)  # one tuple, replaced whole: never one second's text for another
    return text


#: (seconds, text) of the last :func:`http_date`.
_last_date: tuple[int | None, str] = (None, "")


def is_clean_value(value: str) -> bool:
    """Whether every character of ``value`` is one Go allows in a cookie value."""
    if value.isascii():
        return not value.encode("ascii").translate(None, _VALUE_BYTES)
    return False


def _sanitize_value(value: str) -> str:
    """Go's sanitizeCookieValue: drop the bytes ``is_valid_value_byte`` refuses, quote if needed."""
    kept = value if is_clean_value(value) else _NOT_VALUE.sub("", value)
    if " " in kept or "," in kept:
        return f'"{kept}"'
    return kept


def _sanitize_path(path: str) -> str:
    """Go's sanitizeCookiePath: drop controls, non-ASCII and ``;``."""
    return _NOT_PATH.sub("", path)


def parse_cookie_header(header: str) -> list[tuple[str, str]]:
    """Split a ``Cookie:`` request header into ``(name, value)`` pairs, in order.

    Like Go's net/http: pairs whose name is not a token or whose value holds
    a forbidden byte are skipped (the rest are kept), and one pair of
    surrounding double quotes is removed from a value. Duplicates are kept.
    """
    pairs: list[tuple[str, str]] = []
    for part in header.split(";"):
        part = part.strip(_WHITESPACE)
        if not part:
            continue
        name, _, value = part.partition("=")
        name = name.strip(_WHITESPACE)
        if TOKEN.fullmatch(name) is None:
            continue
        if len(value) > 1 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if is_clean_value(value):
            pairs.append((name, value))
    return pairs


def cookie_values(header: str, name: str) -> list[str]:
    """Return every value sent for cookie ``name`` in ``header``, first one first.

    The same pairs :func:`parse_cookie_header` keeps, found without checking
    the pairs of other cookies: a request carries many (analytics, CSRF,
    preferences) and only the session's own are read on every request.
    """
    if name not in header or TOKEN.fullmatch(name) is None:
        return []  # a name that is not a token matches no pair parse_cookie_header keeps
    values = []
    for part in header.split(";"):
        pair_name, _, value = part.partition("=")
        if pair_name.strip(_WHITESPACE) != name:
            continue
        value = value.rstrip(_WHITESPACE)  # the pair's end; its start is the name's
        if len(value) > 1 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if is_clean_value(value):
            values.append(value)
    return values
