"""Configuration of the demo app, read from environment variables.

``SESSION_KEYS``
    Comma-separated hex keys, in pairs: ``hash,block[,old_hash,old_block...]``.
    The first pair signs and encrypts everything new; every pair is tried when
    reading, so prepending a new pair rotates keys without logging anyone out.
    Drop the old pair once cookies signed with it have expired. Unset, the
    demo makes throwaway keys and logs a warning: every restart then logs
    everyone out, which is fine for a demo and wrong for anything else.
``SESSION_DIR``
    Where the ``FilesystemStore`` keeps its files (default: a ``sessionspec-demo``
    directory in the system's temporary directory).
``SESSION_SECURE``
    ``1`` marks every cookie ``Secure`` (use it behind HTTPS).
``HOST``, ``PORT``
    Where ``python -m examples.demo`` listens (default ``127.0.0.1:8000``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reference_impl.securecookie import generate_random_key

__all__ = ["DemoConfig", "config_from_env", "parse_key_pairs", "throwaway_keys"]

log = logging.getLogger("examples.demo")

#: How long "remember me" keeps a login, and the longest any cookie is accepted.
REMEMBER_SECONDS = 30 * 86400


@dataclass(frozen=True)
class DemoConfig:
    """Everything :func:`examples.demo.app.build_app` needs.

    ``key_pairs`` is a flat tuple ``(hash, block, old_hash, old_block, ...)``
    as the stores take it.
    """

    key_pairs: tuple[bytes, ...]
    session_dir: Path
    secure_cookies: bool = False
    remember_seconds: int = REMEMBER_SECONDS
    host: str = "127.0.0.1"
    port: int = 8000


def parse_key_pairs(text: str) -> tuple[bytes, ...]:
    """Parse ``SESSION_KEYS``: an even number of comma-separated hex keys.

    Raises :class:`ValueError` with a readable message on a malformed value,
    so a typo stops the app at start-up instead of signing with a bad key.
    (Key lengths are checked by the stores themselves.)
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or len(parts) % 2:
        raise ValueError(
            "SESSION_KEYS must hold pairs of hex keys: hash,block[,old_hash,old_block...]; "
            f"got {len(parts)} key(s)"
        )
    try:
        return tuple(bytes.fromhex(part) for part in parts)
    except ValueError as exc:
        raise ValueError(f"SESSION_KEYS: a key is not valid hex: {exc}") from None


def throwaway_keys() -> tuple[bytes, ...]:
    """One random (hash, block) pair, for a demo started without ``SESSION_KEYS``."""
    return (generate_random_key(32), generate_random_key(32))


def config_from_env(environ: Mapping[str, str] | None = None) -> DemoConfig:
    """Build the configuration from ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ
    raw_keys = env.get("SESSION_KEYS", "").strip()
    if raw_keys:
        key_pairs = parse_key_pairs(raw_keys)
    else:
        key_pairs = throwaway_keys()
        log.warning(
            "SESSION_KEYS is not set: using throwaway keys, so every restart logs everyone "
            'out. Generate real ones with: python -c "from reference_impl.securecookie '
            "import generate_random_key as g; print(g(32).hex() + ',' + g(32).hex())\""
        )
    default_dir = Path(tempfile.gettempdir()) / "sessionspec-demo"
    return DemoConfig(
        key_pairs=key_pairs,
        session_dir=Path(env.get("SESSION_DIR") or default_dir),
        secure_cookies=env.get("SESSION_SECURE", "") in ("1", "true", "yes"),
        host=env.get("HOST", "127.0.0.1"),
        port=int(env.get("PORT", "8000")),
    )
