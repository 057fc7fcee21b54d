"""The S3 HTTP edge: one entry point per request — authenticate, route, handle, translate errors.

The chain is deliberately flat: request id → SigV4 verification (anonymous requests are denied
until bucket policies exist) → ``route`` (pure) → handler. Exceptions of every kind end in
``error_response``.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from urllib.parse import parse_qsl

from aiohttp import web

from ninefold.api.auth import Credentials, HttpRequestParts, verify
from ninefold.api.auth.sigv2 import verify_v2
from ninefold.api.s3.context import Context, Services
from ninefold.api.s3.errors import error_response
from ninefold.api.s3.handlers import HANDLERS
from ninefold.api.s3.router import route
from ninefold.core import errors

__all__ = ["S3App"]

log = logging.getLogger("ninefold.api")

CredentialLookup = Callable[[str], Credentials | None]


def _query(raw: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidArgument("The query string is not valid.") from exc


class S3App:
    def __init__(self, services: Services, lookup: CredentialLookup) -> None:
        self.services = services
        self.lookup = lookup

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        request_id = secrets.token_hex(8).upper()
        raw_path, _, raw_query = request.raw_path.partition("?")
        try:
            response = await self._dispatch(request, raw_path, raw_query, request_id)
        except Exception as exc:
            response = error_response(
                exc, resource=raw_path, request_id=request_id, method=request.method
            )
        if not response.prepared:
            if not request.content.is_eof():
                # the body was not read (an error answered early): its bytes must not be
                # parsed as the next request on this connection
                response.force_close()
            response.headers["x-amz-request-id"] = request_id
            response.headers["Server"] = "Ninefold"
        return response

    def _v2_resource(self, raw_path: str, host: str) -> str:
        domain = self.services.settings.domain
        hostname = host.rsplit(":", 1)[0].lower()
        if domain and hostname.endswith("." + domain):
            return "/" + hostname[: -len(domain) - 1] + (raw_path or "/")
        return raw_path or "/"

    async def _dispatch(
        self, request: web.BaseRequest, raw_path: str, raw_query: str, request_id: str
    ) -> web.StreamResponse:
        pairs = _query(raw_query)
        parts = HttpRequestParts(
            method=request.method, raw_path=raw_path, query=pairs, headers=request.headers
        )
        now = dt.datetime.now(dt.UTC)
        skew = self.services.settings.max_clock_skew_s
        resource = self._v2_resource(raw_path, request.headers.get("host", ""))
        auth = verify_v2(
            parts, self.lookup, now=now, max_skew_s=skew, resource_path=resource
        ) or verify(parts, self.lookup, now=now, max_skew_s=skew)
        if auth is None:
            raise errors.AccessDenied()
        query: dict[str, str] = {}
        for name, value in pairs:
            query.setdefault(name, value)
        s3 = route(
            request.method,
            raw_path,
            query,
            "x-amz-copy-source" in request.headers,
            request.headers.get("host", ""),
            self.services.settings.domain,
        )
        handler = HANDLERS[s3.op]
        if request.headers.get("expect", "").lower() == "100-continue":
            await request.writer.write(
                b"HTTP/%d.%d 100 Continue\r\n\r\n" % (request.version.major, request.version.minor)
            )
        ctx = Context(
            request=request, s3=s3, auth=auth, services=self.services, request_id=request_id
        )
        return await handler(ctx)
