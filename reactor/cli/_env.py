"""``reactor env set|get|list|remove``: through the running server's admin API.

The variables live in the database, which the server holds: the CLI asks it.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from reactor.cli._client import fail, request

out = Console()


def env_command(
    action: str, name: str | None, value: str | None, *, url: str, app_dir: Path
) -> None:
    base = f"{url.rstrip('/')}/api/admin/env"
    if action == "set":
        response = request("POST", base, app_dir, json={"name": name, "value": value})
    elif action == "remove":
        response = request("DELETE", f"{base}/{name}", app_dir)
    else:
        response = request("GET", base, app_dir)
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        fail(f"{message} (HTTP {response.status_code})")
    if action == "set":
        out.print(f"set {name}")
    elif action == "remove":
        out.print(f"removed {name}")
    elif action == "get":
        variables = response.json()["variables"]
        if name not in variables:
            fail(f"{name} is not set")
        out.print(variables[name], highlight=False, markup=False)
    else:
        table = Table("name", "value")
        for key, val in sorted(response.json()["variables"].items()):
            table.add_row(key, val)
        out.print(table)
