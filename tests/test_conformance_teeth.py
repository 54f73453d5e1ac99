"""The conformance suite has teeth: each broken store fails the clause it violates."""

from __future__ import annotations

import pytest

from tests import _broken_stores as broken

COOKIE = {"max_value_bytes": 4096}
MEMORY = {
    "server_side": True,
    "regenerate_id": True,
    "purge_expired": True,
    "record_deadlines": True,
    "max_value_bytes": 4096,
    "id_sample_size": 300,
}

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
]

TEMPLATE = """
from conformance import Capabilities, StoreConformance
from tests._broken_stores import {name} as Broken


class TestBroken(StoreConformance):
    capabilities = Capabilities.model_validate({caps!r})

    def make_store(self, clock):
        return Broken(clock)

    def make_store_with_keys(self, clock, *keys):
        return Broken(clock, *keys)
"""


def test_there_are_at_least_fifteen_distinct_defects() -> None:
    """The issue asks for 15 or more broken stores."""
    assert len({cls for cls, _, _ in CASES}) >= 15


@pytest.mark.parametrize(("store", "prefix", "caps"), CASES, ids=[c[0].__name__ for c in CASES])
def test_suite_fails_the_broken_store_on_its_clause(
    pytester: pytest.Pytester, store: type, prefix: str, caps: dict[str, object]
) -> None:
    """Running the expected clause's tests against the broken store fails at least one."""
    pytester.makepyfile(test_broken=TEMPLATE.format(name=store.__name__, caps=caps))
    result = pytester.runpytest_inprocess("-k", prefix, "-p", "no:cacheprovider", "-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, result.stdout.str()
    assert outcomes.get("errors", 0) == 0, result.stdout.str()
