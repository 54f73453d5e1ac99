"""FilesystemStore: the cookie holds a signed ID, a file holds the session values."""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from reference_impl._store.drivers import ServerSideStore
from reference_impl._store.server_side import ID_PATTERN
from spec import Clock, Options
from spec.errors import ConfigurationError, StoreError
from spec.protocols import Serializer

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX platforms
    fcntl = None  # type: ignore[assignment]

__all__ = ["FilesystemStore", "open_directory"]

_PREFIX = "session_"
#: A user's index file: ``user_`` and a hash of the user ID (S-10.11).
_USER_PREFIX = "user_"
_LOCK_NAME = ".sessionspec.lock"
_TEMP_SUFFIX = ".tmp"
#: Temporary files older than this were left by a writer that died; purge removes them.
#: How far past a file's timestamp its mtime must be to hold a deadline (see _deadline).
_DEADLINE_MARGIN = 2
_STALE_TEMP_SECONDS = 3600


class _FileBackend:
    """Session files in one directory, written atomically.

    Every write goes to a private temporary file in the same directory,
    is flushed with ``fsync`` and then renamed into place, so a reader (in
    any process) sees the old file or the new one, never half of one, even
    if the writer is killed mid-save. Create uses ``link``, which fails if
    the name exists, so it never overwrites; update and delete hold an
    exclusive ``flock`` on a lock file in the directory, so a delete in one
    process and an update in another cannot interleave into a resurrection.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, session_id: str) -> Path:
        return self.directory / (_PREFIX + session_id)

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        try:
            with open(self.directory / (_PREFIX + session_id), "rb") as file:
                mtime = os.fstat(file.fileno()).st_mtime
                data = file.read().decode("ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(str(exc), backend="filesystem", action="read session file") from exc
        return data, _deadline(mtime, _timestamp(data.encode("ascii")))

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        temp = self._write_temp(session_id, data, expires_at)
        try:
            os.link(temp, self.path_for(session_id))
        except FileExistsError:
            return False
        except OSError as exc:
            raise StoreError(str(exc), backend="filesystem", action="create session file") from exc
        finally:
            _unlink_quietly(temp)
        return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        temp = self._write_temp(session_id, data, expires_at)
        try:
            with self._locked():
                if not self.path_for(session_id).exists():
                    return False
                os.replace(temp, self.path_for(session_id))
                return True
        except OSError as exc:
            raise StoreError(str(exc), backend="filesystem", action="replace session file") from exc
        finally:
            _unlink_quietly(temp)

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        temp = self._write_temp(session_id, data, expires_at)
        try:
            with self._locked():
                try:
                    current = self.path_for(session_id).read_text(encoding="ascii")
                except FileNotFoundError:
                    return False
                if current != expected:
                    return False
                os.replace(temp, self.path_for(session_id))
                return True
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(str(exc), backend="filesystem", action="touch session file") from exc
        finally:
            _unlink_quietly(temp)

    def delete(self, session_id: str) -> bool:
        try:
            with self._locked():
                try:
                    self.path_for(session_id).unlink()
                except FileNotFoundError:
                    return False
                return True
        except OSError as exc:
            raise StoreError(str(exc), backend="filesystem", action="delete session file") from exc

    # The user index (S-10.11): one small file per user, ``user_<hash>``,
    # listing ``<session ID> <deadline>`` lines. It lives in the session
    # directory, so it survives restarts with the sessions and is shared by
    # every process using the directory; it is rewritten atomically (temp
    # file and rename) under the same lock as update and delete, so two
    # logins of one user never lose each other's line. A file per user,
    # rather than a scan of every session file, keeps listing a user's
    # devices O(their sessions), and the session files stay byte-for-byte
    # gorilla's: the user is only *also* inside the (encrypted) payload.

    def _user_path(self, user_id: str) -> Path:
        # Hashed: the file name does not reveal the user, and case-insensitive
        # filesystems cannot fold two user IDs into one file.
        digest = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:40]
        return self.directory / (_USER_PREFIX + digest)

    def _user_entries(self, user_id: str) -> dict[str, float]:
        try:
            text = self._user_path(user_id).read_text(encoding="ascii")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(str(exc), backend="filesystem", action="read a user index") from exc
        entries: dict[str, float] = {}
        for line in text.splitlines():
            session_id, _, deadline = line.partition(" ")
            if ID_PATTERN.fullmatch(session_id) is None:
                continue  # not ours: never build a path from it
            try:
                entries[session_id] = math.inf if deadline == "-" else float(deadline)
            except ValueError:
                entries[session_id] = math.inf  # unreadable deadline: list it (never too little)
        return entries

    def _write_user(self, user_id: str, entries: dict[str, float]) -> None:
        path = self._user_path(user_id)
        if not entries:
            _unlink_quietly(path)
            return
        lines = "".join(
            f"{sid} {'-' if until == math.inf else repr(until)}\n" for sid, until in entries.items()
        )
        temp = self._write_temp("u", lines)
        try:
            os.replace(temp, path)
        finally:
            _unlink_quietly(temp)

    def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        """List the session until ``expires_at`` rounded *up* to a sixteenth of its lifetime.

        Every save of a logged-in session asks for this, and rewriting the
        user's file costs an ``fsync``: with the rounding, most saves find
        their entry already covers the new deadline (one small read, no
        write). The entry may outlive its file by that sixteenth, so a
        session can stay listed a little after it expired (the file carries
        no deadline to re-check) until ``purge_expired()`` removes the file;
        it is never listed too short.
        """
        deadline = math.inf
        if expires_at is not None:
            step = max(1, (ttl or 0) // 16)
            deadline = float(math.ceil(expires_at / step) * step)
        if self._user_entries(user_id).get(session_id, -math.inf) >= deadline:
            return  # already listed at least that long
        try:
            with self._locked():
                entries = self._user_entries(user_id)
                for stale in [sid for sid in entries if not self.path_for(sid).exists()]:
                    del entries[stale]  # deleted or purged: keeps the file small
                entries[session_id] = max(deadline, entries.get(session_id, -math.inf))
                self._write_user(user_id, entries)
        except OSError as exc:
            raise StoreError(str(exc), backend="filesystem", action="index a user") from exc

    def unindex_user(self, session_id: str, user_id: str) -> None:
        try:
            with self._locked():
                entries = self._user_entries(user_id)
                if entries.pop(session_id, None) is not None:
                    self._write_user(user_id, entries)
        except OSError as exc:
            raise StoreError(str(exc), backend="filesystem", action="unindex a user") from exc

    def user_sessions(self, user_id: str, now: float) -> list[str]:
        return [sid for sid, until in self._user_entries(user_id).items() if until >= now]

    def _write_temp(self, session_id: str, data: str, expires_at: float | None = None) -> Path:
        """Write ``data`` to a private temporary file whose mtime is the record's deadline.

        gorilla's file holds only the securecookie text, with no room for a
        deadline of its own, so the deadline (S-10.8: a session's own shorter
        max_age, the idle and absolute timeouts) is kept as the file's
        modification time, set ahead of the timestamp inside the file. Go
        ignores the mtime; we read it back in :meth:`read` and purge by it.
        Without a deadline the mtime is the inner timestamp itself, so the
        file is judged by its timestamp and the store's max age, as before.
        """
        payload = data.encode("ascii")
        stamp = _timestamp(payload)
        mtime = expires_at if expires_at is not None else stamp
        try:
            fd, name = tempfile.mkstemp(
                prefix=f".{_PREFIX}{session_id}.", suffix=_TEMP_SUFFIX, dir=self.directory
            )
        except OSError as exc:
            raise StoreError(str(exc), backend="filesystem", action="write session file") from exc
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, payload)
            if mtime is not None:
                os.utime(fd, (mtime, mtime))
            os.fsync(fd)
        except OSError as exc:
            _unlink_quietly(Path(name))
            raise StoreError(str(exc), backend="filesystem", action="write session file") from exc
        finally:
            os.close(fd)
        return Path(name)

    def purge_expired(self, now: float, max_age: int) -> int:
        """Delete session files older than ``max_age`` at ``now``; return how many were deleted.

        The age comes from the timestamp inside each file (read without the
        MAC, which needs the session name; the worst a wrong timestamp can
        cause is deleting a file that would be rejected anyway). Files that
        cannot be parsed are deleted once their modification time is older
        than the max age. Names that are not session files are left alone,
        and one unreadable or absurd file (a timestamp of 400 digits, say)
        never stops the sweep.

        A file found old is deleted only under the lock that update and
        delete hold, after reading its age again: a save that replaced it
        between the scan and the delete has returned a cookie for a live
        session, and deleting that session would log the user out.
        """
        cutoff = now - max_age if max_age > 0 else -math.inf
        try:
            entries = list(os.scandir(self.directory))
        except OSError as exc:
            raise StoreError(
                str(exc), backend="filesystem", action=f"list session directory {self.directory}"
            ) from exc
        removed = 0
        for entry in entries:
            if entry.name.startswith("." + _PREFIX) and entry.name.endswith(_TEMP_SUFFIX):
                self._purge_stale_temp(entry, time.time())
                continue
            if not entry.name.startswith(_PREFIX):
                continue
            if ID_PATTERN.fullmatch(entry.name[len(_PREFIX) :]) is None:
                continue
            path = Path(entry.path)
            try:
                if not _expired(path, now, cutoff):
                    continue
                with self._locked():
                    if _expired(path, now, cutoff):  # again: a save may have replaced it
                        path.unlink()
                        removed += 1
            except (OSError, ValueError, OverflowError):
                continue
        return removed

    @staticmethod
    def _purge_stale_temp(entry: os.DirEntry[str], now: float) -> None:
        with contextlib.suppress(OSError):
            # ctime: a temp file's mtime may already be a future deadline
            if entry.stat().st_ctime < now - _STALE_TEMP_SECONDS:
                Path(entry.path).unlink()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` or raise :class:`OSError`.

    ``os.write`` may write less than asked (a nearly full disk, an
    ``RLIMIT_FSIZE`` with ``SIGXFSZ`` ignored) and say so only in its return
    value. Ignoring that count would rename a truncated file into place: the
    save would "succeed", and the next request would see a MAC failure,
    logging the user out and reporting a forgery. So keep writing the rest;
    a write that makes no progress is an error, and the caller removes the
    temporary file, leaving the old session file intact.
    """
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, "short write: no byte could be written")
        view = view[written:]


