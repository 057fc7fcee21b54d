"""Multipart uploads: create, upload part (and part copy), list, complete, abort.

Each part is stored as its own chunks as it arrives; CompleteMultipartUpload re-attaches the
chosen parts' chunks to the new object version in one metadata transaction (no byte is copied),
and every part left out goes to GC in that same transaction.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace

from ninefold.coordinator.writer import BodySource, IteratorBody
from ninefold.core import errors
from ninefold.core.checksums import FULL_OBJECT_ALGORITHMS, combine_crcs, composite_checksum
from ninefold.domain.buckets import Bucket
from ninefold.domain.objects import BodyCheck, ObjectService, PutSpec
from ninefold.meta.models import CompletedUpload, ObjectVersion, Part, Upload, WriteCondition

__all__ = [
    "CHECKSUM_TYPES",
    "COMPOSITE",
    "FULL_OBJECT",
    "MAX_PART_NUMBER",
    "CompleteChecks",
    "MultipartService",
    "checksum_type_of",
]

MAX_PART_NUMBER = 10_000
#: how the parts' checksums make a multipart object's: the checksum of the parts' checksums
#: ("<b64>-N"), or the CRC of the whole object (combined from the parts' CRCs)
COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"
CHECKSUM_TYPES = (COMPOSITE, FULL_OBJECT)

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
        self,
        bucket: Bucket,
        key: str,
        spec: PutSpec,
        checksum_algorithm: str,
        checksum_type: str = "",
    ) -> Upload:
        """A new upload; ``checksum_type`` as requested ("" for the algorithm's default:
        FULL_OBJECT for CRC64NVME, COMPOSITE for the others)."""
        kind = _new_checksum_type(checksum_algorithm, checksum_type)
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
            checksum_type=kind,
        )
        await self.meta.create_upload(upload)
        return upload

    async def require_upload(self, bucket: Bucket, key: str, upload_id: str) -> Upload:
        upload = await self.meta.get_upload(bucket.name, key, upload_id)
        if upload is None:
            raise errors.NoSuchUpload(UploadId=upload_id)
        return upload

    def check_part_checksums(self, upload: Upload, declared: Iterable[str]) -> None:
        """Refuse a part whose checksum algorithms (header or trailer) do not fit its upload:
        another algorithm than the upload's, or none at all for a COMPOSITE upload (whose
        object checksum is made of the part checksums the client computed; a FULL_OBJECT
        upload computes a missing one, as S3 does)."""
        algorithm = upload.checksum_algorithm
        if not algorithm:
            return
        declared = list(declared)
        other = [a for a in declared if a != algorithm]
        if other or (not declared and checksum_type_of(upload) == COMPOSITE):
            raise errors.InvalidRequest(
                f"Checksum Type mismatch occurred, expected checksum Type: {algorithm}, "
                f"actual checksum Type: {other[0] if other else 'null'}"
            )

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
        *,
        expected: CompleteChecks | None = None,
    ) -> ObjectVersion:
        """Complete with ``[(part_number, etag, {algorithm: b64 checksum}), ...]`` as sent;
        ``condition`` (If-None-Match / If-Match) is checked atomically with the commit. When
        it fails the upload stays, as on AWS, so it can be completed or aborted later.

        An upload with a checksum algorithm gets the object checksum of its type: COMPOSITE
        (every listed part must carry its checksum) or FULL_OBJECT (the parts' CRCs combined).
        ``expected`` (the object checksum, type and size the client states) is verified
        against what the parts make; nothing is committed when it does not match.

        An upload completed already (``upload`` is a ``CompletedUpload``, or it completes
        concurrently) answers as it did the first time when ``requested`` names the same parts
        (a client retrying after a lost answer), without checking ``condition`` again: that
        write happened. Other parts are NoSuchUpload."""
        expected = expected or CompleteChecks()
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
        algorithm = upload.checksum_algorithm
        kind = checksum_type_of(upload)
        if algorithm and expected.checksum_type and expected.checksum_type != kind:
            raise errors.BadDigest(
                f"The checksum type you specified ({expected.checksum_type}) does not match the "
                f"checksum type of the upload ({kind})."
            )
        parts: list[Part] = []
        for number, etag, sums in requested:
            part = stored.get(number)
            if part is None or etag.strip().strip('"') != part.etag:
                raise errors.InvalidPart(PartNumber=str(number), ETag=etag)
            if algorithm and algorithm not in sums and kind == COMPOSITE:
                for other in sums:
                    raise errors.BadDigest(
                        f"The {other} you specified for part {number} did not match what we "
                        "received."
                    )
                raise errors.InvalidRequest(
                    f"The upload was created using a {algorithm} checksum. The complete request "
                    "must include the checksum for each part. It was missing for part "
                    f"{number} in the request."
                )
            for name, value in sums.items():
                if part.checksums.get(name) not in (None, value):
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
        size = sum(p.size for p in parts)
        if expected.object_size is not None and expected.object_size != size:
            raise errors.InvalidRequest(
                f"The provided 'x-amz-mp-object-size' header value {expected.object_size} "
                f"does not match what was computed: {size}"
            )
        md5s = b"".join(bytes.fromhex(p.etag) for p in parts)
        etag = f"{hashlib.md5(md5s).hexdigest()}-{len(parts)}"
        checksums, part_checksums = _object_checksums(algorithm, kind, parts)
        _verify_object_checksum(algorithm, checksums, expected.checksum)
        obj = ObjectVersion(
            bucket=upload.bucket,
            key=upload.key,
            size=size,
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
            part_checksums=part_checksums,
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


@dataclass(frozen=True, slots=True)
class CompleteChecks:
    """What a CompleteMultipartUpload states about the object it makes (all optional)."""

    #: (algorithm, base64 value) of the whole object (x-amz-checksum-<algorithm>)
    checksum: tuple[str, str] | None = None
    #: COMPOSITE or FULL_OBJECT (x-amz-checksum-type); must be the upload's
    checksum_type: str = ""
    #: the object's size in bytes (x-amz-mp-object-size)
    object_size: int | None = None


def checksum_type_of(upload: Upload) -> str:
    """The checksum type of ``upload`` ("" without an algorithm; uploads created before the
    type was kept were all COMPOSITE)."""
    if not upload.checksum_algorithm:
        return ""
    return upload.checksum_type or COMPOSITE


def _new_checksum_type(algorithm: str, requested: str) -> str:
    """The checksum type of a new upload, as S3 decides it (InvalidRequest for the pairs S3
    refuses: a type without an algorithm, COMPOSITE CRC64NVME, FULL_OBJECT SHA)."""
    if requested and requested not in CHECKSUM_TYPES:
        raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
    if not algorithm:
        if requested:
            raise errors.InvalidRequest(
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header."
            )
        return ""
    kind = requested or (FULL_OBJECT if algorithm == "crc64nvme" else COMPOSITE)
    if kind == COMPOSITE and algorithm == "crc64nvme":
        raise errors.InvalidRequest(
            "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."
        )
    if kind == FULL_OBJECT and algorithm not in FULL_OBJECT_ALGORITHMS:
        raise errors.InvalidRequest(
            f"The FULL_OBJECT checksum type cannot be used with the {algorithm} checksum algorithm."
        )
    return kind


def _object_checksums(
    algorithm: str, kind: str, parts: list[Part]
) -> tuple[dict[str, str], tuple[dict[str, str], ...]]:
    """The object's checksums ({algorithm: b64, "type": kind}) and its parts' ({algorithm:
    b64} each), made from the parts' checksums; none when a part lacks one."""
    if not algorithm or not all(algorithm in p.checksums for p in parts):
        return {}, ()
    values = [p.checksums[algorithm] for p in parts]
    if kind == FULL_OBJECT:
        value = combine_crcs(algorithm, zip(values, (p.size for p in parts), strict=True))
    else:
        value = composite_checksum(algorithm, values)
    return {algorithm: value, "type": kind}, tuple({algorithm: v} for v in values)


def _verify_object_checksum(
    algorithm: str, checksums: dict[str, str], given: tuple[str, str] | None
) -> None:
    """Check the object checksum a completion states against the one the parts make. A
    COMPOSITE value is accepted with or without its ``-N`` suffix."""
    if given is None:
        return
    name, value = given
    if name != algorithm:
        raise errors.InvalidRequest(
            f"Checksum Type mismatch occurred, expected checksum Type: {algorithm or 'null'}, "
            f"actual checksum Type: {name}"
        )
    computed = checksums.get(algorithm)
    if computed is not None and value not in (computed, computed.rsplit("-", 1)[0]):
        raise errors.BadDigest(
            f"The {algorithm} you specified did not match the calculated checksum."
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
