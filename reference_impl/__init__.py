"""Reference implementations of the sessionspec contract.

The stores here meet every clause of ``docs/spec.md`` and are proved with the
public conformance suite; the securecookie codec underneath reads and writes
the same bytes as Go's gorilla/securecookie.
"""

from __future__ import annotations

# Shadow guard (spec/_distribution.py): runs before anything else imports from
# ``spec``, so another top-level ``spec`` first on sys.path (a nose plugin on
# PyPI, an application's own spec/ folder) fails here, by name, instead of as
# "No module named 'spec.errors'" somewhere later. spec._distribution cannot
# be used for this check, since a foreign ``spec`` does not have it; the
# wording matches spec._distribution.shadowed_message (tests/test_packaging.py).
try:
    import spec as _spec
except ImportError as _exc:  # a foreign spec whose own imports fail (nose missing)
    _exc.add_note("sessionspec: this happened while importing the top-level package 'spec'")
    raise
if getattr(_spec, "__sessionspec__", None) is not True:
    _found_at = getattr(_spec, "__file__", None) or ", ".join(map(str, _spec.__path__))
    raise ImportError(
        f"sessionspec: the top-level package 'spec' imported from {_found_at} is not "
        f"sessionspec's, so {__name__!r} cannot load. Another 'spec' comes first on "
        "sys.path: rename your own 'spec' folder or module, or uninstall the other 'spec' "
        "distribution (pip uninstall spec) and then reinstall sessionspec, which installs "
        "the top-level packages spec, reference_impl, conformance.",
        name="spec",
    )

__sessionspec__ = True  # marker: this package is sessionspec's (spec/_distribution.py)

from reference_impl._store.backend import RecordBackend as RecordBackend
from reference_impl._store.backend import UserIndexBackend as UserIndexBackend
from reference_impl._store.drivers import ServerSideStore as ServerSideStore
from reference_impl.cookie_store import CookieStore as CookieStore
from reference_impl.filesystem import FilesystemStore as FilesystemStore
from reference_impl.memory import MemoryStore as MemoryStore

__all__ = [
    "CookieStore",
    "FilesystemStore",
    "MemoryStore",
    "RecordBackend",
    "ServerSideStore",
    "UserIndexBackend",
]
