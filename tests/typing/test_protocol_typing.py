"""The protocols are strict enough to type-check user stores (docs/spec.md S-8)."""

from __future__ import annotations

from pathlib import Path

from mypy import api

CASES = Path(__file__).parent / "cases"
ROOT = Path(__file__).parents[2]


def _mypy(path: Path, *extra: str) -> tuple[str, int]:
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--no-incremental",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            *extra,
            str(path),
        ]
    )
    return stdout + stderr, status


def test_store_written_against_the_protocols_passes_strict_with_no_any() -> None:
    """S-8.1: no cast, no Any leaking into user code, under --strict."""
    out, status = _mypy(CASES / "good_store.py", "--disallow-any-expr", "--disallow-any-explicit")
    assert status == 0, out


def test_store_with_wrong_signatures_fails() -> None:
    """S-8.2: a store whose methods do not match the protocol is a type error."""
    out, status = _mypy(CASES / "bad_store.py")
    assert status == 1, out
    assert 'Incompatible types in assignment (expression has type "BrokenStore"' in out
    assert "new" in out and "save" in out
