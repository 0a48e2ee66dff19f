"""Registry of the simulator's image operations.

Every pure image operation registers itself here. `tests/op_cases` holds one test case per registered op and a
test walks this registry, so an op added without a test case fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class OpSpec:
    name: str
    module: str
    func: Callable[..., Any]


_REGISTRY: dict[str, OpSpec] = {}


def register_op(name: str) -> Callable[[F], F]:
    """Decorator: register a pure image operation under a unique dotted name (e.g. 'camera.bayer_mosaic')."""

    def wrap(func: F) -> F:
        if name in _REGISTRY and _REGISTRY[name].func is not func:
            raise RuntimeError(f"op {name!r} registered twice")
        _REGISTRY[name] = OpSpec(name=name, module=func.__module__, func=func)
        return func

    return wrap


def registered_ops() -> dict[str, OpSpec]:
    """All registered ops, after importing every simulator module that defines some."""
    import capture_sim.all_ops  # noqa: F401  (imports populate the registry)

    return dict(_REGISTRY)
