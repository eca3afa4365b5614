"""Document ids: SEMANTICS.md ID-03, the reference backend's id format."""

from __future__ import annotations

import base64
import os
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor.values import decode_id, new_id
from reactor.values._ids import MAX_TABLE_NUMBER, _b32encode, _fletcher16, encode_id

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# Table numbers where the varint grows a byte, and the ends of the range.
TABLE_NUMBERS = [1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**28 - 1, 2**28, MAX_TABLE_NUMBER]


def _reference_internal_id() -> bytes:
    internal = [251]
    for _ in range(15):
        internal.append(internal[-1] * 251 % 256)
    return bytes(internal)


def test_matches_the_reference_backend() -> None:
    # test_document_id_stability in the backend's crates/value/src/id_v6.rs.
    assert encode_id(1017, _reference_internal_id()) == "z43zp6c3e75gkmz1kfwj6mbbx5sw281h"
    assert decode_id("z43zp6c3e75gkmz1kfwj6mbbx5sw281h") == 1017


@pytest.mark.parametrize("table_number", TABLE_NUMBERS)
def test_round_trip(table_number: int) -> None:
    rng = random.Random(table_number)
    for _ in range(20):
        id_ = new_id(table_number, rng)
        assert decode_id(id_) == table_number
        assert 31 <= len(id_) <= 37
        assert set(id_) <= set(ALPHABET)


def test_lengths() -> None:
    assert [len(new_id(n)) for n in (1, 128, 16384, 2**21, 2**28)] == [31, 32, 34, 36, 37]


@given(st.integers(1, MAX_TABLE_NUMBER), st.binary(min_size=16, max_size=16))
def test_round_trip_any(table_number: int, internal: bytes) -> None:
    assert decode_id(encode_id(table_number, internal)) == table_number


def test_seeded_rng_is_deterministic_and_default_is_random() -> None:
    assert new_id(7, random.Random(42)) == new_id(7, random.Random(42))
    assert new_id(7, random.Random(1)) != new_id(7, random.Random(2))
    assert len({new_id(7) for _ in range(100)}) == 100


@pytest.mark.parametrize("table_number", [0, -1, MAX_TABLE_NUMBER + 1])
def test_new_id_rejects_bad_table_numbers(table_number: int) -> None:
    with pytest.raises(ValueError):
        new_id(table_number)


@pytest.mark.parametrize("table_number", [True, 1.0, "1", None])
def test_new_id_rejects_non_ints(table_number: Any) -> None:
    with pytest.raises(TypeError):
        new_id(table_number)


def test_every_single_character_substitution_is_detected() -> None:
    # A character spans at most two adjacent bytes; Fletcher-16 (mod 256)
    # catches any change confined to two adjacent body bytes, a change that
    # reaches the footer breaks the footer, and the last character's padding
    # bits must be zero. So detection is total, not just likely.
    rng = random.Random(3)
    for table_number in TABLE_NUMBERS:
        for _ in range(5):
            id_ = new_id(table_number, rng)
            for i, original in enumerate(id_):
                for char in ALPHABET:
                    if char != original:
                        assert decode_id(id_[:i] + char + id_[i + 1 :]) is None


def test_adjacent_transpositions_are_mostly_detected() -> None:
    rng = random.Random(4)
    total = undetected = 0
    for _ in range(200):
        id_ = new_id(rng.choice(TABLE_NUMBERS), rng)
        for i in range(len(id_) - 1):
            if id_[i] != id_[i + 1]:
                total += 1
                swapped = id_[:i] + id_[i + 1] + id_[i] + id_[i + 2 :]
                undetected += decode_id(swapped) is not None
    assert undetected / total < 0.01


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "not-an-id",
        "sssswsgggggggggsgcsssfafffsffks",  # regression case of the reference backend
        "Z43ZP6C3E75GKMZ1KFWJ6MBBX5SW281H",  # ids are lowercase only
        "z43zp6c3e75gkmz1kfwj6mbbx5sw281h ",
        "z43zp6c3e75gkmz1kfwj6mbbx5sw281h\n",
        "z43zp6c3e75gkmz1kfwj6mbbx5sw281",
        "z43zp6c3e75gkmz1kfwj6mbbx5sw281hh",
        "z43zp6c3e75gkmz1kfwj6mbbx5sw281i",  # i, l, o, u are not in the alphabet
        "z43zp6c3e75gkmz1kfwj6mbbx5sw281u",
        "0" * 31,
        "z" * 37,
        "z" * 1000,
        "z43zp6c3e75gkmz1kfwj6mbbx5sw28\uff11h",  # a full-width digit
    ],
)
def test_junk_is_not_an_id(junk: str) -> None:
    assert decode_id(junk) is None


