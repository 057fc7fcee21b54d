"""Flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) and Content-MD5."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import pytest
from awscrt import checksums as crt

from .helpers import (
    PART_MIN,
    KiB,
    MiB,
    b64_md5,
    crc32_b64,
    md5_hex,
    multipart_etag,
    no_retry_client,
    quoted_md5,
    raises_s3,
    random_bytes,
    read_all,
    request,
    status_of,
)

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("size", [0, 3 * KiB, 1 * MiB + 7], ids=["0B", "3KiB", "1MiB+7"])
def test_checksum_round_trip(s3: Any, bucket: str, algorithm: str, size: int) -> None:
    data = random_bytes(size)
    key = f"ck-{algorithm}-{size}"
    field = f"Checksum{algorithm}"
    put = s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm=algorithm)
    assert status_of(put) == 200
    sent = put.get(field)
    assert sent, f"PutObject response lacks {field}: {put}"

    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head.get(field) == sent, head
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got.get(field) == sent, got
    assert got["Body"].read() == data


def test_known_checksum_values(s3: Any, bucket: str) -> None:
    data = b"The quick brown fox jumps over the lazy dog"
    s3.put_object(Bucket=bucket, Key="sha256", Body=data, ChecksumAlgorithm="SHA256")
    head = s3.head_object(Bucket=bucket, Key="sha256", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    s3.put_object(Bucket=bucket, Key="sha1", Body=data, ChecksumAlgorithm="SHA1")
    head = s3.head_object(Bucket=bucket, Key="sha1", ChecksumMode="ENABLED")
    assert head["ChecksumSHA1"] == base64.b64encode(hashlib.sha1(data).digest()).decode()
    s3.put_object(Bucket=bucket, Key="crc32", Body=data, ChecksumAlgorithm="CRC32")
    head = s3.head_object(Bucket=bucket, Key="crc32", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(data)


def test_default_put_checksum_is_crc32(s3: Any, bucket: str) -> None:
    """boto3 >= 1.36 sends CRC32 by default (a header over HTTP, an aws-chunked trailer over
    HTTPS); the server must verify and store it."""
    data = random_bytes(200 * KiB)
    put = s3.put_object(Bucket=bucket, Key="default", Body=data)
    assert put.get("ChecksumCRC32") == crc32_b64(data)
    got = s3.get_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
    assert got.get("ChecksumCRC32") == crc32_b64(data)
    assert got["Body"].read() == data


def test_wrong_crc32_rejected_and_object_unchanged(any_server: Any, bucket: str) -> None:
    # botocore retries BadDigest (legacy mode, 5 attempts with backoff): no retries here
    s3 = no_retry_client(any_server)
    original = b"original content"
    s3.put_object(Bucket=bucket, Key="k", Body=original)
    wrong = crc32_b64(b"something else")
    with raises_s3(("BadDigest", "InvalidRequest"), 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"new content", ChecksumCRC32=wrong)
    assert read_all(s3, bucket, "k") == original
    with raises_s3(("BadDigest", "InvalidRequest"), 400):
        s3.put_object(Bucket=bucket, Key="new", Body=b"new content", ChecksumCRC32=wrong)
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="new")


def test_wrong_crc32_raw_header(any_server: Any, s3: Any, bucket: str) -> None:
    body = random_bytes(300 * KiB)  # erasure-coded path
    resp = request(
        any_server,
        "PUT",
        bucket,
        "raw-bad-crc",
        body=body,
        headers={"x-amz-checksum-crc32": crc32_b64(body[:-1]), "Content-Type": "a/b"},
    )
    assert resp.status == 400, resp
    resp.error(("BadDigest", "InvalidRequest"))
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="raw-bad-crc")


@pytest.mark.parametrize("algorithm", ["CRC32C", "SHA1", "SHA256"])
def test_wrong_other_checksums_rejected(any_server: Any, bucket: str, algorithm: str) -> None:
    s3 = no_retry_client(any_server)
    good = {
        "CRC32C": "AAAAAA==",
        "SHA1": base64.b64encode(b"\0" * 20).decode(),
        "SHA256": base64.b64encode(b"\0" * 32).decode(),
    }[algorithm]
    with raises_s3(("BadDigest", "InvalidRequest"), 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=b"payload", **{f"Checksum{algorithm}": good})
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="bad")


def test_content_md5_correct(s3: Any, bucket: str) -> None:
    data = random_bytes(150 * KiB)
    put = s3.put_object(Bucket=bucket, Key="md5", Body=data, ContentMD5=b64_md5(data))
    assert put["ETag"] == quoted_md5(data)
    assert md5_hex(read_all(s3, bucket, "md5")) == md5_hex(data)


def test_wrong_content_md5(any_server: Any, bucket: str) -> None:
    s3 = no_retry_client(any_server)
    s3.put_object(Bucket=bucket, Key="md5", Body=b"original")
    with raises_s3("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="md5", Body=b"changed", ContentMD5=b64_md5(b"other"))
    assert read_all(s3, bucket, "md5") == b"original"


@pytest.mark.parametrize("value", ["not-base64!!", "AAAA", base64.b64encode(b"x" * 15).decode()])
def test_malformed_content_md5(any_server: Any, bucket: str, value: str) -> None:
    s3 = no_retry_client(any_server)
    with raises_s3("InvalidDigest", 400):
        s3.put_object(Bucket=bucket, Key="md5bad", Body=b"data", ContentMD5=value)
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="md5bad")


def test_wrong_content_sha256(any_server: Any, s3: Any, bucket: str) -> None:
    """A signed payload hash that does not match the body: XAmzContentSHA256Mismatch."""
    body = b"the real body"
    resp = request(
        any_server,
        "PUT",
        bucket,
        "sha-mismatch",
        body=body,
        payload_hash=hashlib.sha256(b"another body").hexdigest(),
    )
    assert resp.status == 400, resp
    resp.error(("XAmzContentSHA256Mismatch", "BadDigest"))
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="sha-mismatch")


# --------------------------------------------------------------------------------------------
# the checksum values, computed here from the bytes (hashlib, zlib and the AWS CRT's CRCs, as
# botocore computes them), never by the server's code
# --------------------------------------------------------------------------------------------

DIGEST_BYTES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}


def digest(algorithm: str, data: bytes) -> bytes:
    if algorithm == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if algorithm == "CRC32C":
        return crt.crc32c(data).to_bytes(4, "big")
    if algorithm == "CRC64NVME":
        return crt.crc64nvme(data).to_bytes(8, "big")
    return hashlib.new(algorithm.lower(), data).digest()


def checksum(algorithm: str, data: bytes) -> str:
    return base64.b64encode(digest(algorithm, data)).decode()


def composite(algorithm: str, parts: list[bytes]) -> str:
    """S3's COMPOSITE checksum: the checksum of the parts' binary checksums, then -N."""
    joined = b"".join(digest(algorithm, p) for p in parts)
    return f"{checksum(algorithm, joined)}-{len(parts)}"


def wrong_value(algorithm: str) -> str:
    """Well-formed (base64 of the right size) but not the checksum of the test bodies."""
    return base64.b64encode(b"\x01" * DIGEST_BYTES[algorithm]).decode()


# --------------------------------------------------------------------------------------------
# 1. a checksum that does not match: BadDigest; one that is not a checksum: InvalidRequest
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_mismatched_checksum_is_bad_digest_and_stores_nothing(
    any_server: Any, s3: Any, bucket: str, algorithm: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")
    for key, size in (("k", 2 * KiB), ("big", 300 * KiB)):  # inline and erasure-coded
        body = random_bytes(size)
        resp = request(
            any_server,
            "PUT",
            bucket,
            key,
            body=body,
            headers={f"x-amz-checksum-{algorithm.lower()}": wrong_value(algorithm)},
        )
        assert resp.status == 400, resp
        err = resp.error("BadDigest")
        assert err["Message"] == (
            f"The {algorithm} you specified did not match the calculated checksum."
        )
    assert read_all(s3, bucket, "k") == b"before"
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="big")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kind", ["not-base64", "short", "long", "unpadded"], ids=lambda k: k)
def test_malformed_checksum_is_invalid_request(
    any_server: Any, s3: Any, bucket: str, algorithm: str, kind: str
) -> None:
    size = DIGEST_BYTES[algorithm]
    value = {
        "not-base64": "not base64!!",
        "short": base64.b64encode(b"\x01" * (size - 1)).decode(),
        "long": base64.b64encode(b"\x01" * (size + 1)).decode(),
        "unpadded": base64.b64encode(b"\x01" * size).decode().rstrip("="),
    }[kind]
    if kind == "unpadded" and value == base64.b64encode(b"\x01" * size).decode():
        pytest.skip("this digest size has no padding")
    resp = request(
        any_server,
        "PUT",
        bucket,
        "bad",
        body=b"payload",
        headers={f"x-amz-checksum-{algorithm.lower()}": value},
    )
    assert resp.status == 400, resp
    err = resp.error("InvalidRequest")
    assert err["Message"] == f"Value for x-amz-checksum-{algorithm.lower()} header is invalid."
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="bad")


def _upload(s3: Any, bucket: str, key: str, **kwargs: Any) -> str:
    upload_id: str = s3.create_multipart_upload(Bucket=bucket, Key=key, **kwargs)["UploadId"]
    return upload_id


def _part_numbers(s3: Any, bucket: str, key: str, upload_id: str) -> list[int]:
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id).get("Parts", [])
    return [p["PartNumber"] for p in parts]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_upload_part_mismatched_checksum_is_bad_digest(
    any_server: Any, s3: Any, bucket: str, algorithm: str
) -> None:
    upload_id = _upload(s3, bucket, "mp", ChecksumAlgorithm=algorithm)
    body = random_bytes(200 * KiB)
    resp = request(
        any_server,
        "PUT",
        bucket,
        "mp",
        query={"partNumber": "1", "uploadId": upload_id},
        body=body,
        headers={f"x-amz-checksum-{algorithm.lower()}": wrong_value(algorithm)},
    )
    assert resp.status == 400, resp
    assert resp.error("BadDigest")["Message"] == (
        f"The {algorithm} you specified did not match the calculated checksum."
    )
    assert _part_numbers(s3, bucket, "mp", upload_id) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)


# --------------------------------------------------------------------------------------------
# 2. COMPOSITE multipart checksums
# --------------------------------------------------------------------------------------------

PARTS = [PART_MIN, PART_MIN + 3, 100 * KiB + 1]


def _put_parts(
    s3: Any, bucket: str, key: str, upload_id: str, algorithm: str | None, sizes: list[int]
) -> tuple[list[bytes], list[dict[str, Any]]]:
    """Upload parts of ``sizes`` (boto3 computes and sends each part's ``algorithm`` checksum:
    a header over HTTP, an aws-chunked trailer over HTTPS); the CompleteMultipartUpload list
    with each part's checksum as UploadPart returned it."""
    data = [random_bytes(n) for n in sizes]
    done = []
    for number, body in enumerate(data, start=1):
        kwargs = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        resp = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **kwargs
        )
        entry = {"PartNumber": number, "ETag": resp["ETag"]}
        if algorithm:
            assert resp[f"Checksum{algorithm}"] == checksum(algorithm, body)
            entry[f"Checksum{algorithm}"] = resp[f"Checksum{algorithm}"]
        done.append(entry)
    return data, done


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_multipart_checksum(s3: Any, bucket: str, algorithm: str) -> None:
    field = f"Checksum{algorithm}"
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm=algorithm)
    assert created["ChecksumAlgorithm"] == algorithm
    assert created["ChecksumType"] == "COMPOSITE"  # the default for all but CRC64NVME
    upload_id = created["UploadId"]
    data, done = _put_parts(s3, bucket, "mp", upload_id, algorithm, PARTS)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == (algorithm, "COMPOSITE")
    assert [p[field] for p in listed["Parts"]] == [checksum(algorithm, d) for d in data]

    expected = composite(algorithm, data)
    complete = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert (complete[field], complete["ChecksumType"]) == (expected, "COMPOSITE")
    assert complete["ETag"] == multipart_etag(data)

    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert (head[field], head["ChecksumType"]) == (expected, "COMPOSITE")
    got = s3.get_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert (got[field], got["ChecksumType"]) == (expected, "COMPOSITE")
    assert got["Body"].read() == b"".join(data)
    # a part read alone comes with the checksum that part was uploaded with
    part = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2, ChecksumMode="ENABLED")
    assert (part[field], part["ChecksumType"]) == (checksum(algorithm, data[1]), "COMPOSITE")
    assert part["Body"].read() == data[1]

    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="mp", ObjectAttributes=["Checksum", "ObjectParts"]
    )
    # GetObjectAttributes gives the composite value without its -N (S3 does the same)
    assert attrs["Checksum"] == {field: expected.rsplit("-", 1)[0], "ChecksumType": "COMPOSITE"}
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3
    assert attrs["ObjectParts"]["Parts"] == [
        {"PartNumber": n, "Size": len(d), field: checksum(algorithm, d)}
        for n, d in enumerate(data, start=1)
    ]


