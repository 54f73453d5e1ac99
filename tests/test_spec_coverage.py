"""Every clause of docs/spec.md has a test, and every test names a real clause."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
CLAUSE = re.compile(r"\*\*(S-\d+\.\d+)\*\*")
REFERENCE = re.compile(r"\bS-(\d+)\.(\d+)\b")


def _spec_clauses() -> set[str]:
    return set(CLAUSE.findall((ROOT / "docs" / "spec.md").read_text()))


def _test_files() -> list[Path]:
    files = list((ROOT / "tests").rglob("test_*.py"))
    files += list((ROOT / "conformance").glob("_suite_*.py"))
    return files


def _referenced() -> set[str]:
    found: set[str] = set()
    for path in _test_files():
        found.update(f"S-{a}.{b}" for a, b in REFERENCE.findall(path.read_text()))
    return found


def test_every_clause_has_a_test() -> None:
    """A clause with no test is a defect (DESIGN: the normative text)."""
    missing = sorted(_spec_clauses() - _referenced())
    assert missing == []


def test_every_referenced_clause_exists() -> None:
    """A test naming a clause that does not exist is a defect."""
    unknown = sorted(_referenced() - _spec_clauses())
    assert unknown == []


def test_every_conformance_test_names_its_clause() -> None:
    """Conformance tests are named test_s<major>_<minor>_... and cite the same clause."""
    for path in (ROOT / "conformance").glob("_suite_*.py"):
        text = path.read_text()
        for match in re.finditer(r'def (test_s(\d+)_(\d+)_\w+)\(.*?"""(.*?)"""', text, re.S):
            name, major, minor, doc = match.groups()
            assert f"(S-{major}.{minor})" in doc, name
