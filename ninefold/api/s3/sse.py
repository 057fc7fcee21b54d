"""Server-side encryption request headers: refused, not ignored, until SSE is implemented.

:func:`refuse_sse` is the one check, called by the app for the operations of
:data:`CHECKED` (and by POST Object with its form fields, as a PutObject) before any body byte
is read: a malformed combination is answered as S3 answers it (400), a well-formed SSE-S3,
SSE-KMS or SSE-C request with 501 NotImplemented. Nothing is written, and an object is never
served to a request that names a customer key as if that key meant nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from ninefold.api.s3 import errors
from ninefold.api.s3.operations import Operation

__all__ = ["CHECKED", "refuse_sse"]

SSE = "x-amz-server-side-encryption"
KMS_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
CONTEXT = "x-amz-server-side-encryption-context"
BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
#: the SSE-S3 / SSE-KMS headers (where an operation takes them: it chooses the encryption)
_CHOOSING = (SSE, KMS_KEY_ID, CONTEXT, BUCKET_KEY)
_CUSTOMER = "x-amz-server-side-encryption-customer-"
_COPY_SOURCE_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"
_METHODS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
_KMS = frozenset({"aws:kms", "aws:kms:dsse"})

#: operations whose SSE headers are checked: (takes the SSE-S3/KMS headers, takes copy-source
#: SSE-C headers); every one of them takes SSE-C headers. The others ignore them, as S3 does.
CHECKED: dict[Operation, tuple[bool, bool]] = {
    Operation.PutObject: (True, False),
    Operation.CopyObject: (True, True),
    Operation.CreateMultipartUpload: (True, False),
    Operation.UploadPart: (False, False),
    Operation.UploadPartCopy: (False, True),
    Operation.GetObject: (False, False),
    Operation.HeadObject: (False, False),
}


def refuse_sse(op: Operation, headers: Mapping[str, str]) -> None:
    """Raise the S3 error for the SSE headers of ``op`` (lower-case names; a case-insensitive
    mapping for HTTP headers); return when there are none. Malformed combinations first (400),
    then 501 NotImplemented for the first SSE header of a well-formed request."""
    takes_choice, takes_copy_source = CHECKED[op]
    present = [name for name in _CHOOSING if name in headers]
    if present and not takes_choice:
        raise errors.InvalidArgument(
            f"{present[0]} header is not supported for this operation.", ArgumentName=present[0]
        )
    if present:
        _check_choice(headers)
    customer = _check_customer(headers, _CUSTOMER)
    if customer and SSE in headers:
        raise errors.InvalidArgument(
            "Server Side Encryption with Customer provided key is incompatible with the "
            "encryption method specified",
            ArgumentName=SSE,
            ArgumentValue=headers[SSE],
        )
    copy_source = takes_copy_source and _check_customer(headers, _COPY_SOURCE_CUSTOMER)
    if present:
        header = present[0]
    elif customer:
        header = _CUSTOMER + "algorithm"
    elif copy_source:
        header = _COPY_SOURCE_CUSTOMER + "algorithm"
    else:
        return
    raise errors.NotImplementedOp(
        "Server-side encryption is not implemented yet: requests with server-side encryption "
        "headers are refused, never stored or served without encryption.",
        Header=header,
    )


def _check_choice(headers: Mapping[str, str]) -> None:
    method = headers.get(SSE)
    if method is not None and method not in _METHODS:
        raise errors.InvalidArgument(
            "The encryption method specified is not supported",
            ArgumentName=SSE,
            ArgumentValue=method,
        )
    for name in (KMS_KEY_ID, CONTEXT):
        if name in headers and method not in _KMS:
            raise errors.InvalidArgument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                f"{SSE} : aws:kms",
                ArgumentName=name,
            )
    enabled = headers.get(BUCKET_KEY)
    if enabled is not None and enabled.lower() not in ("true", "false"):
        raise errors.InvalidArgument(
            f"The header '{BUCKET_KEY}' must be true or false.",
            ArgumentName=BUCKET_KEY,
            ArgumentValue=enabled,
        )


def _check_customer(headers: Mapping[str, str], prefix: str) -> bool:
    """Whether the SSE-C headers under ``prefix`` are present; InvalidArgument (or
    InvalidEncryptionAlgorithmError) when they are but do not make a valid customer key."""
    algorithm = headers.get(prefix + "algorithm")
    key = headers.get(prefix + "key")
    key_md5 = headers.get(prefix + "key-md5")
    if algorithm is None and key is None and key_md5 is None:
        return False
    if algorithm is None:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide a valid encryption algorithm.",
            ArgumentName=prefix + "algorithm",
        )
    if algorithm != "AES256":
        raise errors.InvalidEncryptionAlgorithmError(
            ArgumentName=prefix + "algorithm", ArgumentValue=algorithm
        )
    if key is None:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide an appropriate secret key.",
            ArgumentName=prefix + "key",
        )
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:  # never echo the key back
        raise errors.InvalidArgument(
            "The secret key was invalid for the specified algorithm.", ArgumentName=prefix + "key"
        )
    if key_md5 is None:
        raise errors.InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide the client calculated MD5 of the secret key.",
            ArgumentName=prefix + "key-MD5",
        )
    if key_md5 != base64.b64encode(hashlib.md5(raw, usedforsecurity=False).digest()).decode():
        raise errors.InvalidArgument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            ArgumentName=prefix + "key-MD5",
        )
    return True
