"""``reactor run PATH [ARGS]``: call a function on a running server."""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.console import Console

from reactor.cli._client import fail, request
from reactor.errors import InvalidValueError
from reactor.values import convex_to_json, json_to_convex

out = Console()


def run(path: str, args_text: str, *, url: str, app_dir: Path) -> None:
    try:
        args = json_to_convex(orjson.loads(args_text))
    except (orjson.JSONDecodeError, InvalidValueError) as exc:
        fail(f"ARGS must be a JSON object: {exc}")
    if not isinstance(args, dict):
        fail('ARGS must be a JSON object, like \'{"channel": "general"}\'')
    response = request(
        "POST",
        f"{url.rstrip('/')}/api/function",
        app_dir,
        json={"path": path, "args": convex_to_json(args), "format": "json"},
    )
    try:
        body = response.json()
    except ValueError:
        fail(f"the server answered {response.status_code}: {response.text[:200]}")
    for line in body.get("logLines") or []:
        out.print(f"[dim]{line}[/dim]", highlight=False)
    if body.get("status") != "success":
        message = body.get("errorMessage") or response.text
        data = body.get("errorData")
        fail(f"{message}" + (f"\nerror data: {orjson.dumps(data).decode()}" if data else ""))
    out.print_json(orjson.dumps(body.get("value")).decode())
