"""Load the golden vectors made by Go's gorilla libraries (copied into tests/vectors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTOR_DIR = Path(__file__).parent / "vectors" / "gorilla"


def load_vectors(*kinds: str) -> list[dict[str, Any]]:
    """Every vector whose ``kind`` is one of ``kinds``, in file order."""
    out: list[dict[str, Any]] = []
    for path in sorted(VECTOR_DIR.glob("[0-9]*.json")):
        vector: dict[str, Any] = json.loads(path.read_text())
        if vector["kind"] in kinds:
            vector["_file"] = path.name
            out.append(vector)
    return out
