"""FilesystemStore specifics: layout, atomicity, processes, purge (docs/spec.md S-10, S-11)."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reference_impl._store import server_side as _server_side
from reference_impl.filesystem import FilesystemStore
from reference_impl.securecookie import SecureCookie
from spec import ManualClock, Options
from spec.errors import (
    ConfigurationError,
    ExpiredTimestampError,
    InvalidSessionIDError,
    StoreError,
    ValueTooLongError,
)
from spec.http import RecordingResponse, SimpleRequest
from tests.stores._support import BLOCK, HASH, Browser

ROOT = Path(__file__).parents[2]
ID_RE = re.compile(r"[A-Z2-7]{52}")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> FilesystemStore:
    return FilesystemStore(tmp_path, HASH, BLOCK, clock=clock)


def session_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.name.startswith("session_"))


def test_file_layout_mode_and_content(store: FilesystemStore, clock: ManualClock) -> None:
    """S-11.1: session_<52-char base32 ID>, mode 0600, holding securecookie(name, values)."""
    browser = Browser()
    s = browser.visit(store, user="alice")
    assert ID_RE.fullmatch(s.id)
    (path,) = session_files(store.path)
    assert path.name == f"session_{s.id}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    codec = SecureCookie(HASH, BLOCK, clock=clock)
    assert codec.decode("app", path.read_text()) == {"user": "alice"}
    cookie = browser.jar.get("app")
    assert cookie is not None
    assert codec.decode("app", cookie.value) == s.id


def test_default_directory_is_the_temp_dir() -> None:
    """S-11.2: no path means the system temporary directory, as in gorilla."""
    import tempfile

    assert FilesystemStore(None, HASH).path == Path(tempfile.gettempdir())


def test_unusable_directory_fails_at_construction(tmp_path: Path) -> None:
    """S-11.2: configuration errors surface at construction."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError, match="cannot use session directory"):
        FilesystemStore(blocker / "sub", HASH)


def test_browser_session_keeps_the_file(store: FilesystemStore) -> None:
    """S-11.3: max_age == 0 is a browser-session cookie and the file stays (gorilla deleted it)."""
    browser = Browser()
    req, resp = browser.request(), RecordingResponse()
    s = store.get(req, "app")
    s.options = s.options.replace(max_age=0)
    s.values["k"] = 1
    s.save(req, resp)
    assert "Max-Age" not in resp.set_cookie_headers()[0]
    assert len(session_files(store.path)) == 1
    browser.receive(resp)
    assert browser.load(store).values == {"k": 1}


def test_delete_removes_file_and_cookie(store: FilesystemStore) -> None:
    """S-11.3: max_age < 0 deletes the file and the cookie."""
    browser = Browser()
    browser.visit(store, k=1)
    req, resp = browser.request(), RecordingResponse()
    s = store.get(req, "app")
    s.options = s.options.replace(max_age=-1)
    s.save(req, resp)
    assert session_files(store.path) == []
    assert "Max-Age=0" in resp.set_cookie_headers()[0]


def test_forged_path_traversal_id_never_reaches_the_filesystem(
    store: FilesystemStore, clock: ManualClock
) -> None:
    """S-10.3: a signed but malformed ID is rejected before any path is built."""
    codec = SecureCookie(HASH, BLOCK, clock=clock)
    for forged in ["../../etc/passwd", "A" * 129, "", ".x", "a/b", "a\\b", "A\x00", "é"]:
        s = store.new(SimpleRequest(f"app={codec.encode('app', forged)}"), "app")
        assert isinstance(s.load_error, InvalidSessionIDError), forged
    s = store.new(SimpleRequest(), "app")
    s.id = "../../x"
    with pytest.raises(InvalidSessionIDError):
        store.save(SimpleRequest(), RecordingResponse(), s)


