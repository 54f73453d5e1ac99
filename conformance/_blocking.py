"""Catch an async store blocking its event loop (S-9.35).

Two detectors watch the loop while a store works:

* a profile hook on the loop's thread sees every call into C and names the
  ones that block: ``time.sleep``, ``open``, file writes and renames,
  ``sqlite3``, a socket in blocking mode (a sync Redis or database client
  inside ``async def``). This is deterministic: it does not depend on how
  fast the machine is, so a blocking call is caught even when it happens
  to be quick, as a local SQLite query is;
* asyncio's own slow-callback detector (debug mode with a generous
  ``slow_callback_duration``) catches the rest, pure-Python work that holds
  the loop for seconds, without flagging ordinary scheduling noise.

Work the store hands to other threads (``asyncio.to_thread``) is not
watched: that is the right way to do blocking I/O from async code.
"""

from __future__ import annotations

import asyncio
import builtins
import io
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Awaitable
from types import FrameType

__all__ = ["SLOW_CALLBACK_SECONDS", "blocking_call", "watch_for_blocking"]

#: A single loop step longer than this is reported even without a blocking call.
SLOW_CALLBACK_SECONDS = 2.0

_BLOCKING_FUNCTIONS = {
    time.sleep: "time.sleep",
    builtins.open: "open",
    io.open: "open",
    os.open: "os.open",
    os.fsync: "os.fsync",
    os.replace: "os.replace",
    os.rename: "os.rename",
    os.unlink: "os.unlink",
    os.remove: "os.remove",
}
_SOCKET_CALLS = frozenset(
    {"connect", "accept", "recv", "recv_into", "recvfrom", "send", "sendall", "sendto"}
)
#: Calls made on behalf of these modules are not the store's: the import
#: machinery (bytecode caches, package metadata on a module's first use)
#: and the source lines asyncio's debug mode reads for its tracebacks.
_IGNORED_CALLERS = (
    "importlib",
    "_frozen_importlib",
    "zipimport",
    "linecache",
    "tokenize",
    "traceback",
    "asyncio.format_helpers",
)


def _on_behalf_of_the_runtime(frame: FrameType | None) -> bool:
    """Whether any caller up the stack is the import machinery or a traceback."""
    depth = 0
    while frame is not None and depth < 40:
        if str(frame.f_globals.get("__name__", "")).startswith(_IGNORED_CALLERS):
            return True
        frame, depth = frame.f_back, depth + 1
    return False


def blocking_call(function: object) -> str | None:
    """Name ``function`` if calling it blocks the thread (I/O or sleep), else ``None``."""
    try:
        name: str | None = _BLOCKING_FUNCTIONS.get(function)  # type: ignore[call-overload]
    except TypeError:  # unhashable
        name = None
    if name:
        return name
    owner = getattr(function, "__self__", None)
    method = getattr(function, "__name__", "")
    if isinstance(owner, socket.socket) and method in _SOCKET_CALLS:
        blocking: bool = owner.gettimeout() != 0.0
        return f"blocking socket.{method}" if blocking else None
    module = type(owner).__module__ if owner is not None else getattr(function, "__module__", "")
    if module in ("sqlite3", "_sqlite3"):
        return f"sqlite3 {getattr(function, '__qualname__', method)}"
    return None


class _SlowSteps(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing"):
            self.messages.append(f"a loop step took too long ({message})")


async def watch_for_blocking(work: Awaitable[object]) -> list[str]:
    """Await ``work`` on the running loop and return every blocking call it made there."""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    found: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event != "c_call" or threading.get_ident() != loop_thread:
            return
        what = blocking_call(arg)
        if what and not _on_behalf_of_the_runtime(frame):
            found.append(f"{what} in {frame.f_code.co_filename}:{frame.f_lineno}")

    slow = _SlowSteps()
    asyncio_log = logging.getLogger("asyncio")
    debug, threshold = loop.get_debug(), loop.slow_callback_duration
    asyncio_log.addHandler(slow)
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
    sys.setprofile(profile)
    try:
        await work
    finally:
        sys.setprofile(None)
        loop.set_debug(debug)
        loop.slow_callback_duration = threshold
        asyncio_log.removeHandler(slow)
    return found + slow.messages
