"""The session: values, options and where they came from."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn, cast

from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from spec._model import ValidatedModel
from spec._tokens import check_cookie_name
from spec._tracked import TrackedDict
from spec.errors import ConfigurationError, DecodeError, MissingStoreError
from spec.options import Options
from spec.protocols import is_async_store, never_blocks
from spec.values import SessionValue

if TYPE_CHECKING:
    from spec.protocols import AsyncStore, Request, ResponseWriter, Store

__all__ = ["FLASH_KEY", "AsyncSession", "Session", "SessionKey", "SessionValue"]

#: The key flashes are kept under when none is given (gorilla's ``_flash``).
FLASH_KEY = "_flash"

#: Session values are keyed by strings or integers (gorilla's ``values[42] = 43``).
SessionKey = str | int


class Session(ValidatedModel):
    """One named session of one request.

    ``values`` is a plain dict the application reads and writes. ``options``
    belongs to this session alone: it starts as a copy of the store's
    defaults, and because :class:`Options` is frozen, changing it means
    assigning new options (``session.options = session.options.replace(max_age=0)``),
    which can never alter the store or another session.

    ``id`` is empty where the data lives in the cookie and is set only by
    stores. ``is_new`` says whether the session was created (``True``) or
    loaded (``False``) and does not change on save. ``load_error`` keeps the
    typed reason an incoming cookie was rejected; the session is then fresh.

    ``created_at`` is when the session was first saved (Unix seconds), kept
    for its whole life, through ``regenerate_id`` too, by stores that track
    lifetimes; ``None`` until then or where a store does not track it.

    ``user_id`` names the user the session belongs to (``None``: nobody
    logged in). Server-side stores persist and index it, so
    ``store.user_sessions(user_id)`` lists a user's devices and
    ``store.revoke_user(user_id)`` logs them all out (S-10.11). Set it at
    login together with :meth:`regenerate_id`, and clear it at logout.

    ``modified`` says whether the values or options changed since the
    session was loaded or last saved, so integrations send ``Set-Cookie``
    only for sessions a request touched (writing the cookie on every
    response extends lifetimes by accident and lets concurrent requests
    overwrite each other). Changes made *inside* a stored list or dict are
    not seen; call :meth:`mark_modified` after those.
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        arbitrary_types_allowed=True,
        strict=True,
    )

    name: str
    id: str = ""
    values: dict[SessionKey, SessionValue] = Field(default_factory=dict)
    options: Options = Field(default_factory=Options)
    is_new: bool = True
    load_error: DecodeError | None = None
    created_at: int | None = None
    user_id: str | None = None

    _store: Store | AsyncStore | None = PrivateAttr(default=None)
    _regenerate: bool = PrivateAttr(default=False)
    _modified: bool = PrivateAttr(default=False)
    # What the store loaded, for a touch (S-9.23): the last use it recorded and
    # the record text, so a touch can refuse to overwrite a concurrent write.
    _used_at: int | None = PrivateAttr(default=None)
    _record: str | None = PrivateAttr(default=None)
    # The user_id the store last wrote for this session (S-10.11): a save that
    # changes session.user_id moves the session from that user's index.
    _stored_user: str | None = PrivateAttr(default=None)

    def model_post_init(self, context: object, /) -> None:
        """Watch ``values`` for changes from the start."""
        self.__dict__["values"] = TrackedDict(self.values)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "user_id":
            check_user_id(value)  # a typed error, before pydantic wraps it
        super().__setattr__(name, value)
        if name == "values":
            values: TrackedDict[SessionKey, SessionValue] = TrackedDict(self.__dict__["values"])
            values.replaced = True  # the request stated the whole mapping (S-10.20)
            self.__dict__["values"] = values
            self._modified = True
        elif name in ("options", "user_id"):
            self._modified = True

    # -- the session as a mapping of its values (S-4.8) -------------------------
    #
    # A pydantic model iterates as ``(field, value)`` pairs, so without these
    # ``"user" in session`` would search the field names and answer ``False``
    # for a logged-in user: an access check that silently fails. Every
    # mapping operation on a session therefore means its values.

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def __getitem__(self, key: SessionKey) -> SessionValue:
        return self.values[key]

    def __setitem__(self, key: SessionKey, value: SessionValue) -> None:
        self.values[key] = value

    def __delitem__(self, key: SessionKey) -> None:
        del self.values[key]

    def __iter__(self) -> Iterator[SessionKey]:  # type: ignore[override]
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def get(self, key: SessionKey, default: SessionValue = None) -> SessionValue:
        """``session.values.get(key, default)``."""
        return self.values.get(key, default)

    # -- modification tracking ------------------------------------------------

    @property
    def modified(self) -> bool:
        """Whether values or options changed since the session was loaded or saved."""
        values = self.__dict__["values"]
        private = self.__pydantic_private__  # not self._modified: pydantic's __getattr__ is slow
        modified = private["_modified"] if private is not None else False
        return modified or (isinstance(values, TrackedDict) and values.changed)

    def mark_modified(self) -> None:
        """Record a change the session cannot see (an in-place edit of a stored list).

        The session cannot tell which value was edited, so at the next save
        every key it holds counts as set: where a server-side store merges
        concurrent saves (S-10.20), this request's view of each of its keys
        wins, while keys another request added meanwhile are kept.
        """
        self._modified = True
        values = self.__dict__["values"]
        if isinstance(values, TrackedDict):
            values.all_set = True

    def mark_unmodified(self) -> None:
        """Record that the session matches what is stored (called after load and save)."""
        _set_private(self, "_modified", False)
        values = self.__dict__["values"]
        if isinstance(values, TrackedDict):
            values.reset()

    @field_validator("user_id")
    @classmethod
    def _check_user_id(cls, value: str | None) -> str | None:
        check_user_id(value)
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        check_cookie_name(value)  # InvalidCookieNameError is a ValueError: pydantic wraps it
        return value

    # -- store binding -----------------------------------------------------

    @property
    def store(self) -> Store | AsyncStore | None:
        """The store that produced this session, or ``None``."""
        store: Store | AsyncStore | None = _get_private(self, "_store")
        return store

    @classmethod
    def trusted(
        cls,
        name: str,
        session_id: str,
        values: dict[SessionKey, SessionValue],
        options: Options,
        is_new: bool,
        load_error: DecodeError | None,
        store: Store | AsyncStore,
        created_at: int | None = None,
        user_id: str | None = None,
    ) -> Session:
        """A session from fields a store has already checked, bound to ``store``, unmodified.

        For stores only: it skips validation, which costs more than the rest
        of loading a cookie. The name must be a token, the values a
        str/int-keyed dict, and ``options`` a validated :class:`Options`.
        """
        state: dict[str, Any] = {  # every field, in field order
            "name": name,
            "id": session_id,
            "values": values,
            "options": options,
            "is_new": is_new,
            "load_error": load_error,
            "created_at": created_at,
            "user_id": user_id,
        }
        private = _TRUSTED_PRIVATE.get(cls, _UNSET)
        if private is _UNSET:
            private = _trusted_private(cls)
        if private is None:  # a subclass with fields of its own: they need their defaults
            session = _construct(cls, state)
            _set_private(session, "_store", store)
            return session
        state["values"] = TrackedDict(values)  # the dict is the whole state
        private = private.copy()
        private["_store"] = store
        return _assemble(cls, state, set(_TRUSTED_FIELDS), private)

    def adopt(self, store: Store | AsyncStore) -> None:
        """Bind to ``store`` unless already bound, and mark unmodified (the registry's hand-off).

        A third-party store may return sessions it never bound; the registry
        binds them so ``session.save`` works, and what ``new`` did counts as
        loading, not as a change (S-5.6).
        """
        private = self.__pydantic_private__
        if private is not None:
            if private["_store"] is None:
                private["_store"] = store
            private["_modified"] = False
        values = self.__dict__["values"]
        # Only when something was recorded: this runs on every load (a call budget, issue 13).
        if isinstance(values, TrackedDict) and (
            values.changed or values.replaced or values.all_set
        ):
            values.reset()

    def bind(self, store: Store | AsyncStore) -> None:
        """Record the store this session belongs to (called by stores and the registry)."""
        self._store = store

    def save(self, request: Request, response: ResponseWriter) -> None:
        """Save through the store that produced this session (gorilla's ``session.Save``)."""
        store = self.store
        if store is None:
            raise MissingStoreError(self.name)
        if is_async_store(store):
            raise ConfigurationError(f"session {self.name!r} comes from an async store: use asave")
        store.save(request, response, self)

    async def asave(self, request: Request, response: ResponseWriter) -> None:
        """Save through an async store (a sync store's save runs in a worker thread)."""
        store = self.store
        if store is None:
            raise MissingStoreError(self.name)
        if is_async_store(store):
            await store.save(request, response, self)
        elif never_blocks(store):  # declared I/O-free: inline, no thread hop
            store.save(request, response, self)
        else:
            await asyncio.to_thread(store.save, request, response, self)

    # -- flashes -----------------------------------------------------------

    def add_flash(self, value: SessionValue, key: str = FLASH_KEY) -> None:
        """Append ``value`` to the flash list under ``key``, creating the list.

        The flash is stored only when the session is saved afterwards.
        """
        current = self.values.get(key)
        if current is None:
            self.values[key] = [value]
        elif isinstance(current, list):
            current.append(value)
            if isinstance(self.values, TrackedDict):
                self.values.mark_set(key)  # the list changed in place: its key was set
            else:
                self._modified = True
        else:
            raise TypeError(_not_a_flash_list(key, current))

    def flashes(self, key: str = FLASH_KEY) -> list[SessionValue]:
        """Remove and return the flash list under ``key`` (``[]`` if there is none).

        The removal is stored only when the session is saved afterwards, so
        a request that reads flashes but fails before saving shows them again.
        """
        current = self.values.get(key)
        if current is None:
            self.values.pop(key, None)
            return []
        if not isinstance(current, list):
            raise TypeError(_not_a_flash_list(key, current))
        del self.values[key]
        return cast("list[SessionValue]", current)  # a GoList read from Go holds them too

    # -- identifier --------------------------------------------------------

    def regenerate_id(self) -> None:
        """Ask the store for a new ID at the next save and delete the old record.

        Call it whenever privileges change (log in, log out): an attacker who
        planted or learned the old ID before login must not share the
        logged-in session (session fixation). At login, set
        ``session.user_id`` in the same request, so the new ID is the one
        indexed under the user. Client-side stores, which have
        no ID, ignore it: every save re-signs the whole cookie anyway.
        """
        self._regenerate = True
        self._modified = True

    @property
    def regenerate_requested(self) -> bool:
        """Whether :meth:`regenerate_id` was called since the last save."""
        return bool(_get_private(self, "_regenerate"))

    def clear_regenerate_request(self) -> None:
        """Mark the requested ID change as done (called by stores after saving)."""
        _set_private(self, "_regenerate", False)


