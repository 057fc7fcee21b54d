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


def test_the_s3_keys_of_the_request_headers() -> None:
    headers = {
        "x-amz-acl": "bucket-owner-full-control",
        "x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
        "x-amz-grant-write": 'id="a"',
        "x-amz-grant-read-acp": 'id="b"',
        "x-amz-grant-write-acp": 'id="c"',
        "x-amz-grant-full-control": 'id="d"',
        "x-amz-copy-source": "/src/dir%20one/k.txt?versionId=v1",
        "x-amz-metadata-directive": "REPLACE",
        "x-amz-tagging": "Class=public&team=web%20site",
    }
    request = make_mocked_request("PUT", "/b/k", headers=headers)
    s3 = route("PUT", "/b/k", {}, True, "localhost", None)
    req = access_request(request, s3, ANONYMOUS, None)
    assert req.lazy_context is not None
    context = req.lazy_context()
    assert {k: v for k, v in context.items() if k.startswith("s3:")} == {
        "s3:x-amz-acl": "bucket-owner-full-control",
        "s3:x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
        "s3:x-amz-grant-write": 'id="a"',
        "s3:x-amz-grant-read-acp": 'id="b"',
        "s3:x-amz-grant-write-acp": 'id="c"',
        "s3:x-amz-grant-full-control": 'id="d"',
        "s3:x-amz-copy-source": "src/dir one/k.txt",
        "s3:x-amz-metadata-directive": "REPLACE",
        "s3:requestobjecttag/class": "public",
        "s3:requestobjecttag/team": "web site",
        "s3:requestobjecttagkeys": ["Class", "team"],
    }
    assert req.body_context is None  # only PutObjectTagging reads its body for keys


def test_a_tagging_header_that_does_not_parse_gives_no_key() -> None:
    request = make_mocked_request("PUT", "/b/k", headers={"x-amz-tagging": "a=1&a=2"})
    s3 = route("PUT", "/b/k", {}, False, "localhost", None)
    req = access_request(request, s3, None, None)
    assert req.lazy_context is not None
    assert not any(k.startswith("s3:requestobjecttag") for k in req.lazy_context())


def test_put_object_tagging_reads_its_tags_from_the_body_only_when_asked() -> None:
    request = make_mocked_request("PUT", "/b/k?tagging")
    s3 = route("PUT", "/b/k", {"tagging": ""}, False, "localhost", None)
    req = access_request(request, s3, None, None)
    assert req.action == "s3:PutObjectTagging" and req.body_context is not None
