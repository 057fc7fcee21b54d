"""ECCodec.decode joins the data fragments itself: the same bytes as pyeclib's decode, for every
stripe length, and pyeclib still decides whenever a header is unexpected."""

from __future__ import annotations

import os

import pytest

from ninefold.erasure.codec import ECCodec

CODEC = ECCodec(6, 3, 256 * 1024)
LENGTHS = [1, 5, 6, 7, 100, 262_143, 262_144, 1_000_000, CODEC.stripe_bytes - 1, CODEC.stripe_bytes]


@pytest.mark.parametrize("length", LENGTHS)
def test_join_equals_pyeclib(length: int) -> None:
    stripe = os.urandom(length)
    fragments = CODEC.encode(stripe)
    data = {i: fragments[i] for i in range(6)}
    assert b"".join(CODEC.data_parts(data) or []) == stripe
    assert CODEC._driver.decode(list(data.values())) == stripe
    assert CODEC.decode(data) == stripe
    # with a parity fragment instead of a data fragment pyeclib reconstructs
    assert CODEC.decode({i: fragments[i] for i in (0, 1, 2, 3, 4, 8)}) == stripe


def test_unexpected_headers_fall_back() -> None:
    stripe = os.urandom(300_000)
    fragments = CODEC.encode(stripe)
    swapped = [fragments[1], fragments[0], *fragments[2:6]]
    assert CODEC.data_parts(dict(enumerate(swapped))) is None  # wrong order: index check
    other = CODEC.encode(os.urandom(200_000))
    assert (
        CODEC.data_parts(dict(enumerate([*fragments[:5], other[5]]))) is None
    )  # from another stripe
    assert (
        CODEC.data_parts(dict(enumerate([b"\x00" * 10, *fragments[1:6]]))) is None
    )  # no header at all
