"""Per-request context handed to every S3 handler, and response helpers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from ninefold.api.auth import AuthResult
from ninefold.api.s3.router import S3Request
from ninefold.api.s3.xml import render
from ninefold.core import errors as domain_errors
from ninefold.domain.access import check_expected_owner
from ninefold.domain.buckets import Bucket
from ninefold.domain.iam import account_of, canonical_id
from ninefold.domain.objects import ObjectService
from ninefold.domain.services import DomainServices

__all__ = ["ApiSettings", "Context", "Services", "owner_id", "xml_response"]


@dataclass(frozen=True, slots=True)
class ApiSettings:
    region: str = "us-east-1"
    #: virtual-hosted-style base domain (``<bucket>.<domain>``); None: path style only
    domain: str | None = None
    max_clock_skew_s: int = 900


@dataclass(frozen=True, slots=True)
class Services(DomainServices):
    """The domain services the S3 edge translates to (every front door shares them), with the
    S3 edge's own settings."""

    settings: ApiSettings

    @classmethod
    def build(cls, objects: ObjectService, settings: ApiSettings) -> Services:
        """The domain services over ``objects``, with the S3 edge's settings."""
        domain = DomainServices.over(objects, settings.region)
        return cls(
            objects=domain.objects,
            multipart=domain.multipart,
            buckets=domain.buckets,
            iam=domain.iam,
            access=domain.access,
            settings=settings,
        )


@dataclass(frozen=True, slots=True)
class Context:
    request: web.BaseRequest
    s3: S3Request
    auth: AuthResult
    services: Services
    request_id: str
    #: the request's bucket, resolved once before authorization (None: absent or no bucket)
    found: Bucket | None = None

    @property
    def bucket(self) -> str:
        """The bucket's name as the request gave it."""
        assert self.s3.bucket is not None
        return self.s3.bucket

    @property
    def key(self) -> str:
        assert self.s3.key is not None
        return self.s3.key

    @property
    def user(self) -> str:
        return self.auth.principal.user

    @property
    def account(self) -> str:
        """The caller's account: it owns what the request creates."""
        return self.auth.principal.account

    async def bucket_named(self, name: str) -> Bucket:
        """Another bucket the request names (a copy source): this request's own without a
        second read, else read now; NoSuchBucket when it does not exist."""
        if name == self.s3.bucket and self.found is not None:
            bucket = self.found
        else:
            bucket = await self.services.buckets.require(name)
        check_expected_owner(bucket, self.request.headers.get("x-amz-source-expected-bucket-owner"))
        return bucket

    def require_bucket(self) -> Bucket:
        """The resolved bucket; NoSuchBucket when it does not exist (no metadata read)."""
        if self.found is None:
            raise domain_errors.NoSuchBucket(BucketName=self.bucket)
        return self.found


def owner_id(owner: str) -> str:
    """The 64-hex canonical user id S3 shows for a stored owner (its account's)."""
    return canonical_id(account_of(owner))


def xml_response(root: ET.Element, status: int = 200, tail: Sequence[str] = ()) -> web.Response:
    return web.Response(status=status, body=render(root, tail=tail), content_type="application/xml")
