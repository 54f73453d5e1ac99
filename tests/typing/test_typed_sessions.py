"""The type holes of issue 18 are closed: mypy --strict reports each mistake on its own line.

``cases/typed_app.py`` is a clean app (TypedSession, Options.replace,
session values, an async store) that passes ``--strict`` with no ignore and
no ``Any``. ``cases/typed_mistakes.py`` makes the seven mistakes users make,
each on a line marked ``# error``; mypy must report every marked line and
no other.
"""

from __future__ import annotations

import re
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


def test_a_clean_typed_app_passes_strict_with_no_any() -> None:
    out, status = _mypy(CASES / "typed_app.py", "--disallow-any-expr", "--disallow-any-explicit")
    assert status == 0, out


def test_each_mistake_is_reported_on_the_line_where_it_is_made() -> None:
    path = CASES / "typed_mistakes.py"
    marked = {
        number
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "  # error: " in line
    }
    out, status = _mypy(path)
    assert status == 1, out
    reported = {int(m) for m in re.findall(r"typed_mistakes\.py:(\d+): error:", out)}
    assert len(marked) == 7
    assert reported == marked, out
    for expected in (
        'Argument "max_age" to "replace" of "Options" has incompatible type "str"; expected "int"',
        'Unexpected keyword argument "maxage" for "replace" of "Options"; did you mean "max_age"?',
        '(expression has type "set[str]", target has type "SessionValue")',
        '(expression has type "datetime", target has type "SessionValue")',
        'to "save" of "AsyncSession" has incompatible type "Request"; expected "UseAsave"',
        '"Cart" has no attribute "itemz"; maybe "items"?',
        'Argument 3 to "save" of "TypedSession" has incompatible type',
    ):
        assert expected in out, (expected, out)