def test_object_parts_paging_with_checksums(s3: Any, bucket: str) -> None:
    upload_id = _upload(s3, bucket, "mp", ChecksumAlgorithm="CRC32C")
    data, done = _put_parts(s3, bucket, "mp", upload_id, "CRC32C", PARTS)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": done}
    )

    def page(**kwargs: Any) -> dict[str, Any]:
        parts: dict[str, Any] = s3.get_object_attributes(
            Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"], **kwargs
        )["ObjectParts"]
        return parts

    first = page(MaxParts=2)
    assert (first["TotalPartsCount"], first["MaxParts"], first["IsTruncated"]) == (3, 2, True)
    assert first["PartNumberMarker"] == 0 and first["NextPartNumberMarker"] == 2
    assert [(p["PartNumber"], p["ChecksumCRC32C"]) for p in first["Parts"]] == [
        (1, checksum("CRC32C", data[0])),
        (2, checksum("CRC32C", data[1])),
    ]
    rest = page(MaxParts=2, PartNumberMarker=2)
    assert (rest["PartNumberMarker"], rest["IsTruncated"]) == (2, False)
    assert rest["Parts"] == [
        {"PartNumber": 3, "Size": len(data[2]), "ChecksumCRC32C": checksum("CRC32C", data[2])}
    ]


