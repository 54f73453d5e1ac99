"""Run a call that may hang on a frozen server without hanging the test run (S-10.10).

Used by the SQL and Redis hang tests: the call runs in a daemon thread that
is given a generous limit. A pass proves the store bounded the hang, not a
precise figure (no timing assertion); a call still blocked at the limit is a
test failure, and the caller's ``finally`` thaws the server so it finishes.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest

__all__ = ["HANG_LIMIT", "bounded", "unreachable_port"]

#: The stores under test give up after 1-4 s; this is far beyond, and far below forever.
HANG_LIMIT = 15.0


def bounded(call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a daemon thread; its exception (``None`` if it returned), or fail."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_LIMIT)
    if thread.is_alive():
        pytest.fail(f"the call was still blocked after {HANG_LIMIT} s: the hang was not bounded")
    return outcome[0]


@contextmanager
def unreachable_port() -> Iterator[int]:
    """A port whose accept queue is full: new connections are never established.

    Linux drops SYNs to a listener whose backlog is full, so a client's
    connect waits as it would for a host behind a partition.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with suppress(BlockingIOError):  # the handshake completes in the background
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
