"""Streams an object body into chunks: hashing, small-vs-EC decision, chunk boundaries.

Memory is bounded by ``io_buffer_bytes`` plus what the chunk writer holds (about two stripes):
the body is never held whole. Hashing (MD5 for the ETag, plus any S3 checksums) runs in the
executor on large buffers, concurrently with the erasure-coding write of the same buffer.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from typing import Protocol

from ninefold.coordinator.chunks import ChunkIO, ChunkWriter
from ninefold.coordinator.settings import CoordinatorSettings
from ninefold.core import errors
from ninefold.core.checksums import MultiHasher
from ninefold.erasure.scheme import Scheme
from ninefold.fragments.records import ChunkRecord

__all__ = ["BodySource", "DataWriter", "IteratorBody", "write_body"]

#: buffers up to this size are hashed on the event loop (tens of µs), not in the executor
INLINE_HASH_BYTES = 64 * 1024


class BodySource(Protocol):
    async def read(self) -> bytes | memoryview:
        """The next piece of the body; ``b""`` at its end. Raises S3 errors on bad framing."""
        ...


class IteratorBody:
    """Adapts an async iterator of bytes (e.g. a read of another object) to :class:`BodySource`."""

    def __init__(self, source: AsyncIterator[bytes | memoryview]) -> None:
        self._source = source

    async def read(self) -> bytes | memoryview:
        try:
            return await anext(self._source)
        except StopAsyncIteration:
            return b""


class DataWriter:
    """Cuts a byte stream into chunks and writes them through :class:`ChunkIO`."""

    def __init__(self, chunkio: ChunkIO, settings: CoordinatorSettings) -> None:
        self._io = chunkio
        self._settings = settings
        self._pending = bytearray()  # bytes held back until we know the object is not small
        self._writer: ChunkWriter | None = None
        self._in_chunk = 0
        self._done: list[ChunkRecord] = []
        self._ec = Scheme.parse(settings.ec_scheme)

    async def write(self, data: bytes | memoryview) -> None:
        small = self._settings.small_object_max_bytes
        if self._writer is None and not self._done and (self._pending or len(data) <= small):
            self._pending += data
            if len(self._pending) <= small:
                return
            data, self._pending = bytes(self._pending), bytearray()
        while data:
            if self._writer is None:
                self._writer = self._io.new_chunk_writer(self._ec)
                self._in_chunk = 0
            room = self._settings.chunk_size_bytes - self._in_chunk
            if len(data) <= room:  # the usual case: hand the buffer on as it is
                piece, data = data, b""
            else:
                view = memoryview(data)
                piece, data = view[:room], view[room:]
            await self._writer.write(piece)
            self._in_chunk += len(piece)
            if self._in_chunk >= self._settings.chunk_size_bytes:
                writer, self._writer = self._writer, None
                self._done.append(await writer.commit())

    async def finish(self) -> tuple[ChunkRecord, ...]:
        if self._writer is None and not self._done:
            if not self._pending:
                return ()
            if len(self._pending) <= self._settings.inline_max_bytes:
                payload, self._pending = bytes(self._pending), bytearray()
                return (ChunkRecord.inline(secrets.token_hex(16), payload),)
            writer = self._io.new_chunk_writer(Scheme.parse(self._settings.small_scheme))
            self._writer = writer
            await writer.write(bytes(self._pending))
            self._pending = bytearray()
        if self._writer is not None:
            writer, self._writer = self._writer, None
            self._done.append(await writer.commit())
        return tuple(self._done)

    async def abort(self) -> list[ChunkRecord]:
        """Abort the chunk in progress; returns committed chunks, which the caller must GC."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await writer.abort()
        done, self._done = self._done, []
        return done


async def write_body(
    body: BodySource,
    chunkio: ChunkIO,
    settings: CoordinatorSettings,
    hasher: MultiHasher,
    executor: Executor | None,
    on_orphans: Callable[[list[ChunkRecord]], Awaitable[None]],
    *,
    limit: int,
) -> tuple[ChunkRecord, ...]:
    """Read ``body`` to its end, hashing and storing it; returns the committed chunks.

    On any failure the chunks already committed are handed to ``on_orphans`` (GC) and the error
    propagates: nothing references them, nothing is visible.
    """
    loop = asyncio.get_running_loop()
    writer = DataWriter(chunkio, settings)
    pieces: list[bytes | memoryview] = []
    held = 0

    async def flush(data: bytes) -> None:
        if len(data) <= INLINE_HASH_BYTES:  # a thread hop costs more than hashing this
            hasher.update(data)
            await writer.write(data)
            return
        hashing = loop.run_in_executor(executor, hasher.update, data)
        await asyncio.gather(hashing, writer.write(data))

    try:
        total = 0
        while True:
            piece = await body.read()
            if not piece:
                break
            total += len(piece)
            if total > limit:
                raise errors.EntityTooLarge()
            pieces.append(piece)
            held += len(piece)
            while held >= settings.io_buffer_bytes:
                data, pieces = _take(pieces, settings.io_buffer_bytes)
                held -= len(data)
                await flush(data)
        if pieces:
            await flush(b"".join(pieces))
        return await writer.finish()
    except BaseException:
        orphans = await writer.abort()
        if orphans:
            await on_orphans(orphans)
        raise


def _take(pieces: list[bytes | memoryview], size: int) -> tuple[bytes, list[bytes | memoryview]]:
    """The first ``size`` bytes of ``pieces`` as one buffer (one copy), and what is left."""
    taken: list[bytes | memoryview] = []
    have = 0
    for i, piece in enumerate(pieces):
        if have + len(piece) <= size:
            taken.append(piece)
            have += len(piece)
            if have == size:
                return b"".join(taken), pieces[i + 1 :]
        else:
            cut = size - have
            taken.append(piece[:cut])
            return b"".join(taken), [piece[cut:], *pieces[i + 1 :]]
    return b"".join(taken), []
