"""Multipart uploads: create, upload part (and part copy), list, complete, abort.

Each part is stored as its own chunks as it arrives; CompleteMultipartUpload re-attaches the
chosen parts' chunks to the new object version in one metadata transaction (no byte is copied),
and every part left out goes to GC in that same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from ninefold.coordinator.writer import BodySource, IteratorBody
from ninefold.core import errors
from ninefold.core.checksums import b64, new_hasher
from ninefold.domain.buckets import Bucket
from ninefold.domain.objects import BodyCheck, ObjectService, PutSpec
from ninefold.meta.models import CompletedUpload, ObjectVersion, Part, Upload, WriteCondition

__all__ = ["MAX_PART_NUMBER", "MultipartService"]

MAX_PART_NUMBER = 10_000

#: where an upload keeps the tags its object will get (not an HTTP header of the object)
TAGS_HEADER = "x-ninefold-tags"
#: likewise the Object Lock its object will get
LOCK_HEADER = "x-ninefold-lock"
#: and its canned ACL
ACL_HEADER = "x-ninefold-acl"
PRIVATE_HEADERS = (TAGS_HEADER, LOCK_HEADER, ACL_HEADER)


class MultipartService:
    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects
        self.meta = objects.meta

    async def create(
        self, bucket: Bucket, key: str, spec: PutSpec, checksum_algorithm: str
    ) -> Upload:
        upload = Upload(
            upload_id=secrets.token_urlsafe(32),
            bucket=bucket.name,
            key=key,
            created_at=time.time(),
            owner=spec.owner,
            content_type=spec.content_type,
            # the upload keeps the object's tags with its headers until it completes
            headers={
                **spec.headers,
                **({TAGS_HEADER: json.dumps(spec.tags)} if spec.tags else {}),
                **({LOCK_HEADER: json.dumps(spec.lock)} if spec.lock else {}),
                **({ACL_HEADER: spec.acl} if spec.acl != "private" else {}),
            },
            user_meta=spec.user_meta,
            checksum_algorithm=checksum_algorithm,
            storage_class=spec.storage_class,
        )
        await self.meta.create_upload(upload)
        return upload

    async def require_upload(self, bucket: Bucket, key: str, upload_id: str) -> Upload:
        upload = await self.meta.get_upload(bucket.name, key, upload_id)
        if upload is None:
            raise errors.NoSuchUpload(UploadId=upload_id)
        return upload

    async def upload_to_complete(
        self, bucket: Bucket, key: str, upload_id: str
    ) -> Upload | CompletedUpload:
        """The upload a CompleteMultipartUpload names: still open, or completed lately (S3
        answers a repeated complete of the same parts with the first answer)."""
        upload = await self.meta.get_upload(bucket.name, key, upload_id)
        if upload is not None:
            return upload
        done = await self.meta.get_completed_upload(bucket.name, key, upload_id)
        if done is None:
            raise errors.NoSuchUpload(UploadId=upload_id)
        return done

    async def upload_part(
        self,
        upload: Upload,
        part_number: int,
        body: BodySource,
        algorithms: tuple[str, ...],
        check: BodyCheck,
    ) -> Part:
        _check_part_number(part_number)
        chunks, hasher, checksums = await self.objects.store_body(body, algorithms, check)
        part = Part(
            upload_id=upload.upload_id,
            part_number=part_number,
            size=hasher.size,
            etag=hasher.md5.hexdigest(),
            last_modified=time.time(),
            checksums=checksums,
            chunks=chunks,
        )
        try:
            await self.meta.put_part(part)
        except BaseException:
            await self.meta.gc_queue_chunks(list(chunks))
            raise
        return part

    async def upload_part_copy(
        self, upload: Upload, part_number: int, source: ObjectVersion, start: int, length: int
    ) -> Part:
        _check_part_number(part_number)
        body: AsyncIterator[bytes | memoryview] = self.objects.read(source, start, length)
        algorithms = (upload.checksum_algorithm,) if upload.checksum_algorithm else ()
        return await self.upload_part(
            upload, part_number, IteratorBody(body), algorithms, lambda h: h.checksums_b64()
        )

    async def list_parts(self, upload: Upload, *, after: int, max_parts: int) -> list[Part]:
        return await self.meta.list_parts(upload.upload_id, after=after, max_parts=max_parts)

    async def complete(
        self,
        upload: Upload | CompletedUpload,
        requested: list[tuple[int, str, dict[str, str]]],
        condition: WriteCondition | None = None,
    ) -> ObjectVersion:
        """Complete with ``[(part_number, etag, {algorithm: b64 checksum}), ...]`` as sent;
        ``condition`` (If-None-Match / If-Match) is checked atomically with the commit. When
        it fails the upload stays, as on AWS, so it can be completed or aborted later.

        An upload completed already (``upload`` is a ``CompletedUpload``, or it completes
        concurrently) answers as it did the first time when ``requested`` names the same parts
        (a client retrying after a lost answer), without checking ``condition`` again: that
        write happened. Other parts are NoSuchUpload."""
        if not requested:
            raise errors.InvalidDocument("CompleteMultipartUpload must name at least one part.")
        numbers = [n for n, _, _ in requested]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise errors.InvalidPartOrder()
        if isinstance(upload, CompletedUpload):
            return _replay(upload, requested)
        stored = {
            p.part_number: p
            for p in await self.meta.list_parts(
                upload.upload_id, after=0, max_parts=MAX_PART_NUMBER
            )
        }
        parts: list[Part] = []
        for number, etag, sums in requested:
            part = stored.get(number)
            if part is None or etag.strip().strip('"') != part.etag:
                raise errors.InvalidPart(PartNumber=str(number), ETag=etag)
            for algorithm, value in sums.items():
                if part.checksums.get(algorithm) not in (None, value):
                    raise errors.InvalidPart(PartNumber=str(number), ETag=etag)
            parts.append(part)
        for part in parts[:-1]:
            if part.size < self.objects.settings.min_part_size_bytes:
                raise errors.EntityTooSmall(
                    ProposedSize=str(part.size),
                    MinSizeAllowed=str(self.objects.settings.min_part_size_bytes),
                    PartNumber=str(part.part_number),
                    ETag=part.etag,
                )
        md5s = b"".join(bytes.fromhex(p.etag) for p in parts)
        etag = f"{hashlib.md5(md5s).hexdigest()}-{len(parts)}"
        checksums: dict[str, str] = {}
        algorithm = upload.checksum_algorithm
        if algorithm and all(algorithm in p.checksums for p in parts):
            composite = new_hasher(algorithm)
            for p in parts:
                composite.update(base64.b64decode(p.checksums[algorithm]))
            checksums = {algorithm: f"{b64(composite.digest())}-{len(parts)}", "type": "COMPOSITE"}
        obj = ObjectVersion(
            bucket=upload.bucket,
            key=upload.key,
            size=sum(p.size for p in parts),
            etag=etag,
            last_modified=time.time(),
            content_type=upload.content_type,
            headers={k: v for k, v in upload.headers.items() if k not in PRIVATE_HEADERS},
            tags=json.loads(upload.headers.get(TAGS_HEADER, "{}")),
            lock=json.loads(upload.headers.get(LOCK_HEADER, "{}")),
            acl=upload.headers.get(ACL_HEADER, "private"),
            user_meta=upload.user_meta,
            checksums=checksums,
            storage_class=upload.storage_class,
            part_sizes=tuple(p.size for p in parts),
            owner=upload.owner,
            chunks=tuple(c for p in parts for c in p.chunks),
        )
        await self.objects.precheck(upload.bucket, upload.key, condition)
        try:
            version_id = await self.meta.complete_upload(upload, obj, numbers, condition)
        except errors.NoSuchUpload:  # completed (or aborted) by a concurrent request
            done = await self.meta.get_completed_upload(upload.bucket, upload.key, upload.upload_id)
            if done is None:
                raise
            return _replay(done, requested)
        return replace(obj, version_id=version_id or "")

    async def abort(self, upload: Upload) -> None:
        if not await self.meta.abort_upload(upload.upload_id):
            raise errors.NoSuchUpload(UploadId=upload.upload_id)

    async def list_uploads(
        self,
        bucket: Bucket,
        *,
        prefix: str,
        key_marker: str,
        upload_id_marker: str,
        max_uploads: int,
    ) -> list[Upload]:
        return await self.meta.list_uploads(
            bucket.name,
            prefix=prefix,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )


def _check_part_number(number: int) -> None:
    if not 1 <= number <= MAX_PART_NUMBER:
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=str(number),
        )


def _replay(
    done: CompletedUpload, requested: list[tuple[int, str, dict[str, str]]]
) -> ObjectVersion:
    """The answer of the CompleteMultipartUpload that completed ``done``, for a request that
    names the same parts with the same ETags (same numbers, same multipart ETag)."""
    numbers = tuple(n for n, _, _ in requested)
    try:
        md5s = b"".join(bytes.fromhex(etag.strip().strip('"')) for _, etag, _ in requested)
    except ValueError:
        md5s = b""
    etag = f"{hashlib.md5(md5s).hexdigest()}-{len(requested)}"
    if numbers != done.parts or etag != done.etag:
        raise errors.NoSuchUpload(UploadId=done.upload_id)
    return ObjectVersion(
        bucket=done.bucket,
        key=done.key,
        size=0,
        etag=done.etag,
        last_modified=done.completed_at,
        version_id=done.version_id,
        checksums=dict(done.checksums),
    )