def test_create_never_overwrites(store: FilesystemStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """S-10.6: an ID collision draws another ID instead of replacing a stranger's file."""
    browser = Browser()
    taken = browser.visit(store, owner="first").id
    ids = iter([taken, "B" * 52])
    monkeypatch.setattr(_server_side, "new_session_id", lambda: next(ids))
    s = Browser().visit(store, owner="second")
    assert s.id == "B" * 52
    assert browser.load(store).values == {"owner": "first"}


def test_max_length_applies_to_the_file(store: FilesystemStore) -> None:
    """S-11.4: the 4096 limit covers the file content too (gorilla), nothing is written."""
    req, resp = SimpleRequest(), RecordingResponse()
    s = store.get(req, "app")
    s.values["blob"] = "x" * 4000
    with pytest.raises(ValueTooLongError):
        s.save(req, resp)
    assert list(store.path.iterdir()) == []
    store.max_length(0)
    s.save(req, resp)
    assert len(session_files(store.path)) == 1


def test_purge_expired(store: FilesystemStore, clock: ManualClock) -> None:
    """S-11.6: removes expired and old undecodable files, skips others, counts deletions."""
    keep, old = Browser(), Browser()
    old.visit(store, k="old")
    clock.advance(Options().max_age - 100)
    keep.visit(store, k="new")
    (store.path / "README").write_text("not a session")
    (store.path / "session_notanid").write_text("garbage")
    junk = store.path / f"session_{'C' * 52}"
    junk.write_text("garbage")
    os.utime(junk, (0, 0))
    young_junk = store.path / f"session_{'D' * 52}"
    young_junk.write_text("garbage")
    young_junk.touch()
    clock.advance(200)
    assert store.purge_expired() == 2
    names = {p.name for p in store.path.iterdir()}
    assert "README" in names and "session_notanid" in names and young_junk.name in names
    assert keep.load(store).values == {"k": "new"}
    assert old.load(store).is_new
    assert store.purge_expired() == 0


WORKER = textwrap.dedent(
    """
    import sys
    from spec.http import RecordingResponse, SimpleRequest
    from reference_impl.filesystem import FilesystemStore

    path, shared_cookie, me, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = FilesystemStore(path, b"h" * 32, b"b" * 32)
    own_cookie = ""
    for i in range(rounds):
        req = SimpleRequest(f"shared={shared_cookie}; own={own_cookie}")
        shared = store.get(req, "shared")
        own = store.get(req, "own")
        if shared.load_error is not None or shared.is_new:
            sys.exit(f"shared session unreadable: {shared.load_error!r}")
        if i and own.values.get("n") != i - 1:
            sys.exit(f"own session lost an update: {own.values!r} at {i}")
        shared.values["last"] = f"{me}:{i}"
        shared.values["pad"] = me * 200
        own.values["n"] = i
        resp = RecordingResponse()
        shared.save(req, resp)
        own.save(req, resp)
        own_cookie = resp.cookies[1].value
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_many_processes_never_tear_or_lose_files(tmp_path: Path) -> None:
    """S-11.5: 4 processes x 200 saves, same and different sessions: every file whole."""
    store = FilesystemStore(tmp_path, HASH, BLOCK)
    browser = Browser()
    browser.visit(store, "shared", last="start")
    shared = browser.jar.get("shared")
    assert shared is not None
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), shared.value, f"p{n}", "200"],
            env=_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    files = session_files(tmp_path)
    assert len(files) == 5  # one shared + one per process
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    codec = SecureCookie(HASH, BLOCK)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        values = None
        for name in ("shared", "own"):
            try:
                values = codec.decode(name, path.read_text())
            except Exception:
                continue
        assert isinstance(values, dict), path.name
        if "n" in values:
            assert values["n"] == 199
    last = browser.load(store, "shared").values["last"]
    assert isinstance(last, str) and last.endswith(":199")


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from spec.http import RecordingResponse, SimpleRequest
    from reference_impl.filesystem import FilesystemStore

    store = FilesystemStore(sys.argv[1], b"h" * 32, b"b" * 32)
    cookie = sys.argv[2]
    print("ready", flush=True)
    i = 0
    while True:
        req = SimpleRequest(f"app={cookie}")
        s = store.get(req, "app")
        s.values["state"] = "AB"[i % 2] * 1500
        s.save(req, RecordingResponse())
        i += 1
    """
)


def test_writer_killed_mid_save_leaves_old_or_new_state(tmp_path: Path) -> None:
    """S-11.5: SIGKILL during saves: the next load sees a whole state, never an error."""
    store = FilesystemStore(tmp_path, HASH, BLOCK)
    browser = Browser()
    browser.visit(store, state="A" * 1500)
    cookie = browser.jar.get("app")
    assert cookie is not None
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(tmp_path), cookie.value],
            env=_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        s = browser.load(store)
        assert s.load_error is None, s.load_error
        assert s.values["state"] in ("A" * 1500, "B" * 1500)


def test_a_file_keeps_its_deadline_in_its_mtime(store: FilesystemStore, clock: ManualClock) -> None:
    """S-11.7: a shorter per-session max_age is the file's mtime, enforced on load and purge."""
    browser = Browser()
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.options = session.options.replace(max_age=60)
    session.values["k"] = 1
    session.save(request, response)
    browser.receive(response)
    path = store.path / f"session_{session.id}"
    assert path.stat().st_mtime == clock() + 60
    clock.advance(60)
    assert browser.load(store).values == {"k": 1}  # at its deadline: still alive
    clock.advance(1)
    assert isinstance(browser.load(store).load_error, ExpiredTimestampError)
    assert store.purge_expired() == 1 and not path.exists()


def test_a_file_without_a_deadline_mtime_follows_its_timestamp(
    store: FilesystemStore, clock: ManualClock
) -> None:
    """S-11.7: a file as Go writes it (mtime = write time) lives for the store's max age."""
    browser = Browser()
    session = browser.visit(store, k=1)
    path = store.path / f"session_{session.id}"
    os.utime(path, (clock(), clock()))  # what a Go FilesystemStore leaves
    clock.advance(Options().max_age)
    assert browser.load(store).values == {"k": 1}
    assert store.purge_expired() == 0
    clock.advance(1)
    assert browser.load(store).is_new and store.purge_expired() == 1


