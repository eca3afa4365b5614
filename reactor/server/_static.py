"""Static files of an app: ``<app>/public/`` at ``/`` and the npm ``convex`` package.

An app with a ``public/`` folder gets a web page served by ``reactor serve``:

- ``/`` and any other path: files under ``<app>/public/`` (``index.html`` for a
  folder, ``404.html`` if present for a missing file);
- ``/vendor/convex/<path>``: files of the npm ``convex`` package as npm installed
  it, found the way Node resolves a bare import: ``node_modules/convex`` in the
  app folder or the nearest parent that has one. A page then loads the official
  browser client with no build step, e.g.
  ``import { ConvexClient } from "/vendor/convex/dist/esm/browser/index.js"``.
  The package is looked up on each request until found, so running ``npm ci``
  while the server runs works; while it is missing the answer is a 404 whose
  text says how to install it.

The routes go *after* every API and HTTP-action route: the last one matches
every path, so whatever is listed before it takes precedence. An app without
``public/`` gets no routes at all.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

__all__ = ["VENDOR_PREFIX", "find_npm_package", "static_routes"]

VENDOR_PREFIX = "/vendor/convex"
PACKAGE = "convex"


def find_npm_package(start: Path, name: str = PACKAGE) -> Path | None:
    """The folder of npm package ``name`` installed for ``start``: the first
    ``node_modules/<name>`` (holding a package.json) in ``start`` or a parent."""
    for folder in (start, *start.parents):
        package = folder / "node_modules" / name
        if (package / "package.json").is_file():
            return package
    return None


def _install_hint(app_dir: Path) -> str:
    if (app_dir / "package-lock.json").is_file():
        command = f"npm ci --prefix {app_dir}"
    elif (app_dir / "package.json").is_file():
        command = f"npm install --prefix {app_dir}"
    else:
        command = f"npm install --prefix {app_dir} {PACKAGE}"
    return (
        f"The npm package '{PACKAGE}' (the official Convex browser client) is not installed "
        f"for {app_dir}.\nInstall it with:\n\n    {command}\n\nthen reload this page."
    )


class _HttpOnly:
    """Refuses WebSocket connections (StaticFiles only speaks HTTP)."""

    def __init__(self, app: StaticFiles | _NpmPackage) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await WebSocketClose()(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _NpmPackage:
    """The files of an npm package, found on the first request that needs them."""

    def __init__(self, app_dir: Path, name: str) -> None:
        self.app_dir = app_dir
        self.name = name
        self._files: StaticFiles | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._files is None:
            package = find_npm_package(self.app_dir, self.name)
            if package is None:
                response = PlainTextResponse(_install_hint(self.app_dir), status_code=404)
                await response(scope, receive, send)
                return
            # follow_symlink: `npm link` and some installers symlink packages.
            self._files = StaticFiles(directory=package, follow_symlink=True)
        await self._files(scope, receive, send)


def static_routes(app_dir: str | Path | None) -> list[BaseRoute]:
    """Routes serving ``<app_dir>/public`` at ``/`` and the npm ``convex`` package at
    ``/vendor/convex``; none when the app has no ``public/`` folder. Put them last."""
    if app_dir is None:
        return []
    root = Path(app_dir).resolve()
    public = root / "public"
    if not public.is_dir():
        return []
    return [
        Mount(VENDOR_PREFIX, app=_HttpOnly(_NpmPackage(root, PACKAGE))),
        Mount("/", app=_HttpOnly(StaticFiles(directory=public, html=True))),
    ]
