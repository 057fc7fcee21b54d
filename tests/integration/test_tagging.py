"""Object and bucket tagging with boto3 (HTTP and HTTPS): Put/Get/Delete, x-amz-tagging on PUT,
CreateMultipartUpload and CopyObject, the tag count on GET/HEAD, and every limit's error."""

from __future__ import annotations

import os
from typing import Any

import pytest

from .helpers import raises_s3, request

MiB = 1024 * 1024


def tagset(tags: dict[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def tags_of(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def test_object_tagging_round_trip(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert tags_of(s3, bucket, "k") == {}
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")
    tags = {"project": "ninefold", "empty": "", "ünï code": "välue/with=chars&"}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(tags))
    assert tags_of(s3, bucket, "k") == tags
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 3
    assert (
        s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"][
            "x-amz-tagging-count"
        ]
        == "3"
    )
    # replaced as a whole
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset({"only": "one"}))
    assert tags_of(s3, bucket, "k") == {"only": "one"}
    resp = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tags_of(s3, bucket, "k") == {}
    # the object itself is untouched by all of this
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_tags_on_put_copy_and_multipart(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"data", Tagging="a=1&b=two%20words")
    assert tags_of(s3, bucket, "src") == {"a": "1", "b": "two words"}
    # an overwrite without tags has none
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x", Tagging="t=1")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"y")
    assert tags_of(s3, bucket, "plain") == {}
    # copy keeps the source's tags by default, REPLACE takes the header's
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert tags_of(s3, bucket, "copy") == {"a": "1", "b": "two words"}
    s3.copy_object(
        Bucket=bucket,
        Key="copy2",
        CopySource={"Bucket": bucket, "Key": "src"},
        TaggingDirective="REPLACE",
        Tagging="c=3",
    )
    assert tags_of(s3, bucket, "copy2") == {"c": "3"}
    # multipart: tags given at creation land on the completed object
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="m=p")["UploadId"]
    etag = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=os.urandom(MiB)
    )["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert tags_of(s3, bucket, "mp") == {"m": "p"}
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert "x-ninefold-tags" not in head["ResponseMetadata"]["HTTPHeaders"]


@pytest.mark.parametrize(
    "tags",
    [
        {f"k{i}": "v" for i in range(11)},  # more than 10
        {"k" * 129: "v"},  # key too long
        {"k": "v" * 257},  # value too long
        {"aws:reserved": "v"},  # system prefix
    ],
    ids=["eleven", "long-key", "long-value", "aws-prefix"],
)
def test_object_tag_limits(s3: Any, bucket: str, tags: dict[str, str]) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    with raises_s3("InvalidTag", 400):
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(tags))
    assert tags_of(s3, bucket, "k") == {"keep": "me"}
    with raises_s3("InvalidTag", 400):
        header = "&".join(f"{k}={v}" for k, v in tags.items())
        s3.put_object(Bucket=bucket, Key="new", Body=b"x", Tagging=header)
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="new")


def test_duplicate_keys_and_malformed_documents(s3: Any, bucket: str, any_server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    dup = {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}
    with raises_s3("InvalidTag", 400):
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=dup)
    resp = request(
        any_server, "PUT", bucket, "k", query={"tagging": ""}, body=b"<Tagging><TagSet><Tag>"
    )
    assert resp.status == 400 and b"<Code>MalformedXML</Code>" in resp.body
    with raises_s3("InvalidTag", 400):
        s3.put_object(Bucket=bucket, Key="d", Body=b"x", Tagging="a=1&a=2")


def test_tagging_a_missing_object_or_bucket(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchKey", 404):
        s3.get_object_tagging(Bucket=bucket, Key="absent")
    with raises_s3("NoSuchKey", 404):
        s3.put_object_tagging(Bucket=bucket, Key="absent", Tagging=tagset({"a": "b"}))
    with raises_s3("NoSuchKey", 404):
        s3.delete_object_tagging(Bucket=bucket, Key="absent")
    with raises_s3("NoSuchBucket", 404):
        s3.get_bucket_tagging(Bucket=bucket + "-nope")


def test_bucket_tagging(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=bucket)
    tags = {f"team{i}": f"v{i}" for i in range(50)}
    resp = s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(tags))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    got = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert got == tags
    with raises_s3("InvalidTag", 400):
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset({**tags, "one-too-many": "x"}))
    s3.delete_bucket_tagging(Bucket=bucket)
    with raises_s3("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=bucket)
