"""RemoteFragmentStore: the FragmentStore protocol over HTTP to one drive of a storage node.

The coordinator cannot tell it from a store on a local drive. Writes stream: blocks go into a
small bounded queue feeding a chunked PUT, so memory stays bounded; ``commit`` ends the body and
returns once the node has fsynced and renamed (201). Reads verify every block's CRC32C again on
arrival (end to end: a block damaged on the wire is as corrupt as one damaged on disk).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp

from ninefold.core.errors import StorageError
from ninefold.fragments import wire
from ninefold.fragments.protocol import FragmentId, FragmentInfo, StoreHealth

__all__ = ["RemoteFragmentStore"]

_END = b""


class _RemoteWriter:
    def __init__(self, store: RemoteFragmentStore, fragment_id: FragmentId) -> None:
        self._store = store
        self._id = fragment_id
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=2)
        self._task: asyncio.Task[FragmentInfo] | None = None

    async def _body(self) -> AsyncIterator[bytes]:
        # records are never empty (8 header bytes at least): an empty item ends the body
        while record := await self._queue.get():
            yield record

    async def _send(self) -> FragmentInfo:
        path = self._store.path_of(self._id)
        async with self._store.request("PUT", path, data=self._body()) as response:
            if response.status != wire.STATUS_STORED:
                raise wire.write_error(
                    f"{self._store.store_id}: PUT {self._id} -> {response.status} "
                    f"{(await response.text())[:200]}",
                    response.status,
                )
            info = await response.json()
        return wire.decode_put_result(self._id, info)

    async def _put(self, item: bytes) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._send())
        put = asyncio.ensure_future(self._queue.put(item))
        done, _ = await asyncio.wait(
            {put, self._task},
            timeout=self._store.stall_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if put not in done:
            put.cancel()
            if not done:  # neither taken nor failed: the node stalls (hung, overloaded)
                raise StorageError(f"{self._store.store_id}: PUT {self._id} stalled")
            await self._task  # the request ended (failed) before taking the block: raise it
            raise StorageError(f"{self._store.store_id}: PUT {self._id} ended early")

    async def write_block(self, block: bytes) -> None:
        await self._put(wire.frame_record(block))

    async def commit(self) -> FragmentInfo:
        await self._put(_END)
        assert self._task is not None
        try:
            return await asyncio.wait_for(self._task, self._store.stall_timeout_s)
        except TimeoutError as exc:
            raise StorageError(f"{self._store.store_id}: PUT {self._id} stalled") from exc
        except aiohttp.ClientError as exc:
            raise StorageError(f"{self._store.store_id}: PUT {self._id} failed: {exc}") from exc

    async def abort(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


class RemoteFragmentStore:
    """One drive of one node, as a FragmentStore."""

    def __init__(
        self,
        store_id: str,
        base_url: str,
        drive: str,
        secret: bytes,
        session: aiohttp.ClientSession,
        *,
        stall_timeout_s: float = 10.0,
    ) -> None:
        #: a write that makes no progress for this long fails (the chunk goes on without it)
        self.stall_timeout_s = stall_timeout_s
        self._store_id = store_id
        self._base = base_url.rstrip("/")
        self._drive = drive
        self._secret = secret
        self._session = session

    @property
    def store_id(self) -> str:
        return self._store_id

    def path_of(self, fragment_id: FragmentId | None = None) -> str:
        """The wire path of ``fragment_id`` on this drive (None: the drive's listing)."""
        if fragment_id is None:
            return wire.fragments_path(self._drive)
        return wire.fragment_path(self._drive, fragment_id)

    def request(
        self, method: str, path: str, query: str = "", **kwargs: object
    ) -> aiohttp.client._RequestContextManager:
        headers = wire.signed_headers(self._secret, method, path, query)
        url = f"{self._base}{path}" + (f"?{query}" if query else "")
        return self._session.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]

    async def open_writer(self, fragment_id: FragmentId) -> _RemoteWriter:
        return _RemoteWriter(self, fragment_id)

    async def read_blocks(self, fragment_id: FragmentId, first: int, count: int) -> list[bytes]:
        query = wire.read_query(first, count)
        try:
            async with self.request("GET", self.path_of(fragment_id), query) as response:
                if response.status != wire.STATUS_OK:
                    raise wire.read_error(self._store_id, fragment_id, response.status)
                body = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise StorageError(f"{self._store_id}: {exc!r}") from exc
        return wire.unframe_records(body)

    async def head(self, fragment_id: FragmentId) -> FragmentInfo | None:
        try:
            async with self.request("HEAD", self.path_of(fragment_id)) as response:
                if response.status == wire.STATUS_NOT_FOUND:
                    return None
                if response.status != wire.STATUS_OK:
                    raise StorageError(f"{self._store_id}: HEAD -> {response.status}")
                return wire.info_from_headers(fragment_id, response.headers)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise StorageError(f"{self._store_id}: {exc!r}") from exc

    async def delete(self, fragment_id: FragmentId) -> bool:
        try:
            async with self.request("DELETE", self.path_of(fragment_id)) as response:
                if response.status not in (wire.STATUS_DELETED, wire.STATUS_NOT_FOUND):
                    raise StorageError(f"{self._store_id}: DELETE -> {response.status}")
                return response.status == wire.STATUS_DELETED
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise StorageError(f"{self._store_id}: {exc!r}") from exc

    async def list_fragments(self) -> AsyncIterator[FragmentId]:
        async with self.request("GET", self.path_of()) as response:
            if response.status != wire.STATUS_OK:
                raise StorageError(f"{self._store_id}: list -> {response.status}")
            async for line in response.content:
                fragment_id = wire.decode_fragment_line(line)
                if fragment_id is not None:
                    yield fragment_id

    async def health(self) -> StoreHealth:
        try:
            async with self.request("GET", wire.HEALTH_PATH) as response:
                drive = wire.decode_health(await response.text()).drives[self._drive]
            return StoreHealth(self._store_id, drive.online, drive.capacity_bytes, drive.free_bytes)
        except (TimeoutError, aiohttp.ClientError, KeyError, ValueError):
            return StoreHealth(self._store_id, False, 0, 0)
