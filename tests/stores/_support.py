"""Shared set-up for the store tests."""

from __future__ import annotations

from conformance import Browser

HASH = b"h" * 32
BLOCK = b"b" * 32
OLD_HASH = b"o" * 32
OLD_BLOCK = b"p" * 16

__all__ = ["BLOCK", "HASH", "OLD_BLOCK", "OLD_HASH", "Browser"]
