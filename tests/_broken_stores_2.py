"""Realistic third-party stores for the teeth test (issue 14): broken ones and odd correct ones.

Each broken store is what an outside author could write from the public API
(``ServerSideStore`` over a ``RecordBackend``, as docs/writing-a-backend.md
teaches, or ``CookieStore``, ``Cookie``, ``SecureCookie``, ``Registry``) and
is wrong in one way. Its class attributes say what it claims and which
clause must reject it:

* ``caps``: the capabilities it declares (``conformance.Capabilities`` fields);
* ``killed_by``: the prefix of the conformance tests that must fail for it.

The correct stores (``killed_by = ""``) are unusual but right: they must
pass every clause. ``tests/test_conformance_teeth.py`` runs them all.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import random
import shelve
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from reference_impl import CookieStore, MemoryStore, ServerSideStore
from reference_impl._store import core as _core
from reference_impl._store import server_side as _server_side
from reference_impl.aio import AsyncServerSideStore
from reference_impl.securecookie import decode_multi
from reference_impl.serializers import GobSerializer, JSONSerializer
from spec import Clock, Cookie, Request, ResponseWriter, Session
from spec.errors import DecodeError, StoreError, ValueTooLongError
from spec.http import RecordingResponse
from tests._broken_stores import PATCH_LOCK

HASH, BLOCK = b"t" * 32, b"u" * 32
LIMIT = 4096

COOKIE: dict[str, object] = {"max_value_bytes": LIMIT}
SERVER: dict[str, object] = {
    "server_side": True,
    "regenerate_id": True,
    "purge_expired": True,
    "record_deadlines": True,
    "max_value_bytes": LIMIT,
    "id_sample_size": 300,
}
JSON_KINDS = ["none", "bool", "int", "big_int", "float", "str", "list", "dict"]

Record = tuple[str, float | None]


# -- the author's building blocks (correct) --------------------------------------------


class DictBackend:
    """The tutorial's four primitives over a dict, under a lock, plus a purge."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.records: dict[str, Record] = {}
        self.lock = threading.Lock()

    def read(self, session_id: str) -> Record | None:
        with self.lock:
            return self.records.get(session_id)

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self.lock:
            if session_id in self.records:
                return False
            self.records[session_id] = (data, expires_at)
            return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self.lock:
            if session_id not in self.records:
                return False
            self.records[session_id] = (data, expires_at)
            return True

    def delete(self, session_id: str) -> bool:
        with self.lock:
            return self.records.pop(session_id, None) is not None

    def purge_expired(self) -> int:
        now = self.clock()
        with self.lock:
            dead = [k for k, (_, at) in self.records.items() if at is not None and at < now]
            for key in dead:
                del self.records[key]
            return len(dead)


class DictStore(ServerSideStore):
    """``ServerSideStore`` over :class:`DictBackend`: the tutorial's route."""

    caps: ClassVar[dict[str, object]] = SERVER
    killed_by: ClassVar[str] = ""
    backend_class: ClassVar[type[DictBackend]] = DictBackend

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        self.records = self.backend_class(clock)
        super().__init__(self.records, *(keys or (HASH, BLOCK)), clock=clock)

    def purge_expired(self) -> int:
        return self.records.purge_expired()


class KeyedCookieStore(CookieStore):
    caps: ClassVar[dict[str, object]] = COOKIE
    killed_by: ClassVar[str] = ""

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(*(keys or (HASH, BLOCK)), clock=clock)


def _resend(
    response: ResponseWriter, inner: RecordingResponse, change: Callable[[Cookie], Cookie]
) -> None:
    for cookie in inner.cookies:
        response.set_cookie(change(cookie))


class _Cookies:
    """A request whose cookies of the session's name are ``values``."""

    def __init__(self, request: Request, values: list[str]) -> None:
        self.state = request.state
        self._values = values

    def cookie_values(self, _: str) -> list[str]:
        return self._values


