"""Count the calls one ``store.get`` makes into project code, and how often it changes module.

A readability figure, not a speed one (issue 13): following one cookie from
``store.get`` to the codec should not mean hopping across many modules.
``python bench/trace_get.py`` prints, for a FilesystemStore and a
CookieStore whose cookie is already set, the number of ``call`` events in
``spec``, ``reference_impl`` and ``conformance`` (generator resumptions
included) and the number of times consecutive calls are in different modules.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path
from types import FrameType

from reference_impl import CookieStore, FilesystemStore
from spec import Store
from spec.http import RecordingResponse, SimpleRequest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = tuple(str(ROOT / name) + "/" for name in ("spec", "reference_impl", "conformance"))
KEYS = (b"h" * 32, b"b" * 32)


def trace_get(store: Store, cookie_header: str) -> tuple[int, int, list[str]]:
    """(calls, module switches, the call sequence) for one ``store.get``."""
    calls: list[str] = []

    def tracer(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(PACKAGES):
            module = frame.f_code.co_filename[len(str(ROOT)) + 1 :]
            calls.append(f"{module}:{frame.f_code.co_name}")

    request = SimpleRequest(cookie_header)
    sys.setprofile(None)
    sys.settrace(tracer)  # type: ignore[arg-type]
    try:
        store.get(request, "session")
    finally:
        sys.settrace(None)
    modules = [call.split(":")[0] for call in calls]
    switches = sum(1 for a, b in itertools.pairwise(modules) if a != b)
    return len(calls), switches, calls


def cookie_for(store: Store) -> str:
    request, response = SimpleRequest(), RecordingResponse()
    session = store.get(request, "session")
    session.values["user"] = "alice"
    session.save(request, response)
    return response.set_cookie_headers()[0].split(";")[0]


def main() -> None:
    verbose = "-v" in sys.argv
    with tempfile.TemporaryDirectory() as directory:
        stores: dict[str, Store] = {
            "FilesystemStore": FilesystemStore(directory, *KEYS),
            "CookieStore": CookieStore(*KEYS),
        }
        for label, store in stores.items():
            header = cookie_for(store)
            trace_get(store, header)  # warm caches (lazy imports, regexes)
            count, switches, calls = trace_get(store, header)
            print(f"{label}.get: {count} calls into project code, {switches} module switches")
            if verbose:
                print("\n".join("    " + call for call in calls))


if __name__ == "__main__":
    main()
