"""Authorization: who may do what to which bucket or object.

Front doors describe a request as an :class:`AccessRequest` (the verified principal, the IAM
action, the resolved bucket, the key, and the condition keys they know of: source IP, TLS,
user agent ...); :meth:`Access.authorize` decides with the AWS rules
(``ninefold.iam.policy``):

* an explicit Deny refuses the request, the root user's included -- except the bucket-policy
  operations themselves for root, so that a bad policy can always be fixed;
* an authenticated root user is otherwise allowed;
* a user is allowed when a policy attached to it or to one of its groups, or the bucket
  policy (Principal ``arn:aws:iam::000000000000:user/NAME``), allows the request and none of
  them denies it;
* an anonymous request is allowed by an Allow for Principal "*" (not when the bucket's
  PublicAccessBlock has RestrictPublicBuckets and the policy is public), or else by a public
  canned ACL (not under IgnorePublicAcls): bucket public-read lists, public-read-write writes,
  object public-read reads.

Condition keys that cost a read are computed only when a policy evaluated for the request
names them: ``s3:ExistingObjectTag/<key>`` (the tags of the object, or of the version the
request names) and the keys a front door can only read from the request body
(``AccessRequest.body_context``: PutObjectTagging's ``s3:RequestObjectTag/<key>``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ninefold.core import errors
from ninefold.domain.buckets import Bucket
from ninefold.domain.iam import IamService, Principal
from ninefold.iam.policy import ANONYMOUS, Policy, RequestFacts
from ninefold.meta.store import MetaStore

__all__ = ["ACCOUNT", "Access", "AccessRequest", "check_expected_owner"]

ACCOUNT = "000000000000"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"

_READ = frozenset({"s3:GetObject", "s3:GetObjectVersion"})
_WRITE = frozenset({"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"})
_PUBLIC_OBJECT_ACLS = ("public-read", "public-read-write")


def check_expected_owner(bucket: Bucket, expected: str | None) -> None:
    """``x-amz-expected-bucket-owner`` (and the copy source's): the account the caller
    expects to own ``bucket``. Every bucket of a Ninefold deployment belongs to its one account
    (:data:`ACCOUNT`); any other value, well formed or not, is AccessDenied, as S3 answers."""
    if expected is not None and expected.strip() != ACCOUNT:
        raise errors.AccessDenied(
            f"Access Denied: bucket {bucket.name!r} is not owned by account {expected!r}."
        )


@dataclass(slots=True)
class AccessRequest:
    """One request as authorization sees it. (Not frozen only because a frozen dataclass's
    ``__init__`` costs about a microsecond more, and one is built for every request.)"""

    #: None: an anonymous (unsigned) request
    principal: Principal | None
    #: the IAM action, e.g. "s3:GetObject"
    action: str
    bucket_name: str | None = None
    #: the resolved bucket (None: no bucket in the request, or it does not exist)
    bucket: Bucket | None = None
    key: str | None = None
    version_id: str | None = None
    #: condition keys (lower case) the front door knows: aws:sourceip, aws:securetransport ...
    context: Mapping[str, str | list[str]] = field(default_factory=dict)
    #: more of them, computed only if a policy is evaluated (most requests evaluate none)
    lazy_context: Callable[[], Mapping[str, str | list[str]]] | None = None
    #: the condition keys only the request body gives (``s3:RequestObjectTag/...`` of a
    #: PutObjectTagging), read only when a policy evaluated names ``s3:RequestObjectTag``
    body_context: Callable[[], Awaitable[Mapping[str, str | list[str]]]] | None = None
    #: the request manages the bucket policy itself (root is never locked out of those)
    manages_policy: bool = False


class Access:
    def __init__(self, meta: MetaStore, iam: IamService) -> None:
        self._meta = meta
        self._iam = iam

    async def authorize(self, req: AccessRequest) -> None:
        """Raise AccessDenied unless the request may go on (see the module docstring)."""
        principal = req.principal
        if principal is not None and not principal.is_root:
            await self._authorize_user(req, principal)
            return
        if req.bucket_name is None:
            if principal is None:
                raise errors.AccessDenied()
            return
        bucket = req.bucket
        if bucket is None:
            if principal is None:
                raise errors.AccessDenied()
            return  # the operation answers NoSuchBucket
        policy = bucket.settings.policy
        if policy is None:
            if principal is None and not await self._acl_allows(req, bucket):
                raise errors.AccessDenied()
            return
        decision = policy.evaluate(await self._facts(req, (policy,)))
        if decision == "Deny" and not (principal is not None and req.manages_policy):
            raise errors.AccessDenied()
        if principal is not None:
            return
        if decision == "Allow" and not (
            policy.is_public and bucket.settings.public_flags.RestrictPublicBuckets
        ):
            return
        if not await self._acl_allows(req, bucket):
            raise errors.AccessDenied()

    async def _authorize_user(self, req: AccessRequest, principal: Principal) -> None:
        """A user (not root): allowed when its identity policies or the bucket policy allow
        the request and none of them denies it."""
        bucket_policy = req.bucket.settings.policy if req.bucket is not None else None
        policies = list(await self._iam.identity_policies(principal.user))
        if bucket_policy is not None:
            policies.append(bucket_policy)
        facts = await self._facts(req, policies)
        decisions = [p.evaluate(facts) for p in policies]
        if "Deny" in decisions or "Allow" not in decisions:
            raise errors.AccessDenied()

    async def _facts(self, req: AccessRequest, policies: Sequence[Policy]) -> RequestFacts:
        """The request as the ``policies`` see it; keys that cost a read only if they use
        them."""
        if req.bucket_name is None:
            resource = "arn:aws:s3:::*"
        else:
            resource = f"arn:aws:s3:::{req.bucket_name}" + (
                f"/{req.key}" if req.key is not None else ""
            )
        now = dt.datetime.now(dt.UTC)
        context: dict[str, str | list[str]] = {
            "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:epochtime": str(int(now.timestamp())),
            **req.context,
        }
        if req.lazy_context is not None:
            context.update(req.lazy_context())
        if req.principal is None:
            principal = ANONYMOUS
            context["aws:principaltype"] = "Anonymous"
        else:
            principal = (
                ROOT_ARN
                if req.principal.is_root
                else f"arn:aws:iam::{ACCOUNT}:user/{req.principal.user}"
            )
            context["aws:principaltype"] = "Account" if req.principal.is_root else "User"
            context["aws:username"] = req.principal.user
            context["aws:userid"] = ACCOUNT
            context["aws:principalaccount"] = ACCOUNT
            context["aws:principalarn"] = principal
        if req.version_id is not None:
            context["s3:versionid"] = req.version_id
        if req.body_context is not None and any(
            p.mentions("s3:requestobjecttag") for p in policies
        ):
            context.update(await req.body_context())
        if (
            req.bucket_name
            and req.key is not None
            and any(p.mentions("s3:existingobjecttag/") for p in policies)
        ):
            current = (
                await self._meta.get_object_version(req.bucket_name, req.key, req.version_id)
                if req.version_id
                else await self._meta.get_object(req.bucket_name, req.key)
            )
            for tag, value in (current.tags if current is not None else {}).items():
                context[f"s3:existingobjecttag/{tag.lower()}"] = value
        return RequestFacts(
            principal=principal, action=req.action, resource=resource, context=context
        )

    async def _acl_allows(self, req: AccessRequest, bucket: Bucket) -> bool:
        """Does a public canned ACL let an anonymous request through? Bucket public-read lists,
        bucket public-read-write writes and deletes objects, object public-read reads it; all
        of it void under the bucket's IgnorePublicAcls."""
        action = req.action
        if action not in _READ | _WRITE and action != "s3:ListBucket":
            return False
        if bucket.settings.public_flags.IgnorePublicAcls:
            return False
        if action in _READ and req.key is not None:
            obj = (
                await self._meta.get_object_version(bucket.name, req.key, req.version_id)
                if req.version_id
                else await self._meta.get_object(bucket.name, req.key)
            )
            return obj is not None and obj.acl in _PUBLIC_OBJECT_ACLS
        if action == "s3:ListBucket":
            return bucket.settings.acl in ("public-read", "public-read-write")
        return bucket.settings.acl == "public-read-write"
