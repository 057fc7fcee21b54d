"""POST Object: a browser upload, a multipart/form-data POST to a bucket URL.

The form authenticates the request (``ninefold.api.auth.form``), so ``S3App.handle`` sends
such a POST here before any header authentication; CORS headers are still applied by the app.
Fields are read up to the ``file`` field, which must come last (fields after it are ignored
and their bytes drained). The file part is streamed into the object as it arrives, never held
whole: ``content-length-range`` is enforced while it streams, and a refused or broken upload
leaves only orphan chunks for GC, nothing visible.

Who uploads: the owner of the key that signed the policy (the root key or an IAM user's key,
authorized as that user), or, for a form with neither policy nor signature, an anonymous
client, which a bucket policy or a public-read-write bucket ACL must allow (as on S3, where
the policy is optional when the bucket is publicly writable). The ``tagging`` field is a
``Tagging`` XML document whose tags the object gets (InvalidTag / MalformedXML otherwise).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ninefold.api.auth import ANONYMOUS, AuthResult, Credentials, Principal
from ninefold.api.auth.form import verify_form
from ninefold.api.s3 import errors
from ninefold.api.s3.authz import access_request
from ninefold.api.s3.body import DEFAULT_ALGORITHM
from ninefold.api.s3.context import Context, Services
from ninefold.api.s3.handlers.object_lock import lock_for_put
from ninefold.api.s3.handlers.objects import put_spec
from ninefold.api.s3.headers import STORED_HEADERS
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.post_policy import (
    MAX_FORM_FIELDS_BYTES,
    check_policy,
    decode_policy,
    substitute_filename,
)
from ninefold.api.s3.router import MAX_KEY_BYTES, S3Request, bucket_and_key
from ninefold.api.s3.sse import refuse_sse
from ninefold.api.s3.tagging import MAX_OBJECT_TAGS, parse_tagging_xml
from ninefold.api.s3.xml import child, element, render
from ninefold.core.checksums import MultiHasher
from ninefold.domain.acl import CANNED

__all__ = ["browser_post_bucket", "post_object"]

CredentialLookup = Callable[[str], Credentials | None]
#: the credential lookup for a form signed with this access key (None: unsigned)
LookupForKey = Callable[[str | None], Awaitable[CredentialLookup]]

#: bytes asked of the file part per read (the coordinator buffers up to its io buffer)
READ_BYTES = 256 * 1024
#: what is read to the void after the file (closing boundary, ignored fields) to keep the
#: connection alive; a longer tail is left unread and the connection closed
MAX_TRAILER_BYTES = 64 * 1024
#: fields that would ask for something this server does not do yet (the SSE fields S3 knows
#: are checked first by ``refuse_sse``, as the headers of a PutObject are)
_UNSUPPORTED_PREFIXES = ("x-amz-server-side-encryption", "x-amz-website-redirect-location")
#: fields stored as object headers (returned on GET): no line breaks
_HEADER_FIELDS = frozenset({"content-type", *STORED_HEADERS})
#: what aiohttp's multipart reader raises on a body that is not well-formed
_FORM_ERRORS = (ValueError, RuntimeError, AssertionError, LookupError, HttpProcessingError)


def browser_post_bucket(
    request: web.BaseRequest, raw_path: str, raw_query: str, domain: str | None
) -> str | None:
    """The bucket of a POST Object request (a multipart/form-data POST to a bucket URL without
    a query); None for any other request."""
    if request.method != "POST" or raw_query:
        return None
    mimetype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mimetype != "multipart/form-data":
        return None
    bucket, key = bucket_and_key(raw_path, request.headers.get("host", ""), domain)
    return bucket if bucket is not None and key is None else None


class _FileBody:
    """The ``file`` part as a BodySource, enforcing the policy's content-length-range."""

    def __init__(self, part: BodyPartReader, length_range: tuple[int, int] | None) -> None:
        self._part = part
        self._range = length_range
        self.size = 0

    async def read(self) -> bytes:
        try:
            piece = await self._part.read_chunk(READ_BYTES)
        except _FORM_ERRORS as exc:
            raise errors.MalformedPOSTRequest() from exc
        except errors.RequestTimeout:  # the body stalled (api/connections.py)
            raise
        except Exception as exc:  # the client went away mid-file
            raise errors.IncompleteBody("The POST body ended before the file did.") from exc
        self.size += len(piece)
        if self._range is not None:
            low, high = self._range
            if self.size > high:
                raise errors.EntityTooLarge(
                    "Your proposed upload exceeds the maximum allowed size",
                    MaxSizeAllowed=str(high),
                )
            if not piece and self.size < low:
                raise errors.EntityTooSmall(
                    "Your proposed upload is smaller than the minimum allowed size",
                    ProposedSize=str(self.size),
                    MinSizeAllowed=str(low),
                )
        return piece


