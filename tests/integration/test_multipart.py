"""Multipart uploads: create, upload (copy), list, complete, abort and their errors."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import (
    PART_MIN,
    MiB,
    md5_hex,
    multipart_etag,
    quoted_md5,
    raises_s3,
    random_bytes,
    raw_headers,
    read_all,
    request,
    status_of,
)

BOGUS_UPLOAD = "bm9TdWNoVXBsb2Fk-0000000000000000"


def upload_parts(s3: Any, bucket: str, key: str, upload_id: str, parts: list[bytes]) -> list[dict]:
    done = []
    for number, data in enumerate(parts, start=1):
        resp = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        assert resp["ETag"] == quoted_md5(data)
        done.append({"PartNumber": number, "ETag": resp["ETag"]})
    return done


@pytest.fixture
def three_parts() -> list[bytes]:
    return [random_bytes(PART_MIN), random_bytes(PART_MIN), random_bytes(1 * MiB + 3)]


def test_multipart_full_cycle(s3: Any, bucket: str, three_parts: list[bytes]) -> None:
    key = "mp/object"
    create = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType="video/x-test", Metadata={"Stage": "one"}
    )
    assert status_of(create) == 200
    assert create["Bucket"] == bucket
    assert create["Key"] == key
    upload_id = create["UploadId"]
    assert upload_id

    uploads = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in uploads.get("Uploads", [])] == [(key, upload_id)]

    parts = upload_parts(s3, bucket, key, upload_id, three_parts)

    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert listed["UploadId"] == upload_id
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == [
        (i + 1, quoted_md5(d), len(d)) for i, d in enumerate(three_parts)
    ]
    assert listed["IsTruncated"] is False
    for p in listed["Parts"]:
        assert p["LastModified"] is not None

    page = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2]
    assert page["IsTruncated"] is True
    assert page["NextPartNumberMarker"] == 2
    page = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=2, PartNumberMarker=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [3]
    assert page["IsTruncated"] is False

    # not visible before completion
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key=key)

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert status_of(done) == 200
    assert done["ETag"] == multipart_etag(three_parts)
    assert done["Key"] == key
    assert done["Bucket"] == bucket

    whole = b"".join(three_parts)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(whole)
    assert head["ETag"] == multipart_etag(three_parts)
    assert head["ContentType"] == "video/x-test"
    assert head["Metadata"] == {"stage": "one"}
    assert md5_hex(read_all(s3, bucket, key)) == md5_hex(whole)

    # gone from the in-progress list; ListParts on it now fails
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with raises_s3("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)

    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [
        (key, len(whole), multipart_etag(three_parts))
    ]


def test_get_part_number(s3: Any, bucket: str, three_parts: list[bytes]) -> None:
    key = "mp/parts"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = upload_parts(s3, bucket, key, upload_id, three_parts)
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    total = sum(len(p) for p in three_parts)
    offset = 0
    for number, data in enumerate(three_parts, start=1):
        resp = s3.get_object(Bucket=bucket, Key=key, PartNumber=number)
        assert status_of(resp) == 206
        assert resp["PartsCount"] == 3
        assert resp["ContentLength"] == len(data)
        assert resp["ContentRange"] == f"bytes {offset}-{offset + len(data) - 1}/{total}"
        assert md5_hex(resp["Body"].read()) == md5_hex(data)
        head = s3.head_object(Bucket=bucket, Key=key, PartNumber=number)
        assert head["ContentLength"] == len(data)
        assert head["PartsCount"] == 3
        offset += len(data)
    with raises_s3(("InvalidPartNumber", "InvalidRange"), 416):
        s3.get_object(Bucket=bucket, Key=key, PartNumber=4)


def test_get_part_number_1_of_single_put(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="single", Body=b"0123456789")
    resp = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert status_of(resp) in (200, 206)
    assert resp["Body"].read() == b"0123456789"


def test_upload_part_copy(s3: Any, bucket: str, make_bucket: Any) -> None:
    src_bucket = make_bucket()
    source = random_bytes(PART_MIN + 2 * MiB + 11)
    s3.put_object(Bucket=src_bucket, Key="source", Body=source)
    middle = random_bytes(PART_MIN)

    key = "mp/copied"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": src_bucket, "Key": "source"},
        CopySourceRange=f"bytes=0-{PART_MIN - 1}",
    )
    assert first["CopyPartResult"]["ETag"] == quoted_md5(source[:PART_MIN])
    second = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=middle)
    # the last part may be small: the rest of the source
    third = s3.upload_part_copy(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=3,
        CopySource={"Bucket": src_bucket, "Key": "source"},
        CopySourceRange=f"bytes={PART_MIN}-{len(source) - 1}",
    )
    assert third["CopyPartResult"]["ETag"] == quoted_md5(source[PART_MIN:])
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [p["Size"] for p in listed] == [PART_MIN, PART_MIN, len(source) - PART_MIN]
    parts = [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": second["ETag"]},
        {"PartNumber": 3, "ETag": third["CopyPartResult"]["ETag"]},
    ]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"] == multipart_etag([source[:PART_MIN], middle, source[PART_MIN:]])
    expected = source[:PART_MIN] + middle + source[PART_MIN:]
    assert md5_hex(read_all(s3, bucket, key)) == md5_hex(expected)


def test_upload_part_copy_whole_object_and_bad_range(s3: Any, bucket: str) -> None:
    source = random_bytes(1000)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    resp = s3.upload_part_copy(
        Bucket=bucket,
        Key="dst",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "src"},
    )
    assert resp["CopyPartResult"]["ETag"] == quoted_md5(source)
    with raises_s3(("InvalidRange", "InvalidArgument"), None):
        s3.upload_part_copy(
            Bucket=bucket,
            Key="dst",
            UploadId=upload_id,
            PartNumber=2,
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceRange="bytes=500-5000",
        )
    with raises_s3("NoSuchKey", 404):
        s3.upload_part_copy(
            Bucket=bucket,
            Key="dst",
            UploadId=upload_id,
            PartNumber=2,
            CopySource={"Bucket": bucket, "Key": "missing"},
        )
    s3.abort_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id)


def test_part_reupload_replaces(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="re")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="re", UploadId=upload_id, PartNumber=1, Body=b"old")
    new = s3.upload_part(Bucket=bucket, Key="re", UploadId=upload_id, PartNumber=1, Body=b"new!")
    parts = s3.list_parts(Bucket=bucket, Key="re", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 4)]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="re",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": new["ETag"]}]},
    )
    assert read_all(s3, bucket, "re") == b"new!"


def test_single_small_part_is_fine(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="one")["UploadId"]
    parts = upload_parts(s3, bucket, "one", upload_id, [b"tiny"])
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="one", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"] == multipart_etag([b"tiny"])
    assert read_all(s3, bucket, "one") == b"tiny"


def test_complete_subset_of_parts(s3: Any, bucket: str) -> None:
    """Parts uploaded but not listed in Complete are dropped; numbers may have gaps."""
    data = [random_bytes(PART_MIN), random_bytes(10), random_bytes(20)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="gap")["UploadId"]
    etags = []
    for number, body in zip([1, 5, 9], data, strict=True):
        etags.append(
            s3.upload_part(
                Bucket=bucket, Key="gap", UploadId=upload_id, PartNumber=number, Body=body
            )["ETag"]
        )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="gap",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 9, "ETag": etags[2]}]
        },
    )
    assert read_all(s3, bucket, "gap") == data[0] + data[2]
    assert s3.head_object(Bucket=bucket, Key="gap")["ETag"] == multipart_etag([data[0], data[2]])


def test_abort(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=upload_id, PartNumber=1, Body=b"x" * 100)
    resp = s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=upload_id)
    assert status_of(resp) == 204
    with raises_s3("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="ab", UploadId=upload_id)
    with raises_s3("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="ab", UploadId=upload_id, PartNumber=2, Body=b"y")
    with raises_s3("NoSuchUpload", 404):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="ab",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": quoted_md5(b"x" * 100)}]},
        )
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="ab")


def test_entity_too_small(s3: Any, bucket: str) -> None:
    parts_data = [random_bytes(1 * MiB), random_bytes(1 * MiB)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    parts = upload_parts(s3, bucket, "small", upload_id, parts_data)
    with raises_s3("EntityTooSmall", 400):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="small", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="small")
    # the upload is still there
    assert len(s3.list_parts(Bucket=bucket, Key="small", UploadId=upload_id)["Parts"]) == 2
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=upload_id)


def test_invalid_part(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ip")["UploadId"]
    parts = upload_parts(s3, bucket, "ip", upload_id, [b"only part"])
    wrong = [{"PartNumber": 1, "ETag": quoted_md5(b"something else")}]
    with raises_s3("InvalidPart", 400):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="ip", UploadId=upload_id, MultipartUpload={"Parts": wrong}
        )
    never_uploaded = [*parts, {"PartNumber": 2, "ETag": quoted_md5(b"x")}]
    with raises_s3("InvalidPart", 400):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="ip", UploadId=upload_id, MultipartUpload={"Parts": never_uploaded}
        )
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="ip")
    # ETag without quotes is accepted
    unquoted = [{"PartNumber": 1, "ETag": parts[0]["ETag"].strip('"')}]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="ip", UploadId=upload_id, MultipartUpload={"Parts": unquoted}
    )
    assert read_all(s3, bucket, "ip") == b"only part"


def test_invalid_part_order(s3: Any, bucket: str) -> None:
    data = [random_bytes(PART_MIN), random_bytes(10)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="order")["UploadId"]
    parts = upload_parts(s3, bucket, "order", upload_id, data)
    with raises_s3("InvalidPartOrder", 400):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="order",
            UploadId=upload_id,
            MultipartUpload={"Parts": list(reversed(parts))},
        )
    with raises_s3(("InvalidPartOrder", "InvalidPart", "MalformedXML"), 400):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="order",
            UploadId=upload_id,
            MultipartUpload={"Parts": [parts[0], parts[0], parts[1]]},
        )
    s3.abort_multipart_upload(Bucket=bucket, Key="order", UploadId=upload_id)


def test_unknown_upload_id(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="u", UploadId=BOGUS_UPLOAD, PartNumber=1, Body=b"x")
    with raises_s3("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="u", UploadId=BOGUS_UPLOAD)
    with raises_s3("NoSuchUpload", 404):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="u",
            UploadId=BOGUS_UPLOAD,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": quoted_md5(b"x")}]},
        )
    with raises_s3("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=bucket, Key="u", UploadId=BOGUS_UPLOAD)


def test_upload_id_bound_to_key(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="right")["UploadId"]
    with raises_s3("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="wrong", UploadId=upload_id, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="right", UploadId=upload_id)


@pytest.mark.parametrize("number", ["0", "10001", "abc"])
def test_invalid_part_number(any_server: Any, s3: Any, bucket: str, number: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="pn")["UploadId"]
    resp = request(
        any_server,
        "PUT",
        bucket,
        "pn",
        query={"partNumber": number, "uploadId": upload_id},
        body=b"data",
    )
    assert resp.status == 400, resp
    resp.error(("InvalidArgument", "InvalidPartNumber"))
    s3.abort_multipart_upload(Bucket=bucket, Key="pn", UploadId=upload_id)


def test_list_multipart_uploads_prefix_and_several(s3: Any, bucket: str) -> None:
    ids = {}
    for key in ["a/1", "a/2", "b/1", "a/1"]:
        ids.setdefault(key, []).append(
            s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        )
    resp = s3.list_multipart_uploads(Bucket=bucket)
    got = [(u["Key"], u["UploadId"]) for u in resp["Uploads"]]
    assert sorted(got) == sorted((k, u) for k, us in ids.items() for u in us)
    assert [k for k, _ in got] == sorted(k for k, _ in got)  # sorted by key
    for u in resp["Uploads"]:
        assert u["Initiated"] is not None
    resp = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert sorted(u["Key"] for u in resp["Uploads"]) == ["a/1", "a/1", "a/2"]
    resp = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in resp.get("CommonPrefixes", [])] == ["a/", "b/"]
    for key, us in ids.items():
        for u in us:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=u)


def test_multipart_checksum_sha256(s3: Any, bucket: str) -> None:
    data = [random_bytes(PART_MIN), random_bytes(1000)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="cs", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    parts = []
    for number, body in enumerate(data, start=1):
        resp = s3.upload_part(
            Bucket=bucket,
            Key="cs",
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="SHA256",
        )
        assert resp.get("ChecksumSHA256"), resp
        parts.append(
            {"PartNumber": number, "ETag": resp["ETag"], "ChecksumSHA256": resp["ChecksumSHA256"]}
        )
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="cs", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"] == multipart_etag(data)
    assert read_all(s3, bucket, "cs") == b"".join(data)


def test_multipart_default_headers(s3: Any, bucket: str) -> None:
    resp = s3.create_multipart_upload(Bucket=bucket, Key="h")
    headers = raw_headers(resp)
    assert headers.get("x-amz-request-id")
    s3.abort_multipart_upload(Bucket=bucket, Key="h", UploadId=resp["UploadId"])


def test_complete_again_with_the_same_parts_answers_as_the_first_time(
    s3: Any, bucket: str, three_parts: list[bytes]
) -> None:
    """S3 remembers a completed upload id for a while: a client that retries its
    CompleteMultipartUpload (the first answer was lost) gets 200 and the same ETag, and nothing
    is written twice. Other parts, another key or a stale upload id are NoSuchUpload."""
    key = "again"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = upload_parts(s3, bucket, key, upload_id, three_parts)
    first = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert first["ETag"] == multipart_etag(three_parts)
    again = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert status_of(again) == 200
    assert again["ETag"] == first["ETag"]
    assert again["Key"] == key and again["Bucket"] == bucket
    assert read_all(s3, bucket, key) == b"".join(three_parts)
    # the upload is still gone for everything else
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with raises_s3("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    with raises_s3("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=4, Body=b"x")
    with raises_s3("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    # not the same completion: other parts, a wrong ETag, another key
    with raises_s3("NoSuchUpload", 404):
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts[:2]}
        )
    wrong = [*parts[:2], {"PartNumber": 3, "ETag": quoted_md5(b"other")}]
    with raises_s3("NoSuchUpload", 404):
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": wrong}
        )
    with raises_s3("NoSuchUpload", 404):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="other-key", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    # an overwrite since then does not change what the retry answers, nor is it undone
    s3.put_object(Bucket=bucket, Key=key, Body=b"newer")
    again = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert again["ETag"] == first["ETag"]
    assert read_all(s3, bucket, key) == b"newer"


def test_complete_again_in_a_versioned_bucket_reports_the_same_version(
    s3: Any, bucket: str
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="v")["UploadId"]
    parts = upload_parts(s3, bucket, "v", upload_id, [b"only part"])
    first = s3.complete_multipart_upload(
        Bucket=bucket, Key="v", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    again = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="v",
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
        IfNoneMatch="*",  # the retry of a conditional complete: that write happened already
    )
    assert (again["ETag"], again["VersionId"]) == (first["ETag"], first["VersionId"])
    versions = s3.list_object_versions(Bucket=bucket, Prefix="v")["Versions"]
    assert [v["VersionId"] for v in versions] == [first["VersionId"]]
