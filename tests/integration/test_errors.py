"""Bad input over raw (signed) HTTP: malformed XML, short bodies, NUL keys, huge headers, and
the shape of every S3 error response."""

from __future__ import annotations

import contextlib
import http.client
import socket
from typing import Any

import pytest

from .helpers import (
    assert_s3_error_body,
    b64_md5,
    encode_path,
    is_tls,
    parse_error,
    raises_s3,
    random_bytes,
    raw_socket,
    request,
    sign,
    status_of,
)


def xml_post(server: Any, bucket: str, key: str | None, query: dict[str, str], body: bytes) -> Any:
    return request(
        server,
        "POST",
        bucket,
        key,
        query=query,
        body=body,
        headers={"Content-MD5": b64_md5(body), "Content-Type": "application/xml"},
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object><Key>a</Key></Object>",  # unterminated
        b"this is not xml at all",
        b"",
        b"<Wrong><Object><Key>a</Key></Object></Wrong>",
        b"<Delete></Delete>",  # no objects
    ],
    ids=["unterminated", "not-xml", "empty", "wrong-root", "no-objects"],
)
def test_delete_objects_malformed_xml(any_server: Any, s3: Any, bucket: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"still here")
    resp = xml_post(any_server, bucket, None, {"delete": ""}, body)
    assert resp.status == 400, resp
    resp.error("MalformedXML")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"still here"


def test_delete_objects_too_many_keys(any_server: Any, bucket: str) -> None:
    objects = "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(1001))
    body = f"<Delete>{objects}</Delete>".encode()
    resp = xml_post(any_server, bucket, None, {"delete": ""}, body)
    assert resp.status == 400, resp
    resp.error("MalformedXML")


def test_delete_objects_xxe_is_not_expanded(any_server: Any, s3: Any, bucket: str) -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<Delete><Object><Key>&x;</Key></Object></Delete>"
    )
    resp = xml_post(any_server, bucket, None, {"delete": ""}, body)
    assert resp.status in (200, 400), resp
    assert b"root:" not in resp.body


@pytest.mark.parametrize(
    "body",
    [
        b"<CompleteMultipartUpload><Part>",
        b"garbage",
        b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>"
        b"</CompleteMultipartUpload>",
    ],
    ids=["unterminated", "not-xml", "bad-number"],
)
def test_complete_multipart_malformed_xml(
    any_server: Any, s3: Any, bucket: str, body: bytes
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"x")
    resp = xml_post(any_server, bucket, "mp", {"uploadId": upload_id}, body)
    assert resp.status == 400, resp
    resp.error(("MalformedXML", "InvalidArgument") if b"bad-number" in body else "MalformedXML")
    # the upload survives a malformed completion
    assert len(s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]) == 1
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)


def test_complete_multipart_empty_parts(any_server: Any, s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    resp = xml_post(
        any_server, bucket, "mp", {"uploadId": upload_id}, b"<CompleteMultipartUpload/>"
    )
    assert resp.status == 400, resp
    resp.error(("MalformedXML", "InvalidRequest"))
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)


def _read_until_close(sock: socket.socket, timeout: float = 20) -> bytes:
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(OSError):
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(rest) >= length:
                    break
    return data


def _partial_put(server: Any, bucket: str, key: str, declared: int, sent: int) -> bytes:
    """PUT claiming ``declared`` bytes, send ``sent`` of them, half-close; the raw reply."""
    body = random_bytes(declared)
    path = encode_path(bucket, key)
    signed = sign(server, "PUT", path, headers={"Content-Length": str(declared)}, body=body)
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = raw_socket(server)
    try:
        sock.sendall(head.encode() + b"\r\n" + body[:sent])
        if is_tls(server):
            # a TLS half-close is not possible with the ssl module: just go away
            return b""
        sock.shutdown(socket.SHUT_WR)
        return _read_until_close(sock)
    finally:
        sock.close()


@pytest.mark.parametrize(("declared", "sent"), [(1000, 10), (300 * 1024, 200 * 1024)])
def test_body_shorter_than_content_length(
    any_server: Any, s3: Any, bucket: str, declared: int, sent: int
) -> None:
    s3.put_object(Bucket=bucket, Key="existing", Body=b"old")
    for key in ("short", "existing"):
        reply = _partial_put(any_server, bucket, key, declared, sent)
        if reply:
            status_line = reply.split(b"\r\n", 1)[0]
            assert status_line.split()[1:2] == [b"400"], f"expected 400 or a close: {reply!r}"
            payload = reply.partition(b"\r\n\r\n")[2]
            if payload:
                err = parse_error(payload)
                assert err.get("Code") in ("IncompleteBody", "BadRequest", "RequestTimeout"), err
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="short")
    assert s3.get_object(Bucket=bucket, Key="existing")["Body"].read() == b"old"
    # the server is still fine
    assert status_of(s3.list_buckets()) == 200


