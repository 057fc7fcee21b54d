"""ListObjectsV2 and ListObjects (v1): prefix, delimiter, pagination, encoding, owner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_plus

import pytest

from .helpers import request, status_of


def utf8_sorted(keys: list[str]) -> list[str]:
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def put_keys(s3: Any, bucket: str, keys: list[str]) -> None:
    def put(key: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode("utf-8"))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, keys))


def many_key_names() -> list[str]:
    keys = [f"file-{i:03d}" for i in range(120)]
    keys += [f"dir-{d}/obj-{i:02d}" for d in range(5) for i in range(20)]
    keys += [f"dir-0/sub/deep-{i}" for i in range(10)]
    # code-point order == UTF-8 byte order, but not UTF-16 order (U+E000 vs U+1F600)
    keys += ["Zebra", "a", "ä", "é", "z", "\ue000-private", "😀-emoji", "中文", "~tilde"]
    keys += ["a b c", "a+b", "a%b", "a&b<c>"]
    keys += [f"x/{i}" for i in range(7)]
    assert len(keys) == len(set(keys))
    return keys


@pytest.fixture
def many(s3: Any, bucket: str) -> list[str]:
    keys = many_key_names()
    put_keys(s3, bucket, keys)
    return utf8_sorted(keys)


def test_list_empty_bucket(s3: Any, bucket: str) -> None:
    v2 = s3.list_objects_v2(Bucket=bucket)
    assert status_of(v2) == 200
    assert v2["KeyCount"] == 0
    assert v2.get("Contents", []) == []
    assert v2["IsTruncated"] is False
    assert v2["Name"] == bucket
    v1 = s3.list_objects(Bucket=bucket)
    assert v1.get("Contents", []) == []
    assert v1["IsTruncated"] is False


def test_list_v2_pagination(s3: Any, bucket: str, many: list[str]) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 37}
        if token:
            kwargs["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kwargs)
        contents = resp.get("Contents", [])
        assert resp["KeyCount"] == len(contents)
        assert len(contents) <= 37
        assert resp["MaxKeys"] == 37
        seen += [o["Key"] for o in contents]
        pages += 1
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            break
        assert len(contents) == 37
        token = resp["NextContinuationToken"]
        assert resp.get("ContinuationToken") in (None, kwargs.get("ContinuationToken"))
    assert seen == many, "keys not seen exactly once in UTF-8 byte order"
    assert pages == -(-len(many) // 37)


def test_list_v2_full_and_object_fields(s3: Any, bucket: str, many: list[str]) -> None:
    resp = s3.list_objects_v2(Bucket=bucket)
    assert resp["KeyCount"] == len(many)
    assert [o["Key"] for o in resp["Contents"]] == many
    for obj in resp["Contents"]:
        assert obj["Size"] == len(obj["Key"].encode())
        assert obj["ETag"].startswith('"') and obj["ETag"].endswith('"')
        assert obj["StorageClass"] == "STANDARD"
        assert obj["LastModified"] is not None
        assert "Owner" not in obj  # only with FetchOwner


def test_list_v2_fetch_owner(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["o1", "o2"])
    resp = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)
    for obj in resp["Contents"]:
        assert obj["Owner"]["ID"]
    owner = s3.list_buckets()["Owner"]["ID"]
    assert resp["Contents"][0]["Owner"]["ID"] == owner


def test_list_v2_start_after(s3: Any, bucket: str, many: list[str]) -> None:
    start = "file-050"
    resp = s3.list_objects_v2(Bucket=bucket, StartAfter=start)
    assert [o["Key"] for o in resp["Contents"]] == [k for k in many if k.encode() > start.encode()]
    assert resp.get("StartAfter") == start
    # StartAfter that is not a key
    resp = s3.list_objects_v2(Bucket=bucket, StartAfter="file-050a", MaxKeys=2)
    assert [o["Key"] for o in resp["Contents"]] == ["file-051", "file-052"]


def test_list_v2_prefix_and_delimiter(s3: Any, bucket: str, many: list[str]) -> None:
    resp = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
    assert prefixes == ["dir-0/", "dir-1/", "dir-2/", "dir-3/", "dir-4/", "x/"]
    assert [o["Key"] for o in resp["Contents"]] == [k for k in many if "/" not in k]
    assert resp["KeyCount"] == len(resp["Contents"]) + len(prefixes)

    resp = s3.list_objects_v2(Bucket=bucket, Prefix="dir-0/", Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["dir-0/sub/"]
    assert [o["Key"] for o in resp["Contents"]] == [f"dir-0/obj-{i:02d}" for i in range(20)]
    assert resp["Prefix"] == "dir-0/"
    assert resp["Delimiter"] == "/"

    resp = s3.list_objects_v2(Bucket=bucket, Prefix="dir-0/sub/")
    assert [o["Key"] for o in resp["Contents"]] == [f"dir-0/sub/deep-{i}" for i in range(10)]
    assert "CommonPrefixes" not in resp

    resp = s3.list_objects_v2(Bucket=bucket, Prefix="nothing-here")
    assert resp["KeyCount"] == 0

    # a delimiter other than '/'
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="file-", Delimiter="0")
    prefixes = [p["Prefix"] for p in resp["CommonPrefixes"]]
    assert prefixes == ["file-0", "file-10", "file-110"]
    assert [o["Key"] for o in resp.get("Contents", [])] == [
        k for k in many if k.startswith("file-1") and "0" not in k[5:]
    ]


def test_list_v2_delimiter_pagination(s3: Any, bucket: str, many: list[str]) -> None:
    """Common prefixes count toward MaxKeys and are never repeated across pages."""
    keys: list[str] = []
    prefixes: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Delimiter": "/", "MaxKeys": 4}
        if token:
            kwargs["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kwargs)
        page_prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
        page_keys = [o["Key"] for o in resp.get("Contents", [])]
        assert len(page_keys) + len(page_prefixes) <= 4
        assert resp["KeyCount"] == len(page_keys) + len(page_prefixes)
        keys += page_keys
        prefixes += page_prefixes
        if not resp["IsTruncated"]:
            break
        token = resp["NextContinuationToken"]
    assert prefixes == ["dir-0/", "dir-1/", "dir-2/", "dir-3/", "dir-4/", "x/"]
    assert keys == [k for k in many if "/" not in k]


def test_list_v1_marker_pagination(s3: Any, bucket: str, many: list[str]) -> None:
    seen: list[str] = []
    marker = ""
    while True:
        resp = s3.list_objects(Bucket=bucket, MaxKeys=50, Marker=marker)
        page = [o["Key"] for o in resp.get("Contents", [])]
        assert len(page) <= 50
        assert resp.get("Marker", "") == marker
        seen += page
        if not resp["IsTruncated"]:
            break
        # without a delimiter S3 may omit NextMarker: continue from the last key
        marker = resp.get("NextMarker") or page[-1]
    assert seen == many


def test_list_v1_delimiter_next_marker(s3: Any, bucket: str, many: list[str]) -> None:
    entries: list[str] = []
    marker = ""
    while True:
        resp = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=5, Marker=marker)
        page = [o["Key"] for o in resp.get("Contents", [])]
        page += [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
        assert len(page) <= 5
        entries += page
        if not resp["IsTruncated"]:
            break
        assert resp.get("NextMarker"), "v1 with a delimiter must return NextMarker"
        marker = resp["NextMarker"]
    expected = [k for k in many if "/" not in k] + [
        "dir-0/",
        "dir-1/",
        "dir-2/",
        "dir-3/",
        "dir-4/",
        "x/",
    ]
    assert sorted(entries, key=str.encode) == sorted(expected, key=str.encode)
    assert len(entries) == len(set(entries))


def test_list_v1_prefix_delimiter(s3: Any, bucket: str, many: list[str]) -> None:
    resp = s3.list_objects(Bucket=bucket, Prefix="dir-", Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == [f"dir-{d}/" for d in range(5)]
    assert resp.get("Contents", []) == []
    assert resp["Prefix"] == "dir-"


def test_paginators(s3: Any, bucket: str, many: list[str]) -> None:
    v2 = s3.get_paginator("list_objects_v2")
    keys = [
        o["Key"]
        for page in v2.paginate(Bucket=bucket, PaginationConfig={"PageSize": 60})
        for o in page.get("Contents", [])
    ]
    assert keys == many
    v1 = s3.get_paginator("list_objects")
    keys = [
        o["Key"]
        for page in v1.paginate(Bucket=bucket, PaginationConfig={"PageSize": 60})
        for o in page.get("Contents", [])
    ]
    assert keys == many
    prefixes = [
        p["Prefix"]
        for page in v2.paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2})
        for p in page.get("CommonPrefixes", [])
    ]
    assert prefixes == ["dir-0/", "dir-1/", "dir-2/", "dir-3/", "dir-4/", "x/"]


ODD_KEYS = ["with space", "ünïcödé/κλειδί", "plus+and%percent", "amp&lt<gt>", "日本 語/x"]


def test_encoding_type_url(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ODD_KEYS)
    # default: boto3 asks for EncodingType=url itself and decodes the keys
    resp = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in resp["Contents"]] == utf8_sorted(ODD_KEYS)
    resp = s3.list_objects(Bucket=bucket)
    assert [o["Key"] for o in resp["Contents"]] == utf8_sorted(ODD_KEYS)

    # explicit EncodingType: boto3 leaves the keys as the server sent them
    for resp in (
        s3.list_objects_v2(Bucket=bucket, EncodingType="url"),
        s3.list_objects(Bucket=bucket, EncodingType="url"),
    ):
        assert resp["EncodingType"] == "url"
        raw = [o["Key"] for o in resp["Contents"]]
        for key in raw:
            assert key.isascii() and " " not in key, f"key not url-encoded: {key!r}"
        assert [unquote_plus(k) for k in raw] == utf8_sorted(ODD_KEYS)

    resp = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    prefixes = [unquote_plus(p["Prefix"]) for p in resp["CommonPrefixes"]]
    assert prefixes == utf8_sorted(["ünïcödé/", "日本 語/"])


def test_encoding_type_url_control_char(s3: Any, bucket: str) -> None:
    """A key with a character XML 1.0 cannot carry is listable with EncodingType=url."""
    key = "ctl\x01char"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    resp = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in resp["Contents"]] == [key]


def test_list_invalid_max_keys_and_bad_token(any_server: Any, bucket: str) -> None:
    resp = request(any_server, "GET", bucket, query={"list-type": "2", "max-keys": "-1"})
    assert resp.status == 400, resp
    resp.error("InvalidArgument")
    resp = request(
        any_server, "GET", bucket, query={"list-type": "2", "continuation-token": "garbage!!"}
    )
    assert resp.status == 400, resp
    resp.error("InvalidArgument")


def test_list_max_keys_zero(s3: Any, bucket: str) -> None:
    put_keys(s3, bucket, ["a", "b"])
    resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert resp["KeyCount"] == 0
    assert resp.get("Contents", []) == []