async def _read_form(request: web.BaseRequest) -> tuple[dict[str, str], BodyPartReader | None]:
    """The fields before ``file`` (names lower-cased) and the file part (None: no file)."""
    fields: dict[str, str] = {}
    budget = MAX_FORM_FIELDS_BYTES
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                return fields, None
            if isinstance(part, MultipartReader) or not part.name:
                raise errors.MalformedPOSTRequest()
            name = part.name.lower()
            if name == "file":
                return fields, part
            value = bytearray()
            while chunk := await part.read_chunk(BodyPartReader.chunk_size):
                value += chunk
                if len(value) + len(name) > budget:
                    raise errors.MaxPostPreDataLengthExceededError()
            budget -= len(value) + len(name)
            if name in fields:
                raise errors.InvalidArgument(
                    f"POST form fields must be unique: '{part.name}' appears twice.",
                    ArgumentName=part.name,
                )
            fields[name] = value.decode("utf-8")
    except errors.S3Error:
        raise
    except _FORM_ERRORS as exc:
        raise errors.MalformedPOSTRequest() from exc


def _check_key(key: str) -> None:
    if not key:
        raise errors.InvalidArgument(
            "User key must have a length greater than 0.", ArgumentName="key", ArgumentValue=""
        )
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise errors.KeyTooLongError(Size=str(size), MaxSizeAllowed=str(MAX_KEY_BYTES))
    if "\x00" in key:
        raise errors.InvalidArgument("Object key must not contain the NUL character.")


def _check_fields(fields: dict[str, str]) -> None:
    """Refuse what this server cannot honour rather than ignore it silently."""
    acl = fields.get("acl")
    if acl is not None and acl not in CANNED:
        raise errors.InvalidArgument(ArgumentName="x-amz-acl", ArgumentValue=acl)
    if acl is not None and acl != "private":
        raise errors.NotImplementedOp("Only the private canned ACL is supported for now.")
    refuse_sse(Operation.PutObject, fields)
    for name, value in fields.items():
        if name.startswith(_UNSUPPORTED_PREFIXES):
            raise errors.NotImplementedOp(f"The POST form field '{name}' is not supported yet.")
        becomes_header = name in _HEADER_FIELDS or name.startswith("x-amz-meta-")
        if becomes_header and ("\r" in value or "\n" in value):
            raise errors.InvalidArgument(
                "Header values must not contain line breaks.", ArgumentName=name
            )


def _redirect(fields: dict[str, str]) -> str | None:
    """The success_action_redirect (or legacy ``redirect``) URL, None when absent or invalid."""
    url = fields.get("success_action_redirect") or fields.get("redirect")
    if not url or not url.isprintable():  # a line break would split the Location header
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _location(request: web.BaseRequest, raw_path: str, key: str) -> str:
    host = request.headers.get("host", "")
    return f"{request.scheme}://{host}{raw_path.rstrip('/')}/{quote(key, safe='/~')}"


async def _drain(request: web.BaseRequest) -> None:
    """Read what follows the file (closing boundary, ignored fields) so that the connection can
    serve the next request; give up past MAX_TRAILER_BYTES (the app then closes it)."""
    seen = 0
    try:
        while seen <= MAX_TRAILER_BYTES and (piece := await request.content.readany()):
            seen += len(piece)
    except Exception:  # the object is stored; a broken tail only costs the connection
        return


