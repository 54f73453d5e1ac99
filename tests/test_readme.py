"""The README's example runs as written (README "A first session")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs_and_prints_the_cookie(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first example saves a session and prints a Set-Cookie line as shown."""
    (block,) = [b for b in _python_blocks() if "session-name" in b]
    monkeypatch.setenv("SESSION_KEY", "00" * 32)
    exec(compile(block, str(README), "exec"), {})
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(
        r"session-name=[A-Za-z0-9_=-]+; Path=/; Expires=[^;]+ GMT; Max-Age=2592000; "
        r"HttpOnly; SameSite=Lax",
        line,
    ), line


def test_quick_start_has_exactly_two_commands() -> None:
    """The quick start is two self-contained commands, the second the CI test command."""
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)
    assert len(commands) == 2
    assert all(c.startswith("python3 -m venv .venv && ") for c in commands)
    assert commands[0].endswith("python -m conformance")
    assert commands[1].endswith("python -m pytest")
