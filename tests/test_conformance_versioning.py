"""Suite versioning: a backend pins a level and later tests skip for it (issue: conformance)."""

from __future__ import annotations

import pytest

import conformance

MODULE = """
from conformance import Capabilities, StoreConformance, since
from reference_impl.memory import MemoryStore


class TestPinned(StoreConformance):
    capabilities = Capabilities(server_side=True)
    conformance_level = {level!r}

    def make_store(self, clock):
        return MemoryStore(b"k" * 32, clock=clock)

    @since("9.0")
    def test_s9_2_added_in_a_future_suite(self, store):
        '''Ensure a test from a later suite level runs only for backends pinned to it (S-9.2).'''
        assert store.new(__import__("spec").http.SimpleRequest(), "app").is_new
"""


def test_suite_version_is_exported() -> None:
    """SUITE_VERSION is a dotted version string."""
    assert conformance.SUITE_VERSION == "1.1"
    assert all(part.isdigit() for part in conformance.SUITE_VERSION.split("."))


@pytest.mark.parametrize(("level", "expected"), [("1.0", "skipped"), ("9.0", "passed")])
def test_later_tests_skip_for_backends_pinned_below_them(
    pytester: pytest.Pytester, level: str, expected: str
) -> None:
    """A test added in suite 9.0 skips for a backend pinned to 1.0 and runs when pinned to 9.0."""
    pytester.makepyfile(test_pinned=MODULE.format(level=level))
    result = pytester.runpytest_inprocess(
        "-k", "added_in_a_future_suite", "-p", "no:cacheprovider", "-rs"
    )
    assert result.parseoutcomes().get(expected) == 1, result.stdout.str()
    if expected == "skipped":
        result.stdout.fnmatch_lines(["*added in suite 9.0; this backend pins 1.0*"])
