"""The conformance suite has teeth: it rejects broken stores and accepts odd correct ones.

Two sets of stores run through the public suite exactly as a third party's
would (a ``StoreConformance`` subclass in a fresh pytest run):

* ``tests/_broken_stores.py`` (the original regression set) and
  ``tests/_broken_stores_2.py`` (issue 14: written from the public API and
  the tutorial's ``RecordBackend`` route): each broken store must fail the
  clause that names its flaw, checked by running only that clause's tests;
* the correct but unusual stores of ``tests/_broken_stores_2.py`` (raw
  ``sqlite3``, ``shelve``, JSON files, two cookies per session, an async
  dict store, gob values without big ints) must pass every clause.

``test_kill_rate_and_false_rejections`` prints the kill rate and the false
rejections and fails below 100 % kills or above 0 false rejections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests import _broken_stores as broken
from tests import _broken_stores_2 as broken2

COOKIE = {"max_value_bytes": 4096}
MEMORY = {
    "server_side": True,
    "regenerate_id": True,
    "purge_expired": True,
    "record_deadlines": True,
    "max_value_bytes": 4096,
    "id_sample_size": 300,
}

#: (store class, test-name prefix that must fail, declared capabilities).
CASES: list[tuple[type, str, dict[str, object]]] = [
    (broken.UnsignedCookie, "test_s9_3_", COOKIE),
    (broken.RaisesOnBadCookie, "test_s9_3_", COOKIE),
    (broken.IgnoresExpiry, "test_s9_4_", COOKIE),
    (broken.OnlyFirstCookie, "test_s9_5_", COOKIE),
    (broken.TriesEveryCookie, "test_s9_5_", COOKIE),
    (broken.CachesInNew, "test_s9_6_", MEMORY),
    (broken.RegistryByNameOnly, "test_s9_6_", MEMORY),
    (broken.LearnsOptions, "test_s9_7_", MEMORY),
    (broken.MergesOnSave, "test_s9_8_", MEMORY),
    (broken.NoDeletion, "test_s9_9_", MEMORY),
    (broken.BrowserSessionDeletes, "test_s9_10_", MEMORY),
    (broken.NoSizeLimit, "test_s9_11_", COOKIE),
    (broken.DropsBytes, "test_s9_1_", MEMORY),
    (broken.LogsTheCookie, "test_s9_17_", COOKIE),
    (broken.ResurrectsAfterDelete, "test_s10_5_", MEMORY),
    (broken.DeleteClaimsEverything, "test_s10_5_", MEMORY),
    (broken.KeepsOldRecordOnRegenerate, "test_s10_7_", MEMORY),
    (broken.PredictableIDs, "test_s10_1_", MEMORY),
    (broken.OverwritesOnCreate, "test_s10_6_", MEMORY),
    (broken.ReusesCookieID, "test_s10_2_", MEMORY),
    (broken.ForgetsSavedState, "test_s9_20_", MEMORY),
] + [(cls, cls.killed_by, cls.caps) for cls in broken2.stores(correct=False)]

#: Correct stores: every clause must pass.
CORRECT: list[tuple[type, dict[str, object]]] = [
    (cls, cls.caps) for cls in broken2.stores(correct=True)
]

HEADER = """
from conformance import Capabilities, StoreConformance
from tests._broken_stores_2 import break_backend as _break_backend
"""

#: One test class per store; all of them run in one pytest session (one collection).
TEMPLATE = """

from {module} import {name} as _{name}


class Test{name}_Case(StoreConformance):
    capabilities = Capabilities.model_validate({caps!r})

    def make_store(self, clock):
        return _{name}(clock)

    def make_store_with_keys(self, clock, *keys):
        # One backend per test, as a real deployment rotating keys has.
        base = self.__dict__.setdefault("_keyed_base", _{name}(clock))
        with_keys = getattr(base, "with_keys", None)
        return with_keys(*keys) if with_keys is not None else _{name}(clock, *keys)

    def break_backend(self, store):
        return _break_backend(store)
