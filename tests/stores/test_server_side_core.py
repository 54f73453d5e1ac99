"""The shared server-side plans (docs/spec.md S-10): claiming records and the ID shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_impl._server_side import ServerSideStore
from reference_impl.filesystem import FilesystemStore
from reference_impl.memory import MemoryStore
from spec import ManualClock
from spec.errors import StoreError
from spec.http import RecordingResponse
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
    store = ServerSideStore(backend, [HASH], None, None, ManualClock())  # type: ignore[arg-type]
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
