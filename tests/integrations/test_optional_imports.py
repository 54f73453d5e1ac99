"""Framework imports are optional: the core and the WSGI/ASGI adapters need none.

And a module whose optional packages are missing says which extra installs
them (S-7.4). Absence is simulated in a subprocess by putting ``None`` in
``sys.modules``, which makes Python's import fail as for a missing package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FRAMEWORKS = ("flask", "werkzeug", "starlette", "fastapi", "django", "uvicorn", "httpx", "anyio")


def _loaded_after(imports: str, watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` a fresh interpreter has in sys.modules after ``import imports``."""
    code = (
        f"import json, sys\nimport {imports}\n"
        f"print(json.dumps([m for m in {watched!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_core_and_plain_adapters_import_no_framework() -> None:
    """reference_impl, .wsgi, .asgi and .integrations load without any web framework."""
    adapters = (
        "reference_impl, reference_impl.integrations.wsgi, reference_impl.integrations.asgi, "
        "reference_impl.integrations, spec"
    )
    assert _loaded_after(adapters, FRAMEWORKS) == []


def test_each_integration_imports_only_its_own_framework() -> None:
    """The Flask module does not pull in Django or Starlette, and so on."""
    expected = {
        "flask": {"starlette", "fastapi", "django", "uvicorn"},
        "starlette": {"flask", "fastapi", "django", "uvicorn"},
        "django": {"flask", "werkzeug", "starlette", "fastapi", "uvicorn"},
    }
    for module, forbidden in expected.items():
        code = (
            "import json, sys\n"
            f"import reference_impl.integrations.{module}\n"
            f"print(json.dumps(sorted(m for m in {sorted(forbidden)!r} if m in sys.modules)))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
        )
        if result.returncode != 0 and "MissingDependencyError" in result.stderr:
            continue  # that framework is not installed here; test_<framework>.py reports it
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [], module


#: (module to import, packages made absent, extra the message must name)
OPTIONAL_MODULES = [
    ("reference_impl.redis", ["redis"], "redis"),
    ("reference_impl.aio.redis", ["redis"], "redis"),
    ("reference_impl.sql", ["sqlalchemy"], "sql"),
    ("reference_impl.aio.sql", ["sqlalchemy"], "sql-async"),
    ("reference_impl.aio.sql", ["sqlalchemy.ext.asyncio"], "sql-async"),
    ("reference_impl.memcached", ["pymemcache"], "memcached"),
    ("reference_impl.aio.memcached", ["pymemcache"], "memcached"),
    ("reference_impl.integrations.flask", ["flask"], "flask"),
    ("reference_impl.integrations.starlette", ["starlette"], "starlette"),
    ("reference_impl.integrations.django", ["django"], "django"),
    ("conformance", ["pytest"], "conformance"),
    ("conformance", ["hypothesis"], "conformance"),
    ("conformance.strategies", ["hypothesis"], "conformance"),
]


def _import_without(module: str, absent: list[str], attribute: str = "") -> dict[str, object]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {absent!r}:\n"
        "    sys.modules[name] = None\n"
        "try:\n"
        f"    mod = importlib.import_module({module!r})\n"
        f"    if {attribute!r}:\n"
        f"        getattr(mod, {attribute!r})\n"
        "except ImportError as exc:\n"
        "    from spec.errors import ConfigurationError\n"
        "    print(json.dumps({'type': type(exc).__name__, 'message': str(exc),\n"
        "        'name': exc.name, 'module_not_found': isinstance(exc, ModuleNotFoundError),\n"
        "        'configuration': isinstance(exc, ConfigurationError),\n"
        "        'chained': exc.__cause__ is not None or not exc.__suppress_context__}))\n"
        "else:\n"
        "    print(json.dumps(None))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    outcome: dict[str, object] = json.loads(result.stdout)
    return outcome


@pytest.mark.parametrize(
    ("module", "absent", "extra"),
    OPTIONAL_MODULES,
    ids=[f"{m}-without-{a[0]}" for m, a, _ in OPTIONAL_MODULES],
)
def test_a_missing_optional_package_names_the_extra(
    module: str, absent: list[str], extra: str
) -> None:
    """S-7.4: the error says ``pip install 'sessionspec[extra]'`` and is still an ImportError."""
    outcome = _import_without(module, absent)
    assert outcome is not None, f"{module} imported without {absent}"
    assert outcome["type"] == "MissingDependencyError"
    assert outcome["module_not_found"] and outcome["configuration"]
    assert str(outcome["name"]).startswith(absent[0])  # django.http when django is absent
    message = str(outcome["message"])
    assert f"pip install 'sessionspec[{extra}]'" in message
    assert f"needs the package '{absent[0]}" in message
    assert not outcome["chained"]  # one clear error, not pydantic-style nesting


@pytest.mark.parametrize(
    ("attribute", "absent"),
    [
        ("AsyncRedisStore", "redis"),
        ("AsyncSQLStore", "sqlalchemy"),
        ("AsyncMemcachedStore", "pymemcache"),
    ],
)
def test_lazy_async_stores_name_the_extra_too(attribute: str, absent: str) -> None:
    """S-7.4: ``from reference_impl.aio import AsyncRedisStore`` fails the same way."""
    outcome = _import_without("reference_impl.aio", [absent], attribute)
    assert outcome is not None
    assert outcome["type"] == "MissingDependencyError"
    assert "pip install 'sessionspec[" in str(outcome["message"])


def test_importing_reference_impl_loads_no_gob_sql_or_redis() -> None:
    """Issue 19 point 6: start-up pays for neither gob nor a backend client it may never use."""
    heavy = ("reference_impl.gob", "sqlalchemy", "redis", "pymemcache", *FRAMEWORKS)
    assert _loaded_after("reference_impl", heavy) == []
    assert _loaded_after("reference_impl.gob", heavy) == ["reference_impl.gob"]  # it can tell


def test_the_core_needs_no_optional_package() -> None:
    """S-7.4: spec, reference_impl and the WSGI/ASGI adapters import with every extra absent."""
    every_optional = [
        "redis",
        "sqlalchemy",
        "pymemcache",
        "flask",
        "starlette",
        "django",
        "pytest",
        "hypothesis",
    ]
    for module in (
        "spec",
        "reference_impl",
        "reference_impl.integrations.wsgi",
        "reference_impl.integrations.asgi",
    ):
        assert _import_without(module, every_optional) is None, module
