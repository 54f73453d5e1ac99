"""Fixtures for tests that compare sessionspec with the real Go libraries."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.interop.goracle import GoOracle, OracleError, missing_prerequisites


@pytest.fixture(scope="session")
def go_oracle() -> Iterator[GoOracle]:
    """One running Go oracle shared by the whole test session.

    Skips when Go or the Debian gorilla packages are missing, except on CI
    (``CI=true``), where a missing toolchain is a broken setup and fails.
    A build or start-up failure with the toolchain present always fails.
    """
    reason = missing_prerequisites()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Go oracle cannot be built: {reason}")
        pytest.skip(reason)
    try:
        oracle = GoOracle.start()
    except OracleError as exc:
        pytest.fail(f"Go oracle could not be built or started: {exc}")
    try:
        yield oracle
    finally:
        oracle.close()
