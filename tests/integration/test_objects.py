"""PutObject / GetObject / HeadObject / DeleteObject / DeleteObjects, metadata and keys."""

from __future__ import annotations

import datetime as dt
import email.header
import gzip
import os
import zlib
from pathlib import Path
from typing import Any

import botocore.handlers
import pytest

from .helpers import (
    SMALL_OBJECT_MAX,
    KiB,
    MiB,
    make_client,
    md5_hex,
    quoted_md5,
    raises_s3,
    random_bytes,
    raw_headers,
    read_all,
    status_of,
    unique_name,
)

SIZES = [0, 1, 4 * KiB, SMALL_OBJECT_MAX, SMALL_OBJECT_MAX + 1, 1 * MiB, 10 * MiB]


@pytest.mark.parametrize("size", SIZES, ids=lambda n: f"{n}B")
def test_put_get_head_delete_sizes(s3: Any, bucket: str, size: int) -> None:
    data = random_bytes(size)
    key = f"obj-{size}"
    resp = s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert status_of(resp) == 200
    assert resp["ETag"] == quoted_md5(data)

    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == size
    assert head["ETag"] == quoted_md5(data)
    assert isinstance(head["LastModified"], dt.datetime)

    got = s3.get_object(Bucket=bucket, Key=key)
    assert status_of(got) == 200
    assert got["ContentLength"] == size
    assert got["ETag"] == quoted_md5(data)
    body = got["Body"].read()
    assert len(body) == size
    assert md5_hex(body) == md5_hex(data)

    assert status_of(s3.delete_object(Bucket=bucket, Key=key)) == 204
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key=key)
    with raises_s3("404", 404):
        s3.head_object(Bucket=bucket, Key=key)


def test_overwrite_replaces_content(s3: Any, bucket: str) -> None:
    first, second = random_bytes(300 * KiB), random_bytes(10)
    s3.put_object(Bucket=bucket, Key="k", Body=first)
    s3.put_object(Bucket=bucket, Key="k", Body=second)
    assert read_all(s3, bucket, "k") == second
    s3.put_object(Bucket=bucket, Key="k", Body=first)
    assert read_all(s3, bucket, "k") == first


def test_user_metadata_round_trip(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket,
        Key="meta",
        Body=b"hello",
        Metadata={"Color": "Blue", "x-long-name": "value with spaces", "num": "42"},
    )
    for resp in (
        s3.head_object(Bucket=bucket, Key="meta"),
        s3.get_object(Bucket=bucket, Key="meta"),
    ):
        # S3 lower-cases user metadata names
        assert resp["Metadata"] == {
            "color": "Blue",
            "x-long-name": "value with spaces",
            "num": "42",
        }


def _utf8_metadata_client(server: Any) -> Any:
    """boto3 refuses non-ASCII metadata before sending (``validate_ascii_metadata``); without
    that check it sends the value as raw UTF-8 header bytes, as curl or an SDK that allows it
    would."""
    client = make_client(server)
    for op in ("PutObject", "CopyObject", "CreateMultipartUpload"):
        client.meta.events.unregister(
            f"before-parameter-build.s3.{op}", botocore.handlers.validate_ascii_metadata
        )
    return client


def _rfc2047(text: str) -> str:
    return str(email.header.make_header(email.header.decode_header(text)))


CAFE_B64 = "=?UTF-8?B?Y2Fmw6k=?="  # "café"