"""


@dataclass
class Outcome:
    """What the suite did to one store: the tests that failed (or errored) and passed."""

    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    passed: int = 0
    details: list[str] = field(default_factory=list)


_OUTCOMES: dict[str, Outcome] = {}


def _outcomes(pytester: pytest.Pytester) -> dict[str, Outcome]:
    """Run every store through the suite once, in one pytest session, and cache the result.

    A broken store runs only the tests of the clause that names its flaw
    (``-k``), so a failure can only come from that clause; a correct store
    runs every test.
    """
    if _OUTCOMES:
        return _OUTCOMES
    source = HEADER
    selected = []
    for store, caps in CORRECT:  # first: nothing a broken store did can reach them
        source += TEMPLATE.format(module=store.__module__, name=store.__name__, caps=caps)
        selected.append(f"Test{store.__name__}_Case")
    for store, prefix, caps in CASES:
        source += TEMPLATE.format(module=store.__module__, name=store.__name__, caps=caps)
        selected.append(f"(Test{store.__name__}_Case and {prefix})")
    pytester.makepyfile(test_teeth_all=source)
    recorder = pytester.inline_run("-p", "no:cacheprovider", "-q", "-k", " or ".join(selected))
    for report in recorder.getreports("pytest_runtest_logreport"):
        case = report.nodeid.split("::")[1].removeprefix("Test").removesuffix("_Case")
        outcome = _OUTCOMES.setdefault(case, Outcome())
        test = report.nodeid.split("::")[-1]
        if report.failed:
            (outcome.failed if report.when == "call" else outcome.errors).append(test)
            outcome.details.append(f"{test}: {report.longreprtext.strip().splitlines()[-1]}")
        elif report.passed and report.when == "call":
            outcome.passed += 1
    return _OUTCOMES


def test_there_are_enough_stores() -> None:
    """Issue 14: at least 30 new broken stores and 5 correct unusual ones."""
    assert len(broken2.stores(correct=False)) >= 30
    assert len(CORRECT) >= 5


@pytest.mark.parametrize(("store", "prefix", "caps"), CASES, ids=[c[0].__name__ for c in CASES])
def test_suite_fails_the_broken_store_on_its_clause(
    pytester: pytest.Pytester, store: type, prefix: str, caps: dict[str, object]
) -> None:
    """The tests of the clause that names the store's flaw fail for it."""
    outcome = _outcomes(pytester).get(store.__name__, Outcome())
    assert outcome.failed, f"{store.__name__} survived {prefix}* ({outcome.passed} passed)"
    assert all(test.startswith(prefix) for test in outcome.failed), outcome.failed
    assert outcome.errors == [], outcome.details


@pytest.mark.parametrize(("store", "caps"), CORRECT, ids=[c[0].__name__ for c in CORRECT])
def test_suite_passes_the_correct_store(
    pytester: pytest.Pytester, store: type, caps: dict[str, object]
) -> None:
    """Every clause passes (or skips for a capability not declared) for a correct store."""
    outcome = _outcomes(pytester)[store.__name__]
    assert outcome.failed == outcome.errors == [], (
        f"{store.__name__} falsely rejected: " + "\n".join(outcome.details)
    )
    assert outcome.passed > 50


def test_kill_rate_and_false_rejections(pytester: pytest.Pytester) -> None:
    """Report the kill rate and false rejections; 100 % kills and 0 false rejections."""
    outcomes = _outcomes(pytester)
    survivors = [s.__name__ for s, _, _ in CASES if not outcomes.get(s.__name__, Outcome()).failed]
    rejected = [
        s.__name__ for s, _ in CORRECT if outcomes[s.__name__].failed or outcomes[s.__name__].errors
    ]
    killed = len(CASES) - len(survivors)
    print(
        f"\nteeth: killed {killed}/{len(CASES)} broken stores "
        f"({100 * killed / len(CASES):.0f} %), survivors {survivors}; "
        f"false rejections {len(rejected)}/{len(CORRECT)} {rejected}"
    )
    assert survivors == [], f"broken stores the suite passed: {survivors}"
    assert rejected == [], f"correct stores the suite rejected: {rejected}"