#: Per class: (the defaults of every field in order, those of the private attributes,
#: the fields without a default), or ``None`` where a default is mutable and must be
#: built afresh by pydantic.
_DEFAULTS: dict[type[Session], tuple[dict[str, Any], dict[str, Any], frozenset[str]] | None] = {}
_UNSET: Any = object()


def _immutable(value: object) -> bool:
    return value is None or value is _UNSET or isinstance(value, bool | int | str | Options)


def _defaults(
    cls: type[Session],
) -> tuple[dict[str, Any], dict[str, Any], frozenset[str]] | None:
    if cls not in _DEFAULTS:
        fields: dict[str, Any] = {}
        for field_name, field in cls.model_fields.items():
            required = field.default_factory is not None or field.is_required()
            fields[field_name] = _UNSET if required else field.default
        attrs = cast("dict[str, Any]", cls.__private_attributes__)
        private = {attr_name: attr.get_default() for attr_name, attr in attrs.items()}
        simple = all(_immutable(v) for v in (*fields.values(), *private.values()))
        unset = frozenset(name for name, default in fields.items() if default is _UNSET)
        _DEFAULTS[cls] = (fields, private, unset) if simple else None
    return _DEFAULTS[cls]


def _construct(cls: type[Session], given: dict[str, Any]) -> Session:
    """What ``cls.model_construct(**given)`` builds, values watched, minus its per-call walk.

    :meth:`Session.trusted` comes here for a subclass with fields of its
    own, which need their defaults. model_construct resolves aliases and
    defaults field by field on every call; the defaults here are read once
    per class. The result has the same ``__dict__`` (in field order), fields
    set, extra and private slots, which tests/spec/test_fast_paths.py pins.
    """
    defaults = _defaults(cls)
    if defaults is None or not defaults[2] <= given.keys():  # a field needs building
        session = cls.model_construct(**given)  # wraps values in a TrackedDict itself
        return session
    fields, private, _ = defaults
    state = {field: given.get(field, default) for field, default in fields.items()}
    state["values"] = TrackedDict(state["values"])
    return _assemble(cls, state, set(given), dict(private))