@pytest.mark.parametrize("raw_key", ["a%00b", "%00", "dir/%00/x"])
def test_key_with_nul(any_server: Any, s3: Any, bucket: str, raw_key: str) -> None:
    path = f"/{bucket}/{raw_key}"
    resp = request(any_server, "PUT", path=path, body=b"nul")
    assert resp.status == 400, resp
    resp.error()
    resp = request(any_server, "GET", path=path)
    assert resp.status in (400, 404), resp
    resp.error()
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_key_with_invalid_utf8(any_server: Any, s3: Any, bucket: str) -> None:
    resp = request(any_server, "PUT", path=f"/{bucket}/bad%FF%FEutf8", body=b"x")
    assert resp.status == 400, resp
    resp.error()
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize("size", [64 * 1024, 300 * 1024])
def test_oversized_header(any_server: Any, s3: Any, bucket: str, size: int) -> None:
    from .helpers import connect

    conn = connect(any_server, timeout=30)
    status = None
    try:
        conn.putrequest("GET", f"/{bucket}/anything")
        conn.putheader("x-amz-meta-huge", "v" * size)
        conn.endheaders()
        resp = conn.getresponse()
        status = resp.status
        body = resp.read()
    except (ConnectionError, http.client.HTTPException, OSError) as exc:
        pytest.fail(f"server dropped the connection instead of answering 4xx: {exc!r}")
    finally:
        conn.close()
    assert status == 400, status
    assert_s3_error_body(body, "RequestHeaderSectionTooLarge")
    # still serving
    assert status_of(s3.list_buckets()) == 200
    s3.put_object(Bucket=bucket, Key="after", Body=b"ok")
    assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == b"ok"


def test_too_many_headers(any_server: Any, s3: Any) -> None:
    from .helpers import connect

    conn = connect(any_server, timeout=30)
    try:
        conn.putrequest("GET", "/")
        for i in range(500):
            conn.putheader(f"x-extra-{i}", "v" * 100)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        assert 400 <= resp.status < 500, resp.status
        assert_s3_error_body(body)
    finally:
        conn.close()
    assert status_of(s3.list_buckets()) == 200


def test_metadata_too_large(s3: Any, bucket: str) -> None:
    with raises_s3("MetadataTooLarge", 400):
        s3.put_object(Bucket=bucket, Key="meta", Body=b"x", Metadata={"big": "m" * 2100})
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="meta")


