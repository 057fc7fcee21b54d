"""Conditional GET / HEAD: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from .helpers import quoted_md5, raises_s3, request, status_of

DAY = dt.timedelta(days=1)
DATA = b"conditional body"


@pytest.fixture
def obj(s3: Any, bucket: str) -> dict[str, Any]:
    s3.put_object(Bucket=bucket, Key="c", Body=DATA)
    head = s3.head_object(Bucket=bucket, Key="c")
    assert head["ETag"] == quoted_md5(DATA)
    return {"etag": head["ETag"], "lm": head["LastModified"]}


def _get(s3: Any, bucket: str, **kw: Any) -> dict[str, Any]:
    return s3.get_object(Bucket=bucket, Key="c", **kw)


def test_if_match(s3: Any, bucket: str, obj: dict[str, Any]) -> None:
    resp = _get(s3, bucket, IfMatch=obj["etag"])
    assert status_of(resp) == 200
    assert resp["Body"].read() == DATA
    # unquoted and wildcard forms
    assert status_of(_get(s3, bucket, IfMatch=obj["etag"].strip('"'))) == 200
    assert status_of(_get(s3, bucket, IfMatch="*")) == 200
    assert status_of(_get(s3, bucket, IfMatch=f'"nope", {obj["etag"]}')) == 200
    with raises_s3("PreconditionFailed", 412):
        _get(s3, bucket, IfMatch='"0123456789abcdef0123456789abcdef"')
    with raises_s3("412", 412):
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert status_of(s3.head_object(Bucket=bucket, Key="c", IfMatch=obj["etag"])) == 200


def test_if_none_match(s3: Any, bucket: str, obj: dict[str, Any]) -> None:
    with raises_s3("304", 304) as info:
        _get(s3, bucket, IfNoneMatch=obj["etag"])
    headers = info.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("etag") == obj["etag"]
    with raises_s3("304", 304):
        _get(s3, bucket, IfNoneMatch="*")
    with raises_s3("304", 304):
        s3.head_object(Bucket=bucket, Key="c", IfNoneMatch=obj["etag"])
    resp = _get(s3, bucket, IfNoneMatch='"0123456789abcdef0123456789abcdef"')
    assert status_of(resp) == 200
    assert resp["Body"].read() == DATA


def test_if_modified_since(s3: Any, bucket: str, obj: dict[str, Any]) -> None:
    lm = obj["lm"]
    # not modified since a later date (S3 also answers 304 for a date in the future)
    for when in (lm, lm + dt.timedelta(seconds=5), lm + DAY):
        with raises_s3("304", 304):
            _get(s3, bucket, IfModifiedSince=when)
        with raises_s3("304", 304):
            s3.head_object(Bucket=bucket, Key="c", IfModifiedSince=when)
    resp = _get(s3, bucket, IfModifiedSince=lm - DAY)
    assert status_of(resp) == 200
    assert resp["Body"].read() == DATA
    assert status_of(s3.head_object(Bucket=bucket, Key="c", IfModifiedSince=lm - DAY)) == 200


def test_if_unmodified_since(s3: Any, bucket: str, obj: dict[str, Any]) -> None:
    lm = obj["lm"]
    with raises_s3("PreconditionFailed", 412):
        _get(s3, bucket, IfUnmodifiedSince=lm - DAY)
    with raises_s3("412", 412):
        s3.head_object(Bucket=bucket, Key="c", IfUnmodifiedSince=lm - DAY)
    for when in (lm, lm + DAY):
        assert status_of(_get(s3, bucket, IfUnmodifiedSince=when)) == 200
        assert status_of(s3.head_object(Bucket=bucket, Key="c", IfUnmodifiedSince=when)) == 200


def test_if_match_wins_over_if_unmodified_since(s3: Any, bucket: str, obj: dict[str, Any]) -> None:
    # RFC 7232 / S3: If-Match true and If-Unmodified-Since false -> 200
    resp = _get(s3, bucket, IfMatch=obj["etag"], IfUnmodifiedSince=obj["lm"] - DAY)
    assert status_of(resp) == 200


def test_if_none_match_wins_over_if_modified_since(
    s3: Any, bucket: str, obj: dict[str, Any]
) -> None:
    # If-None-Match false and If-Modified-Since true -> 304
    with raises_s3("304", 304):
        _get(s3, bucket, IfNoneMatch=obj["etag"], IfModifiedSince=obj["lm"] - DAY)


def test_conditions_raw(any_server: Any, bucket: str, obj: dict[str, Any]) -> None:
    resp = request(any_server, "GET", bucket, "c", headers={"If-None-Match": obj["etag"]})
    assert resp.status == 304, resp
    assert resp.body == b""
    resp = request(any_server, "GET", bucket, "c", headers={"If-Match": '"abc"'})
    assert resp.status == 412, resp
    resp.error("PreconditionFailed")
    resp = request(any_server, "HEAD", bucket, "c", headers={"If-Match": '"abc"'})
    assert resp.status == 412, resp
    assert resp.body == b""
    # an unparsable date is ignored
    resp = request(any_server, "GET", bucket, "c", headers={"If-Modified-Since": "not a date"})
    assert resp.status == 200, resp
    assert resp.body == DATA


def test_conditions_on_missing_key(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="missing", IfMatch='"abc"')
