"""Error types and their messages (docs/spec.md S-7)."""

from __future__ import annotations

import pytest

from spec import errors as e


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (e.HashKeyNotSetError(), "securecookie: hash key is not set"),
        (e.NoCodecsError(), "securecookie: no codecs provided"),
        (e.InvalidCookieNameError("a b"), "sessions: invalid character in cookie name: a b"),
        (e.MissingStoreError("s"), 'sessions: missing store for session "s"'),
        (
            e.CookieTooLongError(5000, 4096),
            "securecookie: the value is too long: 5000 (limit 4096)",
        ),
        (
            e.Base64DecodeError(7),
            "securecookie: base64 decode failed - caused by: illegal base64 data at input byte 7",
        ),
        (e.MacInvalidError(), "securecookie: the value is not valid"),
        (e.InvalidTimestampError(), "securecookie: invalid timestamp"),
        (e.TimestampTooNewError(2, 1), "securecookie: timestamp is too new"),
        (e.ExpiredTimestampError(1, 2), "securecookie: expired timestamp"),
        (e.DecryptionError(), "securecookie: the value could not be decrypted"),
        (
            e.DeserializeError("json: bad"),
            "securecookie: error - caused by: securecookie: error - caused by: json: bad",
        ),
        (
            e.SerializeError("json: unsupported type: set"),
            "securecookie: error - caused by: securecookie: error - caused by: "
            "json: unsupported type: set",
        ),
    ],
)
def test_messages_keep_gorilla_wording(error: Exception, message: str) -> None:
    """S-7.1: message texts are gorilla's (securecookie 1.1.2, sessions 1.4.0)."""
    assert str(error) == message


@pytest.mark.parametrize("looks_hex", [False, True])
def test_block_key_error_keeps_gos_text_then_says_what_to_do(looks_hex: bool) -> None:
    """S-7.1: gorilla's text comes first (args[0]); the hint names the sizes and bytes.fromhex."""
    err = e.BlockKeyError(64, looks_hex=looks_hex)
    gorilla = "securecookie: error - caused by: crypto/aes: invalid key size 64"
    assert err.args[0] == gorilla
    assert str(err).startswith(gorilla + " (")
    assert "16, 24 or 32" in str(err)
    assert "bytes.fromhex" in str(err)
    assert ("hex string" in str(err)) is looks_hex


def test_configuration_errors_carry_their_field_errors() -> None:
    """S-7.4: a model's ConfigurationError lists each problem for programs, without the input."""
    from spec import Options

    with pytest.raises(e.ConfigurationError) as caught:
        Options(path="nope", max_age="5")  # type: ignore[arg-type]
    assert [(err["loc"], err["type"]) for err in caught.value.errors] == [
        (("path",), "value_error"),
        (("max_age",), "int_type"),
    ]
    assert all("input" not in err for err in caught.value.errors)
    assert e.ConfigurationError("plain").errors == ()


def test_missing_dependency_is_a_configuration_and_an_import_error() -> None:
    """S-7.2: ``except ImportError`` around an optional import still works."""
    err = e.MissingDependencyError("redis", "redis", "reference_impl.redis")
    assert isinstance(err, e.ConfigurationError)
    assert isinstance(err, ModuleNotFoundError)
    assert (err.name, err.extra) == ("redis", "redis")
    assert "pip install 'sessionspec[redis]'" in str(err)


def test_security_warning_is_a_user_warning() -> None:
    """S-1.6: weak keys warn with a category filters can select."""
    assert issubclass(e.SecurityWarning, UserWarning)
    assert "SecurityWarning" in e.__all__


@pytest.mark.parametrize("kind", [e.ValueTooLongError, e.CookieTooLongError])
def test_too_long_errors_name_size_and_limit_alike(
    kind: type[e.ValueTooLongError | e.CookieTooLongError],
) -> None:
    """S-7.1: both "too long" errors keep Go's text in args[0] and add the limit."""
    err = kind(5000, 4096)
    assert (err.length, err.limit) == (5000, 4096)
    assert err.args[0] == "securecookie: the value is too long: 5000"
    assert str(err) == "securecookie: the value is too long: 5000 (limit 4096)"


def test_groups_can_be_caught_separately() -> None:
    """S-7.2: configuration, encode, decode and store errors are distinct families."""
    families = [e.ConfigurationError, e.EncodeError, e.DecodeError, e.StoreError]
    members = {
        e.ConfigurationError: [
            e.HashKeyNotSetError(),
            e.BlockKeyError(1),
            e.MissingDependencyError("redis", "redis", "x"),
            e.NoCodecsError(),
            e.InvalidCookieNameError("x"),
            e.MissingStoreError("x"),
        ],
        e.EncodeError: [e.ValueTooLongError(1, 0), e.SerializeError("x")],
        e.DecodeError: [
            e.MacInvalidError(),
            e.Base64DecodeError(0),
            e.ExpiredTimestampError(0, 0),
            e.DecryptionError(),
            e.DeserializeError("x"),
            e.CookieTooLongError(1, 0),
            e.SessionNotFoundError("s"),
            e.InvalidSessionIDError(),
            e.MultiDecodeError([e.MacInvalidError()]),
        ],
        e.StoreError: [e.StoreError("x")],
    }
    for family, instances in members.items():
        for inst in instances:
            assert isinstance(inst, e.SessionError)
            assert [f for f in families if isinstance(inst, f)] == [family]
    assert not isinstance(e.SessionInterruptedError("s"), e.StoreError | e.DecodeError)


def test_store_error_carries_backend_and_action_in_one_message_style() -> None:
    """A StoreError reads "<backend>: cannot <action>: <cause>", and keeps both as attributes."""
    import pickle

    full = e.StoreError("TimeoutError: Timeout reading", backend="redis", action="read a session")
    assert str(full) == "redis: cannot read a session: TimeoutError: Timeout reading"
    assert (full.backend, full.action, full.cause) == (
        "redis",
        "read a session",
        "TimeoutError: Timeout reading",
    )
    assert str(e.StoreError("x", action="create a session")) == "cannot create a session: x"
    bare = e.StoreError("backend down")
    assert (str(bare), bare.backend, bare.action) == ("backend down", None, None)
    copy = pickle.loads(pickle.dumps(full))
    assert (type(copy), str(copy), copy.backend, copy.action) == (
        e.StoreError,
        str(full),
        "redis",
        "read a session",
    )


@pytest.mark.parametrize(
    ("count", "suffix"), [(1, ""), (2, " (and 1 other error)"), (3, " (and 2 other errors)")]
)
def test_multi_decode_error_renders_like_gorilla(count: int, suffix: str) -> None:
    """S-7.3: the first message plus a count of the others."""
    errs: list[e.DecodeError] = [e.MacInvalidError()]
    errs += [e.ExpiredTimestampError(0, 1)] * (count - 1)
    multi = e.MultiDecodeError(errs)
    assert str(multi) == "securecookie: the value is not valid" + suffix
    assert multi.errors == tuple(errs)
    assert str(e.MultiDecodeError([])) == "(0 errors)"
