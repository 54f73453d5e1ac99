"""docs/writing-a-backend.md runs as printed: its blocks, its example module, its commands.

The page's story is checked end to end: the first draft's backend fails
S-10.5 and nothing else, which keeps it at the ``cookie`` level, and the
fixed one reaches ``server-side``, each through the exact ``python -m
conformance`` line the page prints, run from the repository root.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGE = ROOT / "docs" / "writing-a-backend.md"
EXAMPLE = ROOT / "docs" / "examples" / "sqlite_backend.py"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^ *```{language}\n(.*?)^ *```", PAGE.read_text(), flags=re.S | re.M)


def _dedent(block: str) -> str:
    lines = block.splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines) + "\n"


def _command(factory: str) -> list[str]:
    """The page's ``python -m conformance`` line for ``factory``, with this interpreter."""
    (line,) = [
        line
        for block in _blocks("sh")
        for line in block.splitlines()
        if line.startswith("python -m conformance") and line.endswith(f":{factory}")
    ]
    argv = shlex.split(line)
    return [sys.executable, *argv[1:]]


def _run(factory: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(factory), cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def _printed(pattern: str) -> list[str]:
    """The lines of the page's output blocks that match ``pattern``."""
    return [
        line for block in _blocks("text") for line in block.splitlines() if re.match(pattern, line)
    ]


def _verdict(line: str) -> str:
    """A summary line without the counts that grow with the suite: verdict and failures."""
    match = re.match(r"(PASS|FAIL): \d+ clauses x 1 stores: \d+ pass, (\d+) fail", line)
    assert match, line
    return f"{match.group(1)}: {match.group(2)} fail"


def _summary(stdout: str) -> str:
    (line,) = [x for x in stdout.splitlines() if re.match(r"(PASS|FAIL): \d+ clauses", x)]
    return _verdict(line)


def test_every_python_block_runs_as_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each block runs on its own, from the repository root, in a fresh namespace."""
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    blocks = _blocks("python")
    assert len(blocks) >= 5
    for block in blocks:
        exec(compile(_dedent(block), str(PAGE), "exec"), {"__name__": "tutorial_block"})


@pytest.mark.parametrize("name", ["DraftBackend", "SQLiteBackend", "SQLiteStore"])
def test_the_page_shows_the_example_module_code(name: str) -> None:
    """The classes printed on the page are the ones the commands check, word for word."""
    (block,) = [b for b in _blocks("python") if f"class {name}(" in b or f"class {name}:" in b]
    shown = block[block.index(f"class {name}") :]
    assert shown in EXAMPLE.read_text()


def test_the_finished_backend_passes_the_command_from_the_page() -> None:
    """``--level server-side ...:factory`` exits 0 and reaches the level, as printed."""
    result = _run("factory")
    assert result.returncode == 0, result.stdout + result.stderr
    (printed,) = _printed(r"PASS: ")
    assert _summary(result.stdout) == _verdict(printed) == "PASS: 0 fail"
    (level,) = _printed(r"  sqlite: [a-z-]+$")
    assert level == "  sqlite: server-side"
    assert level in result.stdout.splitlines(), result.stdout
    assert re.search(r"^S-10\.5 .* pass$", result.stdout, flags=re.M), result.stdout


def test_the_draft_fails_exactly_the_resurrection_clause() -> None:
    """The first draft (``update`` upserts) fails S-10.5 and nothing else, as the page shows."""
    result = _run("draft_factory")
    assert result.returncode == 1, result.stdout + result.stderr
    failed = re.findall(r"^(S-\d+\.\d+) .*FAIL$", result.stdout, flags=re.M)
    assert failed == ["S-10.5"], result.stdout
    (printed,) = _printed(r"FAIL: \d")
    assert _summary(result.stdout) == _verdict(printed) == "FAIL: 1 fail"
    lines = result.stdout.splitlines()
    for line in _printed(r"  sqlite-draft: cookie|FAIL: not every|          with pytest"):
        assert line in lines, (line, result.stdout)
    assert "test_s10_5_no_resurrection_after_delete" in result.stdout
