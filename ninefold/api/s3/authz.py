"""Authorization: who may do what to which bucket or object, decided before any handler runs.

Every request with a bucket reads the bucket record (the gateways' cache holds it), which
carries the bucket policy. The policy is evaluated with the AWS rules (``ninefold.iam.policy``):

* an explicit Deny refuses the request, the root user's included -- except the policy
  operations themselves for root, so that a bad policy can always be fixed;
* an authenticated root user is otherwise allowed;
* a user (``ninefold admin user``) is allowed when a policy attached to it or to one of its
  groups, or the bucket policy (Principal ``arn:aws:iam::000000000000:user/NAME``), allows
  the request and none of them denies it;
* an anonymous request is allowed by an Allow for Principal "*" (not when the bucket's
  PublicAccessBlock has RestrictPublicBuckets and the policy is public), or else by a public
  canned ACL (not under IgnorePublicAcls): bucket public-read lists, public-read-write writes,
  object public-read reads.

Condition keys: aws:SourceIp, aws:SecureTransport, aws:CurrentTime, aws:EpochTime,
aws:username, aws:PrincipalType, aws:UserAgent, aws:Referer; s3:prefix, s3:delimiter,
s3:max-keys (listings), s3:versionid, and s3:ExistingObjectTag/<key> (read from the object only
when the policy mentions it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from typing import Any

from aiohttp import web

from ninefold.api.auth import AuthResult
from ninefold.api.s3 import errors
from ninefold.api.s3.router import S3Request
from ninefold.iam.policy import ANONYMOUS, Policy, RequestFacts, parse_policy
from ninefold.meta.store import MetaStore

__all__ = ["ACCOUNT", "action_of", "authorize"]

ACCOUNT = "000000000000"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"

#: operation -> IAM action, where the names differ
_ACTIONS = {
    "ListBuckets": "s3:ListAllMyBuckets",
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "DeleteObjects": "s3:DeleteObject",
    "HeadObject": "s3:GetObject",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "ListParts": "s3:ListMultipartUploadParts",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
}
#: what root may always do, whatever the policy says (no lock-out)
_POLICY_OPS = frozenset(
    {"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicyStatus"}
)
_VERSIONED = {
    "GetObject": "s3:GetObjectVersion",
    "HeadObject": "s3:GetObjectVersion",
    "DeleteObject": "s3:DeleteObjectVersion",
}

_PARSED: OrderedDict[str, Policy] = OrderedDict()


def action_of(s3: S3Request) -> str:
    if "versionId" in s3.query and s3.op in _VERSIONED:
        return _VERSIONED[s3.op]
    return _ACTIONS.get(s3.op, f"s3:{s3.op}")


def _policy(scope: str, text: str, *, identity: bool = False) -> Policy:
    """Parsed policies, kept per process (a policy is parsed once, not per request)."""
    key = f"{scope}\0{identity}\0{text}"
    policy = _PARSED.get(key)
    if policy is None:
        policy = _PARSED[key] = parse_policy(text, identity=identity)
        if len(_PARSED) > 512:
            _PARSED.popitem(last=False)
    else:
        _PARSED.move_to_end(key)
    return policy


def _context(
    request: web.BaseRequest, s3: S3Request, auth: AuthResult | None
) -> dict[str, str | list[str]]:
    now = dt.datetime.now(dt.UTC)
    context: dict[str, str | list[str]] = {
        "aws:securetransport": "true" if request.secure else "false",
        "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now.timestamp())),
        "aws:principaltype": "Anonymous" if auth is None else "Account",
    }
    if request.remote:
        context["aws:sourceip"] = request.remote
    if auth is not None:
        context["aws:username"] = auth.principal.user
        context["aws:userid"] = ACCOUNT
    for header, key in (("user-agent", "aws:useragent"), ("referer", "aws:referer")):
        if header in request.headers:
            context[key] = request.headers[header]
    if s3.op in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
        for name in ("prefix", "delimiter", "max-keys"):
            if name in s3.query:
                context[f"s3:{name}"] = s3.query[name]
    if "versionId" in s3.query:
        context["s3:versionid"] = s3.query["versionId"]
    return context


async def authorize(
    meta: MetaStore, request: web.BaseRequest, s3: S3Request, auth: AuthResult | None
) -> None:
    """Raise AccessDenied unless the request may go on (see the module docstring)."""
    if auth is not None and not auth.principal.is_root:
        await _authorize_user(meta, request, s3, auth)
        return
    if s3.bucket is None:
        if auth is None:
            raise errors.AccessDenied()
        return
    bucket = await meta.get_bucket(s3.bucket)
    if bucket is None:
        if auth is None:
            raise errors.AccessDenied()
        return  # the handler answers NoSuchBucket
    if not bucket.policy:
        if auth is None and not await _acl_allows(meta, s3):
            raise errors.AccessDenied()
        return
    policy = _policy(bucket.name, bucket.policy)
    decision = policy.evaluate(await _facts(meta, request, s3, auth, bucket.policy))
    if decision == "Deny" and not (auth is not None and s3.op in _POLICY_OPS):
        raise errors.AccessDenied()
    if auth is not None:
        return
    if decision == "Allow" and not (
        policy.is_public and (await _public_flags(meta, s3.bucket)).get("RestrictPublicBuckets")
    ):
        return
    if not await _acl_allows(meta, s3):
        raise errors.AccessDenied()


async def _facts(
    meta: MetaStore,
    request: web.BaseRequest,
    s3: S3Request,
    auth: AuthResult | None,
    policy_text: str,
) -> RequestFacts:
    if s3.bucket is None:
        resource = "arn:aws:s3:::*"
    else:
        resource = f"arn:aws:s3:::{s3.bucket}" + (f"/{s3.key}" if s3.key is not None else "")
    context = _context(request, s3, auth)
    if s3.bucket and s3.key is not None and "s3:existingobjecttag/" in policy_text.lower():
        current = await meta.get_object(s3.bucket, s3.key)
        for tag, value in (current.tags if current is not None else {}).items():
            context[f"s3:existingobjecttag/{tag.lower()}"] = value
    if auth is None:
        principal = ANONYMOUS
    elif auth.principal.is_root:
        principal = ROOT_ARN
    else:
        principal = f"arn:aws:iam::{ACCOUNT}:user/{auth.principal.user}"
    return RequestFacts(
        principal=principal, action=action_of(s3), resource=resource, context=context
    )


async def identity_policies(meta: MetaStore, user: str) -> list[Policy]:
    """The policies attached to ``user`` and to its groups."""
    doc = await meta.iam_get("user", user) or {}
    names = list(doc.get("policies", []))
    for group in doc.get("groups", []):
        names += (await meta.iam_get("group", group) or {}).get("policies", [])
    out = []
    for name in dict.fromkeys(names):
        policy_doc = await meta.iam_get("policy", name)
        if policy_doc is not None:
            out.append(_policy(f"iam:{name}", policy_doc["document"], identity=True))
    return out


async def _authorize_user(
    meta: MetaStore, request: web.BaseRequest, s3: S3Request, auth: AuthResult
) -> None:
    """A user (not root): allowed when its identity policies or the bucket policy allow the
    request and none of them denies it."""
    bucket = await meta.get_bucket(s3.bucket) if s3.bucket is not None else None
    policies = await identity_policies(meta, auth.principal.user)
    texts = [bucket.policy] if bucket is not None and bucket.policy else []
    facts = await _facts(meta, request, s3, auth, " ".join(texts) + " s3:ExistingObjectTag/")
    decisions = [p.evaluate(facts) for p in policies]
    if bucket is not None and bucket.policy:
        decisions.append(_policy(bucket.name, bucket.policy).evaluate(facts))
    if "Deny" in decisions or "Allow" not in decisions:
        raise errors.AccessDenied()


async def _public_flags(meta: MetaStore, bucket: str) -> dict[str, Any]:
    raw = await meta.get_bucket_config(bucket, "public-access-block")
    return dict(json.loads(raw)) if raw else {}


_READ = frozenset({"s3:GetObject", "s3:GetObjectVersion"})
_WRITE = frozenset({"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"})


async def _acl_allows(meta: MetaStore, s3: S3Request) -> bool:
    """Does a public canned ACL let an anonymous request through? Bucket public-read lists,
    bucket public-read-write writes and deletes objects, object public-read reads it; all of
    it void under the bucket's IgnorePublicAcls."""
    assert s3.bucket is not None
    action = action_of(s3)
    if action not in _READ | _WRITE and action != "s3:ListBucket":
        return False
    if (await _public_flags(meta, s3.bucket)).get("IgnorePublicAcls"):
        return False
    if action in _READ and s3.key is not None:
        version = s3.query.get("versionId")
        obj = (
            await meta.get_object_version(s3.bucket, s3.key, version)
            if version
            else await meta.get_object(s3.bucket, s3.key)
        )
        return obj is not None and obj.acl in ("public-read", "public-read-write")
    bucket_acl = await meta.get_bucket_config(s3.bucket, "acl") or "private"
    if action == "s3:ListBucket":
        return bucket_acl in ("public-read", "public-read-write")
    return bucket_acl == "public-read-write"
