"""One test case per registered simulator op, gathered from the modules of this package.

Each module defines CASES: dict[op_name, callable]; the callable runs the op on a tiny input with fixed
parameters and asserts on the result (shape, dtype, range and one property of the op).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable


def all_cases() -> dict[str, Callable[[], None]]:
    cases: dict[str, Callable[[], None]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, case in getattr(module, "CASES", {}).items():
            if name in cases:
                raise RuntimeError(f"two op cases for {name}")
            cases[name] = case
    return cases
