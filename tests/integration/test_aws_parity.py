"""Behaviour that must match AWS S3 exactly (issue 11): metadata encoding, listing edges,
part numbers and copy ranges, delete markers, missing Content-Length."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

import pytest

from .helpers import (
    RawResponse,
    connect,
    encode_path,
    encode_query,
    raises_s3,
    request,
    send,
    sign,
)


def test_raw_utf8_user_metadata_comes_back_rfc2047_encoded(
    any_server: Any, s3: Any, bucket: str
) -> None:
    """botocore refuses non-ASCII metadata client-side, so the value goes out in a raw signed
    PUT as UTF-8 bytes; as AWS does, it comes back as an RFC 2047 encoded word (ASCII, so no
    client misreads it as latin-1)."""
    value = "café ü 中"
    path = encode_path(bucket, "k")
    signed = sign(any_server, "PUT", path, headers={"x-amz-meta-name": value}, body=b"x")
    headers: dict[str, Any] = dict(signed.headers)
    headers["x-amz-meta-name"] = value.encode()
    resp = send(any_server, "PUT", path, headers, b"x")
    assert resp.status == 200, resp

    encoded = "=?UTF-8?B?Y2Fmw6kgw7wg5Lit?="
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"]["name"] == encoded
    got = s3.get_object(Bucket=bucket, Key="k")
    got["Body"].read()
    assert got["Metadata"]["name"] == encoded


def test_rfc2047_user_metadata_round_trips_through_boto3(s3: Any, bucket: str) -> None:
    """What boto3 users send for non-ASCII metadata: an RFC 2047 encoded word, kept verbatim."""
    meta = {"name": "=?UTF-8?B?Y2Fmw6kgw7wg5Lit?="}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata=meta)
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == meta
    got = s3.get_object(Bucket=bucket, Key="k")
    got["Body"].read()
    assert got["Metadata"] == meta


# ------------------------------------------------------------------- listing edges


@pytest.mark.parametrize("version", [1, 2])
def test_list_max_keys_zero_is_not_truncated(s3: Any, bucket: str, version: int) -> None:
    for key in ("a", "b/c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    if version == 1:
        resp = s3.list_objects(Bucket=bucket, MaxKeys=0)
    else:
        resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=0, Delimiter="/")
        assert resp["KeyCount"] == 0
    assert resp["IsTruncated"] is False
    assert resp["MaxKeys"] == 0
    assert "Contents" not in resp
    assert "CommonPrefixes" not in resp
    assert "NextMarker" not in resp
    assert "NextContinuationToken" not in resp


def _list_v1_xml(server: Any, bucket: str, query: dict[str, str]) -> dict[str, str]:
    resp = request(server, "GET", bucket, query=query)
    assert resp.status == 200, resp
    root = ElementTree.fromstring(resp.body)
    return {c.tag.rsplit("}", 1)[-1]: c.text or "" for c in root}


def test_list_v1_echoes_prefix_marker_delimiter_unencoded(
    any_server: Any, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="a b/é+x", Body=b"x")
    query = {"prefix": "a b/é", "marker": "a b/é 0", "delimiter": "+"}
    plain = _list_v1_xml(any_server, bucket, query)
    assert plain["Prefix"] == "a b/é"
    assert plain["Marker"] == "a b/é 0"
    assert plain["Delimiter"] == "+"
    assert "EncodingType" not in plain

    encoded = _list_v1_xml(any_server, bucket, {**query, "encoding-type": "url"})
    assert encoded["EncodingType"] == "url"
    assert unquote(encoded["Prefix"]) == "a b/é"
    assert encoded["Prefix"] != "a b/é"
    assert unquote(encoded["Marker"]) == "a b/é 0"
    assert unquote(encoded["Delimiter"]) == "+"


# ------------------------------------------------------------------- part numbers and copy ranges


@pytest.mark.parametrize("number", ["0", "-1", "abc", "10001"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_head_bad_part_number_is_invalid_argument(
    any_server: Any, s3: Any, bucket: str, method: str, number: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"0123456789")
    resp = request(any_server, method, bucket, "k", query={"partNumber": number})
    assert resp.status == 400, resp
    if method == "GET":
        err = resp.error("InvalidArgument")
        assert err["Message"] == "Part number must be an integer between 1 and 10000, inclusive"
        assert err["ArgumentName"] == "partNumber"


@pytest.mark.parametrize("number", ["0", "-1", "abc", "10001"])
def test_upload_part_bad_part_number_is_invalid_argument(
    any_server: Any, s3: Any, bucket: str, number: str
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    resp = request(
        any_server,
        "PUT",
        bucket,
        "mp",
        query={"partNumber": number, "uploadId": upload_id},
        body=b"data",
    )
    assert resp.status == 400, resp
    err = resp.error("InvalidArgument")
    assert err["Message"] == "Part number must be an integer between 1 and 10000, inclusive"


@pytest.mark.parametrize(
    "copy_range", ["0-9", "bytes=5-2", "bytes=abc-9", "bytes=3", "bytes=-5", "bytes 0-9"]
)
def test_upload_part_copy_malformed_range_is_invalid_argument(
    s3: Any, bucket: str, copy_range: str
) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x" * 100)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    with raises_s3("InvalidArgument", 400) as info:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="dst",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceRange=copy_range,
        )
    assert "bytes=first-last" in info.value.response["Error"]["Message"]


# ------------------------------------------------------------------- missing Content-Length


def _put_without_length(server: Any, path_qs: str) -> RawResponse:
    """A signed PUT with no Content-Length and no Transfer-Encoding (http.client would add one
    of them to ``request``, so the request is written header by header)."""
    signed = sign(server, "PUT", path_qs, payload_hash="UNSIGNED-PAYLOAD")
    conn = connect(server)
    try:
        conn.putrequest("PUT", path_qs, skip_host=True, skip_accept_encoding=True)
        for name, value in signed.headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return RawResponse(resp.status, resp.reason, list(resp.getheaders()), resp.read())
    finally:
        conn.close()


def test_put_object_without_content_length_is_411(any_server: Any, bucket: str) -> None:
    resp = _put_without_length(any_server, encode_path(bucket, "k"))
    assert resp.status == 411, resp
    resp.error("MissingContentLength")


def test_upload_part_without_content_length_is_411(any_server: Any, s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    path_qs = (
        encode_path(bucket, "mp") + "?" + encode_query({"partNumber": "1", "uploadId": upload_id})
    )
    resp = _put_without_length(any_server, path_qs)
    assert resp.status == 411, resp
    resp.error("MissingContentLength")
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id).get("Parts", []) == []


def test_expected_bucket_owner_is_checked(s3: Any, bucket: str, make_bucket: Any) -> None:
    """x-amz-expected-bucket-owner (and x-amz-source-expected-bucket-owner on copies) name the
    account the caller expects; every bucket here belongs to the deployment's one account
    (000000000000), any other value is 403 AccessDenied and changes nothing."""
    mine, other = "000000000000", "111122223333"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner=mine)
    with raises_s3("AccessDenied", 403):
        s3.put_object(Bucket=bucket, Key="k2", Body=b"y", ExpectedBucketOwner=other)
    with raises_s3("404", 404):
        s3.head_object(Bucket=bucket, Key="k2")
    assert s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner=mine)["Body"].read() == b"x"
    with raises_s3("AccessDenied", 403):
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner=other)
    with raises_s3("AccessDenied", 403):
        s3.list_objects_v2(Bucket=bucket, ExpectedBucketOwner="not-an-account")
    with raises_s3("AccessDenied", 403):
        s3.delete_object(Bucket=bucket, Key="k", ExpectedBucketOwner=other)
    target = make_bucket()
    with raises_s3("AccessDenied", 403):
        s3.copy_object(
            Bucket=target,
            Key="c",
            CopySource={"Bucket": bucket, "Key": "k"},
            ExpectedSourceBucketOwner=other,
        )
    s3.copy_object(
        Bucket=target,
        Key="c",
        CopySource={"Bucket": bucket, "Key": "k"},
        ExpectedSourceBucketOwner=mine,
        ExpectedBucketOwner=mine,
    )
    assert s3.get_object(Bucket=target, Key="c")["Body"].read() == b"x"


def test_delete_of_a_version_says_whether_it_was_a_delete_marker(s3: Any, bucket: str) -> None:
    """A permanent delete of a version answers x-amz-delete-marker true or false (boto3:
    DeleteMarker); a simple delete in an unversioned bucket has no such header."""
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert "DeleteMarker" not in s3.delete_object(Bucket=bucket, Key="plain")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True
    gone = s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)
    assert gone["DeleteMarker"] is False
    assert gone["VersionId"] == v1
    undone = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker["VersionId"])
    assert undone["DeleteMarker"] is True
