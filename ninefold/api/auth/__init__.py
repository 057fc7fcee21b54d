"""Authentication: SigV4 (header, presigned, aws-chunked streaming) producing a Principal."""

from ninefold.api.auth.chunked import AwsChunkedDecoder
from ninefold.api.auth.sigv4 import (
    AuthResult,
    Credentials,
    HttpRequestParts,
    Principal,
    verify,
)

__all__ = [
    "AuthResult",
    "AwsChunkedDecoder",
    "Credentials",
    "HttpRequestParts",
    "Principal",
    "verify",
]
