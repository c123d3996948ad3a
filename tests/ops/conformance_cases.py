"""Where Data-Juicer's conformance vectors live, and one pytest param per file found there."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE_DIR = (
    Path(os.environ.get("HARNESS_SHARED_DIR", REPO_ROOT.parent / "shared"))
    / "conformance"
    / "data-juicer"
)


def conformance_cases() -> list[Any]:
    """A param per *.json file (a new file is picked up with no code change)."""
    files = sorted(CONFORMANCE_DIR.glob("*.json")) if CONFORMANCE_DIR.is_dir() else []
    if not files:
        # Never skip: a missing folder would silently turn the whole check off.
        return [pytest.param(None, id="conformance-folder-missing")]
    return [pytest.param(path, id=path.stem) for path in files]
