"""Document ids (SEMANTICS.md ID-03), byte-compatible with the reference backend.

An id is Crockford base32 (lowercase, no padding) of::

    [varint table number][16 random bytes][fletcher16 of the above XOR version 0, LE]

The varint is little-endian base-128 with a continuation bit, 1 to 5 bytes,
so ids are 31 to 37 characters long.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import random
import re
from itertools import accumulate
from typing import Final

_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
_RFC4648: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# Same bit layout as RFC 4648 base32, so the stdlib codec does the work and
# only the alphabet is swapped.
_TO_CROCKFORD: Final = str.maketrans(_RFC4648, _ALPHABET, "=")
_TO_RFC4648: Final = str.maketrans(_ALPHABET, _RFC4648)
_ID_CHARS: Final = re.compile(r"[0-9a-hjkmnp-tv-z]+")
# Base32 lengths of 19..23 bytes (1..5 varint bytes + 16 + 2).
_ID_LENGTHS: Final = frozenset({31, 32, 34, 36, 37})

_INTERNAL_ID_LEN: Final = 16
_FOOTER_LEN: Final = 2
_VERSION: Final = 0
MAX_TABLE_NUMBER: Final = 2**32 - 1


def new_id(table_number: int, rng: random.Random | None = None) -> str:
    """A fresh id in table ``table_number`` (1 to 2**32-1).

    Random bytes come from ``rng`` when given (deterministic tests, seeded
    function runs), else from the OS.
    """
    internal = rng.randbytes(_INTERNAL_ID_LEN) if rng is not None else _random_bytes()
    if type(table_number) is not int:
        return encode_id(table_number, internal)  # refuses it, as encode_id does
    # encode_id, with the table's part worked out once (an id is made per insert).
    prefix, c0, c1 = _table_prefix(table_number)
    c1 += len(internal) * c0 + sum(accumulate(internal))
    c0 += sum(internal)
    footer = (((c1 & 0xFF) << 8) | (c0 & 0xFF)) ^ _VERSION
    return _b32encode(prefix + internal + footer.to_bytes(_FOOTER_LEN, "little"))


class _EntropyPool:
    """The OS's random bytes, drawn 4 KiB at a time for 256 ids.

    One ``os.urandom`` per insert is a system call per insert, on the event
    loop, that also gives up the GIL to the store's writer thread (measured:
    a tenth of a small mutation's CPU in bench/commits.py). The bytes are as
    random as the OS's; a forked child starts a pool of its own, so that
    parent and child never hand out the same bytes.
    """

    __slots__ = ("_at", "_bytes")

    SIZE: Final = 4096

    def __init__(self) -> None:
        self._bytes = b""
        self._at = 0

    def take(self, n: int) -> bytes:
        at = self._at
        if at + n > len(self._bytes):
            self._bytes, at = os.urandom(self.SIZE), 0
        self._at = at + n
        return self._bytes[at : at + n]

    def drop(self) -> None:
        self._bytes, self._at = b"", 0


_POOL: Final = _EntropyPool()
os.register_at_fork(after_in_child=_POOL.drop)


def _random_bytes() -> bytes:
    return _POOL.take(_INTERNAL_ID_LEN)


@functools.lru_cache(maxsize=256)
def _table_prefix(table_number: int) -> tuple[bytes, int, int]:
    """A table's varint, and the two Fletcher sums over it (unreduced)."""
    if not 1 <= table_number <= MAX_TABLE_NUMBER:
        raise ValueError(f"table number {table_number} is outside 1..2**32-1")
    prefix = _varint(table_number)
    return prefix, sum(prefix), sum(accumulate(prefix))


