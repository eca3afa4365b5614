"""Headless Chromium driven over the Chrome DevTools Protocol, just enough for page tests.

``async with Browser.launch(chromium, profile_dir) as browser`` starts Chromium
with a fresh profile and connects to it; ``await browser.new_page()`` opens a
page in a browser context of its own (separate storage, like a separate
user); pages navigate, evaluate JavaScript, wait for conditions, type, and
take screenshots. Failures carry the page's console output and errors.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--remote-debugging-port=0",
)


class CdpError(RuntimeError):
    pass


class Browser:
    def __init__(self, process: subprocess.Popen[bytes], socket: ClientConnection) -> None:
        self.process = process
        self._socket = socket
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls, executable: str, profile_dir: Path) -> AsyncIterator[Browser]:
        process, url = await asyncio.to_thread(_start, executable, profile_dir)
        browser: Browser | None = None
        try:
            socket = await connect(url, max_size=None, ping_interval=None)
            browser = cls(process, socket)
            yield browser
        finally:
            if browser is not None:
                await browser._close()
            await asyncio.to_thread(_stop, process)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await self._socket.send(json.dumps(message))
        return await asyncio.wait_for(future, 30)

    async def new_page(self, width: int = 1100, height: int = 720) -> Page:
        context = (await self.send("Target.createBrowserContext"))["browserContextId"]
        target = await self.send(
            "Target.createTarget",
            {"url": "about:blank", "browserContextId": context, "width": width, "height": height},
        )
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        self._pages[page.session] = page
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            await page.send(domain)
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return page

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                message = json.loads(raw)
                if "id" in message:
                    future = self._pending.pop(message["id"], None)
                    if future is None or future.done():
                        continue
                    if "error" in message:
                        future.set_exception(CdpError(json.dumps(message["error"])))
                    else:
                        future.set_result(message.get("result", {}))
                elif (page := self._pages.get(message.get("sessionId", ""))) is not None:
                    page._event(message["method"], message.get("params", {}))
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CdpError("the DevTools connection closed"))

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send("Browser.close"), 5)
        await self._socket.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


def _start(executable: str, profile_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start Chromium on a fresh profile; its DevTools URL once it listens."""
    profile_dir.mkdir(parents=True, exist_ok=True)
    log = profile_dir.parent / f"{profile_dir.name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    port_file = profile_dir / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CdpError(f"chromium exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(FileNotFoundError):
            lines = port_file.read_text().splitlines()
            if len(lines) >= 2:
                return process, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.05)
    _stop(process)
    raise CdpError(f"chromium did not open its DevTools port in 30 s: {log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session
        self.console: list[str] = []

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.browser.send(method, params, self.session)

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled":
            text = " ".join(
                str(arg.get("value", arg.get("description", ""))) for arg in params["args"]
            )
            self.console.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            description = details.get("exception", {}).get("description", details.get("text"))
            self.console.append(f"uncaught: {description}")
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.console.append(f"{entry['level']}: {entry['text']} {entry.get('url', '')}")

    async def goto(self, url: str) -> None:
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError(f"navigating to {url} failed: {result['errorText']}")
        await self.wait_for("document.readyState === 'complete'", what=f"{url} to load")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CdpError(
                f"{expression!r} threw: "
                + details.get("exception", {}).get("description", details.get("text", ""))
            )
        return result["result"].get("value")

    async def wait_for(self, expression: str, *, what: str = "", within: float = 10) -> Any:
        """Poll ``expression`` until it is truthy (for at most ``within`` s); return it."""
        deadline = time.monotonic() + within
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                body = await self.evaluate("document.body ? document.body.innerText : ''")
                raise AssertionError(
                    f"timed out after {within} s waiting for {what or expression}\n"
                    f"page text:\n{body}\nconsole:\n" + "\n".join(self.console)
                )
            await asyncio.sleep(0.05)

    async def type(self, selector: str, text: str) -> None:
        """Focus ``selector`` and type ``text`` as keyboard input (fires input events)."""
        await self.send("Page.bringToFront")
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        for char in text:
            await self.send("Input.insertText", {"text": char})

    async def press_enter(self) -> None:
        key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        await self.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **key})
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", **key})

    async def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        data = await self.send("Page.captureScreenshot", {"format": "png"})
        return base64.b64decode(data["data"])
