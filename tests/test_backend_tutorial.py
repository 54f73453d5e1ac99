"""The store of docs/writing-a-backend.md: the draft fails S-10.5, the fix passes everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import Capabilities, StoreConformance
from docs.examples.sqlite_backend import SQLiteStore
from spec import ManualClock

CAPABILITIES = Capabilities(server_side=True, max_value_bytes=4096, id_sample_size=2000)


class TestTutorialSQLiteStore(StoreConformance[SQLiteStore]):
    capabilities = CAPABILITIES

    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.database = str(tmp_path / "sessions.db")

    def make_store(self, clock: ManualClock) -> SQLiteStore:
        return SQLiteStore(self.database, b"k" * 32, clock=clock)


DRAFT = """
from conformance import Capabilities, StoreConformance
from docs.examples.sqlite_backend import NaiveSQLiteStore


class TestDraft(StoreConformance):
    capabilities = Capabilities(server_side=True, id_sample_size=100)

    def make_store(self, clock):
        return NaiveSQLiteStore(":memory:", b"k" * 32, clock=clock)
"""


def test_the_draft_fails_exactly_the_resurrection_clause(pytester: pytest.Pytester) -> None:
    """The tutorial's first draft fails S-10.5 and nothing else, as the page shows."""
    pytester.makepyfile(test_draft=DRAFT)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "-rf")
    outcomes = result.parseoutcomes()
    failed = [line for line in result.outlines if line.startswith("FAILED")]
    assert outcomes.get("failed") == 1, result.stdout.str()
    assert "test_s10_5_no_resurrection_after_delete" in failed[0]
