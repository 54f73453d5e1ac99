"""A clock you move by hand, so expiry is tested without sleeping."""

from __future__ import annotations

import threading

__all__ = ["ManualClock"]


class ManualClock:
    """A :class:`~spec.Clock` that stands still until told to move.

    Pass it as ``clock=`` to codecs and stores, then ``advance(seconds)`` to
    step over an expiry boundary exactly.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """The current fake time, in Unix seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward (or back, with a negative value)."""
        with self._lock:
            self._now += seconds

    def set(self, now: float) -> None:
        """Jump to ``now``."""
        with self._lock:
            self._now = now
