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

TEMPLATE = """
from conformance import Capabilities, StoreConformance
from {module} import {name} as Store
from tests._broken_stores_2 import break_backend as _break_backend


class TestStore(StoreConformance):
    capabilities = Capabilities.model_validate({caps!r})

    def make_store(self, clock):
        return Store(clock)

    def make_store_with_keys(self, clock, *keys):
        # One backend per test, as a real deployment rotating keys has.
        base = self.__dict__.setdefault("_keyed_base", Store(clock))
        with_keys = getattr(base, "with_keys", None)
        return with_keys(*keys) if with_keys is not None else Store(clock, *keys)

    def break_backend(self, store):
        return _break_backend(store)
"""

#: Outcomes by store name: (failed, errors, passed, the run's summary on failure).
_RESULTS: dict[str, tuple[int, int, int, str]] = {}


def _run(pytester: pytest.Pytester, store: type, caps: dict[str, object], prefix: str) -> None:
    if store.__name__ in _RESULTS:
        return
    source = TEMPLATE.format(module=store.__module__, name=store.__name__, caps=caps)
    pytester.makepyfile(test_teeth_case=source)
    args = ["-p", "no:cacheprovider", "-q", "-p", "no:randomly"]
    if prefix:
        args += ["-k", prefix]
    result = pytester.runpytest_inprocess(*args)
    outcomes = result.parseoutcomes()
    summary = "\n".join(
        line for line in result.outlines if line.startswith(("FAILED", "ERROR", "E   "))
    )
    _RESULTS[store.__name__] = (
        outcomes.get("failed", 0),
        outcomes.get("errors", 0),
        outcomes.get("passed", 0),
        summary or result.stdout.str()[-3000:],
    )


def test_there_are_enough_stores() -> None:
    """Issue 14: at least 30 new broken stores and 5 correct unusual ones."""
    assert len(broken2.stores(correct=False)) >= 30
    assert len(CORRECT) >= 5


@pytest.mark.parametrize(("store", "prefix", "caps"), CASES, ids=[c[0].__name__ for c in CASES])
def test_suite_fails_the_broken_store_on_its_clause(
    pytester: pytest.Pytester, store: type, prefix: str, caps: dict[str, object]
) -> None:
    """Running only the named clause's tests against the broken store fails one of them."""
    _run(pytester, store, caps, prefix)
    failed, errors, _, summary = _RESULTS[store.__name__]
    assert failed >= 1, f"{store.__name__} survived {prefix}*:\n{summary}"
    assert errors == 0, summary


@pytest.mark.parametrize(("store", "caps"), CORRECT, ids=[c[0].__name__ for c in CORRECT])
def test_suite_passes_the_correct_store(
    pytester: pytest.Pytester, store: type, caps: dict[str, object]
) -> None:
    """Every clause passes (or skips for a capability not declared) for a correct store."""
    _run(pytester, store, caps, "")
    failed, errors, passed, summary = _RESULTS[store.__name__]
    assert (failed, errors) == (0, 0), f"{store.__name__} falsely rejected:\n{summary}"
    assert passed > 50


def test_kill_rate_and_false_rejections(pytester: pytest.Pytester) -> None:
    """Report the kill rate and false rejections; 100 % kills and 0 false rejections."""
    for store, prefix, caps in CASES:
        _run(pytester, store, caps, prefix)
    for store, caps in CORRECT:
        _run(pytester, store, caps, "")
    survivors = [s.__name__ for s, _, _ in CASES if _RESULTS[s.__name__][0] == 0]
    rejected = [s.__name__ for s, _ in CORRECT if _RESULTS[s.__name__][:2] != (0, 0)]
    killed = len(CASES) - len(survivors)
    print(
        f"\nteeth: killed {killed}/{len(CASES)} broken stores "
        f"({100 * killed / len(CASES):.0f} %), survivors {survivors}; "
        f"false rejections {len(rejected)}/{len(CORRECT)} {rejected}"
    )
    assert survivors == [], f"broken stores the suite passed: {survivors}"
    assert rejected == [], f"correct stores the suite rejected: {rejected}"
