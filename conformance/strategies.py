"""Hypothesis strategies for session values, options and cookie names.

Backend authors can reuse them in their own property tests; the state
machine in :mod:`conformance.stateful` is built from them.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

from conformance._capabilities import ALL_VALUE_TYPES
from spec import Options, SameSite, SessionValue

__all__ = ["cookie_names", "example_values", "options", "session_keys", "session_values", "values"]

_TCHARS = "!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits


def cookie_names() -> st.SearchStrategy[str]:
    """Valid cookie (session) names: RFC 7230 tokens."""
    return st.text(alphabet=_TCHARS, min_size=1, max_size=16)


def _scalars(kinds: frozenset[str]) -> st.SearchStrategy[SessionValue]:
    parts: list[st.SearchStrategy[SessionValue]] = []
    if "none" in kinds:
        parts.append(st.none())
    if "bool" in kinds:
        parts.append(st.booleans())
    if "int" in kinds:
        parts.append(st.integers(-(2**53), 2**53))
    if "big_int" in kinds:
        parts.append(st.integers(-(2**100), 2**100))
    if "float" in kinds:
        parts.append(st.floats(allow_nan=False, allow_infinity=False))
    if "str" in kinds:
        parts.append(st.text(max_size=20))
    if "bytes" in kinds:
        parts.append(st.binary(max_size=20))
    return st.one_of(parts) if parts else st.nothing()


def session_keys(kinds: frozenset[str] = ALL_VALUE_TYPES) -> st.SearchStrategy[str | int]:
    """Keys of the session values mapping: strings, and integers if supported."""
    keys: st.SearchStrategy[str | int] = st.text(max_size=12)
    if "int_keys" in kinds:
        keys = keys | st.integers(-(2**31), 2**31)
    return keys


def values(kinds: frozenset[str] = ALL_VALUE_TYPES) -> st.SearchStrategy[SessionValue]:
    """One session value, nested lists and dicts included where supported."""

    def extend(children: st.SearchStrategy[SessionValue]) -> st.SearchStrategy[SessionValue]:
        parts: list[st.SearchStrategy[SessionValue]] = []
        if "list" in kinds:
            parts.append(st.lists(children, max_size=4))
        if "dict" in kinds:
            parts.append(st.dictionaries(session_keys(kinds), children, max_size=4))
        return st.one_of(parts) if parts else children

    return st.recursive(_scalars(kinds), extend, max_leaves=8)


def session_values(
    kinds: frozenset[str] = ALL_VALUE_TYPES,
) -> st.SearchStrategy[dict[str | int, SessionValue]]:
    """A whole ``Session.values`` mapping, small enough for a cookie."""
    return st.dictionaries(session_keys(kinds), values(kinds), max_size=5)


def options() -> st.SearchStrategy[Options]:
    """Valid cookie options (invalid combinations are never generated)."""
    return st.builds(
        lambda path, max_age, secure, http_only, same_site: Options(
            path=path,
            max_age=max_age,
            secure=secure or same_site is SameSite.NONE,
            http_only=http_only,
            same_site=same_site,
        ),
        st.sampled_from(["/", "/app", "/a/b"]),
        st.integers(-1, 86400 * 365),
        st.booleans(),
        st.booleans(),
        st.sampled_from(list(SameSite)),
    )


def example_values(kinds: frozenset[str] = ALL_VALUE_TYPES) -> dict[str | int, SessionValue]:
    """One fixed mapping holding every supported kind once (for readable failures)."""
    sample: dict[str, tuple[str | int, SessionValue]] = {
        "none": ("nothing", None),
        "bool": ("flag", True),
        "int": ("count", -42),
        "big_int": ("big", 2**80),
        "float": ("ratio", 0.25),
        "str": ("name", "Zoë <&>"),
        "bytes": ("raw", b"\x00\xffbytes"),
        "list": ("items", [1, "two", [3]]),
        "dict": ("nested", {"a": {"b": ["c"]}}),
        "int_keys": (42, 43),
    }
    return dict(pair for kind, pair in sample.items() if kind in kinds)
