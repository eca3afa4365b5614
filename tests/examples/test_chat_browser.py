"""The chat example in a real browser: `reactor serve --app examples/chat` and two
headless Chromium pages using the official Convex browser client from npm.

Needs Chromium (installed with apt-get if missing, see chromium.py) and npm (the
example's `convex` dependency is installed into examples/chat/node_modules with
`npm ci`). Both installs happen once; later runs only check them. A missing
prerequisite fails the test with the reason; it never skips.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat"

from cdp import Browser, Page  # noqa: E402
from chromium import ChromiumUnavailable, ensure_chromium  # noqa: E402
from reactor_process import serve_app  # noqa: E402

pytestmark = pytest.mark.anyio

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return ensure_chromium()
    except ChromiumUnavailable as exc:
        pytest.fail(f"headless Chromium is needed for the browser tests: {exc}")


def installed_convex_version() -> str | None:
    package = CHAT / "node_modules" / "convex" / "package.json"
    return json.loads(package.read_text())["version"] if package.is_file() else None


@pytest.fixture(scope="module")
def chat_npm_deps() -> None:
    """`npm ci` in examples/chat unless the locked convex version is installed."""
    lock = json.loads((CHAT / "package-lock.json").read_text())
    wanted = lock["packages"]["node_modules/convex"]["version"]
    if installed_convex_version() == wanted:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to install the chat example's `convex` package")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=CHAT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0 or installed_convex_version() != wanted:
        pytest.fail(f"`npm ci` in {CHAT} failed:\n{result.stdout}{result.stderr}")


@pytest.fixture(scope="module")
def chat_url(chat_npm_deps: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(CHAT, tmp_path_factory.mktemp("chat-db")) as url:
        page = httpx2.get(f"{url}/", timeout=5)
        if page.status_code != 200 or "reactor chat" not in page.text:
            pytest.fail(
                f"`reactor serve --app examples/chat` does not serve public/index.html at / "
                f"(HTTP {page.status_code}): ReactorServer must append "
                "reactor.server._static.static_routes(app.directory) to its routes"
            )
        yield url


def message_bodies(author: str) -> str:
    return (
        "[...document.querySelectorAll('#messages .message')]"
        f".filter(m => m.querySelector('.author').textContent === {json.dumps(author)})"
        ".map(m => m.querySelector('.body').textContent)"
    )


def typing_line() -> str:
    return "document.querySelector('#typing').textContent"


async def open_as(page: Page, url: str, name: str) -> None:
    await page.goto(f"{url}/?name={name}")
    await page.wait_for(
        "document.body.dataset.channel === 'general' && document.body.dataset.connected === 'true'",
        what=f"{name}'s page to connect and load #general",
    )
    assert await page.evaluate("document.querySelector('#me').textContent") == name


async def save_png(page: Page, path: Path) -> bytes:
    png = await page.screenshot()
    await anyio.Path(path).write_bytes(png)
    return png


async def test_two_people_chat_and_see_each_other_typing(
    chromium: str, chat_url: str, tmp_path: Path
) -> None:
    async with Browser.launch(chromium, tmp_path / "profile") as browser:
        ann = await browser.new_page()
        bob = await browser.new_page()
        await open_as(ann, chat_url, "ann")
        await open_as(bob, chat_url, "bob")

        # ann sends; bob's subscription shows it.
        await ann.type("#message-input", "hello bob")
        await ann.press_enter()
        await bob.wait_for(f"{message_bodies('ann')}.includes('hello bob')", what="ann's message")
        assert await ann.evaluate("document.querySelector('#message-input').value") == ""

        # bob types without sending; ann sees it, bob does not see himself.
        await bob.type("#message-input", "hi ann, how are")
        await ann.wait_for(f"{typing_line()}.includes('bob is typing')", what="bob is typing")
        assert await bob.evaluate(typing_line()) == ""

        shots = {
            "ann": await save_png(ann, tmp_path / "ann.png"),
            "bob": await save_png(bob, tmp_path / "bob.png"),
        }
        for name, png in shots.items():
            assert png.startswith(PNG_SIGNATURE), name
            width, height = struct.unpack(">II", png[16:24])
            assert (width, height) == (1100, 720), name
            assert len(png) > 5_000, f"{name}'s screenshot is suspiciously small"

        # With no more heartbeats, the scheduled expiry clears the indicator (3 s).
        await ann.wait_for(f"{typing_line()} === ''", what="bob's typing to expire", within=8)

        # bob finishes the sentence and sends: ann gets it after hers, newest last.
        await bob.type("#message-input", " you?")
        await bob.press_enter()
        await ann.wait_for(f"{message_bodies('bob')}.length === 1", what="bob's message")
        everything = await ann.evaluate(
            "[...document.querySelectorAll('#messages .message .body')].map(b => b.textContent)"
        )
        assert everything == ["hello bob", "hi ann, how are you?"]
        assert await ann.evaluate(typing_line()) == ""  # sending cleared bob's typing

        for page in (ann, bob):
            problems = [line for line in page.console if line.startswith(("uncaught", "error"))]
            assert problems == [], problems
