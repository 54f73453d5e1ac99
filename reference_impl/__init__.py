"""Reference implementations of the sessionspec contract.

The stores here meet every clause of ``docs/spec.md`` and are proved with the
public conformance suite; the securecookie codec underneath reads and writes
the same bytes as Go's gorilla/securecookie.
"""

from __future__ import annotations

from reference_impl.cookie_store import CookieStore as CookieStore
from reference_impl.filesystem import FilesystemStore as FilesystemStore
from reference_impl.memory import MemoryStore as MemoryStore

__all__ = ["CookieStore", "FilesystemStore", "MemoryStore"]
