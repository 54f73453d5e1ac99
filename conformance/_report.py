"""The ``python -m conformance`` command: run the suite, print a per-clause table.

Each argument names a factory, ``module:attribute``, a callable
``factory(clock, *key_pairs) -> Store`` (keys optional). It may carry a
``capabilities`` attribute (a :class:`Capabilities` or a dict of its fields)
and a ``label``. With no argument the built-in memory, cookie and
filesystem stores are checked.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance import SUITE_VERSION, StoreConformance
from conformance._capabilities import Capabilities
from spec import ManualClock, Store

__all__ = ["build_case", "main"]

BUILTIN = [
    "reference_impl.testing:memory",
    "reference_impl.testing:cookie",
    "reference_impl.testing:filesystem",
]
_TEST_NAME = re.compile(r"test_s(\d+)_(\d+)_")
_CASE = re.compile(r"::(TestStore\d+)::")
_HYPOTHESIS_DIR = "HYPOTHESIS_STORAGE_DIRECTORY"


def load_factory(spec: str) -> Callable[..., Store]:
    """Import ``module:attribute`` and check it is callable."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{spec!r}: expected module:factory")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{spec!r}: cannot load: {exc}") from exc
    if not callable(factory):
        raise ValueError(f"{spec!r}: {type(factory).__name__} is not callable")
    return factory  # type: ignore[no-any-return]


def _capabilities_of(factory: object) -> Capabilities:
    declared = getattr(factory, "capabilities", None)
    if declared is None:
        return Capabilities()
    if isinstance(declared, Capabilities):
        return declared
    return Capabilities.model_validate(declared)


def build_case(spec: str) -> type[StoreConformance[Store]]:
    """A ``StoreConformance`` subclass for the factory named by ``spec``."""
    factory = load_factory(spec)

    class Case(StoreConformance[Store]):
        capabilities = _capabilities_of(factory)

        def make_store(self, clock: ManualClock) -> Store:
            return factory(clock)

        def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> Store:
            # Stores made here share one backend per test, so rotation can be seen.
            base = self.__dict__.setdefault("_keyed_base", factory(clock))
            with_keys: Callable[..., Store] | None = getattr(base, "with_keys", None)
            if with_keys is None:
                raise NotImplementedError
            return with_keys(*key_pairs)

        def break_backend(self, store: Store) -> object:
            # May be ``async def`` for an async store: return what it gives,
            # so the async adapter awaits it.
            breaker: Callable[[Store], object] | None = getattr(factory, "break_backend", None)
            if breaker is None:
                raise NotImplementedError
            return breaker(store)

    Case.__qualname__ = Case.__name__ = "StoreCase"
    return Case


@dataclass
class _Clause:
    title: str
    outcomes: dict[str, list[str]] = field(default_factory=dict)


