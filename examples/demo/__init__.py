"""A small Starlette app showing sessionspec as a user would use it.

Run it with ``python -m examples.demo`` and open http://127.0.0.1:8000/;
see ``examples/demo/README.md``.
"""

from examples.demo.app import build_app
from examples.demo.config import DemoConfig, config_from_env

__all__ = ["DemoConfig", "build_app", "config_from_env"]
