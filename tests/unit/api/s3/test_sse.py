"""The SSE header check: malformed combinations answered as S3 answers them (400), well-formed
SSE-S3 / SSE-KMS / SSE-C requests refused with 501 until SSE is implemented."""

from __future__ import annotations

import base64
import hashlib

import pytest
from multidict import CIMultiDict

from ninefold.api.s3 import errors
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.sse import CHECKED, refuse_sse

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
KEY_MD5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()
SSE_C = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": KEY_B64,
    "x-amz-server-side-encryption-customer-key-MD5": KEY_MD5,
}
COPY_SSE_C = {
    "x-amz-copy-source-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-copy-source-server-side-encryption-customer-key": KEY_B64,
    "x-amz-copy-source-server-side-encryption-customer-key-MD5": KEY_MD5,
}
WRITES = (Operation.PutObject, Operation.CopyObject, Operation.CreateMultipartUpload)
ALL = tuple(CHECKED)


def refusal(op: Operation, headers: dict[str, str]) -> errors.S3Error:
    with pytest.raises(errors.S3Error) as info:
        refuse_sse(op, CIMultiDict(headers))
    return info.value


@pytest.mark.parametrize("op", ALL)
def test_no_sse_headers_pass(op: Operation) -> None:
    refuse_sse(op, CIMultiDict({"content-type": "text/plain", "x-amz-meta-a": "b"}))


@pytest.mark.parametrize("op", WRITES)
@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-server-side-encryption": "AES256"},
        {"x-amz-server-side-encryption": "aws:kms"},
        {"x-amz-server-side-encryption": "aws:kms:dsse"},
        {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": "k",
        },
        {"X-Amz-Server-Side-Encryption-Bucket-Key-Enabled": "true"},
    ],
)
def test_well_formed_sse_s3_and_kms_are_not_implemented(
    op: Operation, headers: dict[str, str]
) -> None:
    exc = refusal(op, headers)
    assert (exc.code, exc.status) == ("NotImplemented", 501)
    assert exc.extra["Header"].startswith("x-amz-server-side-encryption")


@pytest.mark.parametrize("op", ALL)
def test_well_formed_sse_c_is_not_implemented(op: Operation) -> None:
    exc = refusal(op, SSE_C)
    assert (exc.code, exc.status) == ("NotImplemented", 501)
    assert exc.extra == {"Header": "x-amz-server-side-encryption-customer-algorithm"}


@pytest.mark.parametrize("op", [Operation.CopyObject, Operation.UploadPartCopy])
def test_copy_source_sse_c_is_not_implemented(op: Operation) -> None:
    exc = refusal(op, COPY_SSE_C)
    assert (exc.code, exc.status) == ("NotImplemented", 501)
    assert exc.extra == {"Header": "x-amz-copy-source-server-side-encryption-customer-algorithm"}


@pytest.mark.parametrize("op", [Operation.PutObject, Operation.GetObject, Operation.UploadPart])
def test_copy_source_headers_are_ignored_where_there_is_no_copy_source(op: Operation) -> None:
    refuse_sse(op, CIMultiDict(COPY_SSE_C))


@pytest.mark.parametrize(
    "op",
    [Operation.GetObject, Operation.HeadObject, Operation.UploadPart, Operation.UploadPartCopy],
)
@pytest.mark.parametrize("value", ["AES256", "aws:kms"])
def test_sse_header_where_the_operation_does_not_take_it(op: Operation, value: str) -> None:
    exc = refusal(op, {"x-amz-server-side-encryption": value})
    assert (exc.code, exc.status) == ("InvalidArgument", 400)
    assert exc.message == "x-amz-server-side-encryption header is not supported for this operation."


def md5_of(raw: bytes) -> str:
    return base64.b64encode(hashlib.md5(raw).digest()).decode()


ALG = "x-amz-server-side-encryption-customer-algorithm"
CKEY = "x-amz-server-side-encryption-customer-key"
CMD5 = "x-amz-server-side-encryption-customer-key-MD5"


@pytest.mark.parametrize("op", ALL)
@pytest.mark.parametrize(
    ("headers", "code", "message"),
    [
        ({ALG: "AES256"}, "InvalidArgument", "must provide an appropriate secret key"),
        ({ALG: "AES256", CKEY: KEY_B64}, "InvalidArgument", "calculated MD5 of the secret key"),
        ({CKEY: KEY_B64, CMD5: KEY_MD5}, "InvalidArgument", "valid encryption algorithm"),
        ({CMD5: KEY_MD5}, "InvalidArgument", "valid encryption algorithm"),
        ({**SSE_C, ALG: "aws:kms"}, "InvalidEncryptionAlgorithmError", "Supported value: AES256"),
        ({**SSE_C, CMD5: md5_of(b"other")}, "InvalidArgument", "did not match"),
        ({**SSE_C, CKEY: "not base64!"}, "InvalidArgument", "secret key was invalid"),
        (
            {**SSE_C, CKEY: base64.b64encode(b"short").decode(), CMD5: md5_of(b"short")},
            "InvalidArgument",
            "secret key was invalid",
        ),
    ],
)
def test_malformed_sse_c(op: Operation, headers: dict[str, str], code: str, message: str) -> None:
    exc = refusal(op, headers)
    assert (exc.code, exc.status) == (code, 400)
    assert message in exc.message
    assert KEY_B64 not in str(exc.extra)


@pytest.mark.parametrize("op", [Operation.CopyObject, Operation.UploadPartCopy])
def test_malformed_copy_source_sse_c(op: Operation) -> None:
    md5 = "x-amz-copy-source-server-side-encryption-customer-key-MD5"
    exc = refusal(op, {**COPY_SSE_C, md5: md5_of(b"other")})
    assert (exc.code, exc.status, exc.extra["ArgumentName"]) == (
        "InvalidArgument",
        400,
        md5,
    )


@pytest.mark.parametrize("op", WRITES)
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"x-amz-server-side-encryption": "AES512"},
            "encryption method specified is not supported",
        ),
        (
            {"x-amz-server-side-encryption": "aes256"},
            "encryption method specified is not supported",
        ),
        (
            {
                "x-amz-server-side-encryption": "AES256",
                "x-amz-server-side-encryption-aws-kms-key-id": "k",
            },
            "requires HTTP header x-amz-server-side-encryption : aws:kms",
        ),
        (
            {"x-amz-server-side-encryption-aws-kms-key-id": "k"},
            "requires HTTP header x-amz-server-side-encryption : aws:kms",
        ),
        (
            {"x-amz-server-side-encryption-context": "e30="},
            "requires HTTP header x-amz-server-side-encryption : aws:kms",
        ),
        ({"x-amz-server-side-encryption-bucket-key-enabled": "maybe"}, "must be true or false"),
        ({"x-amz-server-side-encryption": "AES256", **SSE_C}, "incompatible with the encryption"),
    ],
)
def test_malformed_sse_s3_and_kms(op: Operation, headers: dict[str, str], message: str) -> None:
    exc = refusal(op, headers)
    assert (exc.code, exc.status) == ("InvalidArgument", 400)
    assert message in exc.message


def test_form_fields_are_checked_like_headers() -> None:
    """POST Object passes its fields (names lower-cased) as a plain dict."""
    fields = {name.lower(): value for name, value in SSE_C.items()}
    exc = refusal(Operation.PutObject, fields)
    assert (exc.code, exc.status) == ("NotImplemented", 501)
    exc = refusal(Operation.PutObject, {**fields, CMD5.lower(): md5_of(b"x")})
    assert (exc.code, exc.status) == ("InvalidArgument", 400)