class _Collector:
    """A pytest plugin object that records each test's outcome by clause and store."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.clauses: dict[tuple[int, int], _Clause] = {}
        self.failures: list[str] = []
        self.skips: dict[str, set[str]] = {}
        self.total = 0
        self.done = 0

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.total = len(items)
        for item in items:
            key = self._clause_of(item.nodeid)
            func = getattr(item, "function", None)
            doc = (getattr(func, "__doc__", None) or "").strip().splitlines()
            title = re.sub(r"\s*\(S-[\d.]+\)\.?\s*$", "", doc[0] if doc else item.name)
            title = re.sub(r"^Ensure (that )?", "", title)
            if key is not None and key not in self.clauses:
                self.clauses[key] = _Clause(title)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = self._clause_of(report.nodeid)
        case = _CASE.search(report.nodeid)
        if key is None or case is None:
            return
        label = self.labels[int(case.group(1).removeprefix("TestStore"))]
        outcome = ""
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "error" if report.when == "setup" and report.failed else report.outcome
        if not outcome:
            return
        self.clauses[key].outcomes.setdefault(label, []).append(outcome)
        if outcome == "skipped" and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            self.skips.setdefault(label, set()).add(reason)
        if outcome in ("failed", "error"):
            detail = report.longreprtext.strip().splitlines()
            self.failures.append(
                f"{label}: {report.nodeid.split('::')[-1]}\n      " + "\n      ".join(detail[-6:])
            )
        self.done += 1
        mark = {"passed": ".", "skipped": "s", "failed": "F", "error": "E"}[outcome]
        end = "\n" if self.done == self.total else ""
        print(mark, end=end, file=sys.stderr, flush=True)

    @staticmethod
    def _clause_of(nodeid: str) -> tuple[int, int] | None:
        match = _TEST_NAME.search(nodeid)
        return (int(match.group(1)), int(match.group(2))) if match else None


def _cell(outcomes: list[str]) -> str:
    if not outcomes:
        return "-"
    if any(o in ("failed", "error") for o in outcomes):
        return "FAIL"
    if all(o == "skipped" for o in outcomes):
        return "skip"
    return "pass"


def _print_table(collector: _Collector) -> tuple[int, int, int]:
    labels = collector.labels
    width = max(len(label) for label in labels) + 2
    print(f"\n{'clause':<8} {'title':<70}" + "".join(f"{lb:>{width}}" for lb in labels))
    counts = {"pass": 0, "FAIL": 0, "skip": 0}
    for (major, minor), clause in sorted(collector.clauses.items()):
        cells = [_cell(clause.outcomes.get(label, [])) for label in labels]
        for c in cells:
            counts[c] = counts.get(c, 0) + 1
        title = clause.title if len(clause.title) <= 68 else clause.title[:67] + "…"
        clause_id = f"S-{major}.{minor}"
        print(f"{clause_id:<8} {title:<70}" + "".join(f"{c:>{width}}" for c in cells))
    return counts["pass"], counts["FAIL"], counts["skip"]


def main(argv: list[str]) -> int:
    """Run the suite against each factory and print the report; 0 if nothing failed."""
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Check session stores against docs/spec.md and print a per-clause table.",
    )
    parser.add_argument(
        "factories",
        nargs="*",
        metavar="module:factory",
        help="callables factory(clock, *key_pairs) -> Store "
        "(default: the built-in memory, cookie and filesystem stores)",
    )
    args = parser.parse_args(argv)
    specs = args.factories or BUILTIN
    try:
        factories = [load_factory(spec) for spec in specs]
    except ValueError as exc:
        print(f"python -m conformance: {exc}", file=sys.stderr)
        return 2
    labels = [
        getattr(f, "label", None) or s.split(":")[0].rsplit(".", 1)[-1]
        for f, s in zip(factories, specs, strict=True)
    ]
    if len(set(labels)) != len(labels):
        labels = specs
    collector = _Collector(labels)
    print(
        f"python -m conformance: suite {SUITE_VERSION} against {', '.join(labels)}", file=sys.stderr
    )
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        module = Path(tmp) / "test_conformance_report.py"
        lines = ["from conformance._report import build_case"]
        lines += [f"TestStore{i} = build_case({spec!r})" for i, spec in enumerate(specs)]
        module.write_text("\n".join(lines) + "\n")
        # Stores that need scratch space take it from tempfile: keep it in here.
        previous_tempdir, tempfile.tempdir = tempfile.tempdir, tmp
        # ...and so does Hypothesis, instead of the caller's working directory.
        previous_storage = os.environ.get(_HYPOTHESIS_DIR)
        os.environ[_HYPOTHESIS_DIR] = str(Path(tmp) / ".hypothesis")
        try:
            status = pytest.main(
                [
                    str(module),
                    "-p",
                    "no:terminal",
                    "-p",
                    "no:cacheprovider",
                    "--rootdir",
                    tmp,
                    "-o",
                    "addopts=",
                    "-W",
                    "ignore::pytest.PytestAssertRewriteWarning",
                ],
                plugins=[collector],
            )
        finally:
            tempfile.tempdir = previous_tempdir
            if previous_storage is None:
                os.environ.pop(_HYPOTHESIS_DIR, None)
            else:
                os.environ[_HYPOTHESIS_DIR] = previous_storage
    passed, failed, skipped = _print_table(collector)
    verdict = "PASS" if failed == 0 and status == 0 else "FAIL"
    print(
        textwrap.dedent(f"""
        {verdict}: {len(collector.clauses)} clauses x {len(labels)} stores: \
{passed} pass, {failed} fail, {skipped} skip (suite {SUITE_VERSION})""").strip()
    )
    for label, reasons in collector.skips.items():
        for reason in sorted(reasons):
            print(f"  skip ({label}): {reason}")
    for failure in collector.failures:
        print(f"  failed: {failure}")
    if status not in (0, 1) and not collector.failures:
        print(f"  pytest stopped with status {int(status)} (collection or usage error)")
    return 0 if verdict == "PASS" else 1
