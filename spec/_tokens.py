"""Checks shared by options, cookies and the registry (RFC 6265/7230).

:class:`~spec.Options` and :class:`~spec.Cookie` both validate their path,
domain and lifetime with the functions below, so the rules have one source
and a cookie built directly is held to the same rules as the options a
store uses (a ``Domain`` holding CR LF would otherwise start a new header).
"""

from __future__ import annotations

import ipaddress
import re

from spec.errors import InvalidCookieNameError

__all__ = [
    "LAST_EXPIRES",
    "MAX_AGE_LIMIT",
    "TOKEN",
    "check_cookie_domain",
    "check_cookie_name",
    "check_cookie_path",
    "check_max_age",
    "is_cookie_domain",
    "is_token",
    "is_valid_value_byte",
]

#: 9999-12-31T23:59:59Z, the last instant an ``Expires`` date (IMF-fixdate,
#: four-digit year) can name; Python's date functions stop there too.
LAST_EXPIRES = 253402300799
#: 2100-01-01T00:00:00Z: until then, ``now + MAX_AGE_LIMIT`` stays a writable date.
_HORIZON = 4102444800
#: The largest ``max_age`` accepted, about 7,900 years. A fixed bound, rather
#: than one computed from the clock, gives the same answer on every machine
#: and every day, so options that load once load forever.
MAX_AGE_LIMIT = LAST_EXPIRES - _HORIZON

# RFC 7230 tchar: the characters a cookie name may use.
#: An RFC 7230 token (a cookie name); ``TOKEN.fullmatch(name)`` on hot paths.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.ASCII)


def check_cookie_name(name: str) -> None:
    """Raise :class:`InvalidCookieNameError` unless ``name`` is an RFC 7230 token."""
    # The one check (Cookie, Session, the registry and the framework adapters
    # call it; hot paths inline TOKEN.fullmatch and raise the same error), so
    # the rule and its message cannot drift apart.
    if TOKEN.fullmatch(name) is None:
        raise InvalidCookieNameError(name)


def is_token(name: str) -> bool:
    """Return whether ``name`` is a non-empty RFC 7230 token."""
    return TOKEN.fullmatch(name) is not None


def is_valid_value_byte(ch: str) -> bool:
    """Return whether ``ch`` may appear in a cookie value (Go's validCookieValueByte)."""
    o = ord(ch)
    return 0x20 <= o < 0x7F and ch not in '";\\'


def is_cookie_domain(domain: str) -> bool:
    """Return whether ``domain`` (without a leading dot) is a host name or IPv4 address.

    Mirrors Go's net/http rule: dot-separated labels of letters, digits, ``-``
    and ``_`` (no label starting or ending with ``-``), at most 255
    characters, at least one letter; or a literal IPv4 address.
    """
    if not domain or len(domain) > 255 or _HOST.fullmatch(domain) is None:
        return False
    if any(c.isalpha() for c in domain):
        return True
    try:  # all digits and dots: only an IPv4 address qualifies
        ipaddress.IPv4Address(domain)
    except ValueError:
        return False
    return True


def check_cookie_path(value: str) -> str:
    """Return ``value`` if it is a cookie path (starts with ``/``, no ``;``, controls or non-ASCII).

    Raises:
        ValueError: with a message naming the rule.
    """
    if not value.startswith("/"):
        raise ValueError(f"path must start with '/'; got {value!r}")
    if any(c == ";" or ord(c) < 0x20 or ord(c) >= 0x7F for c in value):
        raise ValueError(
            f"path must not contain ';', control or non-ASCII characters; got {value!r}"
        )
    return value


def check_cookie_domain(value: str) -> str:
    """Return ``value`` without a leading dot if it is empty, a host name or an IPv4 address.

    Raises:
        ValueError: with a message naming the rule.
    """
    if value == "":
        return value
    host = value[1:] if value.startswith(".") else value
    if not is_cookie_domain(host):
        raise ValueError(f"domain must be a valid host name; got {value!r}")
    return host


def check_max_age(value: int) -> int:
    """Return ``value`` if ``now + value`` stays a date a cookie can carry.

    Past year 9999 no ``Expires`` date can be written: the failure would come
    when the response is rendered, after the session was stored.

    Raises:
        ValueError: ``abs(value)`` is over :data:`MAX_AGE_LIMIT`.
    """
    if not -MAX_AGE_LIMIT <= value <= MAX_AGE_LIMIT:
        raise ValueError(
            f"max_age must be between -{MAX_AGE_LIMIT} and {MAX_AGE_LIMIT} seconds "
            f"(about 7,900 years; an Expires date ends at year 9999); got {value}"
        )
    return value
