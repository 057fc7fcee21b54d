"""The one place where exceptions become S3 XML error responses."""

from __future__ import annotations

import logging

from aiohttp import web

from ninefold.api.s3.xml import child, element, render
from ninefold.core import errors

__all__ = ["error_response"]

log = logging.getLogger("ninefold.api")


def error_response(
    exc: BaseException, *, resource: str, request_id: str, method: str
) -> web.Response:
    """Translate ``exc``; anything that is not an S3Error is logged and becomes InternalError
    (or ServiceUnavailable for storage that lost its quorum), never leaking a traceback."""
    if not isinstance(exc, errors.S3Error):
        if isinstance(exc, errors.StorageError):
            log.error("request %s: storage failure: %s", request_id, exc)
            exc = errors.ServiceUnavailable(
                "The object cannot be served right now: too many of its fragments are unavailable."
                if isinstance(exc, errors.DataUnavailable)
                else "Storage is temporarily unavailable; please retry."
            )
        else:
            log.error("request %s: unexpected error", request_id, exc_info=exc)
            exc = errors.InternalError()
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id, **exc.headers}
    if exc.status == 503:
        headers["Retry-After"] = "1"
    if method == "HEAD" or exc.status == 304:
        return web.Response(status=exc.status, headers=headers)
    root = element(
        "Error",
        child("Code", exc.code),
        child("Message", exc.message),
        *(child(name, value) for name, value in exc.extra.items()),
        child("Resource", resource),
        child("RequestId", request_id),
    )
    return web.Response(
        status=exc.status,
        headers=headers,
        body=render(root, namespace=False),
        content_type="application/xml",
    )
