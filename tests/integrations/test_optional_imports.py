"""Framework imports are optional: the core and the WSGI/ASGI adapters need none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
FRAMEWORKS = ("flask", "werkzeug", "starlette", "fastapi", "django", "uvicorn", "httpx", "anyio")


def test_core_and_plain_adapters_import_no_framework() -> None:
    """reference_impl, .wsgi, .asgi and .integrations load without any web framework."""
    code = (
        "import json, sys\n"
        "import reference_impl, reference_impl.wsgi, reference_impl.asgi\n"
        "import reference_impl.integrations, spec\n"
        f"print(json.dumps([m for m in {FRAMEWORKS!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(result.stdout) == []


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
        if result.returncode != 0 and "ModuleNotFoundError" in result.stderr:
            continue  # that framework is not installed here; test_<framework>.py reports it
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [], module
