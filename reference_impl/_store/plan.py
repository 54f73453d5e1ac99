"""Sans-I/O plans: the store logic once, for sync and async stores alike.

A store's load and save decisions are written as *plans*: generators that
yield backend steps (:class:`Read`, :class:`Create`, :class:`Update`,
:class:`Swap`, :class:`Delete` and the user-index steps) and are sent each
step's result. :func:`run_plan` performs the steps with blocking calls (the
sync stores), :func:`arun_plan` awaits them (``reference_impl.aio``). Both
kinds of store therefore make the same decisions in the same order, and
every guarantee of ``docs/spec.md`` (ID checks before I/O, create never
overwrites, no resurrection, regenerate_id, logging, size limits) lives in
one place. A step that fails is raised *inside* the plan, at its ``yield``,
exactly where a direct call would have raised, so the plan's own
``try``/``except`` behave as in straight-line code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TypeAlias, TypeVar, cast

from spec.errors import StoreError

__all__ = [
    "Create",
    "Delete",
    "IndexUser",
    "ListUser",
    "Op",
    "Plan",
    "Read",
    "Record",
    "Swap",
    "UnindexUser",
    "Update",
    "arun_plan",
    "create",
    "delete",
    "read",
    "run_plan",
    "swap",
    "update",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Read:
    """Fetch ``(data, expires_at)`` for an ID; the result is the record or ``None``."""

    session_id: str


@dataclass(frozen=True, slots=True)
class Create:
    """Store a new record; the result is ``False`` (nothing written) if the ID exists."""

    session_id: str
    data: str
    expires_at: float | None
    ttl: int | None


@dataclass(frozen=True, slots=True)
class Update:
    """Replace a record; the result is ``False`` (nothing written) if it is gone."""

    session_id: str
    data: str
    expires_at: float | None
    ttl: int | None


@dataclass(frozen=True, slots=True)
class Swap:
    """Replace a record only if its text is still ``expected``; the result is whether it did.

    The compare-and-set a touch needs (S-9.23): a request that only read a
    session re-stamps it without ever writing over a change another request
    saved meanwhile.
    """

    session_id: str
    expected: str
    data: str
    expires_at: float | None
    ttl: int | None


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove a record if present; the result is ``True`` if one was removed."""

    session_id: str


@dataclass(frozen=True, slots=True)
class IndexUser:
    """List ``session_id`` under ``user_id`` until ``expires_at`` (S-10.11); no result."""

    session_id: str
    user_id: str
    expires_at: float | None
    ttl: int | None


@dataclass(frozen=True, slots=True)
class UnindexUser:
    """Take ``session_id`` off ``user_id``'s list (S-10.11); no result."""

    session_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class ListUser:
    """The IDs listed under ``user_id`` whose listed deadline is not before ``now``."""

    user_id: str
    now: float


#: One backend step of a plan.
Op: TypeAlias = Read | Create | Update | Swap | Delete | IndexUser | UnindexUser | ListUser
#: A plan: yields backend steps, is sent their results, returns ``_T``.
Plan: TypeAlias = Generator[Op, object, _T]
#: A stored record: the securecookie text of the values and its deadline.
Record: TypeAlias = tuple[str, float | None]


# Typed steps for plans (``record = yield from read(sid)``). The drivers send
# back exactly what the backend method returned, hence the casts.


def read(session_id: str) -> Plan[Record | None]:
    """Step: the record of ``session_id``, or ``None`` if absent."""
    return cast("Record | None", (yield Read(session_id)))


def create(session_id: str, data: str, expires_at: float | None, ttl: int | None) -> Plan[bool]:
    """Step: store a new record; ``False`` if the ID is taken (nothing written)."""
    return bool((yield Create(session_id, data, expires_at, ttl)))


def update(session_id: str, data: str, expires_at: float | None, ttl: int | None) -> Plan[bool]:
    """Step: replace a record; ``False`` if it is gone (nothing written)."""
    return bool((yield Update(session_id, data, expires_at, ttl)))


def swap(
    session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
) -> Plan[bool]:
    """Step: replace a record still reading ``expected``; ``False`` if it changed or is gone."""
    return bool((yield Swap(session_id, expected, data, expires_at, ttl)))


def delete(session_id: str) -> Plan[bool]:
    """Step: remove a record if present; ``True`` if this call removed one.

    The answer is what lets a save *claim* a record: after
    ``regenerate_id()`` the old record is deleted first, and only the request
    whose delete removed it may create the new one (S-10.5). A backend that
    answers ``None`` (written before ``delete`` reported anything) cannot
    make that claim, so it is refused with a message instead of being read
    as "removed".
    """
    removed = yield Delete(session_id)
    if removed is None:
        raise StoreError(
            "the backend's delete() returned None: it must return True when it "
            "removed the record and False when there was none (RecordBackend.delete)",
            action="delete a session",
        )
    return bool(removed)


def run_plan(plan: Plan[_T], perform: Callable[[Op], object]) -> _T:
    """Drive ``plan`` with blocking calls: each step's result (or error) goes back in."""
    try:
        result: object = None
        error: Exception | None = None
        while True:
            try:
                op = plan.send(result) if error is None else plan.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                result, error = perform(op), None
            except Exception as exc:  # raised inside the plan, where the step was asked for
                result, error = None, exc
    finally:
        plan.close()


async def arun_plan(plan: Plan[_T], perform: Callable[[Op], Awaitable[object]]) -> _T:
    """Drive ``plan`` awaiting each step: :func:`run_plan` for async stores.

    Cancellation is not sent into the plan: it stops where it is (the store
    is left as after an interrupted sync save: a record at most, no cookie).
    """
    try:
        result: object = None
        error: Exception | None = None
        while True:
            try:
                op = plan.send(result) if error is None else plan.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                result, error = await perform(op), None
            except Exception as exc:
                result, error = None, exc
    finally:
        plan.close()
