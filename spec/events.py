"""Lifecycle events: what happened to a session, for audit logs and counters (S-9.26).

A store calls its listeners *after* the fact: a session was created,
given a new ID, refused because it expired, deleted, or purged in bulk.
Listeners watch; they cannot change or stop what happened. A listener that
raises is logged (with its traceback, on the ``sessionspec`` logger) and
the request carries on, so an audit sink that is down never logs a user out
or fails a save. Events never carry the cookie, the values or a key: only
the session's name and ID, which are what an audit trail needs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

from spec.errors import DecodeError

__all__ = ["EventKind", "SessionEvent", "SessionListener", "notify"]

#: What happened.
EventKind: TypeAlias = Literal["created", "regenerated", "expired", "deleted", "purged"]

_log = logging.getLogger("sessionspec")


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One thing that happened to a session (or, for ``purged``, to many).

    ``store`` names the store (its class). ``name`` is the session's cookie
    name (empty for ``purged``). ``session_id`` is the ID the event is about
    (the new one for ``regenerated``, empty for cookie stores and
    ``purged``); ``previous_id`` the ID it replaced. ``error`` is why an
    ``expired`` session was refused (an ``ExpiredTimestampError``:
    ``AbsoluteTimeoutError``, ``IdleTimeoutError`` or plain expiry).
    ``count`` is how many records a ``purged`` event removed. ``at`` is the
    store's clock when it happened.
    """

    kind: EventKind
    store: str
    at: float
    name: str = ""
    session_id: str = ""
    previous_id: str = ""
    error: DecodeError | None = None
    count: int = 0


class SessionListener(Protocol):
    """What a store calls with each event: any callable taking a :class:`SessionEvent`.

    Called synchronously, in the request (or purge) that caused the event,
    so keep it quick: hand slow work (a network audit sink) to a queue.
    """

    def __call__(self, event: SessionEvent, /) -> None: ...


def notify(listeners: Iterable[SessionListener], event: SessionEvent) -> None:
    """Call every listener with ``event``; a failing one is logged and the others still run."""
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # a broken audit hook must never break a request
            _log.exception(
                "session event listener %r failed on a %r event of %s",
                listener,
                event.kind,
                event.store,
            )
