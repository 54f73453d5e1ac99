"""A Go app that picks its own session IDs shares a directory with us (S-10.3).

gorilla's FilesystemStore saves whatever ``session.ID`` the app set; the
real Go library (through the oracle, ``tests/interop/README.md``) writes
such a session, our FilesystemStore loads it, updates it in place, and Go
reads our update back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from reference_impl.filesystem import FilesystemStore
from reference_impl.gob import GobSerializer
from spec.http import RecordingResponse, SimpleRequest
from tests.interop.goracle import GoOracle, canonical, to_typed

HASH_KEY = bytes(range(32))
BLOCK_KEY = bytes(range(100, 132))
KEY_PAIRS = [{"hash_key_hex": HASH_KEY.hex(), "block_key_hex": BLOCK_KEY.hex()}]
NAME = "app-session"


@pytest.mark.parametrize(
    "session_id", ["PUBLICFIXEDSESSIONID0123456789", "user-42_session", "x", "Q" * 128]
)
def test_a_go_chosen_id_round_trips_go_python_go(go_oracle: GoOracle, session_id: str) -> None:
    """Ensure a Go session under the app's own ID loads here and Go reads our update."""
    with tempfile.TemporaryDirectory(prefix="sessionspec-interop-") as shared:
        saved = go_oracle.call(
            {
                "op": "fs-save",
                "key_pairs": KEY_PAIRS,
                "name": NAME,
                "dir": shared,
                "session_id": session_id,
                "values": to_typed({"user": "go"}, top=True),
            }
        )
        assert saved["ok"] is True and saved["session_id"] == session_id, saved
        assert (Path(shared) / f"session_{session_id}").is_file()
        store = FilesystemStore(shared, HASH_KEY, BLOCK_KEY, serializer=GobSerializer())
        loaded = store.get(SimpleRequest(f"{NAME}={saved['cookie']}"), NAME)
        assert loaded.load_error is None and loaded.id == session_id
        assert loaded.values == {"user": "go"}
        loaded.values["seen"] = "python"
        response = RecordingResponse()
        loaded.save(SimpleRequest(), response)
        assert loaded.id == session_id
        (cookie,) = response.cookies
        reply = go_oracle.call(
            {
                "op": "fs-load",
                "key_pairs": KEY_PAIRS,
                "name": NAME,
                "dir": shared,
                "cookie_header": f"{NAME}={cookie.value}",
            }
        )
        assert reply["ok"] is True and reply["load_error"] is None, reply
        assert reply["session_id"] == session_id
        expected = to_typed({"user": "go", "seen": "python"}, top=True)
        assert canonical(reply["values"]) == canonical(expected)
