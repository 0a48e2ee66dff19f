"""A small registry of model constructors, so tests and exporters can enumerate every model."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn

from cardlive.errors import ParameterError

ModelFactory = Callable[[], nn.Module]
F = TypeVar("F", bound=ModelFactory)
_MODELS: dict[str, ModelFactory] = {}


def register_model(name: str) -> Callable[[F], F]:
    """Decorator registering a zero-argument model constructor under `name`."""

    def wrap(factory: F) -> F:
        if name in _MODELS:
            raise RuntimeError(f"model {name!r} registered twice")
        _MODELS[name] = factory
        return factory

    return wrap


def _load_all() -> None:
    import edge_models.models.ovd
    import edge_models.models.recapture  # noqa: F401  (registers)


def list_models() -> list[str]:
    _load_all()
    return sorted(_MODELS)


def create_model(name: str) -> nn.Module:
    """A freshly initialised model (weights are loaded separately)."""
    _load_all()
    if name not in _MODELS:
        raise ParameterError(f"unknown model {name!r}; expected one of {sorted(_MODELS)}")
    return _MODELS[name]()
