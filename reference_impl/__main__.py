"""``python -m reference_impl``: operator commands for the reference stores.

``keygen`` prints a fresh hash key and block key, in hex, as two
``NAME=value`` lines that a shell, a ``.env`` file, Docker's ``--env-file``
or systemd's ``EnvironmentFile`` can take as they are.

``purge module:attribute`` deletes a store's expired records once and
prints how many, for cron, a systemd timer or a Kubernetes CronJob. The
attribute is the app's store, or a function of no arguments returning it.
It exits 0 on success, 1 if the backend failed (the error is printed) and
2 if the name does not lead to a store that can purge.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Sequence

from reference_impl.purge import purge_once
from reference_impl.securecookie import generate_random_key
from spec.errors import ConfigurationError, StoreError

__all__ = ["main"]

#: Bytes of the HMAC-SHA256 hash key: the digest size, as gorilla recommends (32 or 64).
HASH_KEY_BYTES = 32
#: Bytes of the AES block key: 32 selects AES-256.
BLOCK_KEY_BYTES = 32


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_prefix(text: str) -> str:
    """A prefix that makes valid environment variable names, or a usage error saying so."""
    if not _ENV_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not usable in a variable name: use letters, digits and _, "
            "not starting with a digit (e.g. MYAPP_SESSION)"
        )
    return text


def _keygen(args: argparse.Namespace) -> int:
    """Print a new key pair from the OS CSPRNG.

    The keys go to standard output only and are never written to a file or a
    log by this command: where they are kept is the operator's choice, and a
    file this command made would outlive the terminal with default
    permissions. Keys must be generated once and kept: a key made at every
    start-up signs everybody out on each restart.
    """
    prefix = args.prefix
    hash_key = generate_random_key(HASH_KEY_BYTES).hex()
    block_key = generate_random_key(BLOCK_KEY_BYTES).hex()
    print(
        f"# sessionspec keys: keep them secret and stable; new keys sign everyone out.\n"
        f"{prefix}_HASH_KEY={hash_key}\n"
        f"{prefix}_BLOCK_KEY={block_key}\n"
        f'# load: CookieStore(bytes.fromhex(os.environ["{prefix}_HASH_KEY"]), '
        f'bytes.fromhex(os.environ["{prefix}_BLOCK_KEY"]))'
    )
    return 0


def _load_store(spec: str) -> object:
    """The store ``module:attribute`` names (calling the attribute if it is a factory)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(
            f"{spec!r} is not module:attribute (e.g. myapp.sessions:store or "
            "myapp.sessions:make_store)"
        )
    sys.path.insert(0, os.getcwd())  # as python -m does for the current directory
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r}: {exc}") from exc
    found = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ConfigurationError(f"{module_name!r} has no attribute {attribute!r}")
        found = getattr(found, part)
    if not hasattr(found, "purge_expired") and callable(found):
        found = found()  # a factory: make the store
    return found


def _purge(args: argparse.Namespace) -> int:
    """Purge once; report the count, or why not."""
    store: object = None
    try:
        store = _load_store(args.store)
        count = purge_once(store)
    except ConfigurationError as exc:
        print(f"purge: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"purge: the backend failed: {exc}", file=sys.stderr)
        return 1
    finally:
        _close_quietly(store)
    print(f"purged {count} expired sessions from {type(store).__name__}")
    return 0


def _close_quietly(store: object) -> None:
    close = getattr(store, "close", None)
    if not callable(close):
        return
    with contextlib.suppress(Exception):
        result = close()
        if inspect.isawaitable(result):
            asyncio.run(_wait(result))


async def _wait(result: object) -> None:
    assert inspect.isawaitable(result)
    await result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reference_impl",
        description="Operator commands for sessionspec's reference stores.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    keygen = commands.add_parser(
        "keygen",
        help="print a fresh hash/block key pair in hex",
        description=(
            f"Print a new {HASH_KEY_BYTES}-byte hash key (HMAC-SHA256) and a new "
            f"{BLOCK_KEY_BYTES}-byte block key (AES-256) from the operating system's "
            "random source, as hex NAME=value lines; load them with bytes.fromhex()."
        ),
    )
    keygen.add_argument(
        "--prefix",
        default="SESSION",
        type=_env_prefix,
        help="variable name prefix (default: SESSION, giving SESSION_HASH_KEY and "
        "SESSION_BLOCK_KEY)",
    )
    keygen.set_defaults(run=_keygen)
    purge = commands.add_parser(
        "purge",
        help="delete a store's expired sessions once and print how many",
        description=(
            "Import STORE (module:attribute: the app's store, or a function of no "
            "arguments returning it), run its purge_expired() once and print the count. "
            "Exit status: 0 done, 1 the backend failed, 2 no store that can purge. "
            "Run it from cron or a systemd timer; see docs/guide.md, 'Timeouts'."
        ),
    )
    purge.add_argument("store", metavar="STORE", help="module:attribute naming the store")
    purge.set_defaults(run=_purge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit status (argparse exits 2 on bad usage)."""
    args = _parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