def test_composite_complete_needs_every_part_checksum(any_server: Any, bucket: str) -> None:
    s3 = no_retry_client(any_server)
    upload_id = _upload(s3, bucket, "mp", ChecksumAlgorithm="SHA256")
    data, done = _put_parts(s3, bucket, "mp", upload_id, "SHA256", [PART_MIN, 10])
    without = [done[0], {k: v for k, v in done[1].items() if k != "ChecksumSHA256"}]
    with raises_s3("InvalidRequest", 400) as info:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": without}
        )
    assert info.value.response["Error"]["Message"] == (
        "The upload was created using a sha256 checksum. The complete request must include "
        "the checksum for each part. It was missing for part 2 in the request."
    )
    # a checksum that is not the part's: InvalidPart
    wrong = [done[0], {**done[1], "ChecksumSHA256": checksum("SHA256", b"other")}]
    with raises_s3("InvalidPart", 400):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": wrong}
        )
    # the checksum type stated at completion must be the upload's
    with raises_s3("BadDigest", 400):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            ChecksumType="FULL_OBJECT",
        )
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="mp")
    # nothing was lost: the upload completes once asked properly
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert read_all(s3, bucket, "mp") == b"".join(data)


def test_composite_upload_part_must_use_the_upload_algorithm(any_server: Any, bucket: str) -> None:
    s3 = no_retry_client(any_server)
    upload_id = _upload(s3, bucket, "mp", ChecksumAlgorithm="CRC32")
    with raises_s3("InvalidRequest", 400) as info:
        s3.upload_part(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            PartNumber=1,
            Body=b"x" * 1000,
            ChecksumAlgorithm="SHA256",
        )
    assert info.value.response["Error"]["Message"] == (
        "Checksum Type mismatch occurred, expected checksum Type: crc32, "
        "actual checksum Type: sha256"
    )
    # no checksum at all (a raw request; boto3 always sends one)
    resp = request(
        any_server,
        "PUT",
        bucket,
        "mp",
        query={"partNumber": "1", "uploadId": upload_id},
        body=b"x" * 1000,
    )
    assert resp.status == 400, resp
    assert resp.error("InvalidRequest")["Message"] == (
        "Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum Type: null"
    )
    assert _part_numbers(s3, bucket, "mp", upload_id) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)


