"""Typed sessions: a pydantic model as the schema of a session's values.

``TypedSession(store, "cart", Cart)`` loads a ``Cart`` from any store and
saves one back. The model's fields are the session's values:
``model_dump(mode="json")`` goes in, so datetimes, UUIDs, enums, decimals
and nested models reach every serializer (and a Go service) as plain JSON
values; model validation comes out, so the application only ever sees a
valid ``Cart``. See ``docs/typed-sessions.md``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar, cast

from pydantic import BaseModel, ValidationError

from spec.errors import ConfigurationError, DecodeError, SchemaError, SerializeError, SessionError
from spec.protocols import AsyncStore, Request, ResponseWriter, Store, is_async_store, never_blocks
from spec.registry import Registry, check_cookie_name
from spec.session import FLASH_KEY, Session, SessionKey, SessionValue

__all__ = ["Migrate", "TypedSession"]

M = TypeVar("M", bound=BaseModel)

#: ``migrate(values) -> values | None``: turns an old session's values into the
#: current schema's, or returns ``None`` to discard them (the model's defaults).
Migrate = Callable[[dict[str, SessionValue]], Mapping[str, SessionValue] | None]

_log = logging.getLogger("sessionspec.typed")


class TypedSession(Generic[M]):
    """Session ``name`` of ``store``, read and written as a ``model`` instance.

    Works over any :class:`~spec.Store` or :class:`~spec.AsyncStore`
    (third-party ones too): it goes through the request's
    :class:`~spec.Registry`, so the typed view and ``store.get`` share one
    session per request.

    * :meth:`load` never raises for bad data. Stored values that fail
      validation (an old schema, another service's keys, a crafted payload
      under a leaked key) give the model's defaults, and :meth:`load_error`
      says why (a :class:`~spec.errors.SchemaError`, logged at WARNING on
      ``sessionspec.typed``). A half-valid object never reaches the
      application.
    * :meth:`save` replaces the session's values with
      ``value.model_dump(mode="json")``. Keys that start with ``_`` (the
      flashes under ``"_flash"``) and ``int`` keys are no model's fields and
      are kept.
    * Every field needs a default: a first visit has no stored values, and
      the defaults are what it gets. A model with a required field is
      refused here with :class:`~spec.errors.ConfigurationError`, at start-up
      rather than on the first visitor.
    * ``migrate`` converts old sessions: it receives the stored values
      (``str`` keys) and returns the values to validate, or ``None`` to
      discard them. Without it, values that fail validation are discarded
      (with a ``load_error``).
    """

    __slots__ = ("migrate", "model", "name", "store")

    def __init__(
        self,
        store: Store | AsyncStore,
        name: str,
        model: type[M],
        *,
        migrate: Migrate | None = None,
    ) -> None:
        check_cookie_name(name)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ConfigurationError(
                f"TypedSession needs a pydantic model class, got {model!r}; "
                "define class MyModel(pydantic.BaseModel) with a default for every field"
            )
        required = [field for field, info in model.model_fields.items() if info.is_required()]
        if required:
            raise ConfigurationError(
                f"{model.__name__} has fields without a default ({', '.join(required)}); "
                "a new visitor has no stored values, so give every field a default "
                "(x: int = 0, items: list[str] = Field(default_factory=list))"
            )
        self.store = store
        self.name = name
        self.model = model
        self.migrate = migrate

    # -- the underlying session ----------------------------------------------

    def session(self, request: Request) -> Session:
        """The plain :class:`~spec.Session` behind the model (options, flashes, regenerate_id)."""
        store = self.store
        if is_async_store(store):
            raise ConfigurationError(
                f"session {self.name!r} comes from an async store: use await aload/asave/asession"
            )
        return Registry.of(request).get(cast(Store, store), self.name)

    async def asession(self, request: Request) -> Session:
        """:meth:`session` for async code; a sync store's load runs in a worker thread."""
        store = self.store
        if is_async_store(store):
            return await Registry.of(request).aget(store, self.name)
        registry = Registry.of(request)
        if never_blocks(store):  # declared I/O-free: inline, no thread hop
            return registry.get(cast(Store, store), self.name)
        return await asyncio.to_thread(registry.get, cast(Store, store), self.name)

    # -- reading ------------------------------------------------------------------

    def load(self, request: Request) -> M:
        """The session's values as a model: the defaults if there are none or they do not fit."""
        model, _ = self._parse(self.session(request), log=True)
        return model

    async def aload(self, request: Request) -> M:
        """:meth:`load` for async code."""
        model, _ = self._parse(await self.asession(request), log=True)
        return model

    def load_error(self, request: Request) -> SessionError | None:
        """Why the stored session was not used: the cookie's own error, else a SchemaError."""
        return self._parse(self.session(request), log=False)[1]

    async def aload_error(self, request: Request) -> SessionError | None:
        """:meth:`load_error` for async code."""
        return self._parse(await self.asession(request), log=False)[1]

    def _parse(self, session: Session, *, log: bool) -> tuple[M, DecodeError | None]:
        if session.load_error is not None:
            return self.model(), session.load_error
        stored: dict[str, SessionValue] = {
            key: value for key, value in session.values.items() if isinstance(key, str)
        }
        stored = {key: value for key, value in stored.items() if not key.startswith("_")}
        if self.migrate is not None:
            migrated = self.migrate(dict(stored))
            if migrated is None:
                return self.model(), None
            stored = dict(migrated)
        try:
            # Through JSON text: what went in is JSON (model_dump(mode="json")),
            # and JSON-mode validation turns ISO strings back into datetimes
            # even for strict models. Anything not JSON (a gob-only value from
            # Go) does not fit the model either.
            text = json.dumps(stored, allow_nan=False, ensure_ascii=False)
            return self.model.model_validate_json(text), None
        except ValidationError as exc:
            details = exc.errors(include_input=False, include_url=False)
            error = SchemaError(self.name, self.model.__name__, [dict(d) for d in details])
        except (TypeError, ValueError) as exc:
            error = SchemaError(
                self.name, self.model.__name__, [{"loc": (), "msg": f"not JSON data ({exc})"}]
            )
        if log:
            _log.warning("%s", error)
        return self.model(), error

    # -- writing ------------------------------------------------------------------

    def save(self, request: Request, response: ResponseWriter, value: M) -> None:
        """Store ``value`` as the session's values and write the cookie."""
        store = self.store
        if is_async_store(store):
            raise ConfigurationError(
                f"session {self.name!r} comes from an async store: use await asave"
            )
        session = self.session(request)
        self._fill(session, value)
        cast(Store, store).save(request, response, session)

    async def asave(self, request: Request, response: ResponseWriter, value: M) -> None:
        """:meth:`save` for async code; a sync store's save runs in a worker thread."""
        session = await self.asession(request)
        self._fill(session, value)
        await session.asave(request, response)

    def put(self, request: Request, value: M) -> None:
        """Store ``value`` as the session's values without writing the cookie yet.

        For apps whose middleware saves every modified session at the end of
        the request (the Flask, Starlette and Django integrations,
        :func:`spec.save_all`): the session is marked modified and written
        with the rest, so a view never needs the response object.
        """
        self._fill(self.session(request), value)

    async def aput(self, request: Request, value: M) -> None:
        """:meth:`put` for async code."""
        self._fill(await self.asession(request), value)

    def _fill(self, session: Session, value: M) -> None:
        if not isinstance(value, self.model):
            raise SerializeError(
                f"TypedSession {self.name!r} saves {self.model.__name__} instances, got "
                f"{type(value).__name__}; build one with {self.model.__name__}(...) or "
                f"{self.model.__name__}.model_validate(data)",
                type_name=type(value).__name__,
            )
        dumped: dict[str, SessionValue] = value.model_dump(mode="json", by_alias=True)
        # Key by key rather than a new mapping, so a server-side store merges
        # this save with a concurrent one (S-10.20): the model's fields are this
        # request's, keys outside the model that another request set are kept.
        values = session.values
        for key in [k for k in values if _is_field_key(k) and k not in dumped]:
            del values[key]
        for key, item in dumped.items():
            values[key] = item
        if not dumped:
            session.mark_modified()

    # -- flashes --------------------------------------------------------------

    def add_flash(self, request: Request, message: SessionValue, key: str = FLASH_KEY) -> None:
        """Queue a flash beside the model (kept by :meth:`save`); saved with the next save."""
        self.session(request).add_flash(message, key)

    def flashes(self, request: Request, key: str = FLASH_KEY) -> list[SessionValue]:
        """Take the queued flashes (``[]`` if none); removed at the next save."""
        return self.session(request).flashes(key)


def _is_field_key(key: SessionKey) -> bool:
    """Whether ``key`` can be a model field: a ``str`` not starting with ``_``."""
    return isinstance(key, str) and not key.startswith("_")
