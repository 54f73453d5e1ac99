"""The shared server-side plans (docs/spec.md S-10): claiming records and the ID shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_impl import ServerSideStore
from reference_impl._store.server_side import (
    ID_PATTERN,
    ISSUED_ID_PATTERN,
    check_session_id,
    new_session_id,
)
from reference_impl.filesystem import FilesystemStore
from reference_impl.memory import MemoryStore
from spec import ManualClock
from spec.errors import InvalidSessionIDError, StoreError
from spec.http import RecordingResponse, SimpleRequest
from tests.stores._support import HASH, Browser


class _SilentDeleteBackend:
    """A backend written before ``delete`` reported anything: it answers ``None``."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, float | None]] = {}

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        return self.records.get(session_id)

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        return self.records.setdefault(session_id, (data, expires_at)) == (data, expires_at)

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        if session_id not in self.records:
            return False
        self.records[session_id] = (data, expires_at)
        return True

    def delete(self, session_id: str) -> None:
        self.records.pop(session_id, None)


def test_a_delete_that_reports_nothing_cannot_claim_a_record() -> None:
    """S-10.5: a backend whose delete answers None gets a StoreError saying what to return."""
    backend = _SilentDeleteBackend()
    store = ServerSideStore(backend, HASH, clock=ManualClock())  # type: ignore[arg-type]
    browser = Browser()
    old_id = browser.visit(store, user="alice").id
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.regenerate_id()
    with pytest.raises(StoreError, match="must return True when it removed the record"):
        session.save(request, response)
    assert response.set_cookie_headers() == []
    assert list(backend.records) == []  # claimed (deleted), but no new record was created
    assert old_id not in backend.records


@pytest.mark.parametrize("kind", ["memory", "filesystem"])
def test_delete_reports_whether_it_removed_the_record(kind: str, tmp_path: Path) -> None:
    """S-10.5: exactly one of two deletes of one record answers True."""
    clock = ManualClock()
    store = (
        MemoryStore(HASH, clock=clock)
        if kind == "memory"
        else FilesystemStore(tmp_path, HASH, clock=clock)
    )
    session_id = Browser().visit(store, user="alice").id
    assert store.backend.delete(session_id) is True
    assert store.backend.delete(session_id) is False


GO_CHOSEN_IDS = ["PUBLICFIXEDSESSIONID0123456789", "a", "user-42_session", "Z" * 128]


@pytest.mark.parametrize("session_id", GO_CHOSEN_IDS)
@pytest.mark.parametrize("kind", ["memory", "filesystem"])
def test_ids_a_go_app_chose_load_and_save_in_place(
    kind: str, session_id: str, tmp_path: Path
) -> None:
    """S-10.3: a signed ID of letters, digits, _ and - (1 to 128) loads; saves keep it."""
    clock = ManualClock()
    store: MemoryStore | FilesystemStore = (
        MemoryStore(HASH, clock=clock)
        if kind == "memory"
        else FilesystemStore(tmp_path, HASH, clock=clock)
    )
    codec = store.codecs[0]
    assert store.backend.create(session_id, codec.encode("app", {"user": "go"}), None, None)
    request = SimpleRequest(f"app={codec.encode('app', session_id)}")
    session = store.get(request, "app")
    assert session.load_error is None and session.id == session_id
    assert session.values == {"user": "go"}
    session.values["seen"] = True
    response = RecordingResponse()
    session.save(request, response)
    assert session.id == session_id and len(response.set_cookie_headers()) == 1
    assert store.new(request, "app").values == {"user": "go", "seen": True}


@pytest.mark.parametrize(
    "forged", ["", "A" * 129, "../x", "a.b", "a/b", "a\\b", "a:b", "a b", "a\x00", "a\n", "é"]
)
def test_ids_outside_the_safe_alphabet_are_refused(forged: str) -> None:
    """S-10.3: separators, dots, NUL, spaces, colons, non-ASCII and >128 chars never pass."""
    with pytest.raises(InvalidSessionIDError):
        check_session_id(forged)
    assert ID_PATTERN.fullmatch(forged) is None


def test_issued_ids_keep_gorillas_shape() -> None:
    """S-10.1: we still issue 52 characters of base32, and they pass our own check."""
    for _ in range(100):
        session_id = new_session_id()
        assert ISSUED_ID_PATTERN.fullmatch(session_id)
        check_session_id(session_id)
