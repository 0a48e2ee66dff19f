"""Model registry: `create_model(name)` builds any registered edge model; tests enumerate `list_models()`."""

from edge_models.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
