"""The S3 error catalogue, and the one place where exceptions become S3 XML error responses.

Each S3 error code is one class carrying the code, the HTTP status and S3's default message.
Handlers at the edge raise them directly; the floors below raise ``DomainError`` and
``StorageError`` (``ninefold.core.errors``), which :func:`translate` maps here, once. Anything
unmapped becomes InternalError, logged with the request id, never leaking a traceback.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from aiohttp import web

from ninefold.api.s3.xml import child, element, render
from ninefold.core import errors as domain
from ninefold.core.errors import NinefoldError

log = logging.getLogger("ninefold.api")


class S3Error(NinefoldError):
    """An error with an S3 code and HTTP status; the message may be overridden per raise."""

    code: ClassVar[str] = "InternalError"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "We encountered an internal error. Please try again."

    def __init__(self, message: str | None = None, **extra: str) -> None:
        self.message = message or self.default_message
        #: extra XML elements for the error body (e.g. BucketName, Key, UploadId)
        self.extra = extra
        #: extra HTTP response headers (e.g. x-amz-delete-marker on a 404 for a deleted key)
        self.headers: dict[str, str] = {}
        super().__init__(f"{self.code}: {self.message}")

    def with_headers(self, **headers: str) -> S3Error:
        """This error with response headers (names with '_' become '-')."""
        self.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
        return self


def _e(code: str, status: int, message: str) -> type[S3Error]:
    return type(code, (S3Error,), {"code": code, "status": status, "default_message": message})


AccessDenied = _e("AccessDenied", 403, "Access Denied")
# CORS and bucket controls (codes and messages as S3 sends them)
AccessForbidden = _e("AccessForbidden", 403, "CORSResponse: This CORS request is not allowed.")
BadRequest = _e("BadRequest", 400, "Bad Request")
MissingRequestBodyError = _e("MissingRequestBodyError", 400, "Request Body is empty")
NoSuchCORSConfiguration = _e(
    "NoSuchCORSConfiguration", 404, "The CORS configuration does not exist"
)
NoSuchPublicAccessBlockConfiguration = _e(
    "NoSuchPublicAccessBlockConfiguration",
    404,
    "The public access block configuration was not found",
)
OwnershipControlsNotFoundError = _e(
    "OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found"
)
AuthorizationHeaderMalformed = _e(
    "AuthorizationHeaderMalformed", 400, "The authorization header is malformed."
)
AuthorizationQueryParametersError = _e(
    "AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter."
)
BadDigest = _e("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
BucketAlreadyExists = _e("BucketAlreadyExists", 409, "The requested bucket name is not available.")
BucketAlreadyOwnedByYou = _e(
    "BucketAlreadyOwnedByYou",
    409,
    "Your previous request to create the named bucket succeeded and you already own it.",
)
BucketNotEmpty = _e("BucketNotEmpty", 409, "The bucket you tried to delete is not empty.")
EntityTooLarge = _e(
    "EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."
)
EntityTooSmall = _e(
    "EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size."
)
ExpiredToken = _e("ExpiredToken", 400, "The provided token has expired.")
IncompleteBody = _e(
    "IncompleteBody",
    400,
    "You did not provide the number of bytes specified by the Content-Length.",
)
InternalError = _e("InternalError", 500, "We encountered an internal error. Please try again.")
InvalidAccessKeyId = _e(
    "InvalidAccessKeyId", 403, "The AWS access key Id you provided does not exist in our records."
)
InvalidArgument = _e("InvalidArgument", 400, "Invalid Argument")
InvalidEncryptionAlgorithmError = _e(
    "InvalidEncryptionAlgorithmError",
    400,
    "The Encryption request you specified is not valid. Supported value: AES256.",
)
InvalidBucketName = _e("InvalidBucketName", 400, "The specified bucket is not valid.")
InvalidDigest = _e("InvalidDigest", 400, "The Content-MD5 you specified is not valid.")
InvalidPart = _e(
    "InvalidPart",
    400,
    "One or more of the specified parts could not be found. The part may not have been uploaded, "
    "or the specified entity tag may not match the part's entity tag.",
)
InvalidPartOrder = _e("InvalidPartOrder", 400, "The list of parts was not in ascending order.")
InvalidRange = _e("InvalidRange", 416, "The requested range is not satisfiable")
InvalidRequest = _e("InvalidRequest", 400, "Invalid Request")
KeyTooLongError = _e("KeyTooLongError", 400, "Your key is too long")
MalformedXML = _e(
    "MalformedXML",
    400,
    "The XML you provided was not well-formed or did not validate against our published schema.",
)
# browser uploads (POST Object with a policy document)
InvalidPolicyDocument = _e(
    "InvalidPolicyDocument",
    400,
    "The content of the form does not meet the conditions specified in the policy document.",
)
MalformedPOSTRequest = _e(
    "MalformedPOSTRequest",
    400,
    "The body of your POST request is not well-formed multipart/form-data.",
)
MaxPostPreDataLengthExceededError = _e(
    "MaxPostPreDataLengthExceededError",
    400,
    "Your POST request fields preceding the upload file were too large.",
)
MetadataTooLarge = _e(
    "MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size."
)
MethodNotAllowed = _e(
    "MethodNotAllowed", 405, "The specified method is not allowed against this resource."
)
MissingContentLength = _e(
    "MissingContentLength", 411, "You must provide the Content-Length HTTP header."
)
NoSuchBucket = _e("NoSuchBucket", 404, "The specified bucket does not exist.")
InvalidBucketState = _e(
    "InvalidBucketState", 409, "The request is not valid with the current state of the bucket."
)
InvalidRetentionPeriod = _e(
    "InvalidRetentionPeriod", 400, "The retention period must be a positive integer value."
)
ObjectLockConfigurationNotFoundError = _e(
    "ObjectLockConfigurationNotFoundError",
    404,
    "Object Lock configuration does not exist for this bucket",
)
NoSuchObjectLockConfiguration = _e(
    "NoSuchObjectLockConfiguration",
    404,
    "The specified object does not have a ObjectLock configuration",
)
MalformedPolicy = _e("MalformedPolicy", 400, "Policies must be valid JSON.")
NoSuchBucketPolicy = _e("NoSuchBucketPolicy", 404, "The bucket policy does not exist")
AccessControlListNotSupported = _e(
    "AccessControlListNotSupported", 400, "The bucket does not allow ACLs"
)
InvalidBucketAclWithObjectOwnership = _e(
    "InvalidBucketAclWithObjectOwnership",
    400,
    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
)
UnexpectedContent = _e("UnexpectedContent", 400, "This request does not support content")
MissingSecurityHeader = _e(
    "MissingSecurityHeader", 400, "Your request was missing a required header"
)
MalformedACLError = _e(
    "MalformedACLError",
    400,
    "The XML you provided was not well-formed or did not validate against our published schema",
)
InvalidTag = _e("InvalidTag", 400, "The tag provided was not a valid tag.")
NoSuchTagSet = _e("NoSuchTagSet", 404, "The TagSet does not exist")
NoSuchKey = _e("NoSuchKey", 404, "The specified key does not exist.")
NoSuchUpload = _e(
    "NoSuchUpload",
    404,
    "The specified upload does not exist. The upload ID may be invalid, or the upload may have "
    "been aborted or completed.",
)
NotImplementedOp = type(
    "NotImplemented",
    (S3Error,),
    {
        "code": "NotImplemented",
        "status": 501,
        "default_message": "A header or query you provided implies functionality that is not "
        "implemented.",
    },
)
NotModified = _e("NotModified", 304, "Not Modified")
PreconditionFailed = _e(
    "PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"
)
RequestHeaderSectionTooLarge = _e(
    "RequestHeaderSectionTooLarge",
    400,
    "Your request header section exceeds the maximum allowed size.",
)
# HTTP's 408 (the request did not arrive in time, issue 11); AWS's error table gives this code
# with 400. SDKs retry on the code, so either status is retried.
RequestTimeout = _e(
    "RequestTimeout",
    408,
    "Your socket connection to the server was not read from or written to within the timeout "
    "period. Idle connections will be closed.",
)
RequestTimeTooSkewed = _e(
    "RequestTimeTooSkewed",
    403,
    "The difference between the request time and the current time is too large.",
)
ServiceUnavailable = _e(
    "ServiceUnavailable", 503, "Please reduce your request rate or try again later."
)
SignatureDoesNotMatch = _e(
    "SignatureDoesNotMatch",
    403,
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method.",
)
SlowDown = _e("SlowDown", 503, "Please reduce your request rate.")
XAmzContentSHA256Mismatch = _e(
    "XAmzContentSHA256Mismatch",
    400,
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
)
InvalidChecksum = _e(
    "InvalidRequest", 400, "The checksum you specified did not match the calculated checksum."
)
BadChecksum = _e("BadDigest", 400, "The checksum you specified did not match what we received.")
IllegalLocationConstraintException = _e(
    "IllegalLocationConstraintException", 400, "The location constraint is not valid here."
)
InvalidPartNumber = _e("InvalidPartNumber", 416, "The requested partnumber is not satisfiable")
InvalidURI = _e("InvalidURI", 400, "Couldn't parse the specified URI.")
InvalidStorageClass = _e(
    "InvalidStorageClass", 400, "The storage class you specified is not valid."
)
NoSuchVersion = _e(
    "NoSuchVersion",
    404,
    "The version ID specified in the request does not match an existing version.",
)
UnsupportedChecksum = _e(
    "InvalidRequest", 400, "The checksum algorithm you specified is not supported."
)


#: each domain refusal's S3 error
_DOMAIN: dict[type[domain.DomainError], type[S3Error]] = {
    domain.NoSuchBucket: NoSuchBucket,
    domain.NoSuchKey: NoSuchKey,
    domain.NoSuchVersion: NoSuchVersion,
    domain.DeleteMarker: MethodNotAllowed,
    domain.NoSuchUpload: NoSuchUpload,
    domain.BucketAlreadyExists: BucketAlreadyExists,
    domain.BucketAlreadyOwnedByYou: BucketAlreadyOwnedByYou,
    domain.BucketNotEmpty: BucketNotEmpty,
    domain.InvalidBucketState: InvalidBucketState,
    domain.AccessDenied: AccessDenied,
    domain.AclsDisabled: AccessControlListNotSupported,
    domain.InvalidBucketAclWithObjectOwnership: InvalidBucketAclWithObjectOwnership,
    domain.PreconditionFailed: PreconditionFailed,
    domain.InvalidArgument: InvalidArgument,
    domain.InvalidRetentionPeriod: InvalidRetentionPeriod,
    domain.InvalidDocument: MalformedXML,
    domain.InvalidRequest: InvalidRequest,
    domain.InvalidPart: InvalidPart,
    domain.BadDigest: BadDigest,
    domain.InvalidPartOrder: InvalidPartOrder,
    domain.EntityTooSmall: EntityTooSmall,
    domain.EntityTooLarge: EntityTooLarge,
    domain.MalformedPolicy: MalformedPolicy,
    domain.NotSupported: NotImplementedOp,
}

#: a missing bucket configuration's S3 error, by configuration name
_MISSING_CONFIG: dict[str, type[S3Error]] = {
    "cors": NoSuchCORSConfiguration,
    "policy": NoSuchBucketPolicy,
    "tagging": NoSuchTagSet,
    "public-access-block": NoSuchPublicAccessBlockConfiguration,
    "ownership": OwnershipControlsNotFoundError,
    "object-lock": ObjectLockConfigurationNotFoundError,
    "retention": NoSuchObjectLockConfiguration,
}


def translate(exc: BaseException, request_id: str = "") -> S3Error:
    """The S3 error a client sees for ``exc``: S3 errors as they are, domain refusals by
    :data:`_DOMAIN`, storage trouble as ServiceUnavailable, a client that went away
    InternalError (logged in one INFO line), anything else InternalError (logged with its
    traceback)."""
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, domain.DomainError):
        if isinstance(exc, domain.ConfigurationNotFound):
            s3_class = _MISSING_CONFIG[exc.name]
        else:
            s3_class = next(
                (_DOMAIN[cls] for cls in type(exc).__mro__ if cls in _DOMAIN), InternalError
            )
        out = s3_class(exc.message, **exc.detail)
        if isinstance(exc, domain.NoSuchKey) and exc.delete_marker is not None:
            out.with_headers(x_amz_delete_marker="true", x_amz_version_id=exc.delete_marker)
        elif isinstance(exc, domain.DeleteMarker):
            out.with_headers(x_amz_delete_marker="true", x_amz_version_id=exc.version_id)
        return out
    if isinstance(exc, domain.StorageError):
        log.error("request %s: storage failure: %s", request_id, exc)
        return ServiceUnavailable(
            "The object cannot be served right now: too many of its fragments are unavailable."
            if isinstance(exc, domain.DataUnavailable)
            else "Storage is temporarily unavailable; please retry."
        )
    if isinstance(exc, ConnectionError):
        # the client closed or reset its connection while the request was being served: the
        # answer cannot reach it, and nothing is wrong on this side
        log.info("request %s: client went away: %s", request_id, exc or type(exc).__name__)
        return InternalError()
    log.error("request %s: unexpected error", request_id, exc_info=exc)
    return InternalError()


def error_response(
    exc: BaseException, *, resource: str, request_id: str, method: str
) -> web.Response:
    """The XML error response for ``exc`` (see :func:`translate`)."""
    s3 = translate(exc, request_id)
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id, **s3.headers}
    if s3.status == 503:
        headers["Retry-After"] = "1"
    if method == "HEAD" or s3.status == 304:
        return web.Response(status=s3.status, headers=headers)
    root = element(
        "Error",
        child("Code", s3.code),
        child("Message", s3.message),
        *(child(name, value) for name, value in s3.extra.items()),
        child("Resource", resource),
        child("RequestId", request_id),
    )
    return web.Response(
        status=s3.status,
        headers=headers,
        body=render(root, namespace=False),
        content_type="application/xml",
    )


__all__ = [
    "error_response",
    "translate",
    *(
        name
        for name, value in list(globals().items())
        if isinstance(value, type) and issubclass(value, S3Error)
    ),
]
