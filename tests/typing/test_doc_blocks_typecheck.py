"""Every ``python`` block of README.md and docs/ passes ``mypy --strict`` as printed.

Readers copy these blocks into typed code bases; an example that fails
``--strict`` (``session.values.get("visits", 0) + 1``, an attribute the
framework's type does not declare) teaches them to add ``Any`` or an
ignore. One mypy run covers every block, each written to its own module
(a cumulative page, see tests/test_doc_blocks.py, is one module holding its
blocks in page order), with a cache under the test's temporary directory;
failures name the page and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from mypy import api

from tests.test_doc_blocks import BLOCKS, ROOT


def _modules() -> dict[str, list[tuple[str, int, str]]]:
    """Module name -> its blocks as (page, first line of code, code), in page order."""
    modules: dict[str, list[tuple[str, int, str]]] = {}
    for block in BLOCKS:
        page = block.page.relative_to(ROOT).as_posix()
        stem = re.sub(r"\W", "_", page.removesuffix(".md"))
        name = (
            f"doc_{stem}"
            if block.prelude or _cumulative(block.page)
            else f"doc_{stem}_L{block.line}"
        )
        modules.setdefault(name, []).append((page, block.line + 1, block.code))
    return modules


def _cumulative(page: Path) -> bool:
    return any(b.page == page and b.prelude for b in BLOCKS)


def test_every_doc_block_type_checks_under_strict(tmp_path: Path) -> None:
    where: dict[str, list[str]] = {}  # file -> "page:line" of each of its lines
    files = []
    for name, blocks in _modules().items():
        lines: list[str] = []
        for page, first, code in blocks:
            for offset, text in enumerate(code.splitlines()):
                lines.append(text)
                where.setdefault(name, []).append(f"{page}:{first + offset}")
        path = tmp_path / f"{name}.py"
        path.write_text("\n".join(lines) + "\n")
        files.append(str(path))
    config = str(ROOT / "pyproject.toml")
    cache = str(tmp_path / ".mypy_cache")
    stdout, stderr, status = api.run(
        ["--strict", "--config-file", config, "--cache-dir", cache, *files]
    )

    def locate(match: re.Match[str]) -> str:
        return where[match.group(1)][int(match.group(2)) - 1]

    out = re.sub(rf"{re.escape(str(tmp_path))}/(\w+)\.py:(\d+)", locate, stdout + stderr)
    assert status == 0, out
