"""Authorization: who may do what to which bucket or object.

Front doors describe a request as an :class:`AccessRequest` (the verified principal, the IAM
action, the resolved bucket, the key, and the condition keys they know of: source IP, TLS,
user agent ...); :meth:`Access.authorize` decides with the AWS rules
(``ninefold.iam.policy``):

* an explicit Deny refuses the request, the root user's included -- except the bucket-policy
  operations themselves for the bucket owner's root, so that a bad policy can always be fixed;
* the root user of the bucket owner's account is otherwise allowed;
* a user of the bucket owner's account is allowed when a policy attached to it or to one of
  its groups, or the bucket policy (Principal ``arn:aws:iam::ACCOUNT:user/NAME``), allows the
  request and none of them denies it;
* an anonymous request, or one from another account, needs the bucket's consent: an Allow of
  the bucket policy (not a public one under RestrictPublicBuckets) or an ACL grant (bucket
  ACL for bucket actions and object writes, the object's ACL for object reads; AllUsers and
  AuthenticatedUsers grants void under IgnorePublicAcls); a user of another account also
  needs its own identity policies' Allow.

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
from ninefold.domain.acl import allows, grants_of
from ninefold.domain.buckets import Bucket
from ninefold.domain.iam import DEFAULT_ACCOUNT, IamService, Principal, account_of
from ninefold.iam.policy import ANONYMOUS, Policy, RequestFacts
from ninefold.meta.store import MetaStore

__all__ = ["ACCOUNT", "Access", "AccessRequest", "check_expected_owner"]

ACCOUNT = DEFAULT_ACCOUNT

#: IAM action -> what ACL grant allows it: the bucket's or the object's, and which permission
#: (FULL_CONTROL allows them all); as S3 maps ACL permissions to actions
_ACL_PERMISSION: dict[str, tuple[str, str]] = {
    "s3:ListBucket": ("bucket", "READ"),
    "s3:ListBucketVersions": ("bucket", "READ"),
    "s3:ListBucketMultipartUploads": ("bucket", "READ"),
    "s3:PutObject": ("bucket", "WRITE"),
    "s3:DeleteObject": ("bucket", "WRITE"),
    "s3:DeleteObjectVersion": ("bucket", "WRITE"),
    "s3:GetBucketAcl": ("bucket", "READ_ACP"),
    "s3:PutBucketAcl": ("bucket", "WRITE_ACP"),
    "s3:GetObject": ("object", "READ"),
    "s3:GetObjectVersion": ("object", "READ"),
    "s3:GetObjectAcl": ("object", "READ_ACP"),
    "s3:GetObjectVersionAcl": ("object", "READ_ACP"),
    "s3:PutObjectAcl": ("object", "WRITE_ACP"),
    "s3:PutObjectVersionAcl": ("object", "WRITE_ACP"),
}


def check_expected_owner(bucket: Bucket, expected: str | None) -> None:
    """``x-amz-expected-bucket-owner`` (and the copy source's): the account the caller
    expects to own ``bucket``; any other value, well formed or not, is AccessDenied, as S3
    answers."""
    if expected is not None and expected.strip() != account_of(bucket.owner):
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
        bucket = req.bucket
        if req.action == "s3:CreateBucket":
            # whoever owns the name, creating it is a matter of the caller's own permissions
            # (the operation answers BucketAlreadyExists or BucketAlreadyOwnedByYou)
            bucket = None
        if bucket is not None and (
            principal is None or principal.account != account_of(bucket.owner)
        ):
            await self._authorize_outsider(req, bucket)
            return
        if principal is not None and not principal.is_root:
            await self._authorize_user(req, principal)
            return
        if req.bucket_name is None or bucket is None:
            if principal is None:
                raise errors.AccessDenied()
            return  # root without a bucket; or the operation answers NoSuchBucket
        policy = bucket.settings.policy
        if policy is None:
            return
        decision = policy.evaluate(await self._facts(req, (policy,)))
        if decision == "Deny" and not req.manages_policy:
            raise errors.AccessDenied()

    async def _authorize_user(self, req: AccessRequest, principal: Principal) -> None:
        """A user (not root) of the bucket owner's account: allowed when its identity policies
        or the bucket policy allow the request and none of them denies it."""
        bucket_policy = req.bucket.settings.policy if req.bucket is not None else None
        policies = list(await self._iam.identity_policies(principal.user))
        if bucket_policy is not None:
            policies.append(bucket_policy)
        facts = await self._facts(req, policies)
        decisions = [p.evaluate(facts) for p in policies]
        if "Deny" in decisions or "Allow" not in decisions:
            raise errors.AccessDenied()

    async def _authorize_outsider(self, req: AccessRequest, bucket: Bucket) -> None:
        """An anonymous request, or one from another account than the bucket owner's: the
        bucket's side (its policy or an ACL grant) must let it in, no policy may deny it, and
        a user (not its account's root) also needs its own identity policies' Allow."""
        principal = req.principal
        policy = bucket.settings.policy
        identity: list[Policy] = []
        if principal is not None and not principal.is_root:
            identity = list(await self._iam.identity_policies(principal.user))
        policies = identity + ([policy] if policy is not None else [])
        facts = await self._facts(req, policies) if policies else None
        if identity:
            assert facts is not None
            decisions = [p.evaluate(facts) for p in identity]
            if "Deny" in decisions or "Allow" not in decisions:
                raise errors.AccessDenied()
        elif principal is not None and not principal.is_root:
            raise errors.AccessDenied()
        decision = None
        if policy is not None:
            assert facts is not None
            decision = policy.evaluate(facts)
        if decision == "Deny":
            raise errors.AccessDenied()
        if decision == "Allow" and not (
            policy is not None
            and policy.is_public
            and bucket.settings.public_flags.RestrictPublicBuckets
        ):
            return
        if not await self._acl_allows(req, bucket):
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
            account = req.principal.account
            principal = (
                f"arn:aws:iam::{account}:root"
                if req.principal.is_root
                else f"arn:aws:iam::{account}:user/{req.principal.user}"
            )
            context["aws:principaltype"] = "Account" if req.principal.is_root else "User"
            context["aws:username"] = req.principal.user
            context["aws:userid"] = account
            context["aws:principalaccount"] = account
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
        """Does an ACL grant let the request through? Bucket actions and object writes are
        decided by the bucket's ACL, reads of an object and of its ACL by the object's; grants
        to AllUsers and AuthenticatedUsers are void under the bucket's IgnorePublicAcls."""
        needed = _ACL_PERMISSION.get(req.action)
        if needed is None:
            return False
        level, permission = needed
        account = None if req.principal is None else req.principal.account
        ignore = bucket.settings.public_flags.IgnorePublicAcls
        owner = account_of(bucket.owner)
        if level == "bucket":
            grants = grants_of(bucket.settings.acl, owner)
            return allows(grants, account, permission, ignore_public=ignore)
        if req.key is None:
            return False
        obj = (
            await self._meta.get_object_version(bucket.name, req.key, req.version_id)
            if req.version_id
            else await self._meta.get_object(bucket.name, req.key)
        )
        if obj is None or obj.is_delete_marker:
            return False
        obj_owner = account_of(obj.owner) if obj.owner else owner
        if account == obj_owner and permission in ("READ_ACP", "WRITE_ACP"):
            return True  # an object's owner may always read and change its ACL
        grants = grants_of(obj.acl, obj_owner, owner)
        return allows(grants, account, permission, ignore_public=ignore)
