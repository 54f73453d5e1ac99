"""sessionspec's conformance suite: prove a session store meets docs/spec.md.

Write one test class::

    from conformance import Capabilities, StoreConformance

    class TestMyStore(StoreConformance[MyStore]):
        capabilities = Capabilities(server_side=True, regenerate_id=True)

        def make_store(self, clock):
            return MyStore(KEY, clock=clock)

and run pytest. Every test names the clause it checks; clauses whose
capability is not declared skip with a reason naming it. No conftest and no
pytest plugin are involved. ``python -m conformance`` prints a per-clause
report. Requires the ``sessionspec[conformance]`` extra (pytest, hypothesis).
"""

from __future__ import annotations

from conformance._base import SUITE_VERSION as SUITE_VERSION
from conformance._base import S
from conformance._base import since as since
from conformance._browser import Browser as Browser
from conformance._capabilities import ALL_VALUE_TYPES as ALL_VALUE_TYPES
from conformance._capabilities import Capabilities as Capabilities
from conformance._suite_server import ServerSideClauses
from conformance._suite_store import StoreClauses

__all__ = [
    "ALL_VALUE_TYPES",
    "SUITE_VERSION",
    "Browser",
    "Capabilities",
    "StoreConformance",
    "since",
]


class StoreConformance(StoreClauses[S], ServerSideClauses[S]):
    """Every clause of docs/spec.md that a store must meet, as pytest tests.

    Generic over the store type. Subclass it as ``TestSomething`` and
    provide :meth:`make_store` and :attr:`capabilities`; optionally
    :meth:`make_store_with_keys`, :meth:`raw_record` and :meth:`break_backend`.
    """
