"""The per-request fast paths build exactly what the validated paths build (issue 19).

``Session.trusted`` and ``Cookie.for_session`` skip pydantic's per-field
work on every request; these tests pin them to the objects the public
validating constructors make, so the speed never changes what a store
hands out or what goes on the wire.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from spec import Cookie, Options, SameSite, Session
from spec._tracked import TrackedDict
from spec.errors import ConfigurationError
from spec.session import _defaults


class _Store:
    """Any object: trusted sessions only remember it."""


def test_trusted_session_matches_model_construct() -> None:
    """S-4.1, S-9.20: a trusted session has every field, the private defaults and its store."""
    store = _Store()
    options = Options(max_age=60)
    fast = Session.trusted("s", "id1", {"a": 1, 2: [3]}, options, False, None, store, 7)  # type: ignore[arg-type]
    given = {name: fast.__dict__[name] for name in fast.model_fields_set}
    given["values"] = {"a": 1, 2: [3]}
    slow = Session.model_construct(**given)
    assert given["created_at"] == 7 and given["options"] is options and not given["is_new"]
    assert fast.__dict__ == slow.__dict__
    assert isinstance(fast.__dict__["values"], TrackedDict)
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.__pydantic_extra__ is None
    expected = dict(slow.__pydantic_private__ or {}, _store=store)
    assert fast.__pydantic_private__ == expected
    assert fast.store is store and not fast.modified
    assert _defaults(Session) is not None  # the fast build, not model_construct, made it


def test_trusted_sessions_share_no_state() -> None:
    """S-4.3: two trusted sessions never share their values or private slots."""
    raw: dict[str | int, object] = {"a": 1}
    one = Session.trusted("s", "", raw, Options(), True, None, _Store())  # type: ignore[arg-type]
    two = Session.trusted("s", "", raw, Options(), True, None, _Store())  # type: ignore[arg-type]
    one["a"] = 2
    one.mark_modified()
    assert two["a"] == 1 and raw["a"] == 1 and not two.modified
    assert one.__pydantic_private__ is not two.__pydantic_private__
    assert one.model_fields_set is not two.model_fields_set


class _TaggedSession(Session):
    """A subclass with a field of its own, which ``trusted`` does not give."""

    tag: str = "none"


def test_trusted_subclass_with_its_own_field_gets_that_default() -> None:
    """S-4.1: the one-dict build is for Session's own fields; a subclass's extra field is filled."""
    store = _Store()
    fast = _TaggedSession.trusted("s", "", {"a": 1}, Options(), False, None, store)  # type: ignore[arg-type]
    assert type(fast) is _TaggedSession and fast.tag == "none"
    assert list(fast.__dict__) == list(_TaggedSession.model_fields)
    assert isinstance(fast.__dict__["values"], TrackedDict) and fast.values == {"a": 1}
    assert fast.store is store and not fast.modified
    plain = Session.trusted("s", "", {"a": 1}, Options(), False, None, store)  # type: ignore[arg-type]
    assert list(plain.__dict__) == list(Session.model_fields)
    assert plain.model_fields_set == set(Session.model_fields)


_OPTIONS = st.booleans().flatmap(
    lambda secure: st.builds(
        Options,
        path=st.sampled_from(["/", "/app", "/a b"]),
        domain=st.sampled_from(["", "example.com", ".example.org"]),
        max_age=st.integers(-5, 400 * 86400),
        secure=st.just(secure),
        http_only=st.booleans(),
        same_site=st.sampled_from([s for s in SameSite if secure or s is not SameSite.NONE]),
        partitioned=st.booleans() if secure else st.just(False),
    )
)


@given(_OPTIONS, st.sampled_from(["s", "x-y", "ab.c"]), st.text(max_size=20), st.floats(0, 4e9))
def test_for_session_equals_the_validating_constructor(
    options: Options, name: str, value: str, now: float
) -> None:
    """S-3.2, S-3.10: the trusted build equals the checked one, field by field and on the wire."""
    fast = Cookie.for_session(name, value, options, now)
    slow = Cookie(**fast.model_dump())
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.render() == slow.render()
    assert list(fast.__dict__) == list(Cookie.model_fields)
    assert (fast.name, fast.value) == (name, value)
    assert _from_options(fast) == _from_options(options)


_OPTION_FIELDS = ("path", "domain", "max_age", "secure", "http_only", "same_site", "partitioned")


def _from_options(model: Cookie | Options) -> tuple[object, ...]:
    return tuple(getattr(model, field) for field in _OPTION_FIELDS)


def test_for_session_takes_each_cookie_from_its_own_options() -> None:
    """S-3.2: the fields kept per options object never reach a cookie of other options.

    600 short-lived options objects, more than the 256 kept: entries are
    dropped and ids reused, and every cookie still carries its own options.
    """
    for index in range(600):
        options = Options(path=f"/p{index}", max_age=index - 1, http_only=index % 2 == 0)
        cookie = Cookie.for_session("s", "v", options, 1_000_000)
        assert _from_options(cookie) == _from_options(options)
        expected = 1_000_000 + options.max_age if options.max_age > 0 else None
        assert cookie.expires == (1 if options.max_age < 0 else expected)
        del options, cookie


def test_for_session_still_refuses_a_bad_name() -> None:
    """S-3.5: the fast path checks the name; a bad one is the constructor's ConfigurationError."""
    with pytest.raises(ConfigurationError, match="name"):
        Cookie.for_session("a b", "v", Options(), 0)


