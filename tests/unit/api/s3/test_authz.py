"""What the S3 edge tells authorization about a request (``api/s3/authz.access_request``)."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from ninefold.api.auth import ANONYMOUS
from ninefold.api.s3.authz import access_request
from ninefold.api.s3.router import route


def test_a_listing_carries_its_parameters_and_the_http_facts() -> None:
    request = make_mocked_request(
        "GET",
        "/b?prefix=logs/&delimiter=/&max-keys=5",
        headers={"User-Agent": "tool/1", "Referer": "https://x.example"},
    )
    query = {"prefix": "logs/", "delimiter": "/", "max-keys": "5"}
    s3 = route("GET", "/b", query, False, "localhost", None)
    req = access_request(request, s3, ANONYMOUS, None)
    assert req.principal is ANONYMOUS.principal
    assert (req.action, req.bucket_name, req.key, req.version_id) == (
        "s3:ListBucket",
        "b",
        None,
        None,
    )
    assert req.lazy_context is not None
    assert req.lazy_context() == {
        "aws:securetransport": "false",
        "aws:useragent": "tool/1",
        "aws:referer": "https://x.example",
        "s3:prefix": "logs/",
        "s3:delimiter": "/",
        "s3:max-keys": "5",
    }
    assert not req.manages_policy


def test_an_anonymous_versioned_read_names_the_version_action() -> None:
    request = make_mocked_request("GET", "/b/k?versionId=abc")
    s3 = route("GET", "/b/k", {"versionId": "abc"}, False, "localhost", None)
    req = access_request(request, s3, None, None)
    assert req.principal is None
    assert (req.action, req.key, req.version_id) == ("s3:GetObjectVersion", "k", "abc")
    # listing keys only for listings
    assert req.lazy_context is not None
    assert "s3:prefix" not in req.lazy_context()


def test_policy_operations_are_marked() -> None:
    request = make_mocked_request("PUT", "/b?policy")
    s3 = route("PUT", "/b", {"policy": ""}, False, "localhost", None)
    req = access_request(request, s3, ANONYMOUS, None)
    assert req.action == "s3:PutBucketPolicy" and req.manages_policy
