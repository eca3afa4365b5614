"""The ``reactor`` command line (typer)."""

from reactor.cli._app import app, main

__all__ = ["app", "main"]
