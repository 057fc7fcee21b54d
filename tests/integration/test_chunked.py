"""aws-chunked uploads: boto3's default trailer form, signed streaming, unsigned trailers."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import (
    STREAMING_SIGNED,
    STREAMING_UNSIGNED_TRAILER,
    KiB,
    MiB,
    crc32_b64,
    encode_path,
    md5_hex,
    quoted_md5,
    raises_s3,
    random_bytes,
    read_all,
    send,
    sign,
    signed_chunked_body,
    unsigned_trailer_body,
)


def record_requests(client: Any, operation: str) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []

    def hook(request: Any, **_: Any) -> None:
        seen.append(
            {
                k.lower(): (v.decode() if isinstance(v, bytes) else str(v))
                for k, v in request.headers.items()
            }
        )

    client.meta.events.register(f"before-send.s3.{operation}", hook)
    return seen


@pytest.mark.parametrize("size", [0, 100 * KiB, 3 * MiB + 5], ids=["0B", "100KiB", "3MiB"])
def test_boto3_default_https_put_is_aws_chunked(
    tls_server: Any, size: int, tls_bucket: str
) -> None:
    client = tls_server.boto3_client()
    sent = record_requests(client, "PutObject")
    data = random_bytes(size)
    resp = client.put_object(Bucket=tls_bucket, Key="chunked", Body=data)
    assert sent, "hook did not run"
    headers = sent[-1]
    assert headers.get("x-amz-content-sha256") == STREAMING_UNSIGNED_TRAILER, headers
    assert "aws-chunked" in headers.get("content-encoding", ""), headers
    assert headers.get("x-amz-trailer") == "x-amz-checksum-crc32", headers

    assert resp["ETag"] == quoted_md5(data)
    assert resp.get("ChecksumCRC32") == crc32_b64(data)
    got = client.get_object(Bucket=tls_bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got.get("ChecksumCRC32") == crc32_b64(data)
    assert got["ContentLength"] == size
    assert md5_hex(got["Body"].read()) == md5_hex(data)
    # aws-chunked is a transfer detail, never stored as the object's Content-Encoding
    assert "aws-chunked" not in (got.get("ContentEncoding") or "")


def test_boto3_https_chunked_keeps_real_content_encoding(tls_server: Any, tls_bucket: str) -> None:
    client = tls_server.boto3_client()
    client.put_object(Bucket=tls_bucket, Key="gz", Body=b"\x1f\x8b...", ContentEncoding="gzip")
    head = client.head_object(Bucket=tls_bucket, Key="gz")
    assert head.get("ContentEncoding") == "gzip"


def test_boto3_https_upload_part_chunked(tls_server: Any, tls_bucket: str) -> None:
    client = tls_server.boto3_client()
    parts = [random_bytes(5 * MiB), random_bytes(777)]
    upload_id = client.create_multipart_upload(Bucket=tls_bucket, Key="mp")["UploadId"]
    done = []
    for number, body in enumerate(parts, start=1):
        resp = client.upload_part(
            Bucket=tls_bucket, Key="mp", UploadId=upload_id, PartNumber=number, Body=body
        )
        assert resp["ETag"] == quoted_md5(body)
        done.append({"PartNumber": number, "ETag": resp["ETag"]})
    client.complete_multipart_upload(
        Bucket=tls_bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert md5_hex(read_all(client, tls_bucket, "mp")) == md5_hex(b"".join(parts))


def _signed_streaming_put(
    server: Any, bucket: str, key: str, data: bytes, chunk: int = 64 * KiB, tamper: bool = False
) -> Any:
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)] if data else []
    path = encode_path(bucket, key)
    # the Content-Length of the encoded body is signed, so compute it first
    probe = signed_chunked_body(
        sign(server, "PUT", path, headers={}, payload_hash=STREAMING_SIGNED), chunks
    )
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "Content-Length": str(len(probe)),
        "Content-Type": "application/x-streamed",
    }
    signed = sign(server, "PUT", path, headers=headers, payload_hash=STREAMING_SIGNED)
    body = signed_chunked_body(signed, chunks)
    assert len(body) == len(probe)
    if tamper:
        # flip one payload byte of the first chunk (after its header line)
        at = body.index(b"\r\n") + 2 + 10
        body = body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
    return send(server, "PUT", path, signed.headers, body)


@pytest.mark.parametrize(
    "size",
    [0, 1, 64 * KiB, 200 * KiB + 3, 2 * MiB + 1],
    ids=["0B", "1B", "64KiB", "200KiB", "2MiB"],
)
def test_signed_streaming_payload(any_server: Any, s3: Any, bucket: str, size: int) -> None:
    data = random_bytes(size)
    resp = _signed_streaming_put(any_server, bucket, "streamed", data)
    assert resp.status == 200, resp
    assert resp.header("ETag") == quoted_md5(data)
    got = s3.get_object(Bucket=bucket, Key="streamed")
    assert got["ContentLength"] == size
    assert got["ContentType"] == "application/x-streamed"
    assert "aws-chunked" not in (got.get("ContentEncoding") or "")
    assert md5_hex(got["Body"].read()) == md5_hex(data)


def test_signed_streaming_tampered_chunk(any_server: Any, s3: Any, bucket: str) -> None:
    original = b"the original object"
    s3.put_object(Bucket=bucket, Key="streamed", Body=original)
    data = random_bytes(150 * KiB)
    resp = _signed_streaming_put(any_server, bucket, "streamed", data, tamper=True)
    assert resp.status == 403, resp
    resp.error("SignatureDoesNotMatch")
    assert read_all(s3, bucket, "streamed") == original
    resp = _signed_streaming_put(any_server, bucket, "fresh", data, tamper=True)
    assert resp.status == 403, resp
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="fresh")


def test_signed_streaming_wrong_chunk_signature(any_server: Any, s3: Any, bucket: str) -> None:
    data = random_bytes(20 * KiB)
    path = encode_path(bucket, "badsig")
    chunks = [data[: 10 * KiB], data[10 * KiB :]]
    probe = signed_chunked_body(
        sign(any_server, "PUT", path, payload_hash=STREAMING_SIGNED), chunks
    )
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "Content-Length": str(len(probe)),
    }
    signed = sign(any_server, "PUT", path, headers=headers, payload_hash=STREAMING_SIGNED)
    body = signed_chunked_body(signed, chunks)
    # replace the second chunk's signature by the first chunk's
    first_sig = body.split(b"chunk-signature=", 2)[1][:64]
    parts = body.split(b"chunk-signature=")
    parts[2] = first_sig + parts[2][64:]
    body = b"chunk-signature=".join(parts)
    resp = send(any_server, "PUT", path, signed.headers, body)
    assert resp.status == 403, resp
    resp.error("SignatureDoesNotMatch")
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="badsig")


def _unsigned_trailer_put(
    server: Any, bucket: str, key: str, data: bytes, trailer_value: str
) -> Any:
    chunks = [data[i : i + 50 * KiB] for i in range(0, len(data), 50 * KiB)]
    body = unsigned_trailer_body(chunks, "x-amz-checksum-crc32", trailer_value)
    path = encode_path(bucket, key)
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-sdk-checksum-algorithm": "CRC32",
        "Content-Length": str(len(body)),
    }
    signed = sign(server, "PUT", path, headers=headers, payload_hash=STREAMING_UNSIGNED_TRAILER)
    return send(server, "PUT", path, signed.headers, body)


def test_unsigned_trailer_manual(any_server: Any, s3: Any, bucket: str) -> None:
    data = random_bytes(120 * KiB + 9)
    resp = _unsigned_trailer_put(any_server, bucket, "trailer", data, crc32_b64(data))
    assert resp.status == 200, resp
    assert resp.header("x-amz-checksum-crc32") in (None, crc32_b64(data))
    got = s3.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert got.get("ChecksumCRC32") == crc32_b64(data)
    assert got["Body"].read() == data


def test_unsigned_trailer_wrong_checksum(any_server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="trailer", Body=b"before")
    data = random_bytes(70 * KiB)
    resp = _unsigned_trailer_put(any_server, bucket, "trailer", data, crc32_b64(b"wrong"))
    assert resp.status == 400, resp
    resp.error(("BadDigest", "InvalidRequest"))
    assert read_all(s3, bucket, "trailer") == b"before"
