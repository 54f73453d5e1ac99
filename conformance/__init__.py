"""sessionspec's conformance suite: prove a session store meets docs/spec.md.

Write one test class::

    from conformance import Capabilities, StoreConformance

    class TestMyStore(StoreConformance[MyStore]):
        capabilities = Capabilities(server_side=True, regenerate_id=True)

        def make_store(self, clock):
            return MyStore(KEY, clock=clock)

and run pytest. Every test names the clause it checks; a clause that cannot
run skips with a reason that says which hook or declaration to add. What
the suite can observe (server-side, ``purge_expired``) it checks instead of
trusting the declaration. Every store the hooks make is closed after its
test (``close_store``, by default the store's ``close()``/``aclose()``). No
conftest and no pytest plugin are involved. ``python -m conformance``
prints a per-clause report ending with the conformance level each store
reached (``--level`` makes it the exit status; ``--help`` gives the factory
protocol); ``$SESSIONSPEC_HYPOTHESIS_PROFILE`` (``dev``, ``ci``,
``thorough``) sets how hard it searches. Requires the
``sessionspec[conformance]`` extra (pytest, hypothesis).

Async stores (:class:`spec.AsyncStore`) are proved by the same class and the
same clauses: let ``make_store`` (and ``make_store_with_keys``) return the
async store. The suite wraps it in a sync view that runs its coroutines on
one event loop in a dedicated thread, shared by the whole run, so clients
bound to a loop (``redis.asyncio``, SQLAlchemy's async engines) keep
working across tests, and the threaded clauses become concurrent tasks.
``raw_record`` and ``break_backend`` receive the async store itself and may
be ``async def``; :func:`run_async` runs other coroutines on that loop
(closing a client in a fixture's teardown). For mypy, parametrize with
``Any`` (``StoreConformance[Any]``): the type parameter is bound to the sync
``Store``. ``python -m conformance`` accepts factories returning async
stores the same way (``reference_impl.testing:async_memory``).
See ``docs/async.md``.
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

# The suite runs on pytest and hypothesis, the [conformance] extra: without
# them, say which extra to install rather than fail deep in a submodule.
try:
    from conformance._async import run_async as run_async
    from conformance._base import SUITE_VERSION as SUITE_VERSION
    from conformance._base import S
    from conformance._base import since as since
    from conformance._browser import Browser as Browser
    from conformance._capabilities import ALL_VALUE_TYPES as ALL_VALUE_TYPES
    from conformance._capabilities import Capabilities as Capabilities
    from conformance._suite_attrs import AttributeClauses
    from conformance._suite_concurrency import ConcurrencyClauses
    from conformance._suite_lifetimes import LifetimeClauses
    from conformance._suite_server import ServerSideClauses
    from conformance._suite_store import StoreClauses
    from conformance._suite_strict import StrictServerSideClauses
    from conformance._suite_users import UserClauses
except ModuleNotFoundError as _missing:
    if (_missing.name or "").partition(".")[0] in ("conformance", "spec"):
        raise  # our own module is missing: a broken install, not a missing extra
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "pytest", "conformance", __name__) from None

__all__ = [
    "ALL_VALUE_TYPES",
    "SUITE_VERSION",
    "Browser",
    "Capabilities",
    "StoreConformance",
    "run_async",
    "since",
]


class StoreConformance(
    StoreClauses[S],
    ServerSideClauses[S],
    AttributeClauses[S],
    StrictServerSideClauses[S],
    LifetimeClauses[S],
    UserClauses[S],
    ConcurrencyClauses[S],
):
    """Every clause of docs/spec.md that a store must meet, as pytest tests.

    Generic over the store type. Subclass it as ``TestSomething`` and
    provide :meth:`make_store` and :attr:`capabilities`; optionally
    :meth:`make_store_with_keys`, :meth:`raw_record` and :meth:`break_backend`.
    The store may be sync or async (see the package docstring).
    """
