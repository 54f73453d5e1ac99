"""Helpers shared by the codec tests: the Go vectors, fixed clocks and IVs, forged cookies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reference_impl.securecookie import SecureCookie
from reference_impl.serializers import JSONSerializer, NopSerializer

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors" / "gorilla"
T0 = 1_700_000_000


def load_vectors() -> list[dict[str, Any]]:
    """Every vector file in ``tests/vectors/gorilla``, in file order."""
    vectors = []
    for path in sorted(VECTOR_DIR.glob("[0-9][0-9][0-9]-*.json")):
        vector: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        vector["_file"] = path.name
        vectors.append(vector)
    return vectors


def key(hex_text: str) -> bytes | None:
    """A key from a vector: the empty string is Go's nil (no key)."""
    return bytes.fromhex(hex_text) if hex_text else None


def clock_at(now: float) -> Callable[[], float]:
    """A clock that always reads ``now``."""
    return lambda: float(now)


def fixed_iv(iv: bytes) -> Callable[[int], bytes]:
    """An IV source that always returns ``iv`` (the codec's test-only ``_iv_source`` seam)."""

    def source(size: int) -> bytes:
        assert size == len(iv)
        return iv

    return source


def b64url(data: bytes) -> str:
    """Padded URL-safe base64, as text."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def forge(hash_key: bytes, name: str, timestamp: bytes, payload_b64: bytes) -> str:
    """A cookie with a correct HMAC-SHA256 around arbitrary parts (built independently)."""
    mac = hmac.new(hash_key, name.encode() + b"|" + timestamp + b"|" + payload_b64, hashlib.sha256)
    return b64url(timestamp + b"|" + payload_b64 + b"|" + mac.digest())


def codec_for(request: dict[str, Any], serializer: str | None = None, **extra: Any) -> SecureCookie:
    """Our codec configured like the oracle request ``request`` (one key pair)."""
    hash_key = key(request["hash_key_hex"])
    assert hash_key is not None
    kind = serializer or request.get("serializer", "gob")
    options: dict[str, Any] = {
        "serializer": JSONSerializer() if kind == "json" else NopSerializer(),
        **extra,
    }
    for field in ("max_age", "min_age", "max_length"):
        if field in request:
            options[field] = request[field]
    if "now" in request:
        options["clock"] = clock_at(request["now"])
    elif "timestamp" in request:
        options["clock"] = clock_at(request["timestamp"])
    codec = SecureCookie(hash_key, key(request.get("block_key_hex", "")), **options)
    if "iv_hex" in request:
        codec._iv_source = fixed_iv(bytes.fromhex(request["iv_hex"]))
    return codec


def go_json_input(value: Any) -> Any:
    """A vector's typed value as the Python value that Go's JSON encoder writes identically.

    Go writes ``[]byte`` as a standard base64 string (our serializer tags real
    bytes instead, so the Go-equivalent input is that string).
    """
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return value["$bytes"]
        return {k: go_json_input(v) for k, v in value.items()}
    if isinstance(value, list):
        return [go_json_input(v) for v in value]
    return value


def same_types(left: object, right: object) -> bool:
    """Equal *and* of the same types all the way down (``1 == 1.0 == True`` in Python)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        assert isinstance(right, dict)
        return left.keys() == right.keys() and all(
            any(type(k) is type(j) and k == j for j in right) and same_types(v, right[k])
            for k, v in left.items()
        )
    if isinstance(left, list):
        assert isinstance(right, list)
        return len(left) == len(right) and all(map(same_types, left, right))
    if isinstance(left, float) and left != left:
        return right != right
    return left == right
