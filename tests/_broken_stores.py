"""Deliberately broken stores, each wrong in one way a real backend could be.

``tests/test_conformance_teeth.py`` runs the conformance suite against each
and checks that it fails on the clause the defect violates.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import threading
from collections.abc import Sequence
from typing import ClassVar

from reference_impl import ServerSideStore
from reference_impl._store import server_side as _server_side
from reference_impl.cookie_store import CookieStore
from reference_impl.memory import DEFAULT_MAX_SESSIONS, _MemoryBackend
from reference_impl.securecookie import decode_multi
from spec import Clock, Cookie, ManualClock, Request, ResponseWriter, Session
from spec.errors import DecodeError

HASH, BLOCK = b"t" * 32, b"u" * 32

#: Stores below swap a function of the shared core for one save. Threaded
#: clauses (S-10.6) save from several threads at once: without this lock one
#: thread could take another's replacement for the original and "restore" it,
#: leaving the replacement in place for every store that runs afterwards.
PATCH_LOCK = threading.RLock()


class BrokenCookie(CookieStore):
    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(*(keys or (HASH, BLOCK)), clock=clock)


class BrokenMemory(ServerSideStore):
    """A memory store built the backend author's way: a backend wrapped in ServerSideStore."""

    backend_class: ClassVar[type[_MemoryBackend]] = _MemoryBackend

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        self._memory = self.backend_class(clock, DEFAULT_MAX_SESSIONS)
        super().__init__(self._memory, *(keys or (HASH, BLOCK)), clock=clock)

    def purge_expired(self) -> int:
        return self._memory.purge_expired()


# -- one defect each ------------------------------------------------------------


class UnsignedCookie(BrokenCookie):
    """Stores base64 JSON with no signature, so any cookie is accepted (S-9.3)."""

    def new(self, request: Request, name: str) -> Session:
        session = Session(name=name, options=self.options)
        session.bind(self)
        for raw in request.cookie_values(name):
            try:
                session.values = json.loads(base64.urlsafe_b64decode(raw))
                session.is_new = False
            except Exception:
                continue
            return session
        return session

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        value = base64.urlsafe_b64encode(json.dumps(session.values).encode()).decode()
        response.set_cookie(Cookie.for_session(session.name, value, session.options, self.clock()))


class RaisesOnBadCookie(BrokenCookie):
    """Lets a decode error escape from new() instead of reporting it (S-9.3)."""

    def new(self, request: Request, name: str) -> Session:
        session = super().new(request, name)
        if session.load_error is not None:
            raise session.load_error
        return session


class IgnoresExpiry(BrokenCookie):
    """Never checks the timestamp (S-9.4)."""

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(clock, *keys)
        for codec in self.codecs:
            codec.max_age = 0


class OnlyFirstCookie(BrokenCookie):
    """Tries only the first of several cookies with the session's name (S-9.5)."""

    def new(self, request: Request, name: str) -> Session:
        values = request.cookie_values(name)[:1]

        class FirstOnly:
            state = request.state

            def cookie_values(self, _: str) -> list[str]:
                return list(values)

        return super().new(FirstOnly(), name)


class TriesEveryCookie(BrokenCookie):
    """Tries every cookie with the session's name, however many were sent (S-9.5)."""

    def new(self, request: Request, name: str) -> Session:
        values = request.cookie_values(name)
        session = super().new(request, name)
        for start in range(1, len(values)):  # what an unbounded loop would reach
            if not session.is_new:
                break
            session = super().new(_Cookies(request, values[start:]), name)
        return session


class _Cookies:
    """A request whose cookies of any name are ``values`` (and whose state is ``request``'s)."""

    def __init__(self, request: Request, values: Sequence[str]) -> None:
        self.state = request.state
        self._values = list(values)

    def cookie_values(self, _: str) -> list[str]:
        return self._values


class CachesInNew(BrokenMemory):
    """new() hands out a cached session instead of a fresh one (S-9.6)."""

    def new(self, request: Request, name: str) -> Session:
        cache = self.__dict__.setdefault("_cache", {})
        if name not in cache:
            cache[name] = super().new(request, name)
        return cache[name]  # type: ignore[no-any-return]


class RegistryByNameOnly(BrokenMemory):
    """Caches per request by name only, like gorilla, so two stores share (S-9.6)."""

    def get(self, request: Request, name: str) -> Session:
        key = f"broken.{name}"
        if key not in request.state:
            request.state[key] = self.new(request, name)
        session = request.state[key]
        assert isinstance(session, Session)
        return session


class LearnsOptions(BrokenMemory):
    """Adopts the options of the last saved session as its defaults (S-9.7)."""

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        super().save(request, response, session)
        self.options = session.options


