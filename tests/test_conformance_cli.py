"""``python -m conformance``: the per-clause report and its exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_builtin_stores_pass_with_a_row_per_clause(tmp_path: Path) -> None:
    """With no argument the three built-in stores are checked and all pass."""
    result = run(cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("clause"))
    assert header.split()[-3:] == ["memory", "cookie", "filesystem"]
    rows = [line for line in lines if line.startswith("S-")]
    assert len(rows) >= 25
    assert all("FAIL" not in row for row in rows)
    assert any(
        row.startswith("S-10.5 ") and row.split()[-3:] == ["pass", "skip", "pass"] for row in rows
    )
    assert "PASS:" in result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working directory


def test_a_broken_factory_fails_on_its_clause(tmp_path: Path) -> None:
    """A factory that resurrects deleted sessions makes the report fail on S-10.5."""
    (tmp_path / "broken_factory.py").write_text(
        "from tests._broken_stores import ResurrectsAfterDelete\n"
        "def factory(clock, *keys):\n"
        "    return ResurrectsAfterDelete(clock, *keys)\n"
        "factory.capabilities = {'server_side': True, 'id_sample_size': 200}\n"
    )
    env_path = f"{tmp_path}{os.pathsep}{ROOT}"
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "broken_factory:factory"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": env_path},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("S-10.5 "))
    assert row.split()[-1] == "FAIL"
    assert "FAIL:" in result.stdout
    assert "test_s10_5_no_resurrection_after_delete" in result.stdout


def test_unloadable_factory_is_a_usage_error(tmp_path: Path) -> None:
    """A factory that cannot be imported exits 2 with a clear message."""
    result = run("no_such_module:factory", cwd=tmp_path)
    assert result.returncode == 2
    assert "no_such_module:factory" in result.stderr
    result = run("missing-colon", cwd=tmp_path)
    assert result.returncode == 2
    assert "expected module:factory" in result.stderr