@pytest.mark.parametrize("junk", [None, 5, b"z43zp6c3e75gkmz1kfwj6mbbx5sw281h", ["x"]])
def test_non_strings_are_not_ids(junk: Any) -> None:
    assert decode_id(junk) is None


def _raw_id(body: bytes) -> str:
    return _b32encode(body + _fletcher16(body).to_bytes(2, "little"))


def test_rejects_table_zero_and_overlong_varints() -> None:
    internal = bytes(range(16))
    assert decode_id(_raw_id(b"\x01" + internal)) == 1
    assert decode_id(_raw_id(b"\x00" + internal)) is None  # table 0
    assert decode_id(_raw_id(b"\x81\x00" + internal)) is None  # 1, not minimally encoded
    assert decode_id(_raw_id(b"\xff\xff\xff\xff\x1f" + internal)) is None  # 2**35 - 1
    assert decode_id(_raw_id(b"\xff\xff\xff\xff\x0f" + internal)) == MAX_TABLE_NUMBER
    assert decode_id(_raw_id(b"\x80\x80\x80\x80\x80\x01" + internal[:15])) is None


def test_rejects_wrong_internal_length() -> None:
    # 20 bytes where the varint says 1 + 16 + 2 = 19.
    assert decode_id(_raw_id(b"\x01" + bytes(17))) is None


def test_rejects_bad_version() -> None:
    body = b"\x05" + bytes(range(16))
    footer = (_fletcher16(body) ^ 1).to_bytes(2, "little")
    assert decode_id(_b32encode(body + footer)) is None


def test_rejects_nonzero_padding_bits() -> None:
    id_ = new_id(1, random.Random(9))
    # 31 characters carry 155 bits for 152: the last character's low 3 bits are padding.
    last = ALPHABET.index(id_[-1])
    for pad in range(1, 8):
        assert decode_id(id_[:-1] + ALPHABET[last | pad]) is None


def test_alphabet_is_crockford_lowercase() -> None:
    # The same bits as RFC 4648 base32, only another alphabet.
    data = bytes(range(19))
    rfc = base64.b32encode(data).decode().rstrip("=")
    assert _b32encode(data) == rfc.translate(
        str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)
    )


@given(st.text(max_size=40))
def test_decode_never_raises(text: str) -> None:
    result = decode_id(text)
    assert result is None or 1 <= result <= MAX_TABLE_NUMBER


@given(st.binary(min_size=19, max_size=23))
def test_decode_of_random_bytes_never_raises(data: bytes) -> None:
    result = decode_id(_b32encode(data))
    assert result is None or 1 <= result <= MAX_TABLE_NUMBER


def test_ids_from_the_os_entropy_pool_never_repeat() -> None:
    """Random bytes are drawn from the OS 4 KiB at a time: across several refills
    every id is distinct and decodes to its table."""
    ids = [new_id(7) for _ in range(2_000)]  # ~8 refills of the pool
    assert len(set(ids)) == len(ids)
    assert {decode_id(i) for i in ids} == {7}


def test_a_forked_child_draws_ids_of_its_own() -> None:
    """Parent and child must not hand out the same bytes from one pool."""
    new_id(7)  # the parent's pool holds unused bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id, then leave at once
        os.write(write, new_id(7).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read().decode()
    os.waitpid(pid, 0)
    parent = [new_id(7) for _ in range(300)]  # past the rest of the pool
    assert child not in parent and decode_id(child) == 7