@given(st.integers(-11644473600, 253402300799))
def test_http_date_equals_formatdate(seconds: int) -> None:
    """S-3.1: the Expires date is email.utils.formatdate(usegmt=True), Go's http.TimeFormat."""
    from email.utils import formatdate

    from spec.cookie import http_date

    assert http_date(seconds) == formatdate(seconds, usegmt=True)


def test_modified_reads_the_private_flag() -> None:
    """S-4.7: mark_modified and mark_unmodified still drive ``modified``."""
    session = Session(name="s")
    assert not session.modified
    session.mark_modified()
    assert session.modified
    session.mark_unmodified()
    assert not session.modified
    session["a"] = 1
    assert session.modified


def test_clear_regenerate_request_writes_the_private_flag() -> None:
    """S-4.5: regenerate_id is recorded, and cleared by the store's call after saving."""
    session = Session(name="s")
    session.regenerate_id()
    assert session.regenerate_requested and session.modified
    session.clear_regenerate_request()
    session.mark_unmodified()
    assert not session.regenerate_requested and not session.modified


def test_private_reads_skip_pydantic_getattr(monkeypatch: pytest.MonkeyPatch) -> None:
    """S-4.5, S-4.1: ``regenerate_requested`` and ``store`` read the slots, same answers."""
    store = _Store()
    session = Session.trusted("s", "", {}, Options(), True, None, store)  # type: ignore[arg-type]
    session.regenerate_id()
    plain = Session(name="s")

    def refuse(self: object, name: str) -> object:
        raise AssertionError(f"pydantic's __getattr__ ran for {name}")

    monkeypatch.setattr(BaseModel, "__getattr__", refuse)
    assert session.regenerate_requested is True and session.store is store
    assert plain.regenerate_requested is False and plain.store is None


def _render_attribute_by_attribute(cookie: Cookie) -> str:
    """Go's Cookie.String written out attribute by attribute, to pin the cached rendering."""
    from spec._tokens import is_cookie_domain

    parts = [f"{cookie.name}={cookie.value}"]
    if cookie.path:
        parts.append("Path=" + cookie.path)
    domain = cookie.domain.removeprefix(".")
    if domain and is_cookie_domain(domain):
        parts.append("Domain=" + domain)
    if cookie.expires is not None:
        from email.utils import formatdate

        parts.append("Expires=" + formatdate(cookie.expires, usegmt=True))
    if cookie.max_age:
        parts.append(f"Max-Age={max(cookie.max_age, 0)}")
    if cookie.http_only:
        parts.append("HttpOnly")
    if cookie.secure:
        parts.append("Secure")
    if cookie.same_site is not SameSite.DEFAULT:
        parts.append(f"SameSite={cookie.same_site.value.capitalize()}")
    if cookie.partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


@given(_OPTIONS, st.sampled_from(["s", "x-y"]), st.sampled_from(["v", "a|b-c_=", ""]), st.data())
def test_cached_attributes_render_like_go(
    options: Options, name: str, value: str, data: st.DataObject
) -> None:
    """S-3.1: the per-options attribute cache writes what Go writes, whatever came before."""
    now = data.draw(st.sampled_from([0.0, 1.5e9, 1.5e9 + 1, 4e9]))
    cookie = Cookie.for_session(name, value, options, now)
    assert cookie.render() == _render_attribute_by_attribute(cookie)


def test_http_date_cache_follows_the_seconds() -> None:
    """S-3.1: the remembered last date is only reused for the very same second."""
    from email.utils import formatdate

    from spec.cookie import http_date

    for seconds in (1_700_000_000, 1_700_000_000, 1_700_000_001, 1_700_000_000, 0, 0):
        assert http_date(seconds) == formatdate(seconds, usegmt=True)


_HEADER = st.text(alphabet=st.sampled_from(list('ab=;" \t\r\n\\,x\x7f\x00é')), max_size=40)


@given(_HEADER, st.sampled_from(["a", "b", "ab", "x", "a b"]))
def test_cookie_values_keeps_what_parse_cookie_header_keeps(header: str, name: str) -> None:
    """S-3.9: the per-name lookup keeps exactly the pairs of the full parse, in order."""
    from spec.cookie import cookie_values, parse_cookie_header

    expected = [value for pair_name, value in parse_cookie_header(header) if pair_name == name]
    assert cookie_values(header, name) == expected


def test_an_unvalidated_cookie_cannot_plant_its_attributes_for_others() -> None:
    """S-3.7: model_construct values equal to valid ones (``"lax"``, ``True``) are cached apart."""
    planted = Cookie.model_construct(
        name="s",
        value="v",
        path="/",
        domain="",
        expires=None,
        max_age=True,
        secure=False,
        http_only=True,
        same_site="lax",
        partitioned=False,
    )
    planted.render()
    valid = Cookie(name="s", value="v", path="/", max_age=1, same_site=SameSite.LAX, http_only=True)
    assert valid.render() == "s=v; Path=/; Max-Age=1; HttpOnly; SameSite=Lax"