def test_a_file_path_is_refused_as_not_a_directory(tmp_path: Path) -> None:
    """S-11.2: a file given as the session directory fails at construction, saying so."""
    blocker = tmp_path / "sessions.txt"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError, match="not a directory"):
        FilesystemStore(blocker, HASH)
    with pytest.raises(ConfigurationError, match="not a directory"):
        FilesystemStore(blocker / "sub", HASH)


SHORT_WRITE = textwrap.dedent(
    """
    import asyncio, json, resource, signal, sys
    from spec.errors import StoreError
    from spec.http import RecordingResponse, SimpleRequest
    from reference_impl.filesystem import FilesystemStore
    from reference_impl.aio.filesystem import AsyncFilesystemStore

    path, cookie, kind, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    # Without this the kernel kills the process at the limit instead of
    # letting write() return a short count (or fail with EFBIG).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    request, response = SimpleRequest(f"app={cookie}"), RecordingResponse()

    async def main():
        store = AsyncFilesystemStore(path, b"h" * 32, b"b" * 32)
        session = await store.get(request, "app")
        assert not session.is_new, session.load_error
        session.values["state"] = "B" * 1800
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        await session.asave(request, response)

    try:
        if kind == "sync":
            store = FilesystemStore(path, b"h" * 32, b"b" * 32)
            session = store.get(request, "app")
            assert not session.is_new, session.load_error
            session.values["state"] = "B" * 1800
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            session.save(request, response)
        else:
            asyncio.run(main())
    except StoreError as exc:
        outcome = "StoreError: " + str(exc)
    else:
        outcome = "saved"
    print(json.dumps({"outcome": outcome, "set_cookie": response.set_cookie_headers()}))
    """
)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_short_write_raises_and_keeps_the_old_file(tmp_path: Path, kind: str) -> None:
    """S-11.5: a file size limit cuts the write short: StoreError, no cookie, old file intact."""
    import json

    store = FilesystemStore(tmp_path, HASH, BLOCK)
    browser = Browser()
    browser.visit(store, state="A" * 100)
    cookie = browser.jar.get("app")
    assert cookie is not None
    (path,) = session_files(tmp_path)
    before = path.read_bytes()
    assert len(before) < 1024  # the limit lets the old size through, not the new one
    run = subprocess.run(
        [sys.executable, "-c", SHORT_WRITE, str(tmp_path), cookie.value, kind, "1024"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["outcome"].startswith("StoreError: filesystem: cannot write session file"), result
    assert result["set_cookie"] == []
    assert path.read_bytes() == before
    assert browser.load(store).values == {"state": "A" * 100}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_purge_skips_absurd_timestamps_and_finishes_the_sweep(
    store: FilesystemStore, clock: ManualClock
) -> None:
    """S-11.6: a 400-digit (or 5000-digit) timestamp never stops the sweep."""
    import base64

    old = Browser()
    old.visit(store, k="old")
    huge = store.path / f"session_{'E' * 52}"
    huge.write_bytes(base64.urlsafe_b64encode(b"9" * 400 + b"|eA==|bWFj"))
    too_long = store.path / f"session_{'F' * 52}"
    too_long.write_bytes(base64.urlsafe_b64encode(b"9" * 5000 + b"|eA==|bWFj"))
    os.utime(too_long, (0, 0))  # unparseable: its mtime decides, and it is old
    clock.advance(Options().max_age + 1)
    assert store.purge_expired() == 2
    assert huge.exists() and not too_long.exists()
    assert old.load(store).is_new


def test_purge_rechecks_the_age_under_the_lock(
    store: FilesystemStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S-11.6: a save landing between purge's scan and its delete keeps the session."""
    from reference_impl import filesystem

    browser = Browser()
    browser.visit(store, k="v1")
    clock.advance(Options().max_age)  # still valid: an age of exactly max_age is accepted
    request, response = browser.request(), RecordingResponse()
    held = store.get(request, "app")
    assert held.values == {"k": "v1"}
    clock.advance(1)  # now the file is past the max age, and purge will see it so
    real = filesystem._file_timestamp
    saved: list[bool] = []

    def scan_then_a_request_saves(path: Path) -> int | None:
        stamp = real(path)
        if not saved:  # the scan has read the old stamp; request A now saves
            held.values["k"] = "v2"
            held.save(request, response)
            saved.append(True)
        return stamp

    monkeypatch.setattr(filesystem, "_file_timestamp", scan_then_a_request_saves)
    assert store.purge_expired() == 0
    assert saved == [True]
    browser.receive(response)
    assert browser.load(store).values == {"k": "v2"}


def test_an_unreadable_session_file_is_a_store_error_naming_backend_and_action(
    tmp_path: Path,
) -> None:
    """S-11.5: a session file that cannot be read is an outage, and says where and what failed."""
    store = FilesystemStore(tmp_path, HASH, BLOCK)
    browser = Browser()
    browser.visit(store, user="alice")
    (path,) = session_files(tmp_path)
    path.unlink()
    path.mkdir()  # reading it now fails with an OSError that is not "no such file"
    with pytest.raises(StoreError) as info:
        browser.load(store)
    assert (info.value.backend, info.value.action) == ("filesystem", "read session file")
    assert str(info.value).startswith("filesystem: cannot read session file: [Errno ")