# --------------------------------------------------------------------------------------------
# 3. FULL_OBJECT multipart checksums: the parts' CRCs combined into the whole object's
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_multipart_checksum(s3: Any, bucket: str, algorithm: str) -> None:
    field = f"Checksum{algorithm}"
    created = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ChecksumAlgorithm=algorithm, ChecksumType="FULL_OBJECT"
    )
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == (algorithm, "FULL_OBJECT")
    upload_id = created["UploadId"]
    data, done = _put_parts(s3, bucket, "mp", upload_id, algorithm, PARTS)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert listed["ChecksumType"] == "FULL_OBJECT"
    whole = checksum(algorithm, b"".join(data))
    # the client states the whole object's CRC; the server checks it against the combination
    complete = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": done},
        ChecksumType="FULL_OBJECT",
        MpuObjectSize=sum(PARTS),
        **{field: whole},
    )
    assert (complete[field], complete["ChecksumType"]) == (whole, "FULL_OBJECT")
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert (head[field], head["ChecksumType"]) == (whole, "FULL_OBJECT")
    got = s3.get_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert got[field] == whole and got["Body"].read() == b"".join(data)
    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="mp", ObjectAttributes=["Checksum", "ObjectParts"]
    )
    assert attrs["Checksum"] == {field: whole, "ChecksumType": "FULL_OBJECT"}
    # as on S3: a FULL_OBJECT object lists no parts, only their number
    assert attrs["ObjectParts"] == {"TotalPartsCount": 3}


