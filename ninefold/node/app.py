"""The storage-node daemon: serves its drives' FragmentStores over HTTP to the cluster.

It speaks the node wire protocol of ``fragments/wire.py`` (routes, signing, record bodies,
headers, statuses, health JSON); nothing about the protocol is spelled here, only what the node
does with each request.

A PUT is checked block by block as it streams in (a CRC mismatch aborts it: nothing is stored)
and becomes visible only after fsync + rename, when the node answers 201. A PUT the drive cannot
take is aborted the same way and answered 507 (drive full) or 503 (drive failing), logged in one
line: the writer goes on without that fragment, as it would without the node. The node never
builds a path from anything but a validated fragment id and a drive name it was started with.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from ninefold.core.errors import CorruptFragment, StorageError
from ninefold.fragments import wire
from ninefold.fragments.protocol import FRAGMENT_ID_RE, FragmentId, FragmentStore

__all__ = ["NodeSettings", "make_node_app"]

log = logging.getLogger("ninefold.node")


@dataclass(frozen=True, slots=True)
class NodeSettings:
    node_id: str
    zone: str
    secret: bytes


STORES = web.AppKey("stores", Mapping[str, FragmentStore])
SETTINGS = web.AppKey("settings", NodeSettings)
NONCES = web.AppKey("nonces", wire.NonceCache)


def _drive(request: web.Request) -> FragmentStore:
    store = request.app[STORES].get(request.match_info[wire.DRIVE_PARAM])
    if store is None:
        raise web.HTTPNotFound(text="no such drive")
    return store


def _fragment(request: web.Request) -> tuple[FragmentStore, FragmentId]:
    store = _drive(request)
    name = request.match_info.get(wire.FID_PARAM, "")
    if not FRAGMENT_ID_RE.match(name):
        raise web.HTTPBadRequest(text="invalid fragment id")
    return store, FragmentId.parse(name)


_ERRORS: dict[int, type[web.HTTPException]] = {
    wire.STATUS_NOT_FOUND: web.HTTPNotFound,
    wire.STATUS_CORRUPT: web.HTTPUnprocessableEntity,
    wire.STATUS_UNAVAILABLE: web.HTTPServiceUnavailable,
    wire.STATUS_DRIVE_FULL: web.HTTPInsufficientStorage,
}


def _error(status: int, text: str | None = None) -> web.HTTPException:
    """The aiohttp exception answering with a wire status."""
    kind = _ERRORS[status]
    return kind() if text is None else kind(text=text)


@web.middleware
async def _authenticate(request: web.Request, handler: object) -> web.StreamResponse:
    settings: NodeSettings = request.app[SETTINGS]
    try:
        wire.verify_request(
            settings.secret,
            request.headers.get(wire.AUTHORIZATION),
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            request.app[NONCES],
        )
    except wire.SignatureError as exc:
        log.warning("refused %s %s: %s", request.method, request.rel_url.raw_path, exc)
        raise web.HTTPForbidden(text=str(exc)) from exc
    assert callable(handler)
    response: web.StreamResponse = await handler(request)
    return response


async def put_fragment(request: web.Request) -> web.StreamResponse:
    store, fid = _fragment(request)
    writer = await store.open_writer(fid)
    try:
        async with contextlib.aclosing(wire.read_records(request.content)) as blocks:
            async for block in blocks:
                await writer.write_block(block)
        info = await writer.commit()
    except BaseException as exc:
        await writer.abort()
        if isinstance(exc, wire.RecordError):
            raise web.HTTPBadRequest(text=str(exc)) from exc
        if isinstance(exc, StorageError):
            log.warning("PUT %s on %s refused: %s", fid, store.store_id, exc)
            status = wire.status_of_write_error(exc)
            raise _error(status, str(exc)) from exc
        raise
    return web.json_response(wire.encode_put_result(info), status=wire.STATUS_STORED)


async def get_fragment(request: web.Request) -> web.StreamResponse:
    store, fid = _fragment(request)
    try:
        first, count = wire.parse_read_query(request.query)
    except wire.RecordError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    try:
        blocks = await store.read_blocks(fid, first, count)
    except StorageError as exc:
        status = wire.status_of_read_error(exc)
        if status == wire.STATUS_NOT_FOUND:
            text = "no such fragment"
        elif status == wire.STATUS_CORRUPT:
            log.error("corrupt fragment %s on %s: %s", fid, store.store_id, exc)
            text = f"corrupt: {exc}"
        else:
            text = str(exc)
        raise _error(status, text) from exc
    return web.Response(body=wire.frame_records(blocks), content_type=wire.RECORDS_CONTENT_TYPE)


async def head_fragment(request: web.Request) -> web.StreamResponse:
    store, fid = _fragment(request)
    try:
        info = await store.head(fid)
    except CorruptFragment as exc:
        raise _error(wire.STATUS_CORRUPT) from exc
    if info is None:
        raise web.HTTPNotFound()
    return web.Response(headers=wire.info_headers(info))


async def delete_fragment(request: web.Request) -> web.StreamResponse:
    store, fid = _fragment(request)
    deleted = await store.delete(fid)
    return web.Response(status=wire.STATUS_DELETED if deleted else wire.STATUS_NOT_FOUND)


async def list_fragments(request: web.Request) -> web.StreamResponse:
    store = _drive(request)
    response = web.StreamResponse(headers={"Content-Type": wire.LIST_CONTENT_TYPE})
    await response.prepare(request)
    async for fid in store.list_fragments():
        await response.write(wire.encode_fragment_line(fid))
    await response.write_eof()
    return response


async def health(request: web.Request) -> web.StreamResponse:
    settings: NodeSettings = request.app[SETTINGS]
    drives = {name: await store.health() for name, store in request.app[STORES].items()}
    return web.Response(
        text=wire.encode_health(settings.node_id, settings.zone, drives),
        content_type="application/json",
    )


def make_node_app(settings: NodeSettings, stores: Mapping[str, FragmentStore]) -> web.Application:
    app = web.Application(middlewares=[_authenticate], client_max_size=wire.MAX_BLOCK_BYTES)
    app[SETTINGS] = settings
    app[STORES] = stores
    app[NONCES] = wire.NonceCache()
    app.router.add_put(wire.FRAGMENT_ROUTE, put_fragment)
    app.router.add_get(wire.FRAGMENT_ROUTE, get_fragment, allow_head=False)
    app.router.add_route("HEAD", wire.FRAGMENT_ROUTE, head_fragment)
    app.router.add_delete(wire.FRAGMENT_ROUTE, delete_fragment)
    app.router.add_get(wire.FRAGMENTS_ROUTE, list_fragments)
    app.router.add_get(wire.HEALTH_PATH, health, allow_head=False)
    return app
