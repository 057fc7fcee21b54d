"""S3 operation handlers, one module per area; ``HANDLERS`` maps each ``Operation`` to one.

A handler translates: it reads the request (headers, query, XML body), calls the domain services
on the request's resolved bucket (``Context.require_bucket``), and renders their values as S3
XML and headers. Rules (who may, what a lock allows, which ACL a bucket takes) are never here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ninefold.api.s3.context import Context
from ninefold.api.s3.handlers import (
    acl,
    attributes,
    bucket_config,
    buckets,
    listing,
    multipart,
    object_lock,
    objects,
    policy,
    tagging,
)
from ninefold.api.s3.operations import Operation

__all__ = ["HANDLERS", "Handler"]

Handler = Callable[[Context], Awaitable[web.StreamResponse]]

HANDLERS: dict[Operation, Handler] = {
    **buckets.HANDLERS,
    **listing.HANDLERS,
    **objects.HANDLERS,
    **multipart.HANDLERS,
    **tagging.HANDLERS,
    **object_lock.HANDLERS,
    **policy.HANDLERS,
    **acl.HANDLERS,
    **bucket_config.HANDLERS,
    **attributes.HANDLERS,
}
