"""Settings of the object coordinator (frozen, built once by the CLI and passed down)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CoordinatorSettings"]


@dataclass(frozen=True, slots=True)
class CoordinatorSettings:
    chunk_size_bytes: int = 64 * 1024 * 1024
    #: objects up to this size are replicated (rep:4) instead of erasure-coded
    small_object_max_bytes: int = 128 * 1024
    ec_scheme: str = "ec:6+3"
    small_scheme: str = "rep:4"
    #: objects (and parts) up to this size are stored inline in their metadata row: no fragment
    #: files at all (each new file costs ~300 µs of kernel CPU here; see BENCHMARKS.md)
    inline_max_bytes: int = 32 * 1024
    #: S3's minimum size of every multipart part but the last
    min_part_size_bytes: int = 5 * 1024 * 1024
    #: S3's limits: a single PUT (or part) up to 5 GiB, a multipart object up to 5 TiB
    max_put_size_bytes: int = 5 * 1024**3
    #: fragments of deleted or replaced versions are removed after this grace period
    gc_grace_s: float = 30.0
    #: the coordinator hands body bytes to hashing and encoding in buffers of this size: one
    #: 6+3 stripe (6 x 256 KiB), which the chunk writer then encodes without copying it
    io_buffer_bytes: int = 6 * 256 * 1024
