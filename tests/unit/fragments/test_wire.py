"""The node wire protocol (fragments/wire.py): paths match the routes, every encoding has its
inverse, record bodies are verified record by record, statuses map to the same errors."""

from __future__ import annotations

import asyncio

import pytest

from ninefold.core.errors import CorruptFragment, DriveFull, FragmentNotFound, StorageError
from ninefold.fragments import wire
from ninefold.fragments.format import frame_block
from ninefold.fragments.protocol import FragmentId, FragmentInfo, StoreHealth

FID = FragmentId("0123456789abcdef0123456789abcdef", 7)


def test_paths_fill_the_routes() -> None:
    assert wire.fragment_path("d2", FID) == f"/v1/drives/d2/fragments/{FID}"
    assert wire.fragments_path("d2") == "/v1/drives/d2/fragments"
    assert wire.FRAGMENT_ROUTE.startswith(wire.FRAGMENTS_ROUTE + "/")
    assert f"{{{wire.DRIVE_PARAM}}}" in wire.FRAGMENTS_ROUTE
    assert wire.FRAGMENT_ROUTE.endswith(f"{{{wire.FID_PARAM}}}")


def test_read_query_round_trip_and_bounds() -> None:
    query = dict(p.split("=") for p in wire.read_query(3, 16).split("&"))
    assert wire.parse_read_query(query) == (3, 16)
    assert wire.parse_read_query({}) == (0, 1)
    for bad in ({"first": "x"}, {"count": "1.5"}):
        with pytest.raises(wire.RecordError, match="must be integers"):
            wire.parse_read_query(bad)
    for bad in ({"first": "-1"}, {"count": "0"}, {"count": str(wire.MAX_READ_BLOCKS + 1)}):
        with pytest.raises(wire.RecordError, match="out of range"):
            wire.parse_read_query(bad)


def test_headers_and_put_result_round_trip() -> None:
    info = FragmentInfo(FID, 262_144, 12, 3_000_000)
    assert wire.info_from_headers(FID, wire.info_headers(info)) == info
    assert wire.decode_put_result(FID, wire.encode_put_result(info)) == info
    assert wire.decode_fragment_line(wire.encode_fragment_line(FID)) == FID
    assert wire.decode_fragment_line(b"\n") is None
    signed = wire.signed_headers(b"s" * 16, "GET", "/v1/health")
    assert signed[wire.AUTHORIZATION].startswith("NF-HMAC-SHA256 ")


def test_health_round_trip_and_garbage() -> None:
    drives = {"d1": StoreHealth("n1:d1", True, 100, 40), "d2": StoreHealth("n1:d2", False, 0, 0)}
    status = wire.decode_health(wire.encode_health("n1", "z1", drives))
    assert status == wire.NodeStatus("n1", "z1", drives)
    for garbage in (b"not json", b"{}", b'{"node_id": "n", "zone": "z", "drives": []}', b"[]"):
        with pytest.raises(ValueError):
            wire.decode_health(garbage)


def test_statuses_map_to_the_same_errors_both_ways() -> None:
    assert wire.status_of_read_error(FragmentNotFound("x")) == wire.STATUS_NOT_FOUND == 404
    assert wire.status_of_read_error(CorruptFragment("x")) == wire.STATUS_CORRUPT == 422
    assert wire.status_of_read_error(StorageError("x")) == wire.STATUS_UNAVAILABLE == 503
    assert wire.status_of_write_error(DriveFull("x")) == wire.STATUS_DRIVE_FULL == 507
    assert wire.status_of_write_error(StorageError("x")) == 503
    assert isinstance(wire.read_error("s", FID, 404), FragmentNotFound)
    assert isinstance(wire.read_error("s", FID, 422), CorruptFragment)
    err = wire.read_error("s", FID, 500)
    assert type(err) is StorageError and str(err) == "s: GET -> 500"
    assert isinstance(wire.write_error("full", 507), DriveFull)
    assert type(wire.write_error("no", 503)) is StorageError


def test_record_bodies_round_trip_and_damage() -> None:
    blocks = [b"a" * 100, b"b" * 100, b"c"]
    body = wire.frame_records(blocks)
    assert body == b"".join(wire.frame_record(b) for b in blocks)
    assert wire.unframe_records(body) == blocks
    assert wire.unframe_records(b"") == []
    damaged = bytearray(body)
    damaged[150] ^= 1
    with pytest.raises(CorruptFragment):
        wire.unframe_records(bytes(damaged))


class _Stream:
    """readexactly over bytes, as asyncio's StreamReader does it."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    async def readexactly(self, n: int) -> bytes:
        piece = self.data[self.pos : self.pos + n]
        self.pos += len(piece)
        if len(piece) < n:
            raise asyncio.IncompleteReadError(piece, n)
        return piece


async def _read_all(data: bytes) -> list[bytes]:
    return [b async for b in wire.read_records(_Stream(data))]


def test_streamed_records_are_verified_as_they_arrive() -> None:
    blocks = [b"x" * 1000, b"y" * 10]
    assert asyncio.run(_read_all(wire.frame_records(blocks))) == blocks
    record = wire.frame_record(b"a" * 100)
    bad_crc = frame_block(b"b" * 100) + b"a" * 100
    too_large = (wire.MAX_BLOCK_BYTES + 1).to_bytes(4, "little") + bytes(4)
    cases = {
        bad_crc: "block 0 failed its checksum",
        record + bad_crc: "block 1 failed its checksum",
        record[:-10]: "truncated block",
        record + b"\x01\x02": "truncated record header",
        too_large: "block too large",
        b"": "a fragment needs at least one block",
    }
    for body, message in cases.items():
        with pytest.raises(wire.RecordError, match=message):
            asyncio.run(_read_all(body))