def test_entity_too_large_declared(server: Any, s3_http: Any, http_bucket: str) -> None:
    """A single PUT declaring more than 5 GiB is refused before any byte is read."""
    path = encode_path(http_bucket, "huge")
    declared = 5 * 1024**3 + 1
    signed = sign(
        server,
        "PUT",
        path,
        headers={"Content-Length": str(declared)},
        payload_hash="UNSIGNED-PAYLOAD",
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = raw_socket(server)
    try:
        sock.sendall(head.encode() + b"\r\n" + b"x" * 1024)
        reply = _read_until_close(sock, timeout=20)
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 400"), reply[:300]
    assert parse_error(reply.partition(b"\r\n\r\n")[2])["Code"] == "EntityTooLarge"
    with raises_s3("NoSuchKey", 404):
        s3_http.get_object(Bucket=http_bucket, Key="huge")


def test_not_implemented_subresource(any_server: Any, bucket: str) -> None:
    resp = request(any_server, "GET", bucket, query={"lifecycle": ""})
    assert resp.status == 501, resp
    resp.error("NotImplemented")


def test_method_not_allowed(any_server: Any, bucket: str) -> None:
    resp = request(any_server, "POST", bucket, "obj", body=b"")
    assert resp.status == 405, resp
    resp.error("MethodNotAllowed")


def test_every_error_is_s3_xml(any_server: Any, s3: Any, bucket: str) -> None:
    """A sample of failing requests: XML body with Code/Message/RequestId, matching header."""
    s3.put_object(Bucket=bucket, Key="obj", Body=b"0123456789")
    cases = [
        (dict(method="GET", bucket=bucket, key="missing"), 404, "NoSuchKey"),
        (dict(method="GET", bucket="no-such-bucket-nf", key="k"), 404, "NoSuchBucket"),
        (dict(method="GET", bucket="no-such-bucket-nf"), 404, "NoSuchBucket"),
        (dict(method="PUT", bucket="Bad_Name"), 400, "InvalidBucketName"),
        (dict(method="PUT", bucket=bucket), 409, "BucketAlreadyOwnedByYou"),
        (dict(method="DELETE", bucket=bucket), 409, "BucketNotEmpty"),
        (
            dict(method="GET", bucket=bucket, key="obj", headers={"Range": "bytes=100-"}),
            416,
            "InvalidRange",
        ),
        (
            dict(method="GET", bucket=bucket, key="obj", headers={"If-Match": '"x"'}),
            412,
            "PreconditionFailed",
        ),
        (
            dict(method="GET", bucket=bucket, key="obj", query={"uploadId": "nope"}),
            404,
            "NoSuchUpload",
        ),
        (
            dict(method="PUT", bucket=bucket, key="x" * 1025, body=b"x"),
            400,
            "KeyTooLongError",
        ),
        (
            dict(
                method="PUT",
                bucket=bucket,
                key="md5",
                body=b"x",
                headers={"Content-MD5": "bm9wZQ=="},
            ),
            400,
            "InvalidDigest",
        ),
        (
            dict(method="GET", bucket=bucket, secret_key="wrong-secret"),
            403,
            "SignatureDoesNotMatch",
        ),
        (
            dict(method="GET", bucket=bucket, access_key="AKIANOPE", secret_key="x"),
            403,
            "InvalidAccessKeyId",
        ),
        (dict(method="GET", bucket=bucket, key="obj", signed=False), 403, "AccessDenied"),
    ]
    for kwargs, status, code in cases:
        kwargs = dict(kwargs)
        method = kwargs.pop("method")
        resp = request(any_server, method, **kwargs)
        assert resp.status == status, (method, kwargs, str(resp))
        err = resp.error(code)
        assert resp.header("x-amz-request-id") == err["RequestId"], (method, kwargs)
        assert (resp.header("Content-Type") or "").startswith(("application/xml", "text/xml"))
        assert "Resource" in err, err
        assert "Traceback" not in err["Message"]


def _read_response(sock: socket.socket, method: str) -> tuple[int, dict[str, str], bytes]:
    resp = http.client.HTTPResponse(sock, method=method)  # type: ignore[arg-type]
    resp.begin()
    body = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


@pytest.mark.parametrize("key", ["k" * 1025, "fine-key"], ids=["by-key", "by-auth"])
def test_early_error_with_expect_100_does_not_poison_connection(
    any_server: Any, s3: Any, bucket: str, key: str
) -> None:
    """botocore sends ``Expect: 100-continue`` and, when the server answers with a final error
    instead of 100, does not send the body but reuses the connection. The server must then not
    read the next request as the unsent body: either close, or keep parsing requests correctly."""
    body = b"body that is never sent"
    path = encode_path(bucket, key)
    headers = {"Content-Length": str(len(body)), "Expect": "100-continue"}
    signed = sign(
        any_server,
        "PUT",
        path,
        headers=headers,
        body=body,
        secret_key=None if len(key) > 1024 else "wrong-secret",
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = raw_socket(any_server)
    try:
        sock.sendall(head.encode() + b"\r\n")
        status, resp_headers, payload = _read_response(sock, "PUT")
        assert status in (400, 403), (status, payload)
        parse_error(payload)
        if resp_headers.get("connection", "").lower() == "close":
            return  # closing is a correct answer
        get_path = encode_path(bucket, "missing-after-expect")
        signed_get = sign(any_server, "GET", get_path)
        get = f"GET {get_path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in signed_get.headers.items()
        )
        try:
            sock.sendall(get.encode() + b"\r\n")
            status, _, payload = _read_response(sock, "GET")
        except (ConnectionError, http.client.RemoteDisconnected):
            return  # closed without saying so up front: acceptable for the client (it retries)
        assert status == 404, f"next request on the connection was misparsed: {status} {payload!r}"
        assert parse_error(payload)["Code"] == "NoSuchKey"
    finally:
        sock.close()
    if len(key) <= 1024:
        with raises_s3("NoSuchKey", 404):
            s3.get_object(Bucket=bucket, Key=key)