@contextmanager
def _patched(module: object, name: str, replacement: object) -> Iterator[None]:
    """Swap one function of the store's own core (the author forked it), one thread at a time.

    The lock (shared with ``tests/_broken_stores.py``) keeps a threaded
    clause from "restoring" another thread's replacement, which would leak
    it into every store that runs afterwards.
    """
    with PATCH_LOCK:
        original = getattr(module, name)
        setattr(module, name, replacement)
        try:
            yield
        finally:
            setattr(module, name, original)


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


# -- S-9.30: the cookie's attributes ---------------------------------------------------


class DropsSecure(KeyedCookieStore):
    """Re-renders its cookie for a framework and loses ``Secure`` on the way."""

    killed_by = "test_s9_30_"

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        super().save(request, inner, session)
        _resend(response, inner, lambda c: c.model_copy(update={"secure": False}))


class DropsHttpOnly(DictStore):
    """Wants the front end to read the cookie, so never sets ``HttpOnly``."""

    killed_by = "test_s9_30_"

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        super().save(request, inner, session)
        _resend(response, inner, lambda c: c.model_copy(update={"http_only": False}))


class StoreOptionsNotSession(DictStore):
    """Builds the cookie from ``self.options`` (the store's) instead of the session's."""

    killed_by = "test_s9_30_"

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        super().save(request, inner, session)
        if session.options.max_age < 0:
            _resend(response, inner, lambda c: c)
            return
        _resend(
            response,
            inner,
            lambda c: Cookie.for_session(c.name, c.value, self.options, self.clock()),
        )


class DropsSameSite(KeyedCookieStore):
    """Leaves ``SameSite`` to the browser's default."""

    killed_by = "test_s9_30_"

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        super().save(request, inner, session)
        _resend(response, inner, lambda c: c.model_copy(update={"same_site": "default"}))


class DropsDomainAndPartitioned(DictStore):
    """Writes only the attributes its author knew: no ``Domain``, no ``Partitioned``."""

    killed_by = "test_s9_30_"

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        super().save(request, inner, session)
        _resend(
            response, inner, lambda c: c.model_copy(update={"domain": "", "partitioned": False})
        )


# -- S-9.31: the deletion cookie -------------------------------------------------------


class DeletionWithoutPath(DictStore):
    """Logs out with a bare ``name=; Max-Age=0``: no ``Path``, no ``Domain``."""

    killed_by = "test_s9_31_"

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        deleting = session.options.max_age < 0
        super().save(request, inner, session)
        _resend(
            response,
            inner,
            lambda c: Cookie(name=c.name, value="", expires=1, max_age=-1) if deleting else c,
        )


class DeletionOnStorePath(KeyedCookieStore):
    """Deletes with the store's default options, so ``Path=/`` whatever the session used."""

    killed_by = "test_s9_31_"

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        deleting = session.options.max_age < 0
        super().save(request, inner, session)
        gone = self.options.replace(max_age=-1)
        _resend(
            response,
            inner,
            lambda c: Cookie.for_session(c.name, "", gone, self.clock()) if deleting else c,
        )


# -- S-9.32: Expires -------------------------------------------------------------------


class WallClockExpires(KeyedCookieStore):
    """Computes ``Expires`` from ``time.time()``, not from the store's clock."""

    killed_by = "test_s9_32_"

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        super().save(request, inner, session)
        _resend(
            response,
            inner,
            lambda c: (
                Cookie.for_session(c.name, c.value, session.options, time.time())
                if c.max_age > 0
                else c
            ),
        )


class RoundedExpires(DictStore):
    """Rounds ``now`` instead of flooring it: ``Expires`` one second late half the time."""

    killed_by = "test_s9_32_"

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        super().save(request, inner, session)
        expires = round(self.clock()) + session.options.max_age
        _resend(
            response,
            inner,
            lambda c: c.model_copy(update={"expires": expires}) if c.max_age > 0 else c,
        )


# -- S-9.5: the first cookie that loads wins -------------------------------------------


class LastCookieWins(KeyedCookieStore):
    """Reads the cookies into a dict, so the last of one name wins (SimpleCookie's habit)."""

    killed_by = "test_s9_5_first"

    def new(self, request: Request, name: str) -> Session:
        return super().new(_Cookies(request, request.cookie_values(name)[::-1]), name)


