"""``python -m reference_impl``: operator commands for the reference stores.

``keygen`` prints a fresh hash key and block key, in hex, as two
``NAME=value`` lines that a shell, a ``.env`` file, Docker's ``--env-file``
or systemd's ``EnvironmentFile`` can take as they are. More subcommands
(a purge of expired records) can join it under the same parser.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from reference_impl.securecookie import generate_random_key

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit status (argparse exits 2 on bad usage)."""
    args = _parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
