"""sessionspec's contract: models, protocols, errors and the per-request registry.

Nothing here does I/O or cryptography; implementations live in
``reference_impl`` and the executable contract in ``conformance``.
"""

from __future__ import annotations

#: Marks this ``spec`` as sessionspec's: ``reference_impl`` and ``conformance`` refuse to
#: load against another top-level ``spec`` (a PyPI nose plugin, an app's own folder) that
#: lacks it. See spec/_distribution.py.
__sessionspec__ = True

from spec.clock import ManualClock as ManualClock
from spec.cookie import Cookie as Cookie
from spec.cookie import cookie_values as cookie_values
from spec.cookie import parse_cookie_header as parse_cookie_header
from spec.events import SessionEvent as SessionEvent
from spec.events import SessionListener as SessionListener
from spec.options import DEFAULT_MAX_AGE as DEFAULT_MAX_AGE
from spec.options import Options as Options
from spec.options import SameSite as SameSite
from spec.protocols import AsyncStore as AsyncStore
from spec.protocols import Clock as Clock
from spec.protocols import Codec as Codec
from spec.protocols import Request as Request
from spec.protocols import ResponseWriter as ResponseWriter
from spec.protocols import Serializer as Serializer
from spec.protocols import Store as Store
from spec.registry import Registry as Registry
from spec.registry import asave_all as asave_all
from spec.registry import check_cookie_name as check_cookie_name
from spec.registry import save_all as save_all
from spec.session import FLASH_KEY as FLASH_KEY
from spec.session import AsyncSession as AsyncSession
from spec.session import Session as Session
from spec.session import SessionKey as SessionKey
from spec.session import SessionValue as SessionValue
from spec.typed import TypedSession as TypedSession

__all__ = [
    "DEFAULT_MAX_AGE",
    "FLASH_KEY",
    "AsyncSession",
    "AsyncStore",
    "Clock",
    "Codec",
    "Cookie",
    "ManualClock",
    "Options",
    "Registry",
    "Request",
    "ResponseWriter",
    "SameSite",
    "Serializer",
    "Session",
    "SessionEvent",
    "SessionKey",
    "SessionListener",
    "SessionValue",
    "Store",
    "TypedSession",
    "asave_all",
    "check_cookie_name",
    "cookie_values",
    "parse_cookie_header",
    "save_all",
]
