"""Function definitions, references and the app loader."""

from reactor.functions._definitions import (
    FunctionDefinition,
    FunctionKind,
    Visibility,
    action,
    internal_action,
    internal_mutation,
    internal_query,
    mutation,
    query,
)
from reactor.functions._loader import App, load_app
from reactor.functions._references import (
    FunctionReference,
    api,
    canonical_path,
    function_path,
    internal,
)

__all__ = [
    "App",
    "FunctionDefinition",
    "FunctionKind",
    "FunctionReference",
    "Visibility",
    "action",
    "api",
    "canonical_path",
    "function_path",
    "internal",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "load_app",
    "mutation",
    "query",
]
