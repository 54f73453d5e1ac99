"""How hard the suite searches: Hypothesis profiles ``dev``, ``ci`` and ``thorough``.

``$SESSIONSPEC_HYPOTHESIS_PROFILE`` names the profile; without it the suite
uses ``ci`` when ``$CI`` is ``true`` (what GitHub Actions, GitLab and most
CI services set) and ``dev`` elsewhere. The profile is read when a
generated test runs, not when this module is imported, so the variable can
be set by the CLI or a ``conftest.py`` before the run.

* ``dev``: a fast local run; random examples, so repeated runs explore more.
* ``ci``: more examples and ``derandomize=True``: the examples depend only on
  the test, so a failure in CI reproduces on a laptop with the same profile
  instead of vanishing with the seed. No example database is written.
* ``thorough``: a soak run before a release; many examples, long sequences.

The suite applies these settings only to its own tests (an explicit
``settings`` object per test), never with ``settings.load_profile``: a
backend's own Hypothesis tests in the same run keep their own profile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings

from spec.errors import ConfigurationError

__all__ = ["PROFILES", "PROFILE_ENV", "Profile", "active_profile", "hypothesis_settings"]

#: The environment variable that names the profile.
PROFILE_ENV = "SESSIONSPEC_HYPOTHESIS_PROFILE"


@dataclass(frozen=True)
class Profile:
    """One profile's budget."""

    name: str
    #: Examples per generated (``@given``) test.
    max_examples: int
    #: Runs of the state machine (S-9.19), and steps per run.
    stateful_examples: int
    stateful_steps: int
    #: Fresh IDs drawn when checking that IDs are unpredictable (S-10.1).
    id_sample_size: int
    #: Fixed examples per test, so a failure reproduces (CI).
    derandomize: bool


PROFILES: dict[str, Profile] = {
    "dev": Profile("dev", 10, 8, 20, 256, derandomize=False),
    "ci": Profile("ci", 25, 30, 25, 2_000, derandomize=True),
    "thorough": Profile("thorough", 300, 300, 50, 10_000, derandomize=False),
}


def active_profile() -> Profile:
    """The profile ``$SESSIONSPEC_HYPOTHESIS_PROFILE`` names (``ci`` on CI, else ``dev``)."""
    name = os.environ.get(PROFILE_ENV, "").strip()
    if not name:
        name = "ci" if os.environ.get("CI", "").strip().lower() == "true" else "dev"
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigurationError(
            f"{PROFILE_ENV}={name!r} names no profile: use one of {', '.join(PROFILES)}"
        ) from None


def hypothesis_settings(**overrides: Any) -> settings:
    """Settings for one of the suite's generated tests under the active profile."""
    profile = active_profile()
    base: dict[str, Any] = {
        "max_examples": profile.max_examples,
        "deadline": None,  # backends do I/O: a slow example is not a failure
        "derandomize": profile.derandomize,
        "print_blob": True,
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.differing_executors,
            HealthCheck.function_scoped_fixture,
        ],
    }
    if profile.derandomize:
        base["database"] = None  # nothing to replay: the examples are fixed
    base.update(overrides)
    return settings(**base)