def encode_id(table_number: int, internal_id: bytes) -> str:
    """The id of the document ``internal_id`` (16 bytes) in table ``table_number``."""
    if isinstance(table_number, bool) or not isinstance(table_number, int):
        raise TypeError(f"table number must be an int, not {type(table_number).__name__}")
    if not 1 <= table_number <= MAX_TABLE_NUMBER:
        raise ValueError(f"table number {table_number} is outside 1..2**32-1")
    if len(internal_id) != _INTERNAL_ID_LEN:
        raise ValueError(f"internal id must be {_INTERNAL_ID_LEN} bytes")
    body = _varint(table_number) + bytes(internal_id)
    footer = _fletcher16(body) ^ _VERSION
    return _b32encode(body + footer.to_bytes(_FOOTER_LEN, "little"))


def decode_id(s: str) -> int | None:
    """The table number of id ``s``, or None if ``s`` is not a well-formed id."""
    # Cheap checks first: junk of any length must be refused quickly, and only
    # id-sized strings may reach the cache (a long junk string would pin memory).
    if not isinstance(s, str) or len(s) not in _ID_LENGTHS:
        return None
    # Ids are decoded on every validation and get: cache the answer per string.
    return _decode_id(s)


@functools.lru_cache(maxsize=1 << 16)
def _decode_id(s: str) -> int | None:
    if not _ID_CHARS.fullmatch(s):
        return None
    padded = s.translate(_TO_RFC4648) + "=" * (-len(s) % 8)
    try:
        data = base64.b32decode(padded)
    except binascii.Error:  # pragma: no cover - lengths and alphabet are checked above
        return None
    parsed = _read_varint(data)
    if parsed is None:
        return None
    table_number, pos = parsed
    if len(data) != pos + _INTERNAL_ID_LEN + _FOOTER_LEN:
        return None
    footer = int.from_bytes(data[-_FOOTER_LEN:], "little")
    if footer != _fletcher16(data[:-_FOOTER_LEN]) ^ _VERSION:
        return None
    # The last character carries unused low bits; the reference decoder ignores
    # them, we refuse them so that each document has exactly one id string.
    if _b32encode(data) != s:
        return None
    return table_number


# Two base32 characters per 10 bits: a table lookup instead of Python 3.11's
# pure-Python base64.b32encode, since an id is made on every insert.
_PAIRS: Final = tuple(_ALPHABET[i >> 5] + _ALPHABET[i & 31] for i in range(1024))


def _b32_layout(length: int) -> tuple[int, int, tuple[int, ...]]:
    """For ``length`` bytes: the characters, the left shift that pads the bits to
    whole character pairs, and the shift of each pair, most significant first."""
    bits = length * 8
    chars = -(-bits // 5)
    pad = chars * 5 - bits + (5 if chars % 2 else 0)
    return chars, pad, tuple(range(((chars + 1) // 2 - 1) * 10, -1, -10))


# Ids are 19 to 23 bytes: their layouts are computed once.
_B32_LAYOUTS: Final = {length: _b32_layout(length) for length in range(19, 24)}


def _b32encode(data: bytes) -> str:
    layout = _B32_LAYOUTS.get(len(data))
    chars, pad, shifts = layout if layout is not None else _b32_layout(len(data))
    number = int.from_bytes(data, "big") << pad
    pairs = _PAIRS
    text = "".join([pairs[(number >> shift) & 1023] for shift in shifts])
    return text[:chars]


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(data: bytes) -> tuple[int, int] | None:
    n = 0
    for i in range(5):
        if i >= len(data):
            return None
        byte = data[i]
        n |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            # A longer-than-needed encoding would give one table two spellings.
            if (byte == 0 and i > 0) or not 1 <= n <= MAX_TABLE_NUMBER:
                return None
            return n, i + 1
    return None


def _fletcher16(data: bytes) -> int:
    # Modulus 256, like the reference backend (not the textbook 255). c0 is the
    # running sum of the bytes and c1 the sum of the running sums, both mod 256,
    # so both can be summed whole in C and reduced once.
    return ((sum(accumulate(data)) & 0xFF) << 8) | (sum(data) & 0xFF)
