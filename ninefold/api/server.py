"""Serving the S3 app with aiohttp on a shared port (SO_REUSEPORT), HTTP or HTTPS, under the
connection limits of ``api/connections.py`` (timeouts answered with S3's RequestTimeout)."""

from __future__ import annotations

import asyncio
import secrets
import ssl
from typing import Any

from aiohttp import StreamReader, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_parser import RawRequestMessage
from aiohttp.web_protocol import RequestHandler

from ninefold.api.app import S3App, S3HttpRequest
from ninefold.api.connections import GuardedRequestHandler, GuardedServer, HttpSettings
from ninefold.api.s3 import errors
from ninefold.api.s3.errors import error_response
from ninefold.api.s3.xml import child, element, render

__all__ = ["ListenError", "start_site", "tls_context"]

#: request line / header limits (aiohttp answers 400 beyond them)
MAX_LINE_BYTES = 16 * 1024
MAX_FIELD_BYTES = 16 * 1024


class ListenError(OSError):
    """The site could not bind its address (the port is taken, the address is not ours)."""


def protocol_error(status: int, message: str | None) -> errors.S3Error:
    """The S3 error for a request aiohttp could not even parse (before any handler ran)."""
    text = message or ""
    if status == 400 and ("too long" in text or "Got more than" in text or "too large" in text):
        return errors.RequestHeaderSectionTooLarge()
    if 400 <= status < 500:
        return errors.InvalidRequest(f"The request could not be parsed: {text}".strip(": "))
    return errors.InternalError()


def timeout_response() -> bytes:
    """The raw answer to a request whose header section missed its deadline: S3's
    RequestTimeout (no request was parsed, so no Resource), then the connection closes."""
    request_id = secrets.token_hex(8).upper()
    error = errors.RequestTimeout()
    body = render(
        element(
            "Error",
            child("Code", error.code),
            child("Message", error.message),
            child("RequestId", request_id),
        ),
        namespace=False,
    )
    head = (
        f"HTTP/1.1 {error.status} Request Timeout\r\n"
        "Content-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"x-amz-request-id: {request_id}\r\n"
        "Server: Ninefold\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class _S3RequestHandler(GuardedRequestHandler):
    """aiohttp's connection handler, answering protocol-level errors in S3 XML too."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError) and 400 <= status < 500:
            # the client sent something aiohttp cannot parse (a header line beyond
            # MAX_FIELD_BYTES, a malformed request line): the client's fault, one line
            text = " ".join(str(message or exc.message or type(exc).__name__).split())
            self.logger.warning(
                "request from %s not parsed (%s): %s",
                request.remote,
                type(exc).__name__,
                text[:200],
            )
            if request.writer.output_size > 0:
                raise ConnectionError("a response is under way; cannot send the error")
        else:
            # aiohttp's own handling logs with the traceback, and raises when a response is
            # already under way
            super().handle_error(request, status, exc, message)
        response = error_response(
            protocol_error(status, message),
            resource=request.path,
            request_id=secrets.token_hex(8).upper(),
            method=request.method,
        )
        response.force_close()
        return response


class _S3Server(GuardedServer):
    def __call__(self) -> RequestHandler:
        kwargs: dict[str, Any] = self._kwargs
        return _S3RequestHandler(self, loop=self._loop, **kwargs)

    def _make_request(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        return S3HttpRequest(message, payload, protocol, writer, task, self._loop)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def start_site(
    app: S3App, host: str, port: int, tls: ssl.SSLContext | None, limits: HttpSettings
) -> web.ServerRunner:
    server = _S3Server(
        app.handle,
        limits=limits,
        timeout_response=timeout_response,
        body_timeout_error=errors.RequestTimeout,
        max_line_size=MAX_LINE_BYTES,
        max_field_size=MAX_FIELD_BYTES,
        # never cancel a handler when its client goes away: a cancelled metadata commit may
        # still complete in its thread, and the handler must see the real outcome
        handler_cancellation=False,
        # S3 stores Content-Encoding: gzip bodies verbatim; never decompress them
        auto_decompress=False,
        # no per-request access log line on the hot path (an audit log comes with obs/)
        access_log=None,
    )
    runner = web.ServerRunner(server, shutdown_timeout=10.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls, reuse_port=True, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ListenError(
            exc.errno, f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    return runner
