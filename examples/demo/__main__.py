"""``python -m examples.demo``: serve the demo with uvicorn on ``HOST:PORT`` (127.0.0.1:8000)."""

from __future__ import annotations

import logging

import uvicorn

from examples.demo.app import build_app
from examples.demo.config import config_from_env


def main() -> None:
    """Read the configuration from the environment and serve until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = config_from_env()
    logging.getLogger("examples.demo").info(
        "%d key pair(s); signing with the first. Session files in %s",
        len(config.key_pairs) // 2,
        config.session_dir,
    )
    uvicorn.run(build_app(config), host=config.host, port=config.port)


if __name__ == "__main__":
    main()
