"""The public surface: names other code relies on never disappear silently (DESIGN.md)."""

from __future__ import annotations

import importlib

import pytest

#: Removing a name from here is a breaking change: it needs a deprecation period.
SURFACE: dict[str, set[str]] = {
    "spec": {
        "Options",
        "SameSite",
        "Session",
        "Cookie",
        "Store",
        "AsyncStore",
        "Registry",
        "Request",
        "ResponseWriter",
        "Codec",
        "Serializer",
        "Clock",
        "ManualClock",
        "save_all",
        "asave_all",
        "parse_cookie_header",
        "cookie_values",
    },
    "spec.errors": {
        "SessionError",
        "ConfigurationError",
        "EncodeError",
        "DecodeError",
        "MacInvalidError",
        "ExpiredTimestampError",
        "ValueTooLongError",
        "StoreError",
        "SessionInterruptedError",
        "SessionNotFoundError",
        "MultiDecodeError",
        "SaveAllError",
    },
    "spec.http": {"SimpleRequest", "RecordingResponse", "CookieJar"},
    "reference_impl": {"CookieStore", "FilesystemStore", "MemoryStore"},
    "reference_impl.securecookie": {
        "SecureCookie",
        "codecs_from_pairs",
        "encode_multi",
        "decode_multi",
        "generate_random_key",
    },
    "reference_impl.serializers": {"JSONSerializer", "GobSerializer", "NopSerializer"},
    "conformance": {"StoreConformance", "Capabilities", "SUITE_VERSION", "since", "Browser"},
}


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_public_names_are_exported(module: str) -> None:
    """Every name of the stable surface is in the module's __all__ and importable."""
    mod = importlib.import_module(module)
    exported = set(mod.__all__)
    assert SURFACE[module] <= exported, SURFACE[module] - exported
    for name in exported:
        assert hasattr(mod, name), name


def test_spec_imports_neither_implementation_nor_suite() -> None:
    """Arrows point one way: spec imports neither reference_impl nor conformance."""
    import subprocess
    import sys

    code = (
        "import sys, spec, spec.errors, spec.http; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('reference_impl', 'conformance')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_reference_impl_does_not_import_the_suite_or_optional_extras() -> None:
    """reference_impl never imports conformance, and its core needs no optional extra."""
    import subprocess
    import sys

    code = (
        "import sys, reference_impl, reference_impl.securecookie, "
        "reference_impl.serializers, reference_impl.integrations.wsgi, "
        "reference_impl.integrations.asgi; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('conformance', 'pytest', 'hypothesis', 'redis', 'sqlalchemy', 'flask', "
        "'django', 'starlette')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_importing_reference_impl_does_not_load_gob() -> None:
    """``import reference_impl`` (and its serializers) leaves the gob package unloaded.

    gob is nine modules that only Go-interop users need; ``GobSerializer`` is
    re-exported from ``reference_impl.serializers`` but imported on first use.
    """
    import subprocess
    import sys

    code = (
        "import sys, reference_impl, reference_impl.serializers; "
        "print(sorted(m for m in sys.modules if m == 'reference_impl.gob' "
        "or m.startswith('reference_impl.gob.') or m.split('.')[0] in "
        "('redis', 'sqlalchemy', 'flask', 'django', 'starlette')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_gob_serializer_is_still_reexported_from_serializers() -> None:
    """The lazy re-export hands back the very class ``reference_impl.gob`` defines."""
    from reference_impl import gob
    from reference_impl.serializers import GobSerializer

    assert GobSerializer is gob.GobSerializer
    with pytest.raises(ImportError, match="cannot import name 'Nope'"):
        from reference_impl.serializers import Nope  # noqa: F401


def test_shared_facts_have_one_source() -> None:
    """The 30-day default, the int64 bounds and the cookie-name check are each defined once."""
    from conformance import Capabilities
    from reference_impl import securecookie
    from reference_impl._codec import primitives
    from reference_impl.gob import _encode, _mapping, _time
    from spec import _tokens, cookie, options, registry, session

    assert securecookie.DEFAULT_MAX_AGE is options.DEFAULT_MAX_AGE
    assert Capabilities().store_max_age == options.DEFAULT_MAX_AGE
    for module in (_encode, _mapping, _time):
        assert (module.INT64_MIN, module.INT64_MAX) == (primitives.INT64_MIN, primitives.INT64_MAX)
        assert module.INT64_MIN is primitives.INT64_MIN, module.__name__
    assert registry.check_cookie_name is _tokens.check_cookie_name
    for module in (cookie, session):  # the model validators call the one check
        assert vars(module)["check_cookie_name"] is _tokens.check_cookie_name
    assert vars(session)["is_async_store"] is registry.is_async_store


def test_redis_module_exports_only_the_store() -> None:
    """The helpers shared with the async twin (keys, SET, errors, pool) are private."""
    from reference_impl import redis

    assert sorted(redis.__all__) == ["DEFAULT_URL", "RedisStore"]
    defined_here = [
        name
        for name, obj in vars(redis).items()
        if getattr(obj, "__module__", None) == redis.__name__ and not name.startswith("_")
    ]
    assert defined_here == ["RedisStore"]