# -- S-10.1: where IDs come from -------------------------------------------------------


class _OwnIDs(DictStore):
    """A fork of ServerSideStore whose author replaced the ID function."""

    killed_by = "test_s10_1_ids_come"

    def new_id(self) -> str:
        raise NotImplementedError

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        with _patched(_server_side, "new_session_id", self.new_id):
            super().save(request, response, session)


class GlobalRandomIDs(_OwnIDs):
    """``random.getrandbits(256)``: uniform bits, from the ``random`` module."""

    def new_id(self) -> str:
        return _b32(random.getrandbits(256).to_bytes(32, "big"))


class PrivateTwisterIDs(_OwnIDs):
    """A private ``random.Random`` seeded from ``os.urandom``: still a Mersenne Twister."""

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(clock, *keys)
        self._rng = random.Random(os.urandom(32))

    def new_id(self) -> str:
        return _b32(self._rng.randbytes(32))


class RandomChoiceIDs(_OwnIDs):
    """52 characters from ``random.choice``: the right alphabet, the wrong generator."""

    def new_id(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        return "".join(random.choice(alphabet) for _ in range(52))


class CounterIDs(_OwnIDs):
    """A counter, encoded like a real ID."""

    counter: ClassVar[Iterator[int]] = itertools.count(10**6)

    def new_id(self) -> str:
        return _b32(next(self.counter).to_bytes(32, "big"))


class ClockIDs(_OwnIDs):
    """The nanosecond clock, encoded like a real ID."""

    def new_id(self) -> str:
        return _b32(time.time_ns().to_bytes(32, "big"))


# -- S-9.17: log levels ----------------------------------------------------------------


class StaleLoggedAsForgery(KeyedCookieStore):
    """Adds its own WARNING for every cookie that did not load, expired ones included."""

    killed_by = "test_s9_17_stale"

    def new(self, request: Request, name: str) -> Session:
        session = super().new(request, name)
        if session.load_error is not None:
            logging.getLogger("sessionspec.security").warning(
                "rejected session %r: %s", name, type(session.load_error).__name__
            )
        return session


class QuietAboutForgeries(DictStore):
    """Found the security log noisy and logs every rejection at DEBUG."""

    killed_by = "test_s9_17_tampered"

    def new(self, request: Request, name: str) -> Session:
        def quiet(store: object, cookie: str, error: DecodeError) -> None:
            _core.security_log.debug("rejected session %r: %s", cookie, type(error).__name__)

        with _patched(_core, "log_rejection", quiet):
            return super().new(request, name)


# -- S-9.33: payloads of a foreign shape -----------------------------------------------


class TrustsPayloadShape(KeyedCookieStore):
    """Decodes the cookie itself and merges whatever it holds into the session."""

    killed_by = "test_s9_33_"

    def new(self, request: Request, name: str) -> Session:
        session = Session(name=name, options=self.options)
        session.bind(self)
        for raw in request.cookie_values(name)[:8]:
            try:
                decoded = decode_multi(name, raw, self.codecs)
            except DecodeError as exc:
                session.load_error = session.load_error or exc
                continue
            session.values.update(decoded)  # type: ignore[call-overload]
            session.is_new, session.load_error = False, None
            break
        session.mark_unmodified()
        return session


class TrustsIdShape(DictStore):
    """A fast path that looks the decoded ID up before checking it is a string."""

    killed_by = "test_s9_33_"

    def new(self, request: Request, name: str) -> Session:
        for raw in request.cookie_values(name)[:1]:
            try:
                session_id = decode_multi(name, raw, self.codecs)
            except DecodeError:
                break
            self.records.records.get(session_id)  # type: ignore[arg-type]
        return super().new(request, name)


# -- S-9.11: the size limit ------------------------------------------------------------


class _WriteThenCheck(DictBackend):
    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        created = super().create(session_id, data, expires_at, ttl)
        if len(data) > LIMIT:
            raise ValueTooLongError(len(data), LIMIT)
        return created

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        updated = super().update(session_id, data, expires_at, ttl)
        if len(data) > LIMIT:
            raise ValueTooLongError(len(data), LIMIT)
        return updated


class WritesThenChecksSize(DictStore):
    """Moved the size check into the backend, after the write."""

    killed_by = "test_s9_11_oversized_update"
    backend_class = _WriteThenCheck

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(clock, *keys)
        self.max_length(0)


class CookieBeforeSizeCheck(KeyedCookieStore):
    """Checks the cookie's size after setting it on the response."""

    killed_by = "test_s9_11_oversized_session"

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(clock, *keys)
        self.max_length(0)

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        inner = RecordingResponse()
        super().save(request, inner, session)
        _resend(response, inner, lambda c: c)
        for cookie in inner.cookies:
            if len(cookie.name) + 1 + len(cookie.value) > LIMIT:
                raise ValueTooLongError(len(cookie.value), LIMIT)


class UnlimitedRecords(DictStore):
    """ "My database has no size limit": switched the limit off, yet declares one."""

    killed_by = "test_s9_11_"

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(clock, *keys)
        self.max_length(0)


# -- S-10.9: purge ---------------------------------------------------------------------


class _PurgeAtDeadline(DictBackend):
    def purge_expired(self) -> int:
        now = self.clock()
        with self.lock:
            dead = [k for k, (_, at) in self.records.items() if at is not None and at <= now]
            for key in dead:
                del self.records[key]
            return len(dead)


class PurgesAtTheDeadline(DictStore):
    """Purges with ``<=``: a record still valid at its deadline is removed."""

    killed_by = "test_s10_9_purge_b"
    backend_class = _PurgeAtDeadline


class _PurgeByCreation(DictBackend):
    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.created: dict[str, float] = {}

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        created = super().create(session_id, data, expires_at, ttl)
        if created:
            self.created[session_id] = self.clock()
        return created

    def purge_expired(self) -> int:
        now = self.clock()
        limit = now - 86400 * 30
        with self.lock:
            dead = [k for k in self.records if self.created.get(k, now) < limit]
            for key in dead:
                del self.records[key]
            return len(dead)


class PurgesByCreationTime(DictStore):
    """Purges sessions 30 days after they were created, however active."""

    killed_by = "test_s10_9_purge_b"
    backend_class = _PurgeByCreation


# -- S-10.7: no way back ---------------------------------------------------------------


class _ReadCache(DictBackend):
    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.cache: dict[str, Record] = {}

    def read(self, session_id: str) -> Record | None:
        if session_id in self.cache:
            return self.cache[session_id]
        record = super().read(session_id)
        if record is not None:
            self.cache[session_id] = record
        return record

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        updated = super().update(session_id, data, expires_at, ttl)
        if updated:
            self.cache[session_id] = (data, expires_at)
        return updated


class StaleReadCache(DictStore):
    """A read-through cache in front of the records that ``delete`` forgets to clear."""

    killed_by = "test_s10_7_old"
    backend_class = _ReadCache


class _GracePeriod(DictBackend):
    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.doomed: dict[str, float] = {}

    def read(self, session_id: str) -> Record | None:
        with self.lock:
            if self.doomed.get(session_id, float("inf")) < self.clock():
                self.records.pop(session_id, None)
            return self.records.get(session_id)

    def delete(self, session_id: str) -> bool:
        with self.lock:
            if session_id not in self.records or session_id in self.doomed:
                return False
            self.doomed[session_id] = self.clock() + 30  # other tabs keep working a while
            return True


class RegenerateGracePeriod(DictStore):
    """Keeps a deleted record readable for 30 s so other tabs' requests do not fail."""

    killed_by = "test_s10_7_old"
    backend_class = _GracePeriod


# -- S-9.1: types ----------------------------------------------------------------------


def _deep(value: Any, leaf: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _deep(v, leaf) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep(v, leaf) for v in value]
    return leaf(value)


class _BoolsAsInts(JSONSerializer):
    def serialize(self, value: Any) -> bytes:
        return super().serialize(_deep(value, lambda v: int(v) if isinstance(v, bool) else v))


class _ShortFloats(JSONSerializer):
    def serialize(self, value: Any) -> bytes:
        short = _deep(value, lambda v: float(f"{v:.10g}") if isinstance(v, float) else v)
        return super().serialize(short)


class _PlainJSON:
    def serialize(self, value: Any) -> bytes:
        return json.dumps(value).encode()

    def deserialize(self, data: bytes) -> Any:
        return json.loads(data)


class BoolsBecomeInts(DictStore):
    """Stores flags as 0/1 "for the reporting database"."""

    killed_by = "test_s9_1_values_keep"

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        self.records = DictBackend(clock)
        ServerSideStore.__init__(
            self, self.records, *(keys or (HASH, BLOCK)), serializer=_BoolsAsInts(), clock=clock
        )


class FloatsLoseDigits(DictStore):
    """Writes floats with ten significant digits "to keep cookies small"."""

    killed_by = "test_s9_1_values_keep"

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        self.records = DictBackend(clock)
        ServerSideStore.__init__(
            self, self.records, *(keys or (HASH, BLOCK)), serializer=_ShortFloats(), clock=clock
        )


class PlainJsonTuples(DictStore):
    """``json.dumps``/``json.loads`` as the serializer: tuples quietly become lists."""

    caps: ClassVar[dict[str, object]] = {**SERVER, "value_types": JSON_KINDS}
    killed_by = "test_s9_1_values_it"

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        self.records = DictBackend(clock)
        ServerSideStore.__init__(
            self, self.records, *(keys or (HASH, BLOCK)), serializer=_PlainJSON(), clock=clock
        )


class PlainJsonIntKeys(PlainJsonTuples):
    """Plain JSON again, declaring int keys, which come back as strings."""

    caps: ClassVar[dict[str, object]] = {**SERVER, "value_types": [*JSON_KINDS, "int_keys"]}
    killed_by = "test_s9_1_values_keep"


# -- S-9.34: copies --------------------------------------------------------------------


class SharesValues(DictStore):
    """Keeps the decoded values per ID "to skip decoding": the application's own objects."""

    killed_by = "test_s9_34_"

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(clock, *keys)
        self.decoded: dict[str, dict[Any, Any]] = {}

    def keep(self, values: dict[Any, Any]) -> dict[Any, Any]:
        return values

    def new(self, request: Request, name: str) -> Session:
        session = super().new(request, name)
        if session.id in self.decoded:
            session.values = self.keep(self.decoded[session.id])
            session.mark_unmodified()
        return session

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        super().save(request, response, session)
        if session.id:
            self.decoded[session.id] = self.keep(session.values)


class ShallowCopies(SharesValues):
    """The same cache, with ``dict(values)``: the nested lists are still shared."""

    def keep(self, values: dict[Any, Any]) -> dict[Any, Any]:
        return dict(values)


# -- S-9.15, S-9.14: lifetimes ---------------------------------------------------------


class UncappedLifetime(DictStore):
    """Lets "remember me" sessions outlive the store: no expiry in the cookie codec."""

    killed_by = "test_s9_15_store"

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(clock, *keys)
        for codec in self.codecs:
            codec.max_age = 0


class MaxAgeOnlySetsOptions(DictStore):
    """``max_age(n)`` overridden to change the default options only."""

    killed_by = "test_s9_14_"

    def max_age(self, seconds: int) -> None:
        self.options = self.options.replace(max_age=seconds)


class MaxAgeOnlySetsCodecs(KeyedCookieStore):
    """``max_age(n)`` overridden to change the codecs' expiry only."""

    killed_by = "test_s9_14_"

    def max_age(self, seconds: int) -> None:
        for codec in self.codecs:
            codec.max_age = seconds


# -- S-10.3: IDs on load ---------------------------------------------------------------


class NoIdCheckOnLoad(DictStore):
    """Checks IDs when saving only: a signed ``../../etc/passwd`` reaches the lookup."""

    killed_by = "test_s10_3_ids_from"

    def new(self, request: Request, name: str) -> Session:
        with _patched(_server_side, "check_session_id", lambda session_id: None):
            return super().new(request, name)


# -- S-9.35: async stores --------------------------------------------------------------


class _SyncSQLiteInAsync:
    """The tutorial's SQLite backend with ``async def`` in front of each blocking call."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE s (id TEXT PRIMARY KEY, data TEXT, expires_at REAL)")

    async def read(self, session_id: str) -> Record | None:
        row = self.db.execute("SELECT data, expires_at FROM s WHERE id = ?", (session_id,))
        found = row.fetchone()
        return None if found is None else (found[0], found[1])

    async def create(self, session_id: str, data: str, at: float | None, ttl: int | None) -> bool:
        sql = "INSERT OR IGNORE INTO s VALUES (?, ?, ?)"
        return self.db.execute(sql, (session_id, data, at)).rowcount == 1

    async def update(self, session_id: str, data: str, at: float | None, ttl: int | None) -> bool:
        sql = "UPDATE s SET data = ?, expires_at = ? WHERE id = ?"
        return self.db.execute(sql, (data, at, session_id)).rowcount == 1

    async def delete(self, session_id: str) -> bool:
        return self.db.execute("DELETE FROM s WHERE id = ?", (session_id,)).rowcount == 1


class _AsyncDict:
    """Async primitives over a dict (no I/O, so nothing to wait for)."""

    def __init__(self, clock: Clock) -> None:
        self.sync = DictBackend(clock)

    async def read(self, session_id: str) -> Record | None:
        return self.sync.read(session_id)

    async def create(self, session_id: str, data: str, at: float | None, ttl: int | None) -> bool:
        return self.sync.create(session_id, data, at, ttl)

    async def update(self, session_id: str, data: str, at: float | None, ttl: int | None) -> bool:
        return self.sync.update(session_id, data, at, ttl)

    async def delete(self, session_id: str) -> bool:
        return self.sync.delete(session_id)


class _Throttled(_AsyncDict):
    """A crude rate limit with ``time.sleep`` in every primitive."""

    async def read(self, session_id: str) -> Record | None:
        time.sleep(0.001)
        return await super().read(session_id)

    async def update(self, session_id: str, data: str, at: float | None, ttl: int | None) -> bool:
        time.sleep(0.001)
        return await super().update(session_id, data, at, ttl)


class _FilesInAsync(_AsyncDict):
    """Mirrors every record to a JSON file with plain ``open`` inside ``async def``."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.path = Path(tempfile.mkdtemp(prefix="teeth-async-"))

    async def create(self, session_id: str, data: str, at: float | None, ttl: int | None) -> bool:
        created = await super().create(session_id, data, at, ttl)
        if created:
            with open(self.path / session_id, "w") as file:
                json.dump([data, at], file)
        return created


class AsyncDictStore(AsyncServerSideStore):
    """A correct async store: ``AsyncServerSideStore`` over async dict primitives."""

    caps: ClassVar[dict[str, object]] = SERVER
    killed_by: ClassVar[str] = ""

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        self.records = self.make_backend(clock)
        super().__init__(self.records, *(keys or (HASH, BLOCK)), clock=clock)

    def make_backend(self, clock: Clock) -> Any:
        return _AsyncDict(clock)

    async def purge_expired(self) -> int:
        return self.records.sync.purge_expired()  # type: ignore[no-any-return]


class BlockingSQLiteAsync(AsyncDictStore):
    """``AsyncServerSideStore`` over sync ``sqlite3`` calls: the loop waits on the disk."""

    caps: ClassVar[dict[str, object]] = {**SERVER, "purge_expired": False}
    killed_by = "test_s9_35_async_store"

    def make_backend(self, clock: Clock) -> Any:
        return _SyncSQLiteInAsync()


class SleepingAsync(AsyncDictStore):
    """Throttles its backend with ``time.sleep`` inside ``async def``."""

    killed_by = "test_s9_35_async_store"

    def make_backend(self, clock: Clock) -> Any:
        return _Throttled(clock)


class FileWritingAsync(AsyncDictStore):
    """Mirrors records to files with blocking ``open`` on the event loop."""

    killed_by = "test_s9_35_async_store"

    def make_backend(self, clock: Clock) -> Any:
        return _FilesInAsync(clock)


class AsyncGetUncached(AsyncDictStore):
    """``get`` is ``new`` under another name: two awaits, two sessions."""

    killed_by = "test_s9_35_async_get"

    async def get(self, request: Request, name: str) -> Session:
        return await self.new(request, name)


# -- correct, unusual stores: every clause must pass -----------------------------------


class _SQLiteRecords:
    """Records in SQLite through the standard library, one connection per thread."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.path = os.path.join(tempfile.mkdtemp(prefix="teeth-sqlite-"), "s.db")
        self.local = threading.local()
        self.broken = False
        self._run("CREATE TABLE s (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at REAL)")

    def _run(self, sql: str, *args: object) -> sqlite3.Cursor:
        if self.broken:
            raise StoreError("the database is gone", backend="sqlite3", action="run a query")
        db = getattr(self.local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.local.db = db
        try:
            return db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(str(exc), backend="sqlite3", action="run a query") from exc

    def read(self, session_id: str) -> Record | None:
        row = self._run("SELECT data, expires_at FROM s WHERE id = ?", session_id).fetchone()
        return None if row is None else (row[0], row[1])

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        sql = "INSERT INTO s VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING"
        return self._run(sql, session_id, data, expires_at).rowcount == 1

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        sql = "UPDATE s SET data = ?, expires_at = ? WHERE id = ?"
        return self._run(sql, data, expires_at, session_id).rowcount == 1

    def delete(self, session_id: str) -> bool:
        return self._run("DELETE FROM s WHERE id = ?", session_id).rowcount == 1

    def purge_expired(self) -> int:
        sql = "DELETE FROM s WHERE expires_at IS NOT NULL AND expires_at < ?"
        return self._run(sql, self.clock()).rowcount


class _ShelveRecords(DictBackend):
    """Records in a ``shelve`` file (values are plain tuples of str and float)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.path = os.path.join(tempfile.mkdtemp(prefix="teeth-shelve-"), "sessions")
        self.shelf = shelve.open(self.path)  # noqa: SIM115 - lives as long as the store
        self.records = self.shelf  # type: ignore[assignment]
        self.lock = threading.RLock()  # type: ignore[assignment]  # dbm is not thread-safe

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self.lock:
            updated = super().update(session_id, data, expires_at, ttl)
            self.shelf.sync()
            return updated


class _JSONFileRecords:
    """One JSON file per record, written atomically (temporary file, then rename)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.path = Path(tempfile.mkdtemp(prefix="teeth-json-"))
        self.lock = threading.Lock()

    def _file(self, session_id: str) -> Path:
        return self.path / f"{session_id}.json"

    def _write(self, session_id: str, data: str, expires_at: float | None) -> None:
        temporary = self.path / f".{session_id}.{threading.get_ident()}.tmp"
        temporary.write_text(json.dumps({"data": data, "expires_at": expires_at}))
        os.replace(temporary, self._file(session_id))

    def read(self, session_id: str) -> Record | None:
        try:
            found = json.loads(self._file(session_id).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(str(exc), backend="json-files", action="read a session") from exc
        return found["data"], found["expires_at"]

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self.lock:
            if self._file(session_id).exists():
                return False
            self._write(session_id, data, expires_at)
            return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self.lock:
            if not self._file(session_id).exists():
                return False
            self._write(session_id, data, expires_at)
            return True

    def delete(self, session_id: str) -> bool:
        with self.lock:
            try:
                self._file(session_id).unlink()
            except FileNotFoundError:
                return False
            return True

    def purge_expired(self) -> int:
        now, removed = self.clock(), 0
        with self.lock:
            for path in self.path.glob("*.json"):
                deadline = json.loads(path.read_text())["expires_at"]
                if deadline is not None and deadline < now:
                    path.unlink()
                    removed += 1
        return removed


class SQLiteStore(DictStore):
    """Correct: raw ``sqlite3``, a connection per thread, ``ON CONFLICT DO NOTHING``."""

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        self.records = _SQLiteRecords(clock)  # type: ignore[assignment]
        ServerSideStore.__init__(self, self.records, *(keys or (HASH, BLOCK)), clock=clock)


class ShelveStore(DictStore):
    """Correct: records in a ``shelve`` file."""

    backend_class = _ShelveRecords


class JSONFileStore(DictStore):
    """Correct: one JSON file per record, no pickle."""

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        self.records = _JSONFileRecords(clock)  # type: ignore[assignment]
        ServerSideStore.__init__(self, self.records, *(keys or (HASH, BLOCK)), clock=clock)


class TwoCookieStore(MemoryStore):
    """Correct: also sends ``<name>_expires``, a script-readable expiry hint for the UI."""

    caps: ClassVar[dict[str, object]] = SERVER
    killed_by: ClassVar[str] = ""

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(*(keys or (HASH, BLOCK)), clock=clock)

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        super().save(request, response, session)
        hint = f"{session.name}_expires"
        options = session.options.replace(http_only=False)
        if options.max_age > 0:
            until = str(int(self.clock()) + options.max_age)
            response.set_cookie(Cookie.for_session(hint, until, options, self.clock()))
        elif options.max_age < 0 and request.cookie_values(hint):
            response.set_cookie(Cookie.for_session(hint, "", options, self.clock()))


class GobCookieStore(KeyedCookieStore):
    """Correct: gob values (Go's format), honestly declaring no ints beyond 53 bits."""

    caps: ClassVar[dict[str, object]] = {
        **COOKIE,
        "value_types": ["none", "bool", "int", "float", "str", "bytes", "list", "dict", "int_keys"],
    }

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        CookieStore.__init__(
            self, *(keys or (HASH, BLOCK)), serializer=GobSerializer(), clock=clock
        )


def break_backend(store: object) -> None:
    """The outage hook for the correct stores that have one (S-10.4)."""
    records = getattr(store, "records", None)
    if isinstance(records, _SQLiteRecords):
        records.broken = True
        return
    raise NotImplementedError


def stores(correct: bool) -> list[type]:
    """Every store class of this module that is broken (``correct=False``) or correct."""
    found = [
        value
        for name, value in globals().items()
        if isinstance(value, type)
        and not name.startswith("_")
        and value.__module__ == __name__
        and hasattr(value, "killed_by")
        and name not in ("DictStore", "KeyedCookieStore")
    ]
    return [cls for cls in found if (cls.killed_by == "") == correct]


# Users (S-10.11 to S-10.13): a user index that lies, or a revoke that does too
# little or too much.

_USERS: dict[str, object] = {**SERVER, "users": True}


class _UserStore(MemoryStore):
    caps: ClassVar[dict[str, object]] = _USERS
    killed_by: ClassVar[str] = ""

    def __init__(self, clock: Clock, *keys: bytes) -> None:
        super().__init__(*(keys or (HASH, BLOCK)), clock=clock)


class RevokeOnlyUnlists(_UserStore):
    """Revoking drops the index entries and leaves the records: every device stays in."""

    killed_by = "test_s10_13_revoke_user_ends"

    def revoke_user(self, user_id: str, *, keep: str | Session | None = None) -> int:
        keep_id = keep.id if isinstance(keep, Session) else keep
        ended = [sid for sid in self.user_sessions(user_id) if sid != keep_id]
        for sid in ended:
            self._memory.unindex_user(sid, user_id)
        return len(ended)


class RevokeLogsOutEveryone(_UserStore):
    """Revoking one user deletes every record in the store: bob pays for alice."""

    killed_by = "test_s10_13_revoke_user_ends"

    def revoke_user(self, user_id: str, *, keep: str | Session | None = None) -> int:
        count = len(self.user_sessions(user_id))
        for sid in list(self._memory._records):
            self._memory.delete(sid)
        return count


class RevokeIgnoresKeep(_UserStore):
    """ "Log out my other devices" logs out this one too."""

    killed_by = "test_s10_13_revoke_user_can_keep"

    def revoke_user(self, user_id: str, *, keep: str | Session | None = None) -> int:
        return super().revoke_user(user_id) - (1 if keep is not None else 0)


class ListsExpiredSessions(_UserStore):
    """The device list trusts the index and never looks at deadlines or records."""

    killed_by = "test_s10_12_expired"

    def user_sessions(self, user_id: str) -> list[str]:
        return sorted(self._memory._users.get(user_id, {}))