def _assemble(
    cls: type[Session], state: dict[str, Any], fields_set: set[str], private: dict[str, Any]
) -> Session:
    """A ``cls`` instance holding exactly these slots, as ``model_construct`` fills them."""
    session = cls.__new__(cls)
    object.__setattr__(session, "__dict__", state)
    object.__setattr__(session, "__pydantic_fields_set__", fields_set)
    object.__setattr__(session, "__pydantic_extra__", None)
    object.__setattr__(session, "__pydantic_private__", private)
    return session


#: The fields :meth:`Session.trusted` gives: every field of :class:`Session`.
_TRUSTED_FIELDS = frozenset(Session.model_fields)
#: Per class: the private defaults when its fields are Session's own, in the same
#: order, with simple defaults (``trusted`` then writes the state as one dict
#: literal), else ``None`` (a subclass with fields of its own goes through _construct).
_TRUSTED_PRIVATE: dict[type[Session], dict[str, Any] | None] = {}


def _trusted_private(cls: type[Session]) -> dict[str, Any] | None:
    defaults = _defaults(cls)
    if defaults is None or tuple(defaults[0]) != tuple(Session.model_fields):
        _TRUSTED_PRIVATE[cls] = None
    else:
        _TRUSTED_PRIVATE[cls] = defaults[1]
    return _TRUSTED_PRIVATE[cls]


