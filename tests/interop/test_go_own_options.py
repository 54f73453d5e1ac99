"""A session's own max_age (S-9.21) crosses to Go gorilla and back without harming either side.

Go sees the reserved key as one more value of the session map; a Go service
that saves the session again keeps it, and we restore the session's own
``max_age`` from it. A default session carries no extra key at all.
"""

from __future__ import annotations

from reference_impl.cookie_store import CookieStore
from reference_impl.gob import GobSerializer
from spec.http import RecordingResponse, SimpleRequest
from tests.interop.goracle import GoOracle, from_typed
from tests.interop.test_go_sessions import BLOCK_KEY, HASH_KEY, KEY_PAIRS, NAME, ok, typed

MAX_AGE_KEY = "_sessionspec.max_age"


def _go_load(go_oracle: GoOracle, cookie: str) -> dict[object, object]:
    reply = ok(
        go_oracle.call(
            {
                "op": "session-load",
                "key_pairs": KEY_PAIRS,
                "name": NAME,
                "cookie_header": f"{NAME}={cookie}",
            }
        )
    )
    assert reply["load_error"] is None and reply["is_new"] is False
    values = from_typed(reply["values"], top=True)
    assert isinstance(values, dict)
    return values


def _saved_cookie(store: CookieStore, max_age: int | None) -> str:
    request, response = SimpleRequest(), RecordingResponse()
    session = store.get(request, NAME)
    session.values["user"] = "alice"
    if max_age is not None:
        session.options = session.options.replace(max_age=max_age)
    session.save(request, response)
    (cookie,) = response.cookies
    return cookie.value


def test_go_reads_a_browser_session_and_saves_it_back_with_its_max_age(
    go_oracle: GoOracle,
) -> None:
    """Go keeps the reserved key as a value; reloaded here, max_age 0 is restored (S-9.21)."""
    store = CookieStore(HASH_KEY, BLOCK_KEY, serializer=GobSerializer())
    go_values = _go_load(go_oracle, _saved_cookie(store, 0))
    assert go_values == {"user": "alice", MAX_AGE_KEY: 0}
    go_values["visits"] = 1
    saved = ok(
        go_oracle.call(
            {"op": "session-save", "key_pairs": KEY_PAIRS, "name": NAME, "values": typed(go_values)}
        )
    )
    loaded = store.get(SimpleRequest(f"{NAME}={saved['cookie']}"), NAME)
    assert loaded.load_error is None
    assert dict(loaded.values) == {"user": "alice", "visits": 1}
    assert loaded.options.max_age == 0


def test_a_default_session_carries_no_extra_key_to_go(go_oracle: GoOracle) -> None:
    """With the store's own max_age nothing is added, so Go sees exactly the values (S-9.21)."""
    store = CookieStore(HASH_KEY, BLOCK_KEY, serializer=GobSerializer())
    assert _go_load(go_oracle, _saved_cookie(store, None)) == {"user": "alice"}
