"""Character-level checks shared by options, cookies and the registry (RFC 6265/7230)."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["is_cookie_domain", "is_token", "is_valid_value_byte"]

# RFC 7230 tchar: the characters a cookie name may use.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def is_token(name: str) -> bool:
    """Return whether ``name`` is a non-empty RFC 7230 token."""
    return _TOKEN.fullmatch(name) is not None


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
    if not domain or len(domain) > 255:
        return False
    try:
        ipaddress.IPv4Address(domain)
    except ValueError:
        pass
    else:
        return True
    labels = domain.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return False
    return any(c.isalpha() for c in domain)
