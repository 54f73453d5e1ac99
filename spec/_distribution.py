"""Which top-level names the ``sessionspec`` distribution claims, and a check that they are ours.

The wheel installs three generic top-level packages: ``spec``,
``reference_impl`` and ``conformance``. PyPI has other distributions that
install a ``spec`` (a nose plugin) and a ``conformance``, and many
applications keep a ``spec/`` folder of their own. Whichever comes first on
``sys.path`` wins, and without a check the failure surfaces far from its
cause (``No module named 'spec.errors'``) or, worse, not at all. Each of our
packages carries the marker attribute :data:`MARKER`; :func:`check_sibling`
imports a sibling and raises an :class:`ImportError` naming sessionspec and
the path it found when the marker is missing.

``reference_impl`` and ``conformance`` cannot call :func:`check_sibling` to
vet ``spec`` itself: when ``spec`` is someone else's, this module is
unreachable. Their ``__init__`` files therefore repeat the check for
``spec`` inline, with the same message (see :func:`shadowed_message`;
``tests/test_packaging.py`` holds the two to it).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

__all__ = ["DISTRIBUTION", "MARKER", "TOP_LEVEL_NAMES", "check_sibling", "shadowed_message"]

DISTRIBUTION: Final = "sessionspec"
#: The module attribute, set to ``True``, that each of our packages defines.
MARKER: Final = "__sessionspec__"
#: Every top-level name the wheel installs; nothing else is claimed.
TOP_LEVEL_NAMES: Final = ("spec", "reference_impl", "conformance")


def _location(module: ModuleType) -> str:
    """Where ``module`` was loaded from: its ``__init__`` file, or a namespace package's folders."""
    where = getattr(module, "__file__", None)
    if where:
        return str(where)
    return ", ".join(str(p) for p in getattr(module, "__path__", [])) or "<unknown location>"


def shadowed_message(name: str, found_at: str, needed_by: str) -> str:
    """The one wording of the "someone else's package" error, for every guard.

    It names the distribution, the path Python found and both ways out, so the
    reader does not have to work out why ``spec.errors`` is missing.
    """
    return (
        f"{DISTRIBUTION}: the top-level package {name!r} imported from {found_at} "
        f"is not {DISTRIBUTION}'s, so {needed_by!r} cannot load. Another {name!r} comes "
        f"first on sys.path: rename your own {name!r} folder or module, or uninstall the "
        f"other {name!r} distribution (pip uninstall {name}) and then reinstall "
        f"{DISTRIBUTION}, which installs the top-level packages "
        f"{', '.join(TOP_LEVEL_NAMES)}."
    )


def check_sibling(name: str, needed_by: str) -> ModuleType:
    """Import the top-level package ``name`` and return it if it is sessionspec's.

    ``needed_by`` is the module asking, for the message.

    Raises:
        ImportError: ``name`` resolves to a package without the
            :data:`MARKER` attribute (someone else's ``spec`` or
            ``conformance`` first on ``sys.path``); the message names the
            path found.
    """
    module = importlib.import_module(name)
    if getattr(module, MARKER, None) is not True:
        raise ImportError(shadowed_message(name, _location(module), needed_by), name=name)
    return module