def test_non_ascii_metadata_comes_back_rfc2047_encoded(any_server: Any, bucket: str) -> None:
    """S3 decodes non-ASCII metadata values (raw UTF-8, or RFC 2047 encoded words) before
    storing them, and returns every non-ASCII value RFC 2047-encoded, so an HTTP client (which
    reads header bytes as ISO-8859-1) never garbles it: boto3 shows ``=?UTF-8?B?...?=``, as it
    does against AWS. ASCII values come back as sent, encoded-word look-alikes included."""
    s3 = _utf8_metadata_client(any_server)
    s3.put_object(
        Bucket=bucket,
        Key="utf8",
        Body=b"x",
        Metadata={"name": "café", "plain": "abc", "city": "Zürich 東京"},
    )
    s3.put_object(
        Bucket=bucket,
        Key="encoded",
        Body=b"x",
        Metadata={"name": CAFE_B64, "q": "=?utf-8?q?caf=C3=A9?=", "broken": "=?UTF-8?B?***?="},
    )
    for resp in (
        s3.head_object(Bucket=bucket, Key="utf8"),
        s3.get_object(Bucket=bucket, Key="utf8"),
    ):
        meta = resp["Metadata"]
        assert meta["name"] == CAFE_B64, meta
        assert meta["plain"] == "abc"
        assert meta["city"].startswith("=?UTF-8?B?") and _rfc2047(meta["city"]) == "Zürich 東京"
    meta = s3.head_object(Bucket=bucket, Key="encoded")["Metadata"]
    assert meta["name"] == CAFE_B64, meta
    assert meta["q"] == CAFE_B64, meta
    assert meta["broken"] == "=?UTF-8?B?***?=", meta  # not a valid encoded word: kept as is
    # copies and multipart uploads keep the decoded value
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "utf8"})
    assert s3.head_object(Bucket=bucket, Key="copy")["Metadata"]["name"] == CAFE_B64
    s3.copy_object(
        Bucket=bucket,
        Key="copy2",
        CopySource={"Bucket": bucket, "Key": "utf8"},
        MetadataDirective="REPLACE",
        Metadata={"name": "naïve"},
    )
    assert _rfc2047(s3.head_object(Bucket=bucket, Key="copy2")["Metadata"]["name"]) == "naïve"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Metadata={"name": "café"})
    etag = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"p"
    )["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.head_object(Bucket=bucket, Key="mp")["Metadata"]["name"] == CAFE_B64


def test_non_ascii_metadata_size_counts_utf8_bytes(any_server: Any, bucket: str) -> None:
    """The 2 KiB limit counts the UTF-8 bytes of the decoded value (é is two bytes)."""
    s3 = _utf8_metadata_client(any_server)
    with raises_s3("MetadataTooLarge", 400):
        s3.put_object(Bucket=bucket, Key="big", Body=b"x", Metadata={"n": "é" * 1100})
    with raises_s3("404", 404):  # nothing was written
        s3.head_object(Bucket=bucket, Key="big")
    s3.put_object(Bucket=bucket, Key="fits", Body=b"x", Metadata={"n": "é" * 1000})
    assert _rfc2047(s3.head_object(Bucket=bucket, Key="fits")["Metadata"]["n"]) == "é" * 1000


def test_standard_headers_round_trip(s3: Any, bucket: str) -> None:
    expires = dt.datetime(2037, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    s3.put_object(
        Bucket=bucket,
        Key="hdrs",
        Body=b"\x1f\x8b payload",
        ContentType="application/x-custom; charset=utf-8",
        ContentEncoding="gzip",
        ContentDisposition='attachment; filename="report.txt"',
        ContentLanguage="de-CH",
        CacheControl="max-age=3600, private",
        Expires=expires,
    )
    for resp in (
        s3.head_object(Bucket=bucket, Key="hdrs"),
        s3.get_object(Bucket=bucket, Key="hdrs"),
    ):
        assert resp["ContentType"] == "application/x-custom; charset=utf-8"
        assert resp["ContentEncoding"] == "gzip"
        assert resp["ContentDisposition"] == 'attachment; filename="report.txt"'
        assert resp["ContentLanguage"] == "de-CH"
        assert resp["CacheControl"] == "max-age=3600, private"
        assert raw_headers(resp)["expires"] == "Fri, 02 Jan 2037 03:04:05 GMT"
    body = read_all(s3, bucket, "hdrs")
    assert body == b"\x1f\x8b payload"  # stored as-is; the server never decodes Content-Encoding


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "x-custom"])
def test_content_encoding_stored_verbatim(s3: Any, bucket: str, encoding: str) -> None:
    """S3 never decodes a PUT body according to Content-Encoding: the bytes are stored as sent."""
    if encoding == "gzip":
        data = gzip.compress(b"hello hello hello " * 100)
    elif encoding == "deflate":
        data = zlib.compress(b"deflated " * 100)
    else:
        data = random_bytes(1000)
    s3.put_object(Bucket=bucket, Key="enc", Body=data, ContentEncoding=encoding)
    got = s3.get_object(Bucket=bucket, Key="enc")
    assert got["ContentEncoding"] == encoding
    assert got["ContentLength"] == len(data)
    assert got["Body"].read() == data