async def post_object(
    request: web.BaseRequest,
    raw_path: str,
    bucket: str,
    services: Services,
    lookup_for_key: LookupForKey,
    request_id: str,
) -> web.StreamResponse:
    """Store the form's file as ``bucket``/``key`` once the policy allows it; see the module
    docstring. Answers 303 to success_action_redirect, else success_action_status (204 by
    default; 201 with a PostResponse document)."""
    if request.headers.get("expect", "").lower() == "100-continue":
        await request.writer.write(
            b"HTTP/%d.%d 100 Continue\r\n\r\n" % (request.version.major, request.version.minor)
        )
    fields, file_part = await _read_form(request)
    if file_part is None:
        raise errors.InvalidArgument(
            "POST requires exactly one file upload per request.",
            ArgumentName="file",
            ArgumentValue="0",
        )
    if "key" not in fields:
        raise errors.InvalidArgument(
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the "
            "order of the fields.",
            ArgumentName="key",
            ArgumentValue="",
        )
    principal = verify_form(fields, await lookup_for_key(_form_access_key(fields)))
    key = substitute_filename(fields["key"], file_part.filename)
    _check_key(key)
    # an unsigned form has no policy (verify_form refuses one without its signature)
    policy = decode_policy(fields["policy"]) if principal is not None else None
    if policy is not None:
        check_policy(policy, fields, bucket, key, dt.datetime.now(dt.UTC))
    _check_fields(fields)
    tags = (
        parse_tagging_xml(fields["tagging"].encode("utf-8"), MAX_OBJECT_TAGS)
        if "tagging" in fields
        else None
    )
    # the bucket policy (explicit Deny included), a user's own policies and a public-write
    # bucket ACL apply to form uploads as to any PutObject
    s3 = S3Request(Operation.PutObject, bucket, key, {})
    found = await services.buckets.get(bucket)
    auth = _auth_result(principal) if principal is not None else None
    await services.access.authorize(access_request(request, s3, auth, found))
    auth = auth or ANONYMOUS

    ctx = Context(
        request=request,
        s3=s3,
        auth=auth,
        services=services,
        request_id=request_id,
        found=found,
    )
    owner = ctx.services.buckets.object_owner(ctx.require_bucket(), ctx.account, "private")
    spec = replace(put_spec(ctx, fields), lock=lock_for_put(ctx, fields), owner=owner)
    if tags is not None:
        spec = replace(spec, tags=tags)
    body = _FileBody(file_part, policy.length_range if policy is not None else None)
    obj = await services.objects.put_object(
        ctx.require_bucket(), key, body, spec, (DEFAULT_ALGORITHM,), _default_checksum
    )
    await _drain(request)

    etag = f'"{obj.etag}"'
    headers = {"ETag": etag, "Location": _location(request, raw_path, key)}
    if obj.version_id:
        headers["x-amz-version-id"] = obj.version_id
    redirect = _redirect(fields)
    if redirect is not None:
        query = urlencode({"bucket": bucket, "key": key, "etag": etag})
        headers["Location"] = redirect + ("&" if "?" in redirect else "?") + query
        return web.Response(status=303, headers=headers)
    status = fields.get("success_action_status")
    if status == "201":
        document = element(
            "PostResponse",
            child("Location", headers["Location"]),
            child("Bucket", bucket),
            child("Key", key),
            child("ETag", etag),
        )
        return web.Response(
            status=201,
            headers=headers,
            body=render(document, namespace=False),
            content_type="application/xml",
        )
    return web.Response(status=200 if status == "200" else 204, headers=headers)


def _form_access_key(fields: dict[str, str]) -> str | None:
    """The access key a form is signed with (SigV4 credential or SigV2 AWSAccessKeyId)."""
    if "x-amz-credential" in fields:
        return fields["x-amz-credential"].split("/", 1)[0] or None
    return fields.get("awsaccesskeyid") or None


def _auth_result(principal: Principal) -> AuthResult:
    """The form's principal as the AuthResult handlers expect (the body is the form's own)."""
    return AuthResult(
        principal=principal,
        payload="UNSIGNED-PAYLOAD",
        signing_key=b"",
        scope="",
        amz_date="",
        seed_signature="",
    )


def _default_checksum(hasher: MultiHasher) -> dict[str, str]:
    return {DEFAULT_ALGORITHM: hasher.checksums_b64()[DEFAULT_ALGORITHM]}
