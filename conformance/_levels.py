"""Conformance levels: fixed sets of clauses a store must all run and pass (docs/spec.md).

A level is reached only when every clause it holds ran for the store and
passed: a skipped clause, or one only partly run, keeps the store below
it, whatever the store declares. ``python -m conformance --level LEVEL``
exits non-zero unless every store reached ``LEVEL``.

* ``cookie``: every S-9 clause the suite checks (what any store must meet).
* ``server-side``: ``cookie`` plus every S-10 clause the suite checks:
  signed IDs, outages (the ``break_backend`` hook), no resurrection,
  concurrent creates, regeneration, per-record deadlines and purge.

Capability sets are optional additions beside a level, required with
``--with NAME``: ``lifetimes`` (S-9.22 to S-9.25: absolute and idle
timeouts, touches); ``concurrency`` (S-10.20, S-10.21: concurrent saves
of one session merge); ``users`` (S-10.11 to S-10.13: ``session.user_id``,
``user_sessions`` and ``revoke_user``). A clause listed in a set is taken
out of the levels, whatever its number (S-9.23 is in ``lifetimes``, not in
``cookie``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CAPABILITY_SETS", "LEVELS", "Level", "clause_key", "clauses_in"]

Clause = tuple[int, int]


@dataclass(frozen=True)
class Level:
    """One level: its CLI name and the clause groups (``S-<group>.n``) it holds."""

    name: str
    groups: frozenset[int]
    summary: str


#: In order: each level holds the one before it.
LEVELS: tuple[Level, ...] = (
    Level("cookie", frozenset({9}), "every S-9 clause: what any store must meet"),
    Level(
        "server-side",
        frozenset({9, 10}),
        "cookie, plus every S-10 clause: signed IDs, outages, no resurrection, concurrent "
        "creates, regeneration, per-record deadlines, purge",
    ),
)

#: Optional capability sets and their clauses; empty until an issue adds them.
CAPABILITY_SETS: dict[str, frozenset[str]] = {
    # Creation time, absolute and idle timeouts, touches (conformance/_suite_lifetimes.py).
    "lifetimes": frozenset({"S-9.22", "S-9.23", "S-9.24", "S-9.25"}),
    "concurrency": frozenset({"S-10.20", "S-10.21"}),
    # session.user_id, user_sessions, revoke_user (conformance/_suite_users.py).
    "users": frozenset({"S-10.11", "S-10.12", "S-10.13"}),
}


def clause_key(clause: str) -> Clause:
    """``"S-10.4"`` as ``(10, 4)``, for sorting and grouping."""
    major, _, minor = clause.removeprefix("S-").partition(".")
    return int(major), int(minor)


def clauses_in(level: Level, clauses: Iterable[Clause]) -> list[Clause]:
    """The clauses among ``clauses`` (those the suite checks) that ``level`` holds.

    A clause listed in a capability set belongs to that set, not to a level,
    even when its number is in one of the level's groups.
    """
    optional = {clause_key(c) for members in CAPABILITY_SETS.values() for c in members}
    return sorted(c for c in clauses if c[0] in level.groups and c not in optional)
