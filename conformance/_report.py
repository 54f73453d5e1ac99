"""The ``python -m conformance`` command: run the suite, print a per-clause table.

Each argument names a factory, ``module:attribute`` (see :data:`PROTOCOL`,
printed by ``--help``). With no argument the built-in memory, cookie and
filesystem stores are checked. The report gives every clause's result and
time per store, then the failures in full, every clause that did not run
with the reason, and the conformance level each store reached.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance import SUITE_VERSION, StoreConformance
from conformance._async import real_store
from conformance._base import NOT_APPLICABLE
from conformance._capabilities import Capabilities
from conformance._levels import CAPABILITY_SETS, LEVELS, Clause, clause_key, clauses_in
from conformance._profiles import PROFILE_ENV, active_profile
from spec import ManualClock, Store

__all__ = ["PROTOCOL", "build_case", "main"]

BUILTIN = [
    "reference_impl.testing:memory",
    "reference_impl.testing:cookie",
    "reference_impl.testing:filesystem",
]
_TEST_NAME = re.compile(r"test_s(\d+)_(\d+)_")
_CASE = re.compile(r"::(TestStore\d+)::")
_HYPOTHESIS_DIR = "HYPOTHESIS_STORAGE_DIRECTORY"


def _members(clauses: frozenset[str]) -> str:
    return ", ".join(sorted(clauses, key=clause_key)) or "no clauses yet"


#: The factory protocol, as ``--help`` prints it.
PROTOCOL = f"""\
the factory protocol:
  factory(clock, *key_pairs) -> store
      A fresh store (sync or async) whose codecs and expiry use `clock`
      (a spec.ManualClock the suite moves instead of sleeping). With key
      pairs (hash, block, ...), a store using those keys, the first pair
      for encoding; without, the factory's own keys.
  Optional attributes of the factory:
  capabilities       a conformance.Capabilities or a dict of its fields:
                     what the store declares (max_value_bytes, value_types,
                     record_deadlines, thread_safe, ...). What the suite can
                     observe it checks instead: server_side (what the cookie
                     carries), purge_expired (the method exists),
                     regenerate_id (comes with server-side).
  label              a short name for the report's column.
  break_backend(store)
                     the outage hook: make every later backend operation of
                     `store` fail (close its connection, point it at a dead
                     port). Without it S-10.4 does not run, and the store
                     cannot reach the server-side level. May be async.
  make_store_with_keys(clock, *key_pairs)
                     the key-rotation hook: a store with these keys on the
                     SAME backend as the test's other stores. Without it the
                     suite calls store.with_keys(*key_pairs) if the store has
                     it, else factory(clock, *key_pairs) for a cookie store
                     (or one declaring shared_backend).
  raw_record(store, session_id)
                     the stored record or None (default: store.backend.read),
                     so S-10.5 and S-10.7 can check storage itself.
  close_store(store) release a store after its test (default: its aclose()
                     or close()). Every store the suite makes is released.
  make_store_with_timeouts(clock, *, absolute_timeout, idle_timeout)
                     a store with those limits (seconds, 0 = off), for the
                     lifetimes clauses S-9.22 to S-9.25 (--with lifetimes).

levels (--level; each needs every one of its clauses run and passed):
{chr(10).join(f"  {lv.name:<18} {lv.summary}" for lv in LEVELS)}
capability sets (--with SET; optional, beside a level):
{chr(10).join(f"  {n:<18} {_members(c)}" for n, c in CAPABILITY_SETS.items())}

${PROFILE_ENV}: dev (default), ci (default when CI=true;
derandomized, so a failure reproduces) or thorough (a soak run).

examples:
  python -m conformance
  python -m conformance --level server-side mypackage.sessions:factory
  python -m conformance -k s10_5 mypackage.sessions:factory -- -x
"""


def load_factory(spec: str) -> Callable[..., Store]:
    """Import ``module:attribute`` and check it is callable."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{spec!r}: expected module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"{spec!r}: cannot import {module_name!r} ({exc}): run from the directory that "
            f"holds it, or add that directory to PYTHONPATH"
        ) from exc
    try:
        factory = getattr(module, attr)
    except AttributeError:
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        raise ValueError(
            f"{spec!r}: module {module_name!r} has no attribute {attr!r} "
            f"(it has: {', '.join(public) or 'nothing public'})"
        ) from None
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


