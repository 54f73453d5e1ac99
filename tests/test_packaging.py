"""Packaging a user can trust (issue 13, items 6 and 7).

The shadow guard, the keygen command and the published metadata, each
checked the way a user meets it: in a separate interpreter, from the built
wheel or from pyproject.toml itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from spec._distribution import MARKER, TOP_LEVEL_NAMES, shadowed_message

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _python(
    code: list[str], *, first_on_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python *code`` with ``first_on_path`` ahead of the repository on sys.path."""
    path = [str(ROOT)] if first_on_path is None else [str(first_on_path), str(ROOT)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    return subprocess.run(
        [sys.executable, *code],
        capture_output=True,
        text=True,
        env=env,
        cwd=first_on_path or ROOT,
        check=False,
    )


def _last_error(stderr: str) -> str:
    """The exception line of a traceback: ``Type: message``."""
    lines = [line for line in stderr.splitlines() if re.match(r"^\w+(Error|Exception): ", line)]
    assert lines, stderr
    return lines[-1]


@pytest.fixture
def foreign_spec(tmp_path: Path) -> Path:
    """A directory whose ``spec/__init__.py`` is not ours, as an app's own spec/ folder."""
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "__init__.py").write_text('"""An application\'s own specs."""\n')
    return tmp_path


@pytest.mark.parametrize("package", ["reference_impl", "conformance"])
def test_a_foreign_spec_first_on_sys_path_fails_at_once_by_name(
    foreign_spec: Path, package: str
) -> None:
    """Another ``spec`` ahead of ours: ImportError naming sessionspec and the path found.

    Before the guard the same import failed with ``No module named 'spec.errors'``
    (or ``spec.clock``), which names neither the cause nor the way out.
    """
    result = _python(["-c", f"import {package}"], first_on_path=foreign_spec)
    assert result.returncode == 1
    found_at = str(foreign_spec / "spec" / "__init__.py")
    assert _last_error(result.stderr) == "ImportError: " + shadowed_message(
        "spec", found_at, package
    )
    assert "No module named" not in result.stderr


def test_python_m_conformance_names_the_foreign_spec(foreign_spec: Path) -> None:
    """``python -m conformance`` hits the same guard before any of the suite loads."""
    result = _python(["-m", "conformance"], first_on_path=foreign_spec)
    assert result.returncode == 1
    assert "sessionspec: the top-level package 'spec' imported from" in result.stderr
    assert str(foreign_spec / "spec" / "__init__.py") in result.stderr


def test_a_foreign_spec_that_cannot_even_import_is_labelled(tmp_path: Path) -> None:
    """A foreign ``spec`` whose own import fails (the nose plugin without nose) gets a note."""
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "__init__.py").write_text("import nose_that_is_not_installed\n")
    result = _python(["-c", "import reference_impl"], first_on_path=tmp_path)
    assert result.returncode == 1
    assert "sessionspec: this happened while importing the top-level package 'spec'" in (
        result.stderr
    )


def test_a_spec_folder_without_init_does_not_shadow_ours(tmp_path: Path) -> None:
    """A plain ``spec/`` folder (namespace package) loses to our regular package: no error."""
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "test_something.py").write_text("")
    result = _python(
        ["-c", "import reference_impl, spec; print(spec.__sessionspec__)"], first_on_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_check_sibling_catches_a_foreign_conformance(tmp_path: Path) -> None:
    """``check_sibling("conformance", ...)``: for code that imports the suite, later on."""
    (tmp_path / "conformance").mkdir()
    (tmp_path / "conformance" / "__init__.py").write_text("")
    code = "from spec._distribution import check_sibling; check_sibling('conformance', 'x.y')"
    result = _python(["-c", code], first_on_path=tmp_path)
    assert result.returncode == 1
    found_at = str(tmp_path / "conformance" / "__init__.py")
    assert _last_error(result.stderr) == "ImportError: " + shadowed_message(
        "conformance", found_at, "x.y"
    )
    ours = _python(
        [
            "-c",
            "from spec._distribution import check_sibling as c; "
            "print(c('conformance', 'x').SUITE_VERSION)",
        ]
    )
    assert ours.returncode == 0, ours.stderr


def test_every_top_level_package_carries_the_marker_and_is_in_the_wheel() -> None:
    """The three names of the README are the wheel's packages and each is marked as ours."""
    import importlib

    assert tuple(PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]) == (
        TOP_LEVEL_NAMES
    )
    for name in TOP_LEVEL_NAMES:
        assert getattr(importlib.import_module(name), MARKER) is True
    readme = (ROOT / "README.md").read_text()
    assert "exactly three top-level\npackages: `spec`, `reference_impl` and `conformance`" in readme