def open_directory(path: str | os.PathLike[str] | None) -> Path:
    """The session directory, created if missing; ``ConfigurationError`` if it is unusable.

    Checked when a store is built, so a wrong path fails at start-up rather
    than on the first request.
    """
    directory = Path(path) if path is not None else Path(tempfile.gettempdir())
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(
            f"cannot use session directory {directory}: it is a file, not a directory; "
            "pass the path of a directory (FilesystemStore creates it if missing)"
        )
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except NotADirectoryError as exc:
        raise ConfigurationError(
            f"cannot use session directory {directory}: not a directory "
            "(a part of its path is a file)"
        ) from exc
    except OSError as exc:
        raise ConfigurationError(f"cannot use session directory {directory}: {exc}") from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigurationError(f"session directory {directory} is not writable")
    return directory


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class FilesystemStore(ServerSideStore):
    """Sessions in files (gorilla's ``NewFilesystemStore``), safe across processes.

    The cookie holds the signed session ID; the file ``session_<ID>`` holds
    the same securecookie text a CookieStore would put in the cookie, so
    files are signed (and encrypted with a block key) and their age is
    decided by their own timestamp. The format is gorilla's: Go services
    sharing the directory (with the gob serializer) read and write the same
    files.

    Fixed gorilla bugs: ``max_age == 0`` is a browser-session cookie and
    keeps the file (only ``max_age < 0`` deletes); writes are atomic and
    cross-process safe; IDs are validated before any path is built;
    :meth:`purge_expired` removes old files. A file's own deadline (a
    session's shorter ``max_age``, the timeouts) is its mtime (S-11.7).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *key_pairs: bytes,
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
    ) -> None:
        self._files = _FileBackend(open_directory(path))
        super().__init__(
            self._files, *key_pairs, options=options, serializer=serializer, clock=clock
        )
        # Go reads these files too: created_at goes in only when a limit needs it.
        self._set_lifetimes(absolute_timeout, idle_timeout, track_created=False)

    @property
    def path(self) -> Path:
        """The directory holding the session files."""
        return self._files.directory

    def purge_expired(self) -> int:
        """Delete session files past the store's max age; return how many were deleted.

        How a file's age is decided, and why a file is re-checked under the
        lock before it goes: :meth:`_FileBackend.purge_expired`. A file
        with a deadline of its own (its mtime, S-11.7: a shorter ``max_age``
        or a timeout) goes once that has passed.
        """
        return self._purged(self._files.purge_expired(self.clock(), self.codecs[0].max_age))


def _expired(path: Path, now: float, cutoff: float) -> bool:
    """Whether a session file is past its deadline (its mtime) or older than ``cutoff``.

    The timestamp stays an ``int``: Python compares it with a float exactly,
    so a 400-digit timestamp is merely "not old", never an ``OverflowError``.
    A file whose timestamp cannot be parsed is judged by its mtime.
    """
    stamp = _file_timestamp(path)
    mtime = path.stat().st_mtime
    deadline = _deadline(mtime, stamp)
    if deadline is not None:
        return deadline < now  # at its deadline a record still loads (S-10.9)
    return (stamp if stamp is not None else mtime) < cutoff


def _deadline(mtime: float, stamp: int | None) -> float | None:
    """The record's deadline if its mtime holds one (set ahead of its timestamp), else ``None``.

    A file Go (or an older sessionspec) wrote has an mtime at most a moment
    after its timestamp: that is a write time, not a deadline. Every deadline
    we set is at least a second after the save, so two seconds separate them.
    """
    if stamp is None or not mtime >= stamp + _DEADLINE_MARGIN:
        return None
    return mtime


def _file_timestamp(path: Path) -> int | None:
    """The securecookie timestamp in a session file, unverified, or ``None``."""
    return _timestamp(path.read_bytes())


def _timestamp(raw: bytes) -> int | None:
    """The securecookie timestamp in a record's text, unverified, or ``None``."""
    try:
        inner = base64.urlsafe_b64decode(raw.strip())
        return int(inner.split(b"|", 1)[0])
    except (ValueError, TypeError):
        return None
