"""The S3 HTTP edge: one entry point per request — authenticate, route, handle, translate errors.

The chain is deliberately flat: request id → SigV4/SigV2 verification → ``route`` (pure) →
authorization (bucket policy; anonymous requests only where a policy allows them) → handler.
Exceptions of every kind end in ``error_response``.

CORS sits in front of authentication: an ``OPTIONS`` request is a preflight, anonymous by nature,
and is answered from the bucket's CORS rules alone; a request with an ``Origin`` gets the CORS
headers of the rule it matches on whatever answer it gets, errors included. Requests without an
``Origin`` never look at the rules.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl

from aiohttp import web

from ninefold.api.auth import ANONYMOUS, Credentials, HttpRequestParts, verify
from ninefold.api.auth.sigv2 import verify_v2
from ninefold.api.s3 import cors, errors
from ninefold.api.s3.authz import access_request
from ninefold.api.s3.body import send_continue
from ninefold.api.s3.context import Context, Services
from ninefold.api.s3.errors import error_response
from ninefold.api.s3.handlers import HANDLERS
from ninefold.api.s3.handlers.post_object import browser_post_bucket, post_object
from ninefold.api.s3.router import bucket_and_key, route
from ninefold.api.s3.sse import CHECKED, refuse_sse
from ninefold.domain.access import check_expected_owner
from ninefold.domain.buckets import Bucket

__all__ = ["LATE_HEADERS", "S3App", "S3HttpRequest"]

log = logging.getLogger("ninefold.api")

CredentialLookup = Callable[[str], Credentials | None]

#: request key: headers for the response, decided before the handler ran (CORS)
LATE_HEADERS = web.RequestKey("ninefold.late_headers", dict[str, str])
#: request key: (bucket name, the Bucket or None), resolved once per request
_BUCKET = web.RequestKey("ninefold.bucket", tuple[str, "Bucket | None"])


class S3HttpRequest(web.BaseRequest):
    """A request that puts its ``LATE_HEADERS`` on the response when it is prepared, so that a
    handler which prepares and streams its response itself (GetObject) carries them too."""

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        for name, value in self.get(LATE_HEADERS, {}).items():
            response.headers.setdefault(name, value)
        await super()._prepare_hook(response)


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def _access_key_of(parts: HttpRequestParts) -> str | None:
    """The access key id a request is signed with (SigV4 or SigV2, header or query)."""
    header = parts.headers.get("authorization", "")
    if header.startswith("AWS4-"):
        match = _CREDENTIAL.search(header)
        return match.group(1) if match else None
    if header.startswith("AWS "):
        return header[4:].split(":", 1)[0].strip() or None
    for name, value in parts.query:
        if name == "X-Amz-Credential":
            return value.split("/", 1)[0] or None
        if name == "AWSAccessKeyId":
            return value or None
    return None


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
        late: dict[str, str] = {}
        try:
            if request.method == "OPTIONS":
                response = await self._preflight(request, raw_path)
            else:
                if "origin" in request.headers:
                    late = request[LATE_HEADERS] = await self._cors_headers(request, raw_path)
                domain = self.services.settings.domain
                if (post := browser_post_bucket(request, raw_path, raw_query, domain)) is not None:
                    # POST Object: the form authenticates it, not the headers
                    response = await post_object(
                        request, raw_path, post, self.services, self.lookup_for_key, request_id
                    )
                else:
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
                log.info(
                    "request %s: %s %s refused with %d before its body arrived; "
                    "closing the connection",
                    request_id,
                    request.method,
                    raw_path,
                    response.status,
                )
            response.headers["x-amz-request-id"] = request_id
            response.headers["Server"] = "Ninefold"
            response.headers.update(late)
        return response

    async def _bucket(self, request: web.BaseRequest, name: str | None) -> Bucket | None:
        """The request's bucket, read once per request (CORS and the operation share it)."""
        if name is None:
            return None
        cached = request.get(_BUCKET)
        if cached is not None and cached[0] == name:
            return cached[1]
        bucket = await self.services.buckets.get(name)
        request[_BUCKET] = (name, bucket)
        return bucket

    async def _cors_rules(
        self, request: web.BaseRequest, name: str | None
    ) -> Sequence[cors.CorsRule] | None:
        """The bucket's CORS rules, None without a configuration; NoSuchBucket if it is gone."""
        bucket = await self._bucket(request, name)
        if bucket is None:
            raise errors.NoSuchBucket()
        return bucket.settings.cors

    async def _preflight(self, request: web.BaseRequest, raw_path: str) -> web.StreamResponse:
        """A CORS preflight, answered from the bucket's rules alone (never the key or query)."""
        headers = request.headers
        origin = headers.get("origin")
        if origin is None:
            raise errors.BadRequest(cors.NO_ORIGIN)
        method = headers.get("access-control-request-method")
        host = headers.get("host", "")
        bucket, key = bucket_and_key(raw_path, host, self.services.settings.domain)
        try:
            rules = await self._cors_rules(request, bucket)
        except errors.NoSuchBucket as exc:
            raise cors.forbidden(cors.NOT_FOUND, method, "BUCKET") from exc
        allowed = cors.preflight_headers(
            rules,
            origin,
            method,
            headers.get("access-control-request-headers"),
            on_object=key is not None,
        )
        return web.Response(status=200, headers=allowed)

    async def _cors_headers(self, request: web.BaseRequest, raw_path: str) -> dict[str, str]:
        """The CORS headers for a request with an ``Origin`` (empty: no rule matches). A bucket
        that does not exist or a path that does not parse adds none; the request's own
        handling reports those."""
        host = request.headers.get("host", "")
        try:
            bucket, _ = bucket_and_key(raw_path, host, self.services.settings.domain)
            rules = await self._cors_rules(request, bucket)
        except errors.S3Error:
            return {}
        if not rules:
            return {}
        method = request.headers.get("access-control-request-method", request.method)
        return cors.actual_headers(rules, request.headers["origin"], method)

    async def _lookup_for(self, parts: HttpRequestParts) -> CredentialLookup:
        """The credential lookup for this request: the root key, or the user key it names
        (``ninefold admin key``), fetched from metadata once, before the signature check."""
        return await self.lookup_for_key(_access_key_of(parts))

    async def lookup_for_key(self, access_key: str | None) -> CredentialLookup:
        """The credential lookup for a request signed with ``access_key`` (header, query or
        POST form): the root key, or that user key fetched from metadata once."""
        if access_key is None or self.lookup(access_key) is not None:
            return self.lookup
        user = await self.services.iam.credentials(access_key)
        if user is None:
            return self.lookup
        return lambda key: user if key == access_key else self.lookup(key)

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
        lookup = await self._lookup_for(parts)
        auth = verify_v2(parts, lookup, now=now, max_skew_s=skew, resource_path=resource) or verify(
            parts, lookup, now=now, max_skew_s=skew
        )
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
        bucket = await self._bucket(request, s3.bucket)
        # anonymous requests go on only where a bucket policy or a public ACL allows them
        await self.services.access.authorize(access_request(request, s3, auth, bucket))
        auth = auth or ANONYMOUS
        if bucket is not None:
            check_expected_owner(bucket, request.headers.get("x-amz-expected-bucket-owner"))
        if s3.op in CHECKED:  # before the body is read: nothing is written or served
            refuse_sse(s3.op, request.headers)
        handler = HANDLERS[s3.op]
        await send_continue(request)  # once: authorization may have read the body already
        ctx = Context(
            request=request,
            s3=s3,
            auth=auth,
            services=self.services,
            request_id=request_id,
            found=bucket,
        )
        return await handler(ctx)
