"""``python -m conformance``: the per-clause report and its exit status."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance._profiles import PROFILE_ENV

ROOT = Path(__file__).parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_builtin_stores_pass_with_a_row_per_clause(tmp_path: Path) -> None:
    """With no argument the three built-in stores are checked and all pass."""
    result = run(cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("clause"))
    assert header.split()[-3:] == ["memory", "cookie", "filesystem"]
    rows = [line for line in lines if line.startswith("S-")]
    assert len(rows) >= 25
    assert all("FAIL" not in row for row in rows)
    assert any(
        row.startswith("S-10.5 ") and row.split()[-3:] == ["pass", "skip", "pass"] for row in rows
    )
    assert "PASS:" in result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working directory


def test_a_broken_factory_fails_on_its_clause(tmp_path: Path) -> None:
    """A factory whose delete claims records it did not remove fails the report on S-10.5."""
    (tmp_path / "broken_factory.py").write_text(
        "from tests._broken_stores import DeleteClaimsEverything\n"
        "def factory(clock, *keys):\n"
        "    return DeleteClaimsEverything(clock, *keys)\n"
        "factory.capabilities = {'server_side': True, 'id_sample_size': 200}\n"
    )
    env_path = f"{tmp_path}{os.pathsep}{ROOT}"
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "broken_factory:factory"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": env_path},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("S-10.5 "))
    assert row.split()[-1] == "FAIL"
    assert "FAIL:" in result.stdout
    assert "test_s10_5_regenerate_after_logout_is_refused" in result.stdout


def test_unloadable_factory_is_a_usage_error(tmp_path: Path) -> None:
    """A factory that cannot be imported exits 2 with a clear message."""
    result = run("no_such_module:factory", cwd=tmp_path)
    assert result.returncode == 2
    assert "no_such_module:factory" in result.stderr
    result = run("missing-colon", cwd=tmp_path)
    assert result.returncode == 2
    assert "expected module:factory" in result.stderr


def run_factories(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Write ``source`` as ``factories.py`` in ``tmp_path`` and run the CLI there."""
    (tmp_path / "factories.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def row(result: subprocess.CompletedProcess[str], clause: str) -> list[str]:
    """The cells of ``clause``'s row (one per store)."""
    (line,) = [x for x in result.stdout.splitlines() if x.startswith(f"{clause} ")]
    return line.split()


def test_help_documents_the_factory_protocol_levels_and_profiles(tmp_path: Path) -> None:
    """``--help`` names every factory attribute and hook, the levels and the profile variable."""
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for word in (
        "factory(clock, *key_pairs)",
        "capabilities",
        "label",
        "break_backend(store)",
        "make_store_with_keys(clock, *key_pairs)",
        "raw_record(store, session_id)",
        "close_store(store)",
        "--level",
        "cookie",
        "server-side",
        "lifetimes",
        "SESSIONSPEC_HYPOTHESIS_PROFILE",
        "-k EXPR",
    ):
        assert word in result.stdout, word


def test_declaring_less_does_not_skip_what_the_store_does(tmp_path: Path) -> None:
    """Observed capabilities are checked, not trusted; missing ones are named, not AttributeError.

    A memory store that declares nothing is still server-side (its cookie
    holds an ID), so S-10.7 and S-10.9 run and pass; a wrapper declaring
    purge_expired without the method fails with a message saying so.
    """
    result = run_factories(
        tmp_path,
        """
        from reference_impl.memory import MemoryStore

        def quiet(clock, *keys):
            return MemoryStore(*(keys or (b"h" * 32,)), clock=clock)

        class NoPurge:
            def __init__(self, inner):
                self.inner = inner
            def get(self, request, name):
                return self.inner.get(request, name)
            def new(self, request, name):
                return self.inner.new(request, name)
            def save(self, request, response, session):
                return self.inner.save(request, response, session)

        def boastful(clock, *keys):
            return NoPurge(MemoryStore(*(keys or (b"h" * 32,)), clock=clock))
        boastful.capabilities = {"server_side": True, "purge_expired": True}
        """,
        "-k",
        "s10_7 or s10_9",
        "factories:quiet",
        "factories:boastful",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert row(result, "S-10.7")[-2] == "pass"
    assert row(result, "S-10.9")[-2:] == ["pass", "FAIL"]
    assert "has no purge_expired() method" in result.stdout
    assert "AttributeError" not in result.stdout


def test_level_is_reported_and_enforced(tmp_path: Path) -> None:
    """``--level server-side`` exits 1 unless every store reached it, and says what is missing."""
    no_outage_hook = """
        from reference_impl import MemoryStore

        def factory(clock, *keys):
            return MemoryStore(*(keys or (b"h" * 32,)), clock=clock)

        factory.capabilities = {"record_deadlines": True}
        """
    result = run_factories(tmp_path, no_outage_hook, "--level", "server-side", "factories:factory")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    reached = lines[lines.index("level reached:") + 1]
    assert reached.endswith(": cookie (server-side needs S-10.4)"), reached
    assert "the factory has no break_backend(store) hook: add one" in result.stdout
    assert "FAIL: not every store reached --level server-side" in result.stdout
    result = run_factories(tmp_path, no_outage_hook, "--level", "cookie", "factories:factory")
    assert result.returncode == 0, result.stdout + result.stderr
    # The built-in memory factory has the outage hook: it reaches the level.
    result = run("--level", "server-side", "reference_impl.testing:memory", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[lines.index("level reached:") + 1] == "  memory: server-side"


def test_subset_passthrough_and_full_state_machine_failure(tmp_path: Path) -> None:
    """``-k`` runs a subset, ``--`` passes pytest flags, and a machine failure shows its steps."""
    result = run_factories(
        tmp_path,
        """
        from reference_impl.cookie_store import CookieStore

        class KeepsOneValue(CookieStore):
            def new(self, request, name):
                session = super().new(request, name)
                first = dict(list(session.values.items())[:1])
                session.values.clear()
                session.values.update(first)
                return session

        def factory(clock, *keys):
            return KeepsOneValue(*(keys or (b"h" * 32,)), clock=clock)
        """,
        "-k",
        "s9_19",
        "factories:factory",
        "--",
        "-x",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert row(result, "S-9.19")[-1] == "FAIL"
    assert row(result, "S-9.2")[-1] == "-"  # not selected
    assert "S-9.20, S-9.21" in result.stdout and "not run: deselected" in result.stdout
    failure = result.stdout[result.stdout.index("failed: factories: test_s9_19") :]
    # The failing steps, in full, as Hypothesis shrank them, not the last lines only.
    assert "Failing test case: <state machine>" in failure, failure
    assert "state.set_value(" in failure and "reproduce_failure" in failure, failure


def test_unawaited_coroutines_are_reported(tmp_path: Path) -> None:
    """A store that drops a coroutine unawaited gets a warning line in the report."""
    result = run_factories(
        tmp_path,
        """
        from reference_impl.cookie_store import CookieStore

        class Forgetful(CookieStore):
            def new(self, request, name):
                async def audit():
                    return None
                audit()  # forgot to await
                return super().new(request, name)

        def factory(clock, *keys):
            return Forgetful(*(keys or (b"h" * 32,)), clock=clock)
        """,
        "-k",
        "s9_2_",
        "factories:factory",
    )
    assert "coroutine" in result.stdout and "was never awaited" in result.stdout, result.stdout
    assert "an async method was called without await" in result.stdout


def test_key_pairs_go_to_the_factory_or_the_skip_says_what_to_add(tmp_path: Path) -> None:
    """A cookie store gets its key pairs through ``factory(clock, *key_pairs)``.

    A server-side store without ``with_keys`` or a key hook is not rebuilt
    on a new backend (rotation could not be seen): S-9.13 skips with a
    reason naming the hook to add. Without ``raw_record``, S-10.5 and S-10.7
    show as partly run.
    """
    result = run_factories(
        tmp_path,
        """
        from reference_impl.cookie_store import CookieStore
        from reference_impl.memory import MemoryStore

        class Plain:
            def __init__(self, inner):
                self.inner = inner
            def get(self, request, name):
                return self.inner.get(request, name)
            def new(self, request, name):
                return self.inner.new(request, name)
            def save(self, request, response, session):
                return self.inner.save(request, response, session)

        def cookie(clock, *keys):
            return Plain(CookieStore(*(keys or (b"h" * 32,)), clock=clock))

        def server(clock, *keys):
            return Plain(MemoryStore(*(keys or (b"h" * 32,)), clock=clock))
        """,
        "-k",
        "s9_13 or s10_5 or s10_7",
        "factories:cookie",
        "factories:server",
    )
    assert row(result, "S-9.13")[-2:] == ["pass", "skip"], result.stdout
    assert "add a make_store_with_keys(clock, *key_pairs) hook" in result.stdout
    # No backend to read and no raw_record hook: the storage checks are named
    # skips, and a clause checked only in part never shows as "pass".
    assert row(result, "S-10.5")[-1] == "part", result.stdout
    assert row(result, "S-10.7")[-1] == "part", result.stdout
    assert "partly skipped: the factory has no raw_record(store, session_id) hook" in (
        result.stdout
    )


def test_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    """A profile name that does not exist exits 2 and lists the ones that do."""
    result = subprocess.run(
        [sys.executable, "-m", "conformance"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), PROFILE_ENV: "fast"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "dev, ci, thorough" in result.stderr


def test_a_pooled_database_never_runs_out_of_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite closes every store it makes: two whole runs against PostgreSQL with
    ``max_connections=12``, each store with its own pool, never see "too many clients".

    Before stores were closed, each of the suite's hundreds of stores kept its
    pooled connections open until the process ended, and the run failed at
    random with ``FATAL: sorry, too many clients already``.
    """
    from tests.backends._postgres_server import PostgresServer, require_bin_dir

    server = PostgresServer(require_bin_dir(), max_connections=12)
    try:
        server.start()
        source = """
            import os
            import uuid

            from reference_impl.sql import SQLStore

            def factory(clock, *keys):
                # As an outside author writes it: a store that owns its engine and pool.
                return SQLStore(
                    *(keys or (b"h" * 32, b"b" * 32)),
                    url=os.environ["CONFORMANCE_PG_URL"],
                    table=f"sessions_{uuid.uuid4().hex[:12]}",
                    clock=clock,
                )
            factory.label = "postgres"
            factory.capabilities = {"record_deadlines": True}
        """
        monkeypatch.setenv("CONFORMANCE_PG_URL", server.url)
        for _ in range(2):
            result = run_factories(tmp_path, source, "factories:factory")
            output = result.stdout + result.stderr
            assert "too many clients" not in output, output
            assert result.returncode == 0, output
    finally:
        server.cleanup()
