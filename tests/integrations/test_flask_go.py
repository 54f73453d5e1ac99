"""A cookie set through Flask's ``session`` loads in Go's gorilla with the same keys, and back.

The Flask app uses Flask idioms only and runs under werkzeug's server. The
Go side is the oracle of tests/interop (the unmodified gorilla/sessions
``CookieStore`` with gob, gorilla/securecookie with JSON, built from the
Debian sources). With a store whose default ``max_age`` is 0 (a Flask
session is not permanent unless asked), Go sees exactly the app's keys; a
permanent session carries its own lifetime as one more value, which Go keeps
when it saves, so the session stays permanent here (S-9.21). With the store
derived from ``secret_key``, Go decodes the JSON cookie under the two keys
``derive_keys`` documents.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integrations._servers import require, serve_werkzeug, set_cookies

require("flask")

from flask import Flask, jsonify, request, session  # noqa: E402

from reference_impl import CookieStore  # noqa: E402
from reference_impl.integrations.flask import SessionspecInterface, derive_keys  # noqa: E402
from reference_impl.serializers import GobSerializer  # noqa: E402
from spec import Options  # noqa: E402
from tests.interop.goracle import (  # noqa: E402
    GoOracle,
    canonical,
    from_typed,
    missing_prerequisites,
    to_typed,
)

HASH_KEY = bytes(range(32))
BLOCK_KEY = bytes(range(100, 132))
KEY_PAIRS = [{"hash_key_hex": HASH_KEY.hex(), "block_key_hex": BLOCK_KEY.hex()}]
SECRET = "a Flask secret key shared with a Go service, 32+ bytes"
MAX_AGE_KEY = "_sessionspec.max_age"


def make_app(store: CookieStore | None) -> Flask:
    app = Flask(__name__)
    app.secret_key = SECRET
    SessionspecInterface(store).init_app(app)

    @app.post("/login")
    def login() -> str:
        session["user"] = "alice"
        session["roles"] = ["admin", "ops"]
        session["visits"] = 3
        session.permanent = request.args.get("remember") == "1"
        return "ok"

    @app.get("/whoami")
    def whoami() -> Any:
        return jsonify({"values": dict(session), "permanent": session.permanent})

    @app.post("/visit")
    def visit() -> Any:
        session["visits"] = session.get("visits", 0) + 1
        return jsonify(session["visits"])

    return app


@pytest.fixture(scope="module")
def go_oracle() -> Iterator[GoOracle]:
    """The Go oracle, as tests/interop/conftest.py gives it (a failure, not a skip, on CI)."""
    reason = missing_prerequisites()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Go oracle cannot be built: {reason}")
        pytest.skip(reason)
    with GoOracle.start() as oracle:
        yield oracle


@pytest.fixture(scope="module")
def gob_url() -> Iterator[str]:
    store = CookieStore(HASH_KEY, BLOCK_KEY, options=Options(max_age=0), serializer=GobSerializer())
    with serve_werkzeug(make_app(store)) as url:
        yield url


def session_cookie(response: httpx.Response) -> str:
    (line,) = set_cookies(response)
    name, _, rest = line.partition("=")
    assert name == "session"
    return rest.partition(";")[0]


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["ok"] is True, reply
    return reply


def go_load(go_oracle: GoOracle, cookie: str) -> dict[str, Any]:
    reply = ok(
        go_oracle.call(
            {
                "op": "session-load",
                "key_pairs": KEY_PAIRS,
                "name": "session",
                "cookie_header": f"session={cookie}",
            }
        )
    )
    assert reply["load_error"] is None and reply["is_new"] is False
    return reply


def test_go_loads_a_flask_session_with_the_same_keys(gob_url: str, go_oracle: GoOracle) -> None:
    """gorilla/sessions (gob) reads the app's cookie: the same keys and Go types, nothing else."""
    with httpx.Client(base_url=gob_url, timeout=10) as client:
        cookie = session_cookie(client.post("/login"))
    expected = {"user": "alice", "roles": ["admin", "ops"], "visits": 3}
    values = go_load(go_oracle, cookie)["values"]
    assert canonical(values) == canonical(to_typed(expected, top=True))


def test_go_saves_flask_changes_go_reads_back(gob_url: str, go_oracle: GoOracle) -> None:
    """A Go session is flask.session in the app; the app's write is Go's next load."""
    saved = ok(
        go_oracle.call(
            {
                "op": "session-save",
                "key_pairs": KEY_PAIRS,
                "name": "session",
                "values": to_typed({"user": "gopher", "visits": 41}, top=True),
            }
        )
    )
    headers = {"cookie": f"session={saved['cookie']}"}
    with httpx.Client(base_url=gob_url, timeout=10) as client:
        seen = client.get("/whoami", headers=headers).json()
        assert seen == {"values": {"user": "gopher", "visits": 41}, "permanent": False}
        changed = client.post("/visit", headers=headers)
    assert changed.json() == 42
    values = go_load(go_oracle, session_cookie(changed))["values"]
    assert canonical(values) == canonical(to_typed({"user": "gopher", "visits": 42}, top=True))


def test_a_permanent_session_stays_permanent_through_go(gob_url: str, go_oracle: GoOracle) -> None:
    """Go sees the session's own lifetime as one more value and keeps it on save (S-9.21)."""
    with httpx.Client(base_url=gob_url, timeout=10) as client:
        cookie = session_cookie(client.post("/login?remember=1"))
    values = from_typed(go_load(go_oracle, cookie)["values"], top=True)
    assert isinstance(values, dict)
    assert values.pop(MAX_AGE_KEY) == 30 * 86400
    assert values == {"user": "alice", "roles": ["admin", "ops"], "visits": 3}
    values.update({MAX_AGE_KEY: 30 * 86400, "visits": 4})
    saved = ok(
        go_oracle.call(
            {
                "op": "session-save",
                "key_pairs": KEY_PAIRS,
                "name": "session",
                "values": to_typed(values, top=True),
            }
        )
    )
    with httpx.Client(base_url=gob_url, timeout=10) as client:
        seen = client.get("/whoami", headers={"cookie": f"session={saved['cookie']}"}).json()
    assert seen["permanent"] is True and seen["values"]["visits"] == 4
    assert MAX_AGE_KEY not in seen["values"]


def test_the_derived_store_cookie_decodes_in_securecookie_json(go_oracle: GoOracle) -> None:
    """No store: Go's securecookie (JSONEncoder) decodes it under derive_keys(secret_key)."""
    hash_key, block_key = derive_keys(SECRET)
    with (
        serve_werkzeug(make_app(None)) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        cookie = session_cookie(client.post("/login"))
        reply = ok(
            go_oracle.call(
                {
                    "op": "decode",
                    "hash_key_hex": hash_key.hex(),
                    "block_key_hex": block_key.hex(),
                    "name": "session",
                    "serializer": "json",
                    "cookie": cookie,
                }
            )
        )
        assert reply["value"] == {"user": "alice", "roles": ["admin", "ops"], "visits": 3}
        encoded = ok(
            go_oracle.call(
                {
                    "op": "encode",
                    "hash_key_hex": hash_key.hex(),
                    "block_key_hex": block_key.hex(),
                    "name": "session",
                    "serializer": "json",
                    "value": {"user": "gopher"},
                }
            )
        )
        seen = client.get("/whoami", headers={"cookie": f"session={encoded['cookie']}"})
        assert seen.json() == {"values": {"user": "gopher"}, "permanent": False}
