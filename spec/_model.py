"""The base of the public pydantic models: every way of building one validates.

Two things pydantic does not do by itself:

* ``model_copy(update=...)`` skips validation, so a copy could carry a
  ``Domain`` holding CR LF (a second, injected ``Set-Cookie`` header) past
  every check the constructor makes. Here it re-validates, like the
  constructor, so no public way of building options or cookies skips the
  rules. (``model_construct`` remains pydantic's explicitly unvalidated
  escape hatch; rendering still refuses to write what it would let through.)
* Failures are :class:`pydantic.ValidationError`, whose text ends with a
  link to pydantic's site. Here they are :class:`~spec.errors.ConfigurationError`
  with the same field messages, so a start-up failure is the library's own
  error, catchable with the library's other configuration errors.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ValidationError

from spec.errors import ConfigurationError

__all__ = ["ValidatedModel", "configuration_error"]


def configuration_error(model: type[BaseModel], exc: ValidationError) -> ConfigurationError:
    """Turn pydantic's ``exc`` for ``model`` into a :class:`ConfigurationError`.

    The message joins one ``field: problem`` per error. Input values are not
    repeated (only their type, for type errors): our own validators already
    quote the offending text, and anything else might be a secret.
    """
    name = model.__name__
    lines: list[str] = []
    reported: list[dict[str, object]] = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        kind = error["type"]
        msg = error["msg"]
        if kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif kind == "frozen_instance":
            how = "replace" if hasattr(model, "replace") else "model_copy"
            msg = f"{name} is immutable; derive a changed copy with .{how}(...)"
        else:
            msg = f"{msg} (got {type(error.get('input')).__name__})"
        lines.append(msg if not loc or msg.startswith(loc) else f"{loc}: {msg}")
        reported.append({"type": kind, "loc": error["loc"], "msg": msg})
    return ConfigurationError(f"invalid {name}: " + "; ".join(lines), errors=reported)


class ValidatedModel(BaseModel):
    """A pydantic model whose constructor, validators and copies raise ``ConfigurationError``."""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise configuration_error(type(self), exc) from None

    # This __init__ only validates, as BaseModel's does. The flag (pydantic's
    # own, also set by RootModel) keeps pydantic from calling it from inside
    # model_validate, where the ConfigurationError would be wrapped twice.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate ``obj`` into a model; failures are :class:`ConfigurationError`."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise configuration_error(cls, exc) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Validate JSON text into a model; failures are :class:`ConfigurationError`."""
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            raise configuration_error(cls, exc) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise configuration_error(type(self), exc) from None

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Return a copy with ``update`` applied, validated like the constructor.

        pydantic's own ``model_copy`` trusts ``update``; this one builds the
        copy through :meth:`model_validate`, so a bad value raises
        :class:`ConfigurationError` instead of reaching the wire.
        """
        if not update:
            return super().model_copy(deep=deep)
        data: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(update)
        if deep:
            data = copy.deepcopy(data)
        new = type(self).model_validate(data)
        private = self.__pydantic_private__
        if private:
            object.__setattr__(
                new, "__pydantic_private__", copy.deepcopy(private) if deep else dict(private)
            )
        return new
