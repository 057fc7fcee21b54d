"""Table-driven tests of the pure S3 router."""

from __future__ import annotations

import pytest

from ninefold.api.s3 import errors
from ninefold.api.s3.router import bucket_and_key, route, validate_bucket_name

CASES = [
    ("GET", "/", {}, False, None, "ListBuckets", None, None),
    ("PUT", "/b1", {}, False, None, "CreateBucket", "b1", None),
    ("HEAD", "/b1", {}, False, None, "HeadBucket", "b1", None),
    ("DELETE", "/b1/", {}, False, None, "DeleteBucket", "b1", None),
    ("GET", "/b1", {"location": ""}, False, None, "GetBucketLocation", "b1", None),
    ("GET", "/b1", {"list-type": "2"}, False, None, "ListObjectsV2", "b1", None),
    ("GET", "/b1", {}, False, None, "ListObjects", "b1", None),
    ("GET", "/b1", {"uploads": ""}, False, None, "ListMultipartUploads", "b1", None),
    ("POST", "/b1", {"delete": ""}, False, None, "DeleteObjects", "b1", None),
    ("PUT", "/b1/a/b.txt", {}, False, None, "PutObject", "b1", "a/b.txt"),
    ("PUT", "/b1/k", {}, True, None, "CopyObject", "b1", "k"),
    ("PUT", "/b1/k", {"partNumber": "1", "uploadId": "u"}, False, None, "UploadPart", "b1", "k"),
    ("PUT", "/b1/k", {"partNumber": "1", "uploadId": "u"}, True, None, "UploadPartCopy", "b1", "k"),
    ("GET", "/b1/k", {}, False, None, "GetObject", "b1", "k"),
    ("GET", "/b1/k", {"uploadId": "u"}, False, None, "ListParts", "b1", "k"),
    ("HEAD", "/b1/k", {}, False, None, "HeadObject", "b1", "k"),
    ("DELETE", "/b1/k", {}, False, None, "DeleteObject", "b1", "k"),
    ("DELETE", "/b1/k", {"uploadId": "u"}, False, None, "AbortMultipartUpload", "b1", "k"),
    ("POST", "/b1/k", {"uploads": ""}, False, None, "CreateMultipartUpload", "b1", "k"),
    ("POST", "/b1/k", {"uploadId": "u"}, False, None, "CompleteMultipartUpload", "b1", "k"),
    # GetObjectAttributes (bucket configuration documents: test_bucket_configuration_documents)
    ("GET", "/b1/k", {"attributes": ""}, False, None, "GetObjectAttributes", "b1", "k"),
    ("GET", "/", {"cors": ""}, False, "b1.s3.local", "GetBucketCors", "b1", None),
    # keys are decoded once and never normalised
    ("GET", "/b1/../../etc/passwd", {}, False, None, "GetObject", "b1", "../../etc/passwd"),
    ("GET", "/b1/a%20b%2Bc", {}, False, None, "GetObject", "b1", "a b+c"),
    ("GET", "/b1/a//b/", {}, False, None, "GetObject", "b1", "a//b/"),
    ("GET", "/b1/%C3%A9", {}, False, None, "GetObject", "b1", "\u00e9"),
    # virtual-hosted style
    ("GET", "/k/x", {}, False, "b1.s3.local:9000", "GetObject", "b1", "k/x"),
    ("GET", "/", {"list-type": "2"}, False, "b1.s3.local", "ListObjectsV2", "b1", None),
    ("GET", "/b1/k", {}, False, "s3.local:9000", "GetObject", "b1", "k"),
]


@pytest.mark.parametrize(("method", "path", "query", "copy", "host", "op", "bucket", "key"), CASES)
def test_route(
    method: str,
    path: str,
    query: dict[str, str],
    copy: bool,
    host: str | None,
    op: str,
    bucket: str | None,
    key: str | None,
) -> None:
    got = route(method, path, query, copy, host or "127.0.0.1:9000", "s3.local")
    assert (got.op, got.bucket, got.key) == (op, bucket, key)


@pytest.mark.parametrize(
    ("method", "path", "query", "error"),
    [
        ("GET", "/b1/" + "k" * 1025, {}, errors.KeyTooLongError),
        ("GET", "/b1/a%00b", {}, errors.InvalidArgument),
        ("GET", "/b1/%FF", {}, errors.InvalidArgument),
        ("GET", "/b1", {"lifecycle": ""}, errors.NotImplementedOp),
        ("POST", "/", {}, errors.MethodNotAllowed),
        ("POST", "/b1", {}, errors.MethodNotAllowed),
        ("POST", "/b1", {"cors": ""}, errors.MethodNotAllowed),
        ("GET", "/b1", {"list-type": "3"}, errors.InvalidArgument),
    ],
)
def test_route_errors(method: str, path: str, query: dict[str, str], error: type) -> None:
    with pytest.raises(error):
        route(method, path, query, False, "127.0.0.1", None)


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("cors", "BucketCors"),
        ("ownershipControls", "BucketOwnershipControls"),
        ("publicAccessBlock", "PublicAccessBlock"),
    ],
)
@pytest.mark.parametrize(("method", "verb"), [("GET", "Get"), ("PUT", "Put"), ("DELETE", "Delete")])
def test_bucket_configuration_documents(name: str, stem: str, method: str, verb: str) -> None:
    got = route(method, "/b1", {name: ""}, False, "127.0.0.1", None)
    assert (got.op, got.bucket, got.key) == (verb + stem, "b1", None)


def test_bucket_and_key_without_routing() -> None:
    assert bucket_and_key("/b1/a%20b", "127.0.0.1:9000", "s3.local") == ("b1", "a b")
    assert bucket_and_key("/k", "b1.s3.local", "s3.local") == ("b1", "k")
    assert bucket_and_key("/", "127.0.0.1", None) == (None, None)


def test_key_of_1024_bytes_is_accepted() -> None:
    assert route("GET", "/b1/" + "k" * 1024, {}, False, "h", None).key == "k" * 1024


@pytest.mark.parametrize("name", ["abc", "a.b-c", "my-bucket-1", "a" * 63, "123"])
def test_valid_bucket_names(name: str) -> None:
    validate_bucket_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "ABC",
        "a_b",
        "-ab",
        "ab-",
        "a..b",
        "192.168.1.1",
        "xn--abc",
        "a.-b",
        "buckets",
        "auth",
        "ab-s3alias",
        "",
    ],
)
def test_invalid_bucket_names(name: str) -> None:
    with pytest.raises(errors.InvalidBucketName):
        validate_bucket_name(name)
