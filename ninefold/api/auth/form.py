"""Authentication of a browser upload form (POST Object): the signature of its policy document.

A POST form carries no ``Authorization`` header: its fields name the key and sign the base64
policy document, and the policy then constrains every other field. Two forms exist, and boto3's
``generate_presigned_post`` emits either (SigV2 against a custom us-east-1 endpoint on default
settings, SigV4 with ``signature_version="s3v4"``):

* SigV4: ``x-amz-algorithm`` (``AWS4-HMAC-SHA256``), ``x-amz-credential``, ``x-amz-date`` and
  ``x-amz-signature``, the hex HMAC-SHA256 of the base64 policy under the SigV4 signing key of
  the credential's scope;
* SigV2: ``AWSAccessKeyId`` and ``signature``, the base64 HMAC-SHA1 of the base64 policy under
  the secret key.

Field names arrive lower-cased. Like the header forms, this module never knows where keys are
stored (``lookup``), and it does not look at the policy's content: that is
``ninefold.api.s3.post_policy``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Mapping

from ninefold.api.auth.sigv4 import (
    ALGORITHM,
    Credentials,
    Principal,
    parse_credential,
    signing_key,
)
from ninefold.api.s3 import errors

__all__ = ["verify_form"]

_V4_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
_V2_FIELDS = ("awsaccesskeyid", "signature")


def _missing(name: str) -> errors.S3Error:
    return errors.InvalidArgument(
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the "
        "order of the fields.",
        ArgumentName=name,
        ArgumentValue="",
    )


def verify_form(
    fields: Mapping[str, str], lookup: Callable[[str], Credentials | None]
) -> Principal | None:
    """The principal whose key signed the form's ``policy``; None for an unsigned form (no
    policy and no signature fields). Raises SignatureDoesNotMatch, InvalidAccessKeyId, or
    InvalidArgument for a signature without its policy or a policy without its signature."""
    v4 = any(name in fields for name in _V4_FIELDS)
    v2 = any(name in fields for name in _V2_FIELDS)
    if "policy" not in fields:
        if v4 or v2:
            raise _missing("policy")
        return None
    if v4 and v2:
        raise errors.InvalidArgument(
            "Only one auth mechanism allowed; only the X-Amz-Signature or the Signature field "
            "should be specified",
            ArgumentName="x-amz-signature",
        )
    if v4:
        return _verify_v4(fields, lookup)
    for name in _V2_FIELDS:
        if name not in fields:
            raise _missing("AWSAccessKeyId" if name == "awsaccesskeyid" else name)
    creds = lookup(fields["awsaccesskeyid"])
    if creds is None:
        raise errors.InvalidAccessKeyId(AWSAccessKeyId=fields["awsaccesskeyid"])
    digest = hmac.new(creds.secret_key.encode(), fields["policy"].encode(), hashlib.sha1).digest()
    if not hmac.compare_digest(base64.b64encode(digest), fields["signature"].encode()):
        raise errors.SignatureDoesNotMatch(AWSAccessKeyId=creds.access_key)
    return Principal(creds.access_key, creds.user, creds.is_root, creds.account)


def _verify_v4(fields: Mapping[str, str], lookup: Callable[[str], Credentials | None]) -> Principal:
    for name in _V4_FIELDS:
        if name not in fields:
            raise _missing(name)
    if fields["x-amz-algorithm"] != ALGORITHM:
        raise errors.InvalidArgument(
            f'X-Amz-Algorithm only supports "{ALGORITHM}"',
            ArgumentName="x-amz-algorithm",
            ArgumentValue=fields["x-amz-algorithm"],
        )
    try:
        dt.datetime.strptime(fields["x-amz-date"], "%Y%m%dT%H%M%SZ")
    except ValueError:
        raise errors.InvalidArgument(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            ArgumentName="x-amz-date",
            ArgumentValue=fields["x-amz-date"],
        ) from None
    creds, date, region, service = parse_credential(
        fields["x-amz-credential"], lookup, errors.InvalidArgument
    )
    key = signing_key(creds.secret_key, date, region, service)
    expected = hmac.new(key, fields["policy"].encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), fields["x-amz-signature"].lower().encode()):
        raise errors.SignatureDoesNotMatch(AWSAccessKeyId=creds.access_key)
    return Principal(creds.access_key, creds.user, creds.is_root, creds.account)
