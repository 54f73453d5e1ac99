"""Cookie options: how a session's cookie is scoped and how long it lives."""

from __future__ import annotations

import enum
from typing import Literal, TypedDict, Unpack

from pydantic import ConfigDict, field_validator, model_validator

from spec._model import ValidatedModel
from spec._tokens import MAX_AGE_LIMIT, check_cookie_domain, check_cookie_path, check_max_age

__all__ = ["DEFAULT_MAX_AGE", "MAX_AGE_LIMIT", "OptionChanges", "Options", "SameSite"]

#: 30 days, gorilla's default lifetime for cookies and for codec expiry.
DEFAULT_MAX_AGE = 86400 * 30


class SameSite(enum.StrEnum):
    """The ``SameSite`` cookie attribute. ``DEFAULT`` writes no attribute."""

    DEFAULT = "default"
    LAX = "lax"
    STRICT = "strict"
    NONE = "none"


class Options(ValidatedModel):
    """The attributes of a session cookie (S-2.x in ``docs/spec.md``).

    Frozen: a session's options are replaced, never edited in place, so a
    change to one session can never leak into the store's defaults or into
    another session (gorilla GH-8). Use :meth:`replace` to derive new
    options. Every way of building options validates (the constructor,
    :meth:`replace`, ``model_validate`` and ``model_copy(update=...)``), so a
    path or domain that could inject an attribute or a header never gets
    in, and a failure is a :class:`~spec.errors.ConfigurationError` raised
    at start-up rather than at the first response.

    The defaults are the safe web-framework ones (``Path=/``, 30 days,
    ``HttpOnly``, ``SameSite=Lax``), not gorilla 1.4's ``Secure`` +
    ``SameSite=None``: ``HttpOnly`` keeps scripts (and XSS) away from the
    session, and ``Lax`` blocks cross-site form posts riding on the cookie.
    ``Secure`` is off so plain-HTTP development works; turn it on in
    production.

    ``max_age`` > 0 makes a persistent cookie, ``0`` a browser-session cookie
    (no ``Max-Age``/``Expires``), < 0 deletes the cookie (and, for
    server-side stores, the session). Its size is bounded by
    :data:`MAX_AGE_LIMIT` (about 7,900 years) so that ``now + max_age`` is
    always a date an ``Expires`` attribute can hold: a larger value used to
    pass here and fail while the response was rendered, after the store had
    written the session.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    path: str = "/"
    domain: str = ""
    max_age: int = DEFAULT_MAX_AGE
    secure: bool = False
    http_only: bool = True
    same_site: SameSite = SameSite.LAX
    partitioned: bool = False

    @field_validator("same_site", mode="before")
    @classmethod
    def _coerce_same_site(cls, value: object) -> object:
        if isinstance(value, str) and not isinstance(value, SameSite):
            try:
                return SameSite(value.lower())
            except ValueError:
                raise ValueError(
                    f"same_site must be one of default, lax, strict, none; got {value!r}"
                ) from None
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return check_cookie_path(value)

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        return check_cookie_domain(value)

    @field_validator("max_age")
    @classmethod
    def _check_max_age(cls, value: int) -> int:
        return check_max_age(value)

    @model_validator(mode="after")
    def _check_secure_requirements(self) -> Options:
        if self.same_site is SameSite.NONE and not self.secure:
            raise ValueError("same_site='none' requires secure=True (browsers reject it)")
        if self.partitioned and not self.secure:
            raise ValueError("partitioned=True requires secure=True (browsers reject it)")
        return self

    def replace(self, **changes: Unpack[OptionChanges]) -> Options:
        """Return validated options with ``changes`` applied (this object is unchanged).

        The keywords are typed (:class:`OptionChanges`), so mypy reports
        ``replace(max_age="3600")`` and a misspelt ``replace(maxage=3600)`` on
        the line that calls it; at run time the same mistakes raise.

        Raises:
            ConfigurationError: a changed value breaks a rule (S-2), or a
                keyword names no option.
        """
        return self.model_copy(update=dict(changes))


class OptionChanges(TypedDict, total=False):
    """The keyword arguments of :meth:`Options.replace`: every field, each optional."""

    path: str
    domain: str
    max_age: int
    secure: bool
    http_only: bool
    same_site: SameSite | Literal["default", "lax", "strict", "none"]
    partitioned: bool