def test_crc64nvme_upload_is_full_object_by_default(any_server: Any, bucket: str) -> None:
    """CRC64NVME uploads are FULL_OBJECT without asking; a part sent without a checksum gets
    one computed (S3 requires part checksums of COMPOSITE uploads only)."""
    s3 = no_retry_client(any_server)
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC64NVME")
    assert created["ChecksumType"] == "FULL_OBJECT"
    upload_id = created["UploadId"]
    data = [random_bytes(PART_MIN), random_bytes(1234)]
    first = request(
        any_server,
        "PUT",
        bucket,
        "mp",
        query={"partNumber": "1", "uploadId": upload_id},
        body=data[0],
    )
    assert first.status == 200, first
    assert first.header("x-amz-checksum-crc64nvme") == checksum("CRC64NVME", data[0])
    second = s3.upload_part(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        PartNumber=2,
        Body=data[1],
        ChecksumAlgorithm="CRC64NVME",
    )
    done = [
        {"PartNumber": 1, "ETag": first.header("ETag")},
        {"PartNumber": 2, "ETag": second["ETag"]},
    ]
    complete = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert complete["ChecksumCRC64NVME"] == checksum("CRC64NVME", b"".join(data))
    assert complete["ChecksumType"] == "FULL_OBJECT"


