"""The storage-node daemon: serves its drives' FragmentStores over HTTP to the cluster.

Routes (all HMAC-signed, see ``fragments/signing.py``; anything else is refused):

    PUT    /v1/drives/{drive}/fragments/{id}           body: records [u32 len][u32 crc32c][payload]
    GET    /v1/drives/{drive}/fragments/{id}?first=&count=   -> records, each verified here first
    HEAD   /v1/drives/{drive}/fragments/{id}           -> X-NF-Block-Size/-Block-Count/-Size
    DELETE /v1/drives/{drive}/fragments/{id}
    GET    /v1/drives/{drive}/fragments                -> one fragment id per line
    GET    /v1/health                                  -> JSON: node, zone, drives

A PUT is checked block by block as it streams in (a CRC mismatch aborts it: nothing is stored)
and becomes visible only after fsync + rename, when the node answers 201. A PUT the drive cannot
take is aborted the same way and answered 507 (drive full) or 503 (drive failing), logged in one
line: the writer goes on without that fragment, as it would without the node. The node never
builds a path from anything but a validated fragment id and a drive name it was started with.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from dataclasses import asdict, dataclass

from aiohttp import web
from awscrt.checksums import crc32c

from ninefold.core.errors import CorruptFragment, FragmentNotFound, StorageError
from ninefold.fragments.format import frame_block
from ninefold.fragments.protocol import FRAGMENT_ID_RE, FragmentId
from ninefold.fragments.signing import NonceCache, SignatureError, verify_request
from ninefold.node.disk import DiskFragmentStore, DriveFull

__all__ = ["NodeSettings", "make_node_app"]

log = logging.getLogger("ninefold.node")

MAX_BLOCK_BYTES = 16 * 1024 * 1024
_RECORD = struct.Struct("<II")


@dataclass(frozen=True, slots=True)
class NodeSettings:
    node_id: str
    zone: str
    secret: bytes


STORES = web.AppKey("stores", dict[str, DiskFragmentStore])
SETTINGS = web.AppKey("settings", NodeSettings)
NONCES = web.AppKey("nonces", NonceCache)


def _fragment(request: web.Request) -> tuple[DiskFragmentStore, FragmentId]:
    stores: dict[str, DiskFragmentStore] = request.app[STORES]
    store = stores.get(request.match_info["drive"])
    name = request.match_info.get("fid", "")
    if store is None:
        raise web.HTTPNotFound(text="no such drive")
    if not FRAGMENT_ID_RE.match(name):
        raise web.HTTPBadRequest(text="invalid fragment id")
    return store, FragmentId.parse(name)


@web.middleware
async def _authenticate(request: web.Request, handler: object) -> web.StreamResponse:
    settings: NodeSettings = request.app[SETTINGS]
    try:
        verify_request(
            settings.secret,
            request.headers.get("Authorization"),
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            request.app[NONCES],
        )
    except SignatureError as exc:
        log.warning("refused %s %s: %s", request.method, request.rel_url.raw_path, exc)
        raise web.HTTPForbidden(text=str(exc)) from exc
    assert callable(handler)
    response: web.StreamResponse = await handler(request)
    return response


async def put_fragment(request: web.Request) -> web.StreamResponse:
    store, fid = _fragment(request)
    writer = await store.open_writer(fid)
    try:
        blocks = 0
        while True:
            try:
                head = await request.content.readexactly(_RECORD.size)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise web.HTTPBadRequest(text="truncated record header") from exc
                break  # a clean end, on a record boundary
            length, crc = _RECORD.unpack(head)
            if length > MAX_BLOCK_BYTES:
                raise web.HTTPBadRequest(text="block too large")
            try:
                block = await request.content.readexactly(length)
            except asyncio.IncompleteReadError as exc:
                raise web.HTTPBadRequest(text="truncated block") from exc
            if crc32c(block) != crc:
                raise web.HTTPBadRequest(text=f"block {blocks} failed its checksum")
            await writer.write_block(block)
            blocks += 1
        if blocks == 0:
            raise web.HTTPBadRequest(text="a fragment needs at least one block")
        info = await writer.commit()
    except BaseException as exc:
        await writer.abort()
        if isinstance(exc, StorageError):
            log.warning("PUT %s on %s refused: %s", fid, store.store_id, exc)
            if isinstance(exc, DriveFull):
                raise web.HTTPInsufficientStorage(text=str(exc)) from exc
            raise web.HTTPServiceUnavailable(text=str(exc)) from exc
        raise
    return web.json_response(
        {"block_size": info.block_size, "block_count": info.block_count, "size": info.size_bytes},
        status=201,
    )


async def get_fragment(request: web.Request) -> web.StreamResponse:
    store, fid = _fragment(request)
    try:
        first = int(request.query.get("first", "0"))
        count = int(request.query.get("count", "1"))
    except ValueError as exc:
        raise web.HTTPBadRequest(text="first/count must be integers") from exc
    if first < 0 or not 1 <= count <= 1024:
        raise web.HTTPBadRequest(text="first/count out of range")
    try:
        blocks = await store.read_blocks(fid, first, count)
    except FragmentNotFound as exc:
        raise web.HTTPNotFound(text="no such fragment") from exc
    except CorruptFragment as exc:
        log.error("corrupt fragment %s on %s: %s", fid, store.store_id, exc)
        raise web.HTTPUnprocessableEntity(text=f"corrupt: {exc}") from exc
    except StorageError as exc:
        raise web.HTTPServiceUnavailable(text=str(exc)) from exc
    body = b"".join(frame_block(b) + b for b in blocks)
    return web.Response(body=body, content_type="application/octet-stream")


async def head_fragment(request: web.Request) -> web.StreamResponse:
    store, fid = _fragment(request)
    try:
        info = await store.head(fid)
    except CorruptFragment as exc:
        raise web.HTTPUnprocessableEntity() from exc
    if info is None:
        raise web.HTTPNotFound()
    return web.Response(
        headers={
            "X-NF-Block-Size": str(info.block_size),
            "X-NF-Block-Count": str(info.block_count),
            "X-NF-Size": str(info.size_bytes),
        }
    )


async def delete_fragment(request: web.Request) -> web.StreamResponse:
    store, fid = _fragment(request)
    return web.Response(status=204 if await store.delete(fid) else 404)


async def list_fragments(request: web.Request) -> web.StreamResponse:
    stores: dict[str, DiskFragmentStore] = request.app[STORES]
    store = stores.get(request.match_info["drive"])
    if store is None:
        raise web.HTTPNotFound(text="no such drive")
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    async for fid in store.list_fragments():
        await response.write(f"{fid}\n".encode())
    await response.write_eof()
    return response


async def health(request: web.Request) -> web.StreamResponse:
    settings: NodeSettings = request.app[SETTINGS]
    stores: dict[str, DiskFragmentStore] = request.app[STORES]
    drives = {name: asdict(await store.health()) for name, store in stores.items()}
    return web.Response(
        text=json.dumps({"node_id": settings.node_id, "zone": settings.zone, "drives": drives}),
        content_type="application/json",
    )


def make_node_app(settings: NodeSettings, stores: dict[str, DiskFragmentStore]) -> web.Application:
    app = web.Application(middlewares=[_authenticate], client_max_size=MAX_BLOCK_BYTES)
    app[SETTINGS] = settings
    app[STORES] = stores
    app[NONCES] = NonceCache()
    app.router.add_put("/v1/drives/{drive}/fragments/{fid}", put_fragment)
    app.router.add_get("/v1/drives/{drive}/fragments/{fid}", get_fragment, allow_head=False)
    app.router.add_route("HEAD", "/v1/drives/{drive}/fragments/{fid}", head_fragment)
    app.router.add_delete("/v1/drives/{drive}/fragments/{fid}", delete_fragment)
    app.router.add_get("/v1/drives/{drive}/fragments", list_fragments)
    app.router.add_get("/v1/health", health, allow_head=False)
    return app