class MergesOnSave(BrokenMemory):
    """Merges saved values into the old record, so removed keys and flashes come back (S-9.8)."""

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        if session.id:
            record = self.backend.read(session.id)
            if record is not None:
                old = self.codecs[0].decode(session.name, record[0])
                if isinstance(old, dict):
                    session.values = {**old, **session.values}
        super().save(request, response, session)


class NoDeletion(BrokenMemory):
    """Ignores max_age < 0: logout does nothing (S-9.9)."""

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        if session.options.max_age < 0:
            return
        super().save(request, response, session)


class BrowserSessionDeletes(BrokenMemory):
    """gorilla's FilesystemStore bug: max_age == 0 deletes the session (S-9.10)."""

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        if session.options.max_age == 0:
            session.options = session.options.replace(max_age=-1)
        super().save(request, response, session)


class NoSizeLimit(BrokenCookie):
    """Sends cookies of any size; browsers drop them silently (S-9.11)."""

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(clock, *keys)
        self.max_length(0)


class DropsBytes(BrokenMemory):
    """Silently leaves bytes values out when saving (S-9.1)."""

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        session.values = {k: v for k, v in session.values.items() if not isinstance(v, bytes)}
        super().save(request, response, session)


class LogsTheCookie(BrokenCookie):
    """Writes the rejected cookie value into the log (S-9.17)."""

    def new(self, request: Request, name: str) -> Session:
        session = super().new(request, name)
        if session.load_error is not None:
            logging.getLogger("sessionspec.security").warning(
                "rejected session %r: %s", name, request.cookie_values(name)
            )
        return session


class ForgetsSavedState(BrokenMemory):
    """Never marks a session clean after saving, so every request re-sends its cookie (S-9.20)."""

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        super().save(request, response, session)
        session.mark_modified()


class _UpsertBackend(_MemoryBackend):
    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self._lock:
            self._put(session_id, data, expires_at)
        return True

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        # Its compare-and-set treats a missing record as a match: the same upsert.
        with self._lock:
            record = self._records.get(session_id)
            if record is not None and record[0] != expected:
                return False
            self._put(session_id, data, expires_at)
        return True


class ResurrectsAfterDelete(BrokenMemory):
    """Its update and its compare-and-set upsert, so a save after logout revives it (S-10.5)."""

    backend_class = _UpsertBackend


class _ClaimlessBackend(_MemoryBackend):
    def delete(self, session_id: str) -> bool:
        super().delete(session_id)
        return True  # "removed", whether or not there was anything to remove


class DeleteClaimsEverything(BrokenMemory):
    """Its delete always answers True, so regenerate_id() after a logout elsewhere
    recreates the session instead of being refused (S-10.5, issue 12 item 12)."""

    backend_class = _ClaimlessBackend


class KeepsOldRecordOnRegenerate(BrokenMemory):
    """Copies the session to a new ID but leaves the old record alive (S-10.7)."""

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        deleted: list[str] = []
        original = self.backend.delete

        def pretend_to_delete(session_id: str) -> bool:
            deleted.append(session_id)
            return True

        self.backend.delete = pretend_to_delete  # type: ignore[method-assign]
        try:
            super().save(request, response, session)
        finally:
            self.backend.delete = original  # type: ignore[method-assign]
        for session_id in deleted:
            if session.options.max_age < 0:
                original(session_id)


class PredictableIDs(BrokenMemory):
    """Draws IDs from a counter (S-10.1)."""

    counter: ClassVar[itertools.count[int]] = itertools.count()

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        with PATCH_LOCK:
            real = _server_side.new_session_id
            _server_side.new_session_id = lambda: f"{next(self.counter):052d}".translate(
                str.maketrans("0123456789", "ABCDEFGHIJ")
            )
            try:
                super().save(request, response, session)
            finally:
                _server_side.new_session_id = real


class _OverwritingBackend(_MemoryBackend):
    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self._lock:
            self._put(session_id, data, expires_at)
        return True


class OverwritesOnCreate(BrokenMemory):
    """Create overwrites and IDs come from a tiny space: sessions clobber each other (S-10.6)."""

    backend_class = _OverwritingBackend

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        with PATCH_LOCK:
            real = _server_side.new_session_id
            _server_side.new_session_id = lambda: "Q" * 52
            try:
                super().save(request, response, session)
            finally:
                _server_side.new_session_id = real


class ReusesCookieID(BrokenMemory):
    """Keeps the ID from a cookie whose record is gone (gorilla's fixation hole, S-10.2)."""

    def new(self, request: Request, name: str) -> Session:
        session = super().new(request, name)
        if session.load_error is not None:
            for raw in request.cookie_values(name):
                try:
                    decoded = decode_multi(name, raw, self.codecs)
                except DecodeError:
                    continue
                if isinstance(decoded, str):
                    session.id = decoded
                    self.backend.create(decoded, self.codecs[0].encode(name, {}), None, None)
        return session


def build(cls: type, clock: ManualClock) -> object:
    """Instantiate a broken store class on ``clock``."""
    return cls(clock)