def test_full_object_wrong_checksum_at_complete(any_server: Any, bucket: str) -> None:
    s3 = no_retry_client(any_server)
    upload_id = _upload(s3, bucket, "mp", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    data, done = _put_parts(s3, bucket, "mp", upload_id, "CRC32", [PART_MIN, 77])
    with raises_s3("BadDigest", 400) as info:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            ChecksumCRC32=checksum("CRC32", b"".join(data) + b"!"),
        )
    assert info.value.response["Error"]["Message"] == (
        "The crc32 you specified did not match the calculated checksum."
    )
    # another algorithm than the upload's
    with raises_s3("InvalidRequest", 400):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            ChecksumCRC32C=checksum("CRC32C", b"".join(data)),
        )
    # a malformed one
    with raises_s3("InvalidRequest", 400):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            ChecksumCRC32="AAAA",
        )
    with raises_s3("BadDigest", 400):  # the type must be the upload's
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            ChecksumType="COMPOSITE",
        )
    with raises_s3("InvalidRequest", 400):  # x-amz-mp-object-size is checked too
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            MpuObjectSize=sum(len(d) for d in data) + 1,
        )
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="mp")
    assert _part_numbers(s3, bucket, "mp", upload_id) == [1, 2]  # the upload is intact
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": done},
        ChecksumCRC32=checksum("CRC32", b"".join(data)),
    )
    assert read_all(s3, bucket, "mp") == b"".join(data)


@pytest.mark.parametrize(
    ("algorithm", "kind", "message"),
    [
        (
            "CRC64NVME",
            "COMPOSITE",
            "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
        ),
        (
            "SHA256",
            "FULL_OBJECT",
            "The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm.",
        ),
        (
            "SHA1",
            "FULL_OBJECT",
            "The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm.",
        ),
        (
            None,
            "FULL_OBJECT",
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm "
            "header.",
        ),
    ],
)
def test_invalid_checksum_type_is_refused(
    any_server: Any, bucket: str, algorithm: str | None, kind: str, message: str
) -> None:
    s3 = no_retry_client(any_server)
    kwargs = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    with raises_s3("InvalidRequest", 400) as info:
        s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumType=kind, **kwargs)
    assert info.value.response["Error"]["Message"] == message
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_unknown_checksum_type_is_refused(any_server: Any, s3: Any, bucket: str) -> None:
    resp = request(
        any_server,
        "POST",
        bucket,
        "mp",
        query={"uploads": ""},
        headers={"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "PARTIAL"},
    )
    assert resp.status == 400, resp
    resp.error("InvalidRequest")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_multipart_without_checksum_algorithm_unchanged(s3: Any, bucket: str) -> None:
    """An upload without an algorithm keeps no object checksum (its parts' are not combined)
    and GetObjectAttributes lists its parts with their sizes."""
    upload_id = _upload(s3, bucket, "mp")
    data, done = _put_parts(s3, bucket, "mp", upload_id, None, [PART_MIN, 10])
    complete = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert "ChecksumType" not in complete
    parts = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"])[
        "ObjectParts"
    ]
    assert parts["Parts"] == [{"PartNumber": n, "Size": len(d)} for n, d in enumerate(data, 1)]


def test_complete_checksum_headers_are_the_objects_not_the_bodys(
    any_server: Any, s3: Any, bucket: str
) -> None:
    """x-amz-checksum-crc32 (with x-amz-sdk-checksum-algorithm, as some SDKs send it) on a
    CompleteMultipartUpload states the object's CRC, not the XML body's."""
    upload_id = _upload(s3, bucket, "mp", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    data, done = _put_parts(s3, bucket, "mp", upload_id, "CRC32", [PART_MIN, 5])
    xml = "".join(
        f"<Part><PartNumber>{p['PartNumber']}</PartNumber><ETag>{p['ETag']}</ETag></Part>"
        for p in done
    )
    body = f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>".encode()
    resp = request(
        any_server,
        "POST",
        bucket,
        "mp",
        query={"uploadId": upload_id},
        body=body,
        headers={
            "x-amz-sdk-checksum-algorithm": "CRC32",
            "x-amz-checksum-crc32": checksum("CRC32", b"".join(data)),
        },
    )
    assert resp.status == 200, resp
    assert b"<ChecksumType>FULL_OBJECT</ChecksumType>" in resp.body
    assert read_all(s3, bucket, "mp") == b"".join(data)
