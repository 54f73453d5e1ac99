"""NopSerializer's refusal reads exactly as Go's (issue 12, item 13; S-1.11).

Go's ``NopEncoder.Serialize`` returns its own securecookie error
(``securecookie: value not a []byte.``) and ``Encode`` wraps it once, so
the text has one "caused by", where JSON and gob errors, wrapped by their
encoder and again by ``Encode``, have two. Checked with Go 1.19 and
gorilla/securecookie 1.1.1 (Debian), by encoding a map with ``NopEncoder``
through ``Encode`` and ``EncodeMulti``; /work/shared/reference/gorilla-behaviour.md
section 1.6 lists the same message.
"""

from __future__ import annotations

import pytest

from reference_impl.securecookie import SecureCookie, encode_multi
from reference_impl.serializers import JSONSerializer, NopSerializer
from spec.errors import SerializeError

GO_NOP_TEXT = "securecookie: error - caused by: securecookie: value not a []byte."
#: tests/vectors/gorilla/056-sc-json-serializer-fails.json: JSON's double prefix, for contrast.
GO_JSON_PREFIX = "securecookie: error - caused by: securecookie: error - caused by: "


@pytest.mark.parametrize("value", [{"a": 1}, "str", None, bytearray(b"x")])
def test_nop_refusal_has_gos_exact_text(value: object) -> None:
    """S-1.11: the serializer, the codec and encode_multi all give Go's one-level text."""
    with pytest.raises(SerializeError) as direct:
        NopSerializer().serialize(value)
    assert str(direct.value) == GO_NOP_TEXT
    assert direct.value.detail == "value not a []byte."
    codec = SecureCookie(b"h" * 32, serializer=NopSerializer())
    with pytest.raises(SerializeError) as encoded:
        codec.encode("n", value)
    assert str(encoded.value) == GO_NOP_TEXT
    with pytest.raises(SerializeError) as multi:
        encode_multi("n", value, [codec])
    assert str(multi.value) == GO_NOP_TEXT


def test_json_refusal_keeps_gos_double_prefix() -> None:
    """S-1.11: JSON errors keep the two-level text of golden vector 056."""
    with pytest.raises(SerializeError) as caught:
        JSONSerializer().serialize({1.5: "x"})
    assert str(caught.value).startswith(GO_JSON_PREFIX)
