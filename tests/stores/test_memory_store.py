"""MemoryStore specifics (docs/spec.md S-12); the shared clauses run in test_conformance_builtin."""

from __future__ import annotations

from reference_impl.memory import MemoryStore
from tests.stores._support import HASH, Browser


def test_records_belong_to_one_store_instance() -> None:
    """S-12.1: memory records live in their store object only."""
    one, two = MemoryStore(HASH), MemoryStore(HASH)
    browser = Browser()
    browser.visit(one, user="alice")
    assert browser.load(one).values == {"user": "alice"}
    assert browser.load(two).is_new
