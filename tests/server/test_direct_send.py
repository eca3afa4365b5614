"""Frames the server writes itself (``reactor.server._direct_send``): exact WebSocket
frames at every length encoding, read back by the ``websockets`` client protocol."""

from __future__ import annotations

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from reactor.server._direct_send import Delivery, _text_frame


def read_back(data: bytes) -> list[str]:
    client = ClientProtocol(parse_uri("ws://127.0.0.1/"), state=State.OPEN, max_size=None)
    client.receive_data(data)
    frames = [e for e in client.events_received() if isinstance(e, Frame)]
    assert all(frame.opcode is Opcode.TEXT and frame.fin for frame in frames)
    return [frame.data.decode() for frame in frames]


# 7-bit, 16-bit and 64-bit payload lengths, at and across each boundary, and text
# whose UTF-8 length is not its length in characters.
@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_a_text_frame_of_any_length_reads_back_exactly(size: int) -> None:
    text = "x" * size
    assert read_back(_text_frame(text)) == [text]


def test_multibyte_text_is_framed_by_its_encoded_length() -> None:
    text = "é" * 100  # 100 characters, 200 bytes: past the 7-bit length
    assert read_back(_text_frame(text) + _text_frame("ok")) == [text, "ok"]


def test_the_same_text_is_framed_once_per_delivery() -> None:
    text = "a frame many connections share"
    seen: list[bytes] = []
    Delivery().deliver([lambda: seen.append(_text_frame(text)) for _ in range(3)])
    assert seen[0] is seen[1] is seen[2]
    assert read_back(seen[0]) == [text]
    # Not kept past the delivery: the next one frames it anew (and holds nothing big).
    assert _text_frame(text) is not seen[0]


def test_a_delivery_gives_its_callbacks_one_clock() -> None:
    delivery = Delivery()
    clocks: list[int | None] = []
    delivery.deliver([lambda: clocks.append(delivery.wall_ns) for _ in range(3)])
    assert clocks[0] is not None and clocks == [clocks[0]] * 3
    assert delivery.wall_ns is None