def _accepts_key_pairs(factory: Callable[..., object]) -> bool:
    """Whether ``factory(clock, *key_pairs)`` can be called with key pairs."""
    try:
        parameters = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return True  # a builtin or C callable: trust the protocol
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters) or (
        sum(p.kind in positional for p in parameters) >= 3
    )


def build_case(spec: str) -> type[StoreConformance[Store]]:
    """A ``StoreConformance`` subclass for the factory named by ``spec``."""
    factory = load_factory(spec)
    capabilities = _capabilities_of(factory)

    class Case(StoreConformance[Store]):
        def make_store(self, clock: ManualClock) -> Store:
            return factory(clock)

        def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> Store:
            hook: Callable[..., Store] | None = getattr(factory, "make_store_with_keys", None)
            if hook is not None:
                return hook(clock, *key_pairs)
            shares = not self.has("server_side") or self.capabilities.shared_backend
            if shares and _accepts_key_pairs(factory):
                return factory(clock, *key_pairs)  # the protocol: keys go to the factory
            # Stores made here share one backend per test, so rotation can be seen.
            base = self.__dict__.get("_keyed_base")
            if base is None:
                base = self.__dict__["_keyed_base"] = self.make_store(clock)
            with_keys: Callable[..., Store] | None = getattr(base, "with_keys", None)
            if with_keys is None:
                raise NotImplementedError
            keyed = with_keys(*key_pairs)
            self._made().append(keyed)
            return keyed

        def make_store_with_timeouts(
            self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
        ) -> Store:
            hook: Callable[..., Store] | None = getattr(factory, "make_store_with_timeouts", None)
            if hook is None:
                raise NotImplementedError
            store = hook(clock, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout)
            backend = getattr(real_store(store), "backend", None)
            if idle_timeout and backend is not None and not hasattr(backend, "swap"):
                # ServerSideStore refuses idle_timeout without a compare-and-set:
                # the store cannot offer idle timeouts, whatever the hook built.
                self.release(store)
                pytest.skip(
                    f"the store's backend ({type(backend).__name__}) has no swap(session_id, "
                    "expected, data, expires_at, ttl): idle timeouts and touches need one "
                    "(reference_impl.SwapBackend); add it to check them"
                )
            return store

        def break_backend(self, store: Store) -> object:
            # May be ``async def`` for an async store: return what it gives,
            # so the async adapter awaits it.
            breaker: Callable[[Store], object] | None = getattr(factory, "break_backend", None)
            if breaker is None:
                raise NotImplementedError
            return breaker(store)

        def raw_record(self, store: Store, session_id: str) -> object | None:
            reader: Callable[[Store, str], object] | None = getattr(factory, "raw_record", None)
            if reader is None:
                return StoreConformance.raw_record(self, store, session_id)
            return reader(store, session_id)

        def close_store(self, store: Store) -> object:
            closer: Callable[[Store], object] | None = getattr(factory, "close_store", None)
            if closer is None:
                StoreConformance.close_store(self, store)
                return None
            return closer(store)

    Case.capabilities = capabilities
    Case.__qualname__ = Case.__name__ = "StoreCase"
    return Case


def suite_clauses() -> dict[Clause, str]:
    """Every clause the suite checks, with a title from its first test's docstring."""
    titles: dict[Clause, str] = {}
    names = [name for klass in StoreConformance.__mro__ for name in vars(klass)]
    for name in names:
        match = _TEST_NAME.match(name)
        if not match:
            continue
        key = (int(match.group(1)), int(match.group(2)))
        doc = (getattr(StoreConformance, name).__doc__ or "").strip().splitlines()
        title = re.sub(r"\s*\(S-[\d.]+\)\.?\s*$", "", doc[0] if doc else name)
        titles.setdefault(key, re.sub(r"^Ensure (that )?", "", title))
    return titles