#: What a user ID may be: letters, digits and ``_ - . @ +``, 1 to 128 of them.
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9_.@+-]{1,128}")


def check_user_id(value: object) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is ``None`` or a valid user ID.

    A user ID becomes part of a Redis key, a file name's hash input and a
    SQL parameter; keeping it to an inert alphabet (no ``:``, ``*``, ``{``,
    spaces or control characters) means it can never address another key,
    pattern or hash slot, and the bound keeps index keys small. An e-mail
    address or a numeric or UUID primary key fits.
    """
    if value is None:
        return
    if not isinstance(value, str) or USER_ID_PATTERN.fullmatch(value) is None:
        shown = value if isinstance(value, str) else type(value).__name__
        raise ConfigurationError(
            f"session.user_id must be None or 1 to 128 letters, digits and _ - . @ +; "
            f"got {shown!r:.80}: use your user's primary key (str(user.pk)) or e-mail"
        )


def _get_private(session: Session, name: str) -> Any:
    """Read a private attribute straight from its slot: ``self._x`` is not found
    by normal lookup and ends in pydantic's ``__getattr__`` (about 2 µs, on
    every save)."""
    private = session.__pydantic_private__
    return getattr(session, name) if private is None else private[name]


def _set_private(session: Session, name: str, value: object) -> None:
    """Set a private attribute straight in its slot: ``self._x = v`` goes through
    pydantic's ``__setattr__`` and ours (a few µs, twice per save)."""
    private = session.__pydantic_private__
    if private is None:
        setattr(session, name, value)
    else:
        private[name] = value


def _not_a_flash_list(key: str, value: object) -> str:
    return (
        f"session value {key!r} is a {type(value).__name__}, not a flash list; "
        "flashes must be added with add_flash()"
    )


class UseAsave:
    """No value has this type: it is what ``AsyncSession.save`` asks for, so mypy refuses the call.

    mypy then reports ``Argument 1 to "save" of "AsyncSession" has
    incompatible type ...; expected "UseAsave"`` on the line that calls it.
    """


if TYPE_CHECKING:

    class AsyncSession(Session):
        """A session an :class:`~spec.AsyncStore` gave out: save it with ``await session.asave``.

        Its ``save`` would block the event loop on a disk or a network (and
        raises ``ConfigurationError`` at run time); this type makes the
        mistake a mypy error on the line where it is written.
        """

        def save(self, request: UseAsave, response: UseAsave) -> NoReturn:  # type: ignore[override]
            """Refused: ``await session.asave(request, response)``."""
            ...

else:
    #: At run time an async store's session is a plain :class:`Session` (its
    #: ``save`` raises ``ConfigurationError``); the distinction is for type checkers.
    AsyncSession = Session
