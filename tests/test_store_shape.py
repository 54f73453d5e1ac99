"""The store shape of issue 13: one get/new/save per store, and a load that is easy to follow."""

from __future__ import annotations

import tempfile

import pytest

from bench.trace_get import KEYS, cookie_for, trace_get
from reference_impl import CookieStore, FilesystemStore, MemoryStore, ServerSideStore
from reference_impl.aio import (
    AsyncCookieStore,
    AsyncFilesystemStore,
    AsyncMemoryStore,
    AsyncServerSideStore,
)
from spec import Store

STORES = [
    CookieStore,
    FilesystemStore,
    MemoryStore,
    ServerSideStore,
    AsyncCookieStore,
    AsyncFilesystemStore,
    AsyncMemoryStore,
    AsyncServerSideStore,
]


@pytest.mark.parametrize("store_class", STORES, ids=lambda cls: cls.__name__)
def test_get_new_and_save_are_defined_once_along_every_mro(store_class: type) -> None:
    """Each of get, new and save is written in exactly one class of the store's MRO."""
    for method in ("get", "new", "save"):
        owners = [cls.__name__ for cls in store_class.__mro__ if method in vars(cls)]
        assert len(owners) == 1, (method, owners)


@pytest.mark.parametrize(
    ("label", "calls", "switches"), [("FilesystemStore", 48, 26), ("CookieStore", 36, 20)]
)
def test_one_get_stays_within_its_call_budget(label: str, calls: int, switches: int) -> None:
    """One ``get`` of a cookie already set: few calls into project code, few module hops.

    A readability budget (issue 13), counted with ``sys.settrace``, not timed.
    """
    with tempfile.TemporaryDirectory() as directory:
        store: Store = (
            FilesystemStore(directory, *KEYS) if label == "FilesystemStore" else CookieStore(*KEYS)
        )
        header = cookie_for(store)
        trace_get(store, header)  # warm lazy imports and caches
        count, hops, sequence = trace_get(store, header)
    assert count <= calls, "\n".join(sequence)
    assert hops <= switches, "\n".join(sequence)
