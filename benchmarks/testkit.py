"""The tests' builders, for the benchmarks: graph-built models and scenes (tests/helpers/synthetic.py,
tests/helpers/heavy_model.py) and the tests' KServe server (tests/helpers/kserve_process.py), as
``from testkit import heavy_model``.

They are test code, kept in tests/helpers/ beside the tests that check them, and the benchmarks run from a clone: this is
the one place that reaches into that folder, put last on the path so that nothing in it hides an installed package.
The demo itself is the installed package (``pip install -e '.[test]'``), not the clone's folder.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

HELPERS = {"synthetic", "heavy_model", "kserve_process"}

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))


def __getattr__(name: str) -> ModuleType:
    # Each on first use: kserve_process loads pytest, which most benchmarks do not need.
    if name not in HELPERS:
        raise AttributeError(f"module 'testkit' has no attribute {name!r}")
    return importlib.import_module(f"helpers.{name}")
