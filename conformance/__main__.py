"""``python -m conformance [module:factory ...]``: the per-clause conformance report."""

from __future__ import annotations

import sys

from conformance._report import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
