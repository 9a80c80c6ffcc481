"""Load a benchmark script (``bench/*.py``, not a package) as a module, for tests of its bookkeeping."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` as a fresh module (each call executes it again)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}_under_test", BENCH_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the script runs
    spec.loader.exec_module(mod)
    return mod
