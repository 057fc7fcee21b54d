"""The domain services of one process, built together over one metadata store."""

from __future__ import annotations

from dataclasses import dataclass

from ninefold.domain.access import Access
from ninefold.domain.buckets import BucketService
from ninefold.domain.iam import IamService
from ninefold.domain.multipart import MultipartService
from ninefold.domain.objects import ObjectService

__all__ = ["DomainServices"]


@dataclass(frozen=True, slots=True)
class DomainServices:
    """What every front door calls: objects, uploads, buckets, identities, authorization."""

    objects: ObjectService
    multipart: MultipartService
    buckets: BucketService
    iam: IamService
    access: Access

    @classmethod
    def over(cls, objects: ObjectService, region: str) -> DomainServices:
        """The services sharing ``objects``' metadata store; new buckets get ``region``."""
        meta = objects.meta
        iam = IamService(meta)
        return cls(
            objects=objects,
            multipart=MultipartService(objects),
            buckets=BucketService(meta, region),
            iam=iam,
            access=Access(meta, iam),
        )
