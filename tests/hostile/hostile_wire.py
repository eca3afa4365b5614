"""A bare WebSocket client on a TCP stream, for sending what no library would.

One ``exchange`` opens a connection, writes the upgrade request, then all
its frames at once, and reads until the server closes. It can send binary frames,
text frames that are not UTF-8 and frames of any size, and it reports what
came back: the HTTP status, the text frames, and the close code and reason.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from dataclasses import dataclass, field

import orjson

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA

_KEY = base64.b64encode(b"hostile-test-key").decode()


def upgrade_request(path: str = "/api/1.48.0/sync", host: str = "127.0.0.1") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {_KEY}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def frame(payload: bytes | str, opcode: int = TEXT, *, fin: bool = True) -> bytes:
    """One client frame. The mask key is zero (valid, and the payload stays as is)."""
    data = payload.encode() if isinstance(payload, str) else payload
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(data)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + b"\0\0\0\0" + data


@dataclass
class Exchange:
    status: int = 0
    texts: list[str] = field(default_factory=list)
    close: tuple[int, str] | None = None
    """The server's close frame (code, reason); None if the stream just ended."""
    timed_out: bool = False


async def exchange(
    port: int,
    frames: list[bytes],
    *,
    answers: int = 0,
    then: list[bytes] | None = None,
    wait_s: float = 10.0,
    host: str = "127.0.0.1",
) -> Exchange:
    """Send the upgrade and ``frames``; once ``answers`` answers (responses and query
    results) have come, send ``then``; read until the server closes or ``wait_s``."""
    result = Exchange()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async with asyncio.timeout(wait_s):
            # As RFC 6455 requires, no frame before the 101: uvicorn drops bytes
            # that arrive in the same read as the upgrade request.
            writer.write(upgrade_request(host=host))
            head = await reader.readuntil(b"\r\n\r\n")
            result.status = int(head.split(b" ", 2)[1])
            if result.status != 101:
                return result
            writer.write(b"".join(frames))
            if then is not None:
                await _read(reader, result, until_answers=answers)
                writer.write(b"".join(then))
            await _read(reader, result)
    except TimeoutError:
        result.timed_out = True
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the server dropped the stream; `close` says whether it closed first
    finally:
        writer.transport.abort()  # no lingering close handshake: the server has ours
    return result


def _answered(text: str, answered: set[tuple[str, int]]) -> None:
    """Note the responses and the first query results (or failures) in one message."""
    message = orjson.loads(text)
    if message["type"] in ("MutationResponse", "ActionResponse"):
        answered.add(("request", message["requestId"]))
    elif message["type"] == "Transition":
        for m in message["modifications"]:
            if m["type"] in ("QueryUpdated", "QueryFailed"):
                answered.add(("query", m["queryId"]))


def count_answers(texts: list[str]) -> int:
    """Responses to requests, plus queries that got a first result or failed."""
    answered: set[tuple[str, int]] = set()
    for text in texts:
        _answered(text, answered)
    return len(answered)


async def _read(
    reader: asyncio.StreamReader, result: Exchange, until_answers: int | None = None
) -> None:
    answered: set[tuple[str, int]] = set()
    while until_answers is None or len(answered) < until_answers:
        first, second = await reader.readexactly(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", await reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await reader.readexactly(8))[0]
        payload = await reader.readexactly(n)
        opcode = first & 0x0F
        if opcode == TEXT:
            result.texts.append(payload.decode())
            if until_answers is not None:
                _answered(result.texts[-1], answered)
        elif opcode == CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            result.close = (code, payload[2:].decode(errors="replace"))
            return


def parse_frames(data: bytes) -> tuple[list[str], tuple[int, str] | None]:
    """The text frames and the close (code, reason) in server bytes after a 101."""
    texts: list[str] = []
    at = data.index(b"\r\n\r\n") + 4
    while at + 2 <= len(data):
        opcode, n = data[at] & 0x0F, data[at + 1] & 0x7F
        at += 2
        if n == 126:
            n, at = struct.unpack("!H", data[at : at + 2])[0], at + 2
        elif n == 127:
            n, at = struct.unpack("!Q", data[at : at + 8])[0], at + 8
        payload, at = data[at : at + n], at + n
        if opcode == TEXT:
            texts.append(payload.decode())
        elif opcode == CLOSE:
            return texts, (struct.unpack("!H", payload[:2])[0], payload[2:].decode())
    return texts, None
