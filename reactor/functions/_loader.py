"""Load an app folder: ``schema.py``, ``auth.py`` and every module under ``functions/``.

Each load imports the app under a fresh package name (``reactor_app_<n>``),
so several apps live in one process, a reload sees the new code, and no app
module shadows an installed package.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import pkgutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from reactor.errors import FunctionNotFoundError, SchemaError
from reactor.functions._definitions import FunctionDefinition
from reactor.functions._references import function_path

__all__ = ["App", "load_app"]

_counter = itertools.count(1)
_import_lock = threading.Lock()


@dataclass
class App:
    """Everything an app folder declares."""

    directory: Path | None
    functions: dict[str, FunctionDefinition] = field(default_factory=dict)
    schema: Any = None
    modules: dict[str, ModuleType] = field(default_factory=dict)
    package: str = ""

    def module_attr(self, module: str, name: str) -> Any:
        mod = self.modules.get(module)
        return getattr(mod, name, None) if mod is not None else None

    def lookup(self, ref: Any, *, allow_internal: bool = True) -> FunctionDefinition:
        """The function a path names; internal ones only when ``allow_internal``."""
        path = function_path(ref)
        fn = self.functions.get(path)
        if fn is None or (fn.visibility == "internal" and not allow_internal):
            raise FunctionNotFoundError(f"Could not find public function for '{path}'")
        return fn

    def register(self, path: str, fn: FunctionDefinition) -> None:
        if path in self.functions and self.functions[path] is not fn:
            raise SchemaError(f"function {path} is registered twice")
        fn.path = path
        self.functions[path] = fn


def load_app(directory: str | Path) -> App:
    """Import the app in ``directory`` and register its functions."""
    root = Path(directory).resolve()
    functions_dir = root / "functions"
    if not functions_dir.is_dir() and not (root / "schema.py").is_file():
        raise FileNotFoundError(f"{root} is not an app: it has neither functions/ nor schema.py")
    with _import_lock:
        package = f"reactor_app_{next(_counter)}"
        pkg = ModuleType(package)
        pkg.__path__ = [str(root)]
        pkg.__file__ = None
        sys.modules[package] = pkg
        app = App(directory=root, package=package)
        if (root / "schema.py").is_file():
            schema_module = importlib.import_module(f"{package}.schema")
            app.schema = getattr(schema_module, "schema", None)
            if app.schema is None:
                raise SchemaError(f"{root / 'schema.py'} defines no `schema`")
        if functions_dir.is_dir():
            _load_functions(app, package, functions_dir)
    return app


def _load_functions(app: App, package: str, functions_dir: Path) -> None:
    fpkg_name = f"{package}.functions"
    fpkg = importlib.import_module(fpkg_name)
    names = [fpkg_name]
    names += [
        info.name for info in pkgutil.walk_packages(list(fpkg.__path__), prefix=fpkg_name + ".")
    ]
    for name in sorted(names):
        module = importlib.import_module(name)
        relative = name[len(fpkg_name) + 1 :].replace(".", "/")
        if relative:
            app.modules[relative] = module
        for attr, value in vars(module).items():
            if not isinstance(value, FunctionDefinition):
                continue
            if getattr(value.handler, "__module__", None) != module.__name__:
                continue  # imported from another module: registered there
            if not relative:
                raise SchemaError(
                    f"functions/__init__.py defines {attr}: define functions in a module"
                )
            app.register(f"{relative}:{attr}", value)
