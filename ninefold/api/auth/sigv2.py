"""AWS Signature Version 2, which current SDKs still emit for presigned URLs.

boto3 and the aws cli presign with SigV2 query parameters (``AWSAccessKeyId``, ``Expires``,
``Signature``) against a custom us-east-1 endpoint, so a server that refuses V2 breaks
``generate_presigned_url`` on default settings. Header form ``Authorization: AWS AK:SIG`` is
accepted too. The canonical resource is the path as sent (after ``/bucket`` for a virtual-hosted
request) plus the signed sub-resources. A path-style request to a bucket itself (``PUT /bucket``,
``GET /bucket?prefix=``) is checked against both ``/bucket`` (AWS's documented rule: the path as
sent) and ``/bucket/`` (what botocore and s3cmd sign, and AWS accepts).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from ninefold.api.auth.sigv4 import AuthResult, Credentials, HttpRequestParts, Principal
from ninefold.api.s3 import errors

__all__ = ["verify_v2"]

#: query parameters that are part of the V2 canonical resource
SUBRESOURCES = frozenset(
    {
        "acl",
        "cors",
        "delete",
        "lifecycle",
        "location",
        "logging",
        "notification",
        "partNumber",
        "policy",
        "requestPayment",
        "restore",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "object-lock",
        "retention",
        "legal-hold",
    }
)


def _string_to_sign(req: HttpRequestParts, date_or_expires: str, resource_path: str) -> str:
    headers = req.headers
    amz = sorted(
        (name.lower(), value.strip())
        for name, value in headers.items()
        if name.lower().startswith("x-amz-") and name.lower() != "x-amz-date"
    )
    amz_lines = "".join(f"{name}:{value}\n" for name, value in amz)
    if "x-amz-date" in headers and date_or_expires == headers.get("date", ""):
        date_or_expires = ""
        amz_lines = f"x-amz-date:{headers['x-amz-date']}\n" + amz_lines
        amz_lines = "".join(sorted(amz_lines.splitlines(keepends=True)))
    subs = sorted((k, v) for k, v in req.query if k in SUBRESOURCES)
    resource = resource_path
    if subs:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in subs)
    return "\n".join(
        [
            req.method,
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            date_or_expires,
            amz_lines + resource,
        ]
    )


def _resources(resource_path: str) -> tuple[str, ...]:
    """The canonical resources a request to ``resource_path`` may have been signed with.

    >>> _resources("/bucket"), _resources("/bucket/"), _resources("/bucket/key"), _resources("/")
    (('/bucket', '/bucket/'), ('/bucket/', '/bucket'), ('/bucket/key',), ('/',))
    """
    bucket = resource_path[1:].removesuffix("/")
    if not bucket or "/" in bucket:
        return (resource_path,)
    other = resource_path[:-1] if resource_path.endswith("/") else resource_path + "/"
    return (resource_path, other)


def _check(
    creds: Credentials,
    req: HttpRequestParts,
    date_or_expires: str,
    resource_path: str,
    signature: str,
) -> AuthResult:
    for resource in _resources(resource_path):
        text = _string_to_sign(req, date_or_expires, resource)
        digest = hmac.new(
            creds.secret_key.encode(), text.encode("utf-8", "surrogateescape"), hashlib.sha1
        ).digest()
        if hmac.compare_digest(base64.b64encode(digest).decode(), signature):
            break
    else:
        raise errors.SignatureDoesNotMatch(AWSAccessKeyId=creds.access_key)
    return AuthResult(
        principal=Principal(creds.access_key, creds.user, creds.is_root, creds.account),
        payload="UNSIGNED-PAYLOAD",
        signing_key=b"",
        scope="",
        amz_date="",
        seed_signature="",
    )


def verify_v2(
    req: HttpRequestParts,
    lookup: Callable[[str], Credentials | None],
    *,
    now: dt.datetime,
    max_skew_s: int,
    resource_path: str,
) -> AuthResult | None:
    """Verify a V2 request; None when it is not V2. ``resource_path`` is /bucket/key as sent."""
    header = req.headers.get("authorization", "")
    query = dict(req.query)
    if header.startswith("AWS "):
        access_key, sep, signature = header[4:].rpartition(":")
        if not sep:
            raise errors.AuthorizationHeaderMalformed()
        creds = lookup(access_key)
        if creds is None:
            raise errors.InvalidAccessKeyId(AWSAccessKeyId=access_key)
        date_text = req.headers.get("x-amz-date") or req.headers.get("date", "")
        try:
            when = parsedate_to_datetime(date_text)
        except (TypeError, ValueError):
            raise errors.AccessDenied(
                "AWS authentication requires a valid Date or x-amz-date header"
            ) from None
        if when.tzinfo is None:  # "-0000" or no zone at all (RFC 5322: unknown): take UTC
            when = when.replace(tzinfo=dt.UTC)
        if abs((now - when).total_seconds()) > max_skew_s:
            raise errors.RequestTimeTooSkewed()
        return _check(creds, req, req.headers.get("date", ""), resource_path, signature)
    if "AWSAccessKeyId" in query and "Signature" in query:
        creds = lookup(query["AWSAccessKeyId"])
        if creds is None:
            raise errors.InvalidAccessKeyId(AWSAccessKeyId=query["AWSAccessKeyId"])
        expires = query.get("Expires", "")
        if not expires.isdigit():
            raise errors.AccessDenied("Query-string authentication requires Expires.")
        if now.timestamp() > int(expires):
            raise errors.AccessDenied("Request has expired", Expires=expires)
        return _check(creds, req, expires, resource_path, query["Signature"])
    return None