@dataclass
class _Result:
    """One clause's tests against one store."""

    outcomes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reasons: set[str] = field(default_factory=set)

    @property
    def cell(self) -> str:
        if not self.outcomes:
            return "-"
        if any(o in ("failed", "error") for o in self.outcomes):
            return "FAIL"
        ran = [o for o in self.outcomes if o != "n/a"]
        if not ran:
            return "n/a"  # cannot apply to this kind of store: blocks no level
        if all(o == "skipped" for o in ran):
            return "skip"
        if any(o == "skipped" for o in ran):
            return "part"  # never "pass": part of the clause did not run
        return "pass"

    @property
    def met(self) -> bool:
        """Whether the clause counts towards a level: it ran and passed, or cannot apply."""
        return self.cell in ("pass", "n/a")


class _Collector:
    """A pytest plugin object that records each test's outcome by clause and store."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.results: dict[tuple[Clause, str], _Result] = {}
        self.failures: list[str] = []
        self.warnings: dict[str, set[str]] = {}
        self._pending: dict[str, str] = {}
        self.total = 0
        self.done = 0

    def pytest_addoption(self, parser: pytest.Parser) -> None:
        # The terminal plugin (off: the report is ours) owns --tb; without it
        # failures would print every frame's whole source. Short by default.
        parser.addoption(
            "--tb",
            dest="tbstyle",
            default="short",
            choices=["auto", "long", "short", "line", "native", "no"],
            help="traceback style of the failures in the report (default: short)",
        )

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.total = len(items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = self._clause_of(report.nodeid)
        case = _CASE.search(report.nodeid)
        if key is None or case is None:
            return
        label = self.labels[int(case.group(1).removeprefix("TestStore"))]
        result = self.results.setdefault((key, label), _Result())
        result.seconds += report.duration
        test = report.nodeid.split("::")[-1]
        if report.failed:
            phase = "" if report.when == "call" else f" (in {report.when})"
            self.failures.append(f"{label}: {test}{phase}\n{self._detail(report)}")
        skipped_for = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            skipped_for = str(report.longrepr[2]).removeprefix("Skipped: ")
            if not skipped_for.startswith(NOT_APPLICABLE):
                result.reasons.add(skipped_for)
        outcome = self._pending.get(report.nodeid, "")
        if report.failed:
            outcome = "error" if report.when != "call" else "failed"
        elif report.skipped:
            outcome = "n/a" if skipped_for.startswith(NOT_APPLICABLE) else "skipped"
        elif not outcome:
            outcome = "passed"
        self._pending[report.nodeid] = outcome
        if report.when != "teardown":
            return
        outcome = self._pending.pop(report.nodeid)
        result.outcomes.append(outcome)
        self.done += 1
        mark = {"passed": ".", "skipped": "s", "n/a": "-", "failed": "F", "error": "E"}[outcome]
        end = "\n" if self.done == self.total else ""
        print(mark, end=end, file=sys.stderr, flush=True)

    def pytest_warning_recorded(
        self, warning_message: warnings.WarningMessage, when: str, nodeid: str, location: object
    ) -> None:
        self._warn(str(warning_message.message), nodeid)

    def _warn(self, message: str, where: str) -> None:
        if "never awaited" in message:
            message += (
                " (an async method was called without await: a sync store calling an async "
                "backend, or an async hook whose result was dropped)"
            )
        self.warnings.setdefault(message, set()).add(where.split("::")[-1] or "the run")

    @staticmethod
    def _detail(report: pytest.TestReport) -> str:
        """The whole failure: the traceback, then what the test printed (Hypothesis's steps)."""
        parts = [report.longreprtext.rstrip()]
        for title, content in report.sections:
            if content.strip() and ("stdout" in title or "stderr" in title):
                parts.append(f"-- {title} --\n{content.rstrip()}")
        return textwrap_indent("\n".join(parts), "      ")

    @staticmethod
    def _clause_of(nodeid: str) -> Clause | None:
        match = _TEST_NAME.search(nodeid)
        return (int(match.group(1)), int(match.group(2))) if match else None


def textwrap_indent(text: str, prefix: str) -> str:
    """Indent every line of ``text`` (blank ones too, so a block stays one block)."""
    return "\n".join(prefix + line for line in text.splitlines())


def _seconds(value: float) -> str:
    return f"{value:.2f}s"


def _print_table(collector: _Collector, titles: dict[Clause, str]) -> dict[str, int]:
    labels = collector.labels
    width = max(max(len(label) for label in labels), 4) + 2
    header = f"{'clause':<8} {'title':<70} {'time':>7}" + "".join(f"{lb:>{width}}" for lb in labels)
    print("\n" + header)
    counts = {"pass": 0, "FAIL": 0, "skip": 0, "part": 0, "n/a": 0, "-": 0}
    for key in sorted(titles):
        results = [collector.results.get((key, label), _Result()) for label in labels]
        cells = [r.cell for r in results]
        for cell in cells:
            counts[cell] += 1
        title = titles[key] if len(titles[key]) <= 68 else titles[key][:67] + "…"
        seconds = _seconds(sum(r.seconds for r in results))
        clause_id = f"S-{key[0]}.{key[1]}"
        print(f"{clause_id:<8} {title:<70} {seconds:>7}" + "".join(f"{c:>{width}}" for c in cells))
    return counts


def _why_not_run(collector: _Collector, key: Clause, label: str) -> str:
    result = collector.results.get((key, label), _Result())
    if result.cell == "-":
        return "not run: deselected (-k or a pytest option)"
    if result.cell == "part":
        return "partly skipped: " + "; ".join(sorted(result.reasons))
    return "; ".join(sorted(result.reasons)) or "skipped"


def _levels(
    collector: _Collector, titles: dict[Clause, str], label: str, sets: list[str]
) -> tuple[str | None, list[str]]:
    """The highest level ``label`` reached, and what keeps it from the next (or the sets)."""
    reached: str | None = None
    blockers: list[str] = []
    for level in LEVELS:
        missing = [
            f"S-{k[0]}.{k[1]}"
            for k in clauses_in(level, titles)
            if not collector.results.get((k, label), _Result()).met
        ]
        if missing:
            blockers.append(f"{level.name} needs {', '.join(missing)}")
            break
        reached = level.name
    for name in sets:
        missing = [
            c
            for c in sorted(CAPABILITY_SETS[name], key=clause_key)
            if not collector.results.get((clause_key(c), label), _Result()).met
        ]
        if missing:
            blockers.append(f"capability set {name} needs {', '.join(missing)}")
    return reached, blockers


def _hypothesis_storage(scratch: str) -> str:
    """Where Hypothesis keeps its files: a per-user cache, never the working directory.

    Hypothesis caches its Unicode tables there (seconds of CPU to rebuild on
    every run) and, outside the ``ci`` profile, the failing examples it
    replays first next time. Without a writable cache, the run's scratch
    directory (thrown away with it).
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "sessionspec" / "hypothesis"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return str(Path(scratch) / ".hypothesis")
    return str(path) if os.access(path, os.W_OK) else str(Path(scratch) / ".hypothesis")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        usage="python -m conformance [options] [module:factory ...] [-- pytest options]",
        description="Check session stores against docs/spec.md and print a per-clause table, "
        "the failures in full, every clause not run with its reason, and the level reached.",
        epilog=PROTOCOL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "factories",
        nargs="*",
        metavar="module:factory",
        help="callables factory(clock, *key_pairs) -> Store "
        "(default: the built-in memory, cookie and filesystem stores)",
    )
    parser.add_argument(
        "--level",
        choices=[level.name for level in LEVELS],
        help="exit non-zero unless every store reached LEVEL: every clause of it ran and passed",
    )
    parser.add_argument(
        "--with",
        dest="sets",
        action="append",
        default=[],
        choices=sorted(CAPABILITY_SETS),
        metavar="SET",
        help=f"also require capability set SET ({', '.join(CAPABILITY_SETS)}); repeatable",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="run only the tests matching EXPR (pytest -k: 's10_5', 's9_1 and not generated')",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run the suite against each factory and print the report; 0 if nothing failed.

    With ``--level``, 0 only if, besides, every store reached that level.
    """
    own, passthrough = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if ("--" in argv) else (argv, [])
    )
    args = _parser().parse_args(own)
    specs = args.factories or BUILTIN
    try:
        profile = active_profile()
        factories = [load_factory(spec) for spec in specs]
        for spec, factory in zip(specs, factories, strict=True):
            try:
                _capabilities_of(factory)
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise ValueError(f"{spec!r}: its capabilities are not valid: {exc}") from None
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
        f"python -m conformance: suite {SUITE_VERSION} against {', '.join(labels)} "
        f"(Hypothesis profile {profile.name}; set ${PROFILE_ENV} to dev, ci or thorough)",
        file=sys.stderr,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        module = Path(tmp) / "test_conformance_report.py"
        lines = ["from conformance._report import build_case"]
        lines += [f"TestStore{i} = build_case({spec!r})" for i, spec in enumerate(specs)]
        module.write_text("\n".join(lines) + "\n")
        # Stores that need scratch space take it from tempfile: keep it in here.
        previous_tempdir, tempfile.tempdir = tempfile.tempdir, tmp
        # Hypothesis keeps its files in a per-user cache (or the one the caller
        # names), never in the caller's working directory.
        previous_storage = os.environ.get(_HYPOTHESIS_DIR)
        os.environ[_HYPOTHESIS_DIR] = previous_storage or _hypothesis_storage(tmp)
        pytest_args = [
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
            "-W",
            "always::RuntimeWarning",
        ]
        if args.keyword:
            pytest_args += ["-k", args.keyword]
        try:
            with warnings.catch_warnings(record=True) as stray:
                warnings.simplefilter("always", RuntimeWarning)
                status = pytest.main([*pytest_args, *passthrough], plugins=[collector])
                gc.collect()  # coroutines dropped unawaited warn when collected
            for caught in stray:
                collector._warn(str(caught.message), "")
        finally:
            tempfile.tempdir = previous_tempdir
            if previous_storage is None:
                os.environ.pop(_HYPOTHESIS_DIR, None)
            else:
                os.environ[_HYPOTHESIS_DIR] = previous_storage
    elapsed = time.perf_counter() - started
    titles = suite_clauses()
    counts = _print_table(collector, titles)
    failed = counts["FAIL"] > 0 or bool(collector.failures) or status not in (0, 1)
    verdict = "FAIL" if failed else "PASS"
    print(
        f"\n{verdict}: {len(titles)} clauses x {len(labels)} stores: {counts['pass']} pass, "
        f"{counts['FAIL']} fail, {counts['skip']} skip, {counts['part']} partial, "
        f"{counts['n/a']} n/a "
        f"(suite {SUITE_VERSION})"
    )
    print(f"  time: {_seconds(elapsed)} (Hypothesis profile {profile.name})", file=sys.stderr)
    for failure in collector.failures:
        print(f"  failed: {failure}")
    if status not in (0, 1) and not collector.failures:
        stop = "no test matched" if status == 5 else "collection or usage error"
        print(f"  pytest stopped with status {int(status)} ({stop})")
    for message, where in sorted(collector.warnings.items()):
        print(f"  warning ({', '.join(sorted(where))}): {message}")
    not_run: dict[str, dict[str, list[Clause]]] = {}
    for label in labels:
        for key in sorted(titles):
            if collector.results.get((key, label), _Result()).cell in ("skip", "part", "-"):
                why = _why_not_run(collector, key, label)
                not_run.setdefault(label, {}).setdefault(why, []).append(key)
    if not_run:
        print("not run (each keeps its store below the level that holds the clause):")
        for label, reasons in not_run.items():
            for why, keys in reasons.items():
                clauses = ", ".join(f"S-{k[0]}.{k[1]}" for k in keys)
                print(f"  {label}: {clauses}: {why}")
    print("level reached:")
    short = False
    for label in labels:
        reached, blockers = _levels(collector, titles, label, args.sets)
        if args.level is not None:
            wanted = [level.name for level in LEVELS].index(args.level)
            got = -1 if reached is None else [level.name for level in LEVELS].index(reached)
            short = short or got < wanted
        short = short or any(b.startswith("capability set") for b in blockers)
        detail = f" ({'; '.join(blockers)})" if blockers else ""
        print(f"  {label}: {reached or 'none'}{detail}")
    if short:
        wanted_text = " and ".join(
            [f"--level {args.level}"] * (args.level is not None)
            + [f"--with {n}" for n in args.sets]
        )
        print(f"FAIL: not every store reached {wanted_text}")
    return 1 if failed or short else 0