# --- keygen -------------------------------------------------------------------------------


def _keygen(*args: str) -> subprocess.CompletedProcess[str]:
    return _python(["-m", "reference_impl", "keygen", *args])


def test_keygen_prints_a_fresh_hex_key_pair_that_a_store_accepts() -> None:
    """Two ``NAME=hex`` lines, 32 + 32 bytes, new at every run, loadable with bytes.fromhex."""
    from reference_impl import CookieStore

    runs = [_keygen() for _ in range(2)]
    pairs = []
    for run in runs:
        assert run.returncode == 0, run.stderr
        values = dict(
            line.split("=", 1) for line in run.stdout.splitlines() if not line.startswith("#")
        )
        assert set(values) == {"SESSION_HASH_KEY", "SESSION_BLOCK_KEY"}
        assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in values.values()), values
        assert "bytes.fromhex" in run.stdout
        CookieStore(
            bytes.fromhex(values["SESSION_HASH_KEY"]), bytes.fromhex(values["SESSION_BLOCK_KEY"])
        )
        pairs.append(values)
    assert pairs[0]["SESSION_HASH_KEY"] != pairs[1]["SESSION_HASH_KEY"]
    assert pairs[0]["SESSION_BLOCK_KEY"] != pairs[1]["SESSION_BLOCK_KEY"]


def test_keygen_prefix_and_its_validation() -> None:
    """``--prefix`` renames the variables; a prefix no shell accepts is a usage error."""
    ok = _keygen("--prefix", "MYAPP")
    assert ok.returncode == 0, ok.stderr
    assert re.search(r"^MYAPP_HASH_KEY=[0-9a-f]{64}$", ok.stdout, flags=re.M)
    bad = _keygen("--prefix", "1-x")
    assert bad.returncode == 2
    assert "not usable in a variable name" in bad.stderr


def test_cli_help_and_missing_command() -> None:
    """``--help`` lists keygen; no subcommand is a usage error, not a silent no-op."""
    helped = _python(["-m", "reference_impl", "--help"])
    assert helped.returncode == 0
    assert "keygen" in helped.stdout
    bare = _python(["-m", "reference_impl"])
    assert bare.returncode == 2
    assert "required: COMMAND" in bare.stderr


# --- metadata ------------------------------------------------------------------------------


def test_published_metadata_has_no_repository_only_extras() -> None:
    """dev, bench and demo are dependency groups: a wheel user never sees them."""
    project = PYPROJECT["project"]
    assert not {"dev", "bench", "demo"} & set(project["optional-dependencies"])
    assert {"dev", "bench", "demo"} <= set(PYPROJECT["dependency-groups"])
    assert "Typing :: Typed" in project["classifiers"]
    assert project["license-files"] == ["LICENSE"]
    assert project["keywords"]
    assert project["urls"]


def test_license_carries_ours_and_gorillas_notice() -> None:
    """BSD-3 text, our copyright line, and gorilla's retained notice (this is a port)."""
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License\n")
    assert "the sessionspec authors" in text
    assert "Copyright (c) 2023 The Gorilla Authors. All rights reserved." in text
    assert text.count("THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS") == 2


def test_the_built_wheel_ships_the_license_and_the_declared_metadata(tmp_path: Path) -> None:
    """Build the wheel as the README says and read its METADATA and licence file."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("sessionspec-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read("sessionspec-0.1.0.dist-info/METADATA").decode()
        licence = archive.read("sessionspec-0.1.0.dist-info/licenses/LICENSE").decode()
    assert licence == (ROOT / "LICENSE").read_text()
    assert {n.split("/")[0] for n in names} == {*TOP_LEVEL_NAMES, "sessionspec-0.1.0.dist-info"}
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "License-File: LICENSE" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", metadata, flags=re.M))
    assert extras == set(PYPROJECT["project"]["optional-dependencies"])
    assert not {"dev", "bench", "demo"} & extras
