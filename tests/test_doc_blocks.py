"""Every ``python`` block in README.md and docs/ runs as printed, imports included.

Each block runs in a fresh interpreter (``sys.executable``) in an empty
temporary directory, with the repository on ``PYTHONPATH`` and the
environment variables the pages themselves tell the reader to set, and
must exit 0. A block that is not Python to run (shell, output, pseudo-code)
is fenced as something else (``sh``, ``console``, ``text``) in the doc.

Each block runs as a module named ``docs_example``, not ``__main__``: an
app page's ``if __name__ == "__main__":`` tail would start a server and
never return. Here the page must import and define everything without
error; tests/integrations/test_docs_examples.py and
tests/aio/test_async_docs.py serve those apps under real servers.

Most blocks stand alone. A page whose blocks build on each other, as a
reader pasting them in order would, says so with the HTML comment
``<!-- doc-blocks: cumulative -->``: each of its blocks then runs after all
the blocks before it on that page, so a failure still names the block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

CUMULATIVE = "<!-- doc-blocks: cumulative -->"
_DIRECTIVE = re.compile(r"<!--\s*doc-blocks:(.*?)-->")
_FENCE = re.compile(r"^([ \t]*)```python[ \t]*\n(.*?)^\1```[ \t]*$", re.S | re.M)

# The variables the pages tell the reader to set (README "A first session",
# guide "Keys", the integration pages); values are throwaway test keys.
ENV = {
    "SESSION_KEY": "00" * 32,
    "SESSION_HASH_KEY": "11" * 32,
    "SESSION_BLOCK_KEY": "22" * 32,
    "SESSION_HASH_KEY_NEW": "33" * 32,
    "SESSION_BLOCK_KEY_NEW": "44" * 32,
    "FLASK_SECRET_KEY": "docs example secret, long and random in real life",
    "DJANGO_SECRET_KEY": "docs example django secret",
}

_RUNNER = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='docs_example')"

# Generous for one block (an app import, a few saves) yet bounded: a block
# that blocks on a server or a prompt fails instead of hanging the suite.
TIMEOUT = 20


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    code: str
    prelude: str  # the page's earlier blocks, for a cumulative page

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _blocks() -> list[Block]:
    found: list[Block] = []
    for page in PAGES:
        text = page.read_text()
        cumulative = CUMULATIVE in text
        earlier: list[str] = []
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            code = textwrap.dedent(match.group(2))
            found.append(Block(page, line, code, "\n".join(earlier) if cumulative else ""))
            earlier.append(code)
    return found


BLOCKS = _blocks()


def test_blocks_are_found() -> None:
    """The extractor sees the pages' blocks (an empty list would pass vacuously)."""
    pages = {block.page.relative_to(ROOT).as_posix() for block in BLOCKS}
    assert {"README.md", "docs/guide.md", "docs/writing-a-backend.md"} <= pages
    assert len(BLOCKS) >= 30


def test_doc_block_directives_are_known() -> None:
    """A mistyped directive would silently run a page's blocks one by one."""
    for page in PAGES:
        for directive in _DIRECTIVE.findall(page.read_text()):
            assert directive.strip() == "cumulative", (
                f"{page}: unknown doc-blocks directive {directive!r}"
            )


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_doc_block_runs_as_printed(block: Block, tmp_path: Path) -> None:
    """The block (after its page's earlier blocks, on a cumulative page) exits 0."""
    source = f"{block.prelude}\n{block.code}" if block.prelude else block.code
    script = tmp_path / "doc_block.py"
    script.write_text(source)
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONSTARTUP", None)
    work = tmp_path / "cwd"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(script)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{block.name} exited {result.returncode}:\n{result.stderr}"
            f"\n--- block ---\n{block.code}",
            pytrace=False,
        )
