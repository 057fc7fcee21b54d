"""Authentication: SigV4 (header, presigned, aws-chunked streaming), SigV2 and POST-form
signatures, each producing a verified ``Principal`` (``ninefold.domain.iam``).

It knows nothing of where keys are stored: verification takes a lookup function from access
key to ``Credentials``. It may import ``ninefold.api.s3.errors`` (its refusals are S3 errors)
and ``ninefold.domain`` value types; nothing of metadata or storage.
"""

from ninefold.api.auth.chunked import AwsChunkedDecoder
from ninefold.api.auth.sigv4 import (
    AuthResult,
    Credentials,
    HttpRequestParts,
    Principal,
    verify,
)

#: the identity of an unsigned request (only a bucket policy lets it do anything); its body is
#: taken as an unsigned payload
ANONYMOUS = AuthResult(
    principal=Principal(access_key="", user="anonymous", is_root=False, account=""),
    payload="UNSIGNED-PAYLOAD",
    signing_key=b"",
    scope="",
    amz_date="",
    seed_signature="",
)

__all__ = [
    "ANONYMOUS",
    "AuthResult",
    "AwsChunkedDecoder",
    "Credentials",
    "HttpRequestParts",
    "Principal",
    "verify",
]