def test_default_content_type(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="plain")
    # botocore sends no Content-Type for PutObject; S3 then stores binary/octet-stream
    assert head["ContentType"] in ("binary/octet-stream", "application/octet-stream")


def test_get_missing_key(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchKey", 404) as info:
        s3.get_object(Bucket=bucket, Key="does/not/exist")
    assert info.value.response["Error"].get("Key") in (None, "does/not/exist")


def test_get_missing_bucket(s3: Any) -> None:
    with raises_s3("NoSuchBucket", 404):
        s3.get_object(Bucket=unique_name("missing"), Key="k")
    with raises_s3("404", 404):
        s3.head_object(Bucket=unique_name("missing"), Key="k")


def test_delete_missing_key_is_204(s3: Any, bucket: str) -> None:
    assert status_of(s3.delete_object(Bucket=bucket, Key="never-existed")) == 204


def test_delete_object_missing_bucket(s3: Any) -> None:
    with raises_s3("NoSuchBucket", 404):
        s3.delete_object(Bucket=unique_name("missing"), Key="k")


@pytest.mark.parametrize("quiet", [False, True], ids=["verbose", "quiet"])
def test_delete_objects(s3: Any, bucket: str, quiet: bool) -> None:
    present = ["a", "dir/b", "c c", "ü"]
    for key in present:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    s3.put_object(Bucket=bucket, Key="survivor", Body=b"s")
    missing = ["missing-1", "dir/missing-2"]
    resp = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": k} for k in present + missing], "Quiet": quiet},
    )
    assert status_of(resp) == 200
    assert resp.get("Errors", []) == []
    deleted = {d["Key"] for d in resp.get("Deleted", [])}
    if quiet:
        assert deleted == set()
    else:
        # S3 reports a key that did not exist as deleted too
        assert deleted == set(present + missing)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert listed == ["survivor"]


def test_delete_objects_many_keys_in_order(s3: Any, bucket: str) -> None:
    """1,000 keys in one request (deleted concurrently, committed in groups): the answer lists
    them in the request's order and every one is gone; a key too long is an Error entry."""
    present = [f"many/{i:04d}" for i in range(0, 999, 2)]
    for key in present:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    keys = [f"many/{i:04d}" for i in range(999)] + ["k" * 1025]
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert [d["Key"] for d in resp["Deleted"]] == keys[:-1]
    assert [(e["Key"], e["Code"]) for e in resp["Errors"]] == [("k" * 1025, "InvalidArgument")]
    assert s3.list_objects_v2(Bucket=bucket, Prefix="many/").get("KeyCount") == 0


def test_delete_objects_missing_bucket(s3: Any) -> None:
    with raises_s3("NoSuchBucket", 404):
        s3.delete_objects(Bucket=unique_name("missing"), Delete={"Objects": [{"Key": "a"}]})


SPECIAL_KEYS = [
    "unicode/日本語/ключ/🎉",
    "spaces in the key",
    "plus+sign+key",
    "percent%20not%2Fdecoded%",
    "question?mark?",
    "hash#fragment#",
    "ampersand&equals=semi;colon",
    "tilde~quote'star*paren()",
    "trailing/slash/",
    "/leading-slash",
    "double//slash",
    "dot/./segment",
    "back\\slash",
    "tab\tand\nnewline",
]


