"""Edges of persisting a session's own max_age (S-9.21) in the reference stores."""

from __future__ import annotations

import pytest

from reference_impl import CookieStore, MemoryStore
from reference_impl.securecookie import encode_multi
from spec.errors import DeserializeError, SerializeError
from spec.http import RecordingResponse, SimpleRequest

KEY = b"k" * 32
MAX_AGE_KEY = "_sessionspec.max_age"


@pytest.mark.parametrize("store_class", [CookieStore, MemoryStore])
def test_the_reserved_key_is_refused_not_overwritten(store_class: type[CookieStore]) -> None:
    """A value under the reserved key raises SerializeError naming it; nothing is written."""
    store = store_class(KEY)
    request, response = SimpleRequest(), RecordingResponse()
    session = store.get(request, "app")
    session.values[MAX_AGE_KEY] = 5
    with pytest.raises(SerializeError, match="reserved"):
        session.save(request, response)
    assert response.set_cookie_headers() == []


@pytest.mark.parametrize("bad", ["0", -1, True, 10**20, [0]])
def test_a_malformed_stored_max_age_is_a_decode_error(bad: object) -> None:
    """An authentic payload with a bad reserved entry gives a fresh session, not a crash."""
    store = CookieStore(KEY)
    cookie = encode_multi("app", {"user": "x", MAX_AGE_KEY: bad}, store.codecs)
    session = store.get(SimpleRequest(f"app={cookie}"), "app")
    assert session.is_new
    assert isinstance(session.load_error, DeserializeError)


def test_the_default_max_age_adds_nothing_to_the_payload() -> None:
    """Only a max_age differing from the store's default is stored, so default bytes match Go's."""
    store = CookieStore(KEY)
    request = SimpleRequest()
    plain, own = RecordingResponse(), RecordingResponse()
    first = store.new(request, "app")
    first.values["user"] = "x"
    first.save(request, plain)
    second = store.new(request, "app")
    second.values["user"] = "x"
    second.options = second.options.replace(max_age=store.options.max_age)
    second.save(request, own)
    assert store.codecs[0].decode("app", plain.cookies[0].value) == {"user": "x"}
    assert store.codecs[0].decode("app", own.cookies[0].value) == {"user": "x"}
    third = store.new(request, "app")
    third.values["user"] = "x"
    third.options = third.options.replace(max_age=0)
    browser = RecordingResponse()
    third.save(request, browser)
    assert store.codecs[0].decode("app", browser.cookies[0].value) == {"user": "x", MAX_AGE_KEY: 0}
