"""Options validation and defaults (docs/spec.md S-2)."""

from __future__ import annotations

import pydantic
import pytest

from spec import DEFAULT_MAX_AGE, Options, SameSite


def test_defaults_are_the_safe_web_defaults() -> None:
    """S-2.1: Path=/, 30 days, HttpOnly, SameSite=Lax, Secure off."""
    o = Options()
    assert o.path == "/"
    assert o.domain == ""
    assert o.max_age == DEFAULT_MAX_AGE == 2592000
    assert o.http_only is True
    assert o.secure is False
    assert o.same_site is SameSite.LAX
    assert o.partitioned is False


def test_options_are_frozen() -> None:
    """S-2.2: options cannot be edited in place."""
    o = Options()
    with pytest.raises(pydantic.ValidationError):
        o.max_age = 5  # type: ignore[misc]


def test_replace_returns_a_validated_copy() -> None:
    """S-2.2: replace derives new options and leaves the original alone."""
    o = Options()
    p = o.replace(max_age=0, same_site="strict")
    assert (p.max_age, p.same_site) == (0, SameSite.STRICT)
    assert (o.max_age, o.same_site) == (DEFAULT_MAX_AGE, SameSite.LAX)
    with pytest.raises(pydantic.ValidationError, match="path must start"):
        o.replace(path="app")


@pytest.mark.parametrize("path", ["app", "", "/a;b", "/a\nb", "/a\rb", "/a\x00", "/é"])
def test_bad_paths_are_rejected(path: str) -> None:
    """S-2.3: a path starts with '/' and holds no ';' or control characters."""
    with pytest.raises(pydantic.ValidationError, match="path"):
        Options(path=path)


@pytest.mark.parametrize(
    ("domain", "stored"),
    [
        ("example.com", "example.com"),
        (".example.com", "example.com"),
        ("a-b.example.co.uk", "a-b.example.co.uk"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("_dmarc.example.com", "_dmarc.example.com"),
    ],
)
def test_good_domains_are_kept_without_leading_dot(domain: str, stored: str) -> None:
    """S-2.4: a leading dot is accepted and dropped, as browsers do."""
    assert Options(domain=domain).domain == stored


@pytest.mark.parametrize(
    "domain",
    [
        "bad domain!",
        "exa;mple.com",
        "-example.com",
        "example-.com",
        "a..b",
        "example.com.",
        "123",
        "x" * 64 + ".com",
        "ex\nample.com",
        "::1",
        "[::1]",
        ".",
    ],
)
def test_bad_domains_are_rejected(domain: str) -> None:
    """S-2.4: gorilla silently drops an invalid domain; we refuse it."""
    with pytest.raises(pydantic.ValidationError, match="domain must be a valid host name"):
        Options(domain=domain)


def test_samesite_none_requires_secure() -> None:
    """S-2.5: browsers reject SameSite=None without Secure."""
    with pytest.raises(pydantic.ValidationError, match="requires secure=True"):
        Options(same_site=SameSite.NONE)
    assert Options(same_site=SameSite.NONE, secure=True).same_site is SameSite.NONE


def test_partitioned_requires_secure() -> None:
    """S-2.5: browsers reject Partitioned without Secure."""
    with pytest.raises(pydantic.ValidationError, match="requires secure=True"):
        Options(partitioned=True)
    assert Options(partitioned=True, secure=True).partitioned


def test_same_site_accepts_names_case_insensitively_and_rejects_others() -> None:
    """S-2.5: same_site is one of default, lax, strict, none."""
    assert Options(same_site="Strict").same_site is SameSite.STRICT
    with pytest.raises(pydantic.ValidationError, match="same_site must be one of"):
        Options(same_site="sometimes")


def test_unknown_fields_and_wrong_types_are_rejected() -> None:
    """S-2.1: a typo or a wrong type never passes silently."""
    with pytest.raises(pydantic.ValidationError):
        Options(maxage=5)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        Options(max_age="5")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError):
        Options(secure=1)  # type: ignore[arg-type]
