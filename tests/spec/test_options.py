"""Options validation and defaults (docs/spec.md S-2)."""

from __future__ import annotations

import pytest

from spec import DEFAULT_MAX_AGE, Cookie, Options, SameSite
from spec.errors import ConfigurationError
from spec.options import MAX_AGE_LIMIT


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
    with pytest.raises(ConfigurationError):
        o.max_age = 5  # type: ignore[misc]


def test_replace_returns_a_validated_copy() -> None:
    """S-2.2: replace derives new options and leaves the original alone."""
    o = Options()
    p = o.replace(max_age=0, same_site="strict")
    assert (p.max_age, p.same_site) == (0, SameSite.STRICT)
    assert (o.max_age, o.same_site) == (DEFAULT_MAX_AGE, SameSite.LAX)
    with pytest.raises(ConfigurationError, match="path must start"):
        o.replace(path="app")


@pytest.mark.parametrize("path", ["app", "", "/a;b", "/a\nb", "/a\rb", "/a\x00", "/é"])
def test_bad_paths_are_rejected(path: str) -> None:
    """S-2.3: a path starts with '/' and holds no ';' or control characters."""
    with pytest.raises(ConfigurationError, match="path"):
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
    with pytest.raises(ConfigurationError, match="domain must be a valid host name"):
        Options(domain=domain)


def test_samesite_none_requires_secure() -> None:
    """S-2.5: browsers reject SameSite=None without Secure."""
    with pytest.raises(ConfigurationError, match="requires secure=True"):
        Options(same_site=SameSite.NONE)
    assert Options(same_site=SameSite.NONE, secure=True).same_site is SameSite.NONE


def test_partitioned_requires_secure() -> None:
    """S-2.5: browsers reject Partitioned without Secure."""
    with pytest.raises(ConfigurationError, match="requires secure=True"):
        Options(partitioned=True)
    assert Options(partitioned=True, secure=True).partitioned


def test_same_site_accepts_names_case_insensitively_and_rejects_others() -> None:
    """S-2.5: same_site is one of default, lax, strict, none."""
    assert Options(same_site="Strict").same_site is SameSite.STRICT
    with pytest.raises(ConfigurationError, match="same_site must be one of"):
        Options(same_site="sometimes")


def test_unknown_fields_and_wrong_types_are_rejected() -> None:
    """S-2.1: a typo or a wrong type never passes silently."""
    with pytest.raises(ConfigurationError):
        Options(maxage=5)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError):
        Options(max_age="5")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Options(secure=1)  # type: ignore[arg-type]


def test_model_copy_validates_like_the_constructor() -> None:
    """S-2.2: model_copy(update=...) is validated (pydantic's own copy would skip the checks)."""
    o = Options()
    assert o.model_copy(update={"domain": ".example.com"}).domain == "example.com"
    with pytest.raises(ConfigurationError, match="domain must be a valid host name"):
        o.model_copy(update={"domain": "example.com\r\nSet-Cookie: admin=1"})
    with pytest.raises(ConfigurationError, match="requires secure=True"):
        o.model_copy(update={"same_site": "none"})
    with pytest.raises(ConfigurationError, match="Extra inputs"):
        o.model_copy(update={"maxage": 5})
    assert o.model_copy() == o


def test_max_age_is_bounded_so_expires_is_always_a_date() -> None:
    """S-2.6: a max_age past year 9999 is refused when the options are built.

    It used to pass here and fail with ValueError in render(), after the store wrote.
    """
    assert MAX_AGE_LIMIT == 253402300799 - 4102444800
    assert Options(max_age=MAX_AGE_LIMIT).max_age == MAX_AGE_LIMIT
    assert Options(max_age=-MAX_AGE_LIMIT).max_age == -MAX_AGE_LIMIT
    for bad in (MAX_AGE_LIMIT + 1, 10**12, 2**63, -(MAX_AGE_LIMIT + 1)):
        with pytest.raises(ConfigurationError, match="max_age must be between"):
            Options(max_age=bad)
        with pytest.raises(ConfigurationError, match="max_age must be between"):
            Options().replace(max_age=bad)
    # The largest accepted value renders, with the clock anywhere up to 2100 and beyond.
    for now in (1_700_000_000, 4102444800, 253402300000):
        line = Cookie.for_session("s", "v", Options(max_age=MAX_AGE_LIMIT), now).render()
        assert f"Max-Age={MAX_AGE_LIMIT}" in line
        assert "Expires=" in line


def test_start_up_errors_are_the_librarys_own() -> None:
    """S-7.4: ConfigurationError, with pydantic's field message and no pydantic URL."""
    with pytest.raises(ConfigurationError) as caught:
        Options(same_site="none")
    text = str(caught.value)
    assert text == "invalid Options: same_site='none' requires secure=True (browsers reject it)"
    assert "pydantic" not in text and "http" not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(ConfigurationError, match=r"^invalid Options: max_age: .*\(got str\)$"):
        Options(max_age="5")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"Options is immutable; .* \.replace"):
        Options().secure = True  # type: ignore[misc]
