"""``reactor``: serve an app, develop with reload, call functions, manage env vars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reactor.cli._env import env_command
from reactor.cli._run import run as run_function
from reactor.cli._serve import EventLoop
from reactor.cli._serve import serve as serve_app

app = typer.Typer(
    name="reactor",
    help=(
        "reactor: a Python backend with Convex's semantics.\n\n"
        "An app is a folder with schema.py and a functions/ package. Start with "
        "`reactor dev` in that folder, then open http://127.0.0.1:3210/version."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

AppOption = Annotated[
    Path,
    typer.Option("--app", help="The app folder (schema.py, functions/).", show_default="."),
]
HostOption = Annotated[str, typer.Option("--host", help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option("--port", help="Port to listen on.")]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store URL: sqlite:///path/file.db or mongodb://... "
        "[default: sqlite under <app>/.reactor/]",
    ),
]
LoopOption = Annotated[
    EventLoop,
    typer.Option(
        "--loop",
        help="Event loop: uvloop (faster sockets and timers) when it is installed, "
        "or the standard library's asyncio loop.",
    ),
]
UrlOption = Annotated[
    str, typer.Option("--url", envvar="REACTOR_URL", help="URL of a running reactor server.")
]


@app.command()
def serve(
    app_dir: AppOption = Path("."),
    host: HostOption = "127.0.0.1",
    port: PortOption = 3210,
    db: DbOption = None,
    loop: LoopOption = EventLoop.auto,
) -> None:
    """Serve the app: WebSocket sync, HTTP API, HTTP actions, scheduler."""
    serve_app(app_dir, host=host, port=port, db=db, reload=False, loop=loop)


@app.command()
def dev(
    app_dir: AppOption = Path("."),
    host: HostOption = "127.0.0.1",
    port: PortOption = 3210,
    db: DbOption = None,
    loop: LoopOption = EventLoop.auto,
) -> None:
    """Serve the app and reload functions and schema when files change.

    Connected clients stay connected and receive fresh results.
    """
    serve_app(app_dir, host=host, port=port, db=db, reload=True, loop=loop)


@app.command()
def run(
    path: Annotated[str, typer.Argument(help='Function path, e.g. "messages:list".')],
    args: Annotated[str, typer.Argument(help="Arguments as a JSON object.")] = "{}",
    url: UrlOption = "http://127.0.0.1:3210",
    app_dir: AppOption = Path("."),
) -> None:
    """Call a function (query, mutation or action) on a running server and print the result.

    Uses the admin key, so internal functions can be called too.
    """
    run_function(path, args, url=url, app_dir=app_dir)


env_app = typer.Typer(help="Deployment environment variables (read by ctx.env.get).")
app.add_typer(env_app, name="env")


@env_app.command("set")
def env_set(
    name: str,
    value: str,
    url: UrlOption = "http://127.0.0.1:3210",
    app_dir: AppOption = Path("."),
) -> None:
    """Set NAME to VALUE."""
    env_command("set", name, value, url=url, app_dir=app_dir)


@env_app.command("get")
def env_get(
    name: str, url: UrlOption = "http://127.0.0.1:3210", app_dir: AppOption = Path(".")
) -> None:
    """Print the value of NAME."""
    env_command("get", name, None, url=url, app_dir=app_dir)


@env_app.command("list")
def env_list(url: UrlOption = "http://127.0.0.1:3210", app_dir: AppOption = Path(".")) -> None:
    """List every variable (names and values)."""
    env_command("list", None, None, url=url, app_dir=app_dir)


@env_app.command("remove")
def env_remove(
    name: str, url: UrlOption = "http://127.0.0.1:3210", app_dir: AppOption = Path(".")
) -> None:
    """Remove NAME."""
    env_command("remove", name, None, url=url, app_dir=app_dir)


def main() -> None:
    app()