@pytest.mark.parametrize("key", SPECIAL_KEYS, ids=range(len(SPECIAL_KEYS)))
def test_special_keys(s3: Any, bucket: str, key: str) -> None:
    data = key.encode("utf-8") * 3
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert read_all(s3, bucket, key) == data
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(data)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert listed == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def _candidate_escape_paths(server: Any) -> list[Path]:
    bases: list[Path] = [Path(server.data_dir)]
    for drive in server.drive_dirs:
        d = Path(drive)
        bases += [d, d / "frag", d / "tmp"]
        bases += [p for p in (d / "frag").glob("*") if p.is_dir()]
    out = []
    for base in bases:
        target = Path(os.path.normpath(base / "../../etc/passwd"))
        if target != Path("/etc/passwd"):
            out.append(target)
    return out


@pytest.mark.parametrize("key", ["../../etc/passwd", "../../../../../../etc/passwd", "a/../../b"])
def test_path_traversal_key_is_a_plain_key(any_server: Any, s3: Any, bucket: str, key: str) -> None:
    etc_passwd = Path("/etc/passwd")
    before = etc_passwd.stat().st_mtime_ns if etc_passwd.exists() else None
    candidates = _candidate_escape_paths(any_server)
    assert not any(p.exists() for p in candidates)

    data = b"not a password file\n" * 10
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert listed == [key]
    assert read_all(s3, bucket, key) == data

    assert [p for p in _candidate_escape_paths(any_server) if p.exists()] == []
    after = etc_passwd.stat().st_mtime_ns if etc_passwd.exists() else None
    assert before == after, "/etc/passwd was modified"
    # nothing named after the key's last segment appeared next to the data directory
    data_parent = Path(any_server.data_dir).parent
    assert not (data_parent / "etc").exists()
    assert not (data_parent.parent / "etc").exists()
    assert not (data_parent / "b").exists()
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_key_length_limit(s3: Any, bucket: str) -> None:
    key_1024 = "k" * 1024
    s3.put_object(Bucket=bucket, Key=key_1024, Body=b"max")
    assert read_all(s3, bucket, key_1024) == b"max"
    # multi-byte: 341 * 3 bytes + 1 = 1024 bytes
    key_mb = "€" * 341 + "x"
    assert len(key_mb.encode()) == 1024
    s3.put_object(Bucket=bucket, Key=key_mb, Body=b"mb")
    assert read_all(s3, bucket, key_mb) == b"mb"

    with raises_s3("KeyTooLongError", 400):
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"too long")
    too_long_mb = "€" * 341 + "xy"
    assert len(too_long_mb.encode()) == 1025
    with raises_s3("KeyTooLongError", 400):
        s3.put_object(Bucket=bucket, Key=too_long_mb, Body=b"too long")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    assert keys == sorted([key_1024, key_mb])


def test_response_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="ovr", Body=b"override me", ContentType="text/plain", CacheControl="x"
    )
    expires = dt.datetime(2036, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    resp = s3.get_object(
        Bucket=bucket,
        Key="ovr",
        ResponseContentType="application/json",
        ResponseContentDisposition='attachment; filename="x.json"',
        ResponseContentEncoding="identity",
        ResponseContentLanguage="fr",
        ResponseExpires=expires,
        ResponseCacheControl="no-cache",
    )
    assert status_of(resp) == 200
    assert resp["ContentType"] == "application/json"
    assert resp["ContentDisposition"] == 'attachment; filename="x.json"'
    assert resp["ContentEncoding"] == "identity"
    assert resp["ContentLanguage"] == "fr"
    assert resp["CacheControl"] == "no-cache"
    assert raw_headers(resp)["expires"] == "Tue, 06 May 2036 07:08:09 GMT"
    assert resp["Body"].read() == b"override me"
    # the stored metadata is unchanged
    head = s3.head_object(Bucket=bucket, Key="ovr")
    assert head["ContentType"] == "text/plain"
    assert head["CacheControl"] == "x"


def test_put_object_into_missing_bucket_leaves_nothing(s3: Any) -> None:
    missing = unique_name("missing")
    with raises_s3("NoSuchBucket", 404):
        s3.put_object(Bucket=missing, Key="k", Body=b"x" * 1000)
    with raises_s3(("404", "NoSuchBucket"), 404):
        s3.head_bucket(Bucket=missing)
