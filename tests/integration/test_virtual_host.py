"""Virtual-hosted-style addressing: ``Host: <bucket>.s3.local:PORT`` (server runs with
``--domain s3.local``); the connection still goes to 127.0.0.1."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from .helpers import (
    encode_key,
    md5_hex,
    quoted_md5,
    random_bytes,
    read_all,
    request,
    status_of,
    unique_name,
)

DOMAIN = "s3.local"


def vhost(server: Any, bucket: str) -> str:
    return f"{bucket}.{DOMAIN}:{server.port}"


def _keys(body: bytes) -> list[str]:
    root = ElementTree.fromstring(body)
    return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]


def test_put_get_via_virtual_host(server: Any, s3_http: Any, http_bucket: str) -> None:
    host = vhost(server, http_bucket)
    data = random_bytes(200 * 1024)
    for key in ("plain", "dir/with space/ü+%.txt"):
        path = "/" + encode_key(key)
        resp = request(server, "PUT", path=path, host=host, body=data)
        assert resp.status == 200, resp
        assert resp.header("ETag") == quoted_md5(data)
        # visible path-style too
        assert md5_hex(read_all(s3_http, http_bucket, key)) == md5_hex(data)
        resp = request(server, "GET", path=path, host=host)
        assert resp.status == 200, resp
        assert resp.body == data
        resp = request(server, "HEAD", path=path, host=host)
        assert resp.status == 200, resp
        assert resp.header("Content-Length") == str(len(data))


def test_list_via_virtual_host(server: Any, s3_http: Any, http_bucket: str) -> None:
    for key in ("a", "b/c", "d"):
        s3_http.put_object(Bucket=http_bucket, Key=key, Body=b"x")
    host = vhost(server, http_bucket)
    resp = request(server, "GET", path="/", host=host)  # ListObjects v1
    assert resp.status == 200, resp
    assert _keys(resp.body) == ["a", "b/c", "d"]
    resp = request(server, "GET", path="/", host=host, query={"list-type": "2", "prefix": "b/"})
    assert resp.status == 200, resp
    assert _keys(resp.body) == ["b/c"]
    root = ElementTree.fromstring(resp.body)
    names = [el.text for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Name"]
    assert names == [http_bucket]


def test_bucket_ops_via_virtual_host(server: Any, s3_http: Any) -> None:
    name = unique_name()
    host = vhost(server, name)
    try:
        resp = request(server, "PUT", path="/", host=host)
        assert resp.status == 200, resp
        assert status_of(s3_http.head_bucket(Bucket=name)) == 200
        resp = request(server, "HEAD", path="/", host=host)
        assert resp.status == 200, resp
        resp = request(server, "DELETE", path="/object-that-is-not-there", host=host)
        assert resp.status == 204, resp
        resp = request(server, "DELETE", path="/", host=host)
        assert resp.status == 204, resp
        resp = request(server, "HEAD", path="/", host=host)
        assert resp.status == 404, resp
    finally:
        from .helpers import delete_bucket

        delete_bucket(s3_http, name)


def test_virtual_host_missing_bucket(server: Any) -> None:
    resp = request(server, "GET", path="/key", host=vhost(server, unique_name("missing")))
    assert resp.status == 404, resp
    resp.error("NoSuchBucket")


def test_virtual_host_domain_is_case_insensitive(
    server: Any, http_bucket: str, s3_http: Any
) -> None:
    s3_http.put_object(Bucket=http_bucket, Key="k", Body=b"case")
    resp = request(server, "GET", path="/k", host=f"{http_bucket}.S3.LOCAL:{server.port}")
    assert resp.status == 200, resp
    assert resp.body == b"case"
