"""A session store on the standard library's sqlite3, written from scratch.

It is the store built step by step in ``docs/writing-a-backend.md``: it uses
only sessionspec's public API (the models, the registry and the
securecookie codec) and is proved with ``conformance.StoreConformance``
(``tests/test_backend_tutorial.py``).
"""

from __future__ import annotations

import base64
import logging
import os
import re
import sqlite3
import threading
import time

from reference_impl.securecookie import SecureCookie
from spec import Clock, Cookie, Options, Registry, Request, ResponseWriter, Session
from spec.errors import (
    DecodeError,
    ExpiredTimestampError,
    InvalidSessionIDError,
    SessionInterruptedError,
    SessionNotFoundError,
    StoreError,
)

VALID_ID = re.compile(r"[A-Z2-7]{52}")
MAX_TRIED = 8  # cookies of one name tried per request: bounded work (S-9.5)
log = logging.getLogger("sessionspec.security")


class NaiveSQLiteStore:
    """The first draft: it works, but a save after logout brings the session back."""

    def __init__(self, path: str, hash_key: bytes, *, clock: Clock = time.time) -> None:
        self.codec = SecureCookie(hash_key, clock=clock)
        self.clock = clock
        self.options = Options()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, data TEXT)")

    def get(self, request: Request, name: str) -> Session:
        return Registry.of(request).get(self, name)

    def new(self, request: Request, name: str) -> Session:
        session = Session(name=name, options=self.options)
        cookies = request.cookie_values(name)
        for raw in cookies[:MAX_TRIED]:
            try:
                session_id = self.codec.decode(name, raw)
                if not isinstance(session_id, str) or not VALID_ID.fullmatch(session_id):
                    raise InvalidSessionIDError()
                row = self._run("SELECT data FROM sessions WHERE id = ?", session_id)
                if row is None:
                    raise SessionNotFoundError(name)
                values = self.codec.decode(name, row[0])
                if not isinstance(values, dict):
                    raise InvalidSessionIDError()
            except DecodeError as exc:
                if not isinstance(exc, SessionNotFoundError | ExpiredTimestampError):
                    log.warning("rejected session %r: %s", name, type(exc).__name__)
                session.load_error = session.load_error or exc
                continue
            session.values, session.id = values, session_id
            session.is_new, session.load_error = False, None
            break
        else:  # none loaded: say once how many were never tried
            if len(cookies) > MAX_TRIED:
                log.warning(
                    "%d cookies named %r; tried the first %d", len(cookies), name, MAX_TRIED
                )
        session.mark_unmodified()  # loading is not a change (S-9.20)
        return session

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        if session.id and not VALID_ID.fullmatch(session.id):
            raise InvalidSessionIDError()
        now = self.clock()
        if session.options.max_age < 0:
            if session.id:
                self._run("DELETE FROM sessions WHERE id = ?", session.id)
            if session.id or request.cookie_values(session.name):
                response.set_cookie(Cookie.for_session(session.name, "", session.options, now))
            session.id = ""
            session.mark_unmodified()
            return
        data = self.codec.encode(session.name, dict(session.values))
        if session.id:
            self._update(session, data)
        else:
            session.id = self._create(data)
        value = self.codec.encode(session.name, session.id)
        response.set_cookie(Cookie.for_session(session.name, value, session.options, now))
        session.mark_unmodified()  # what is stored now matches the session (S-9.20)

    def _create(self, data: str) -> str:
        session_id = new_id()
        self._run("INSERT OR REPLACE INTO sessions (id, data) VALUES (?, ?)", session_id, data)
        return session_id

    def _update(self, session: Session, data: str) -> None:
        self._run("INSERT OR REPLACE INTO sessions (id, data) VALUES (?, ?)", session.id, data)

    def _run(self, sql: str, *args: object) -> tuple[str] | None:
        try:
            with self._lock:
                row: tuple[str] | None = self._db.execute(sql, args).fetchone()
                return row
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc


class SQLiteStore(NaiveSQLiteStore):
    """The fixed store: create never overwrites, update never resurrects."""

    def _create(self, data: str) -> str:
        while True:
            session_id = new_id()
            try:
                self._run("INSERT INTO sessions (id, data) VALUES (?, ?)", session_id, data)
            except sqlite3.IntegrityError:
                continue  # that ID is taken: draw another, never overwrite
            return session_id

    def _update(self, session: Session, data: str) -> None:
        with self._lock:
            changed = self._db.execute(
                "UPDATE sessions SET data = ? WHERE id = ?", (data, session.id)
            ).rowcount
        if changed == 0:
            raise SessionInterruptedError(session.name)


def new_id() -> str:
    """32 random bytes as 52 characters of base32."""
    return base64.b32encode(os.urandom(32)).decode().rstrip("=")
