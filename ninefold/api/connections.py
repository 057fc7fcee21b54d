"""Connection limits of every Ninefold HTTP listener: deadlines and a per-process cap.

Left alone, aiohttp keeps a connection that sends nothing for an hour (its keep-alive default),
lets a client trickle one header line at a time for as long as that hour lasts, and waits forever
for a request body that stopped arriving. This module owns the four limits that close them
(``HttpSettings``), enforced per connection by one timer whose deadline follows the
connection's phase:

* **idle** (between requests, nothing of the next one received): ``idle_timeout_s`` after the
  connection opened or the last response ended, the connection is closed silently (an ordinary
  keep-alive expiry; clients reconnect);
* **head** (the first bytes of a request arrived, its header section is not complete): one total
  deadline, ``header_timeout_s`` after the first byte, however the bytes trickle in; past it
  the client is answered ``timeout_response`` and the connection is closed;
* **request** (a handler runs): while its body has not all arrived and the server is waiting for
  it (reading not paused by back-pressure), a body that makes no progress for
  ``body_timeout_s`` fails every read of it with ``body_timeout_error()`` (the handler aborts its
  write and answers the error), and the connection is closed after that answer; while the
  client does not read the response (writing paused), ``body_timeout_s`` without progress
  aborts the connection.

``max_connections`` caps the connections one process serves at once. One more is closed as soon
as it is accepted (as Node's ``server.maxConnections`` and Envoy's connection limit do): the
connections already served are not slowed down, and a refused client retries, under
SO_REUSEPORT perhaps on a less busy process. A TLS connection counts from the end of its
handshake (asyncio bounds the handshake itself, 60 s).

It knows nothing of S3: the S3 edge (``api/server.py``) and the storage node's listener
(composed in ``cli/node.py``) give it their own timeout answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

__all__ = [
    "GuardedAppRunner",
    "GuardedRequestHandler",
    "GuardedServer",
    "HttpSettings",
    "plain_timeout_response",
]

log = logging.getLogger("ninefold.http")

#: the connection waits for a request and has received nothing of it
_IDLE = 0
#: part of a request's header section has arrived
_HEAD = 1
#: a complete request is queued or its handler runs
_REQUEST = 2

#: at most one "connection cap reached" warning per this many seconds
_CAP_LOG_INTERVAL_S = 60.0


def _help(text: str, *, min_value: float) -> dict[str, object]:
    return {"help": text, "min": min_value}


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The connection limits of an HTTP listener (one set per process)."""

    header_timeout_s: float = field(
        default=60.0,
        metadata=_help(
            "a request's whole header section must arrive within this (total deadline)",
            min_value=0.1,
        ),
    )
    idle_timeout_s: float = field(
        default=60.0,
        metadata=_help("an idle keep-alive connection is closed after this", min_value=0.1),
    )
    body_timeout_s: float = field(
        default=60.0,
        metadata=_help(
            "a request body (or a response the client does not read) stalled this long ends "
            "the request: RequestTimeout, connection closed",
            min_value=0.1,
        ),
    )
    max_connections: int = field(
        default=1024,
        metadata=_help("connections served at once per process; more are closed", min_value=1),
    )

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "idle_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if self.max_connections < 1:
            raise ValueError("max_connections must be >= 1")


def plain_timeout_response() -> bytes:
    """A bare ``408 Request Timeout`` (listeners whose clients expect no S3 XML)."""
    return b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection handler under the limits of its ``GuardedServer``."""

    def __init__(self, manager: GuardedServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = manager
        self._limits = manager.limits
        self._phase = _IDLE
        #: when the current phase's clock started (IDLE, HEAD), or the body last moved (REQUEST)
        self._since = 0.0
        self._write_paused_since: float | None = None
        self._watch: asyncio.TimerHandle | None = None
        self._admitted = False
        #: the request whose handler runs (aiohttp's own reference is set a step later)
        self._request: web.BaseRequest | None = None
        self._body_timed_out = False

    # ---- the phase and its deadline ------------------------------------------------------------

    def _enter(self, phase: int) -> None:
        self._phase = phase
        self._since = self._loop.time()
        self._arm()

    def _deadline(self) -> float | None:
        limits = self._limits
        if self._phase == _IDLE:
            return self._since + limits.idle_timeout_s
        if self._phase == _HEAD:
            return self._since + limits.header_timeout_s
        if self._write_paused_since is not None:
            return self._write_paused_since + limits.body_timeout_s
        request = self._request
        if (
            request is not None
            and not self._body_timed_out
            and not request.content.is_eof()
            and not self._reading_paused
        ):
            return self._since + limits.body_timeout_s
        return None

    def _arm(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        deadline = self._deadline()
        if deadline is not None and self.transport is not None and not self._force_close:
            self._watch = self._loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._watch = None
        transport = self.transport
        if transport is None or self._force_close:
            return
        deadline = self._deadline()
        if deadline is None:
            return
        if self._loop.time() < deadline:  # the clock moved on since the timer was set
            self._watch = self._loop.call_at(deadline, self._expire)
            return
        peer = self.peername
        if self._phase == _IDLE:
            log.debug("closing idle connection from %s", peer)
            self._cut()
        elif self._phase == _HEAD:
            if self._messages:  # the header section is complete: its handler starts now
                return
            log.info(
                "connection from %s: request header section not received within %gs; closing",
                peer,
                self._limits.header_timeout_s,
            )
            transport.write(self._guard.timeout_response())
            self._cut()
        elif self._write_paused_since is not None:
            log.info(
                "connection from %s: response not read for %gs; aborting",
                peer,
                self._limits.body_timeout_s,
            )
            transport.abort()
        else:
            request = self._request
            assert request is not None
            log.info(
                "connection from %s: %s %s body made no progress for %gs; ending the request",
                peer,
                request.method,
                request.path,
                self._limits.body_timeout_s,
            )
            self._body_timed_out = True
            request.content.set_exception(self._guard.body_timeout_error())

    def _cut(self) -> None:
        """Close now: gracefully when what was written can still leave, else abort."""
        transport = self.transport
        if transport is not None and transport.get_write_buffer_size() > 64 * 1024:
            transport.abort()
        self.force_close()

    # ---- the events that move the phase --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._guard.admit():
            transport.close()  # over the cap: refused before a byte is read
            return
        self._admitted = True
        super().connection_made(transport)
        self._enter(_IDLE)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._admitted:
            self._admitted = False
            self._guard.release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase == _REQUEST:
            self._since = self._loop.time()  # the body moves (the timer catches up lazily)
        elif self._phase == _IDLE and data and self._waiter is not None:
            self._enter(_HEAD)
        super().data_received(data)
        if self._phase == _HEAD and self._messages:
            self._enter(_REQUEST)

    def resume_reading(self, resume_parser: bool = True) -> None:
        super().resume_reading(resume_parser)
        if self._phase == _REQUEST:
            self._since = self._loop.time()  # the wait while paused was the server's
            self._arm()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._write_paused_since = self._loop.time()
        if self._phase == _REQUEST:
            self._arm()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._write_paused_since = None
        if self._phase == _REQUEST:
            self._arm()

    async def _handle_request(self, request: Any, start_time: Any, request_handler: Any) -> Any:
        self._body_timed_out = False
        self._request = request
        self._enter(_REQUEST)
        try:
            return await super()._handle_request(request, start_time, request_handler)
        finally:
            self._request = None
            self._enter(_IDLE)

    async def finish_response(self, request: Any, resp: Any, start_time: Any) -> Any:
        result = await super().finish_response(request, resp, start_time)
        if self._body_timed_out:
            # the rest of the body will not come: close once the answer is written
            self.force_close()
        return result


class GuardedServer(web.Server):
    """``web.Server`` whose connections run under ``limits``.

    ``timeout_response()`` is the raw HTTP response sent when a header section misses its
    deadline; ``body_timeout_error()`` the exception a stalled body's reads raise."""

    def __init__(
        self,
        handler: Any,
        *,
        limits: HttpSettings,
        timeout_response: Callable[[], bytes] = plain_timeout_response,
        body_timeout_error: Callable[[], BaseException] = web.HTTPRequestTimeout,
        **kwargs: Any,
    ) -> None:
        # aiohttp's own keep-alive timer stays as a backstop, never before ours
        kwargs["keepalive_timeout"] = limits.idle_timeout_s + limits.header_timeout_s + 1.0
        super().__init__(handler, **kwargs)
        self.limits = limits
        self.timeout_response = timeout_response
        self.body_timeout_error = body_timeout_error
        #: connections admitted and not yet lost
        self.active = 0
        self._refused = 0
        self._cap_logged_at = -_CAP_LOG_INTERVAL_S

    def admit(self) -> bool:
        """Count one more connection, or refuse it (False) at the cap."""
        if self.active >= self.limits.max_connections:
            self._refused += 1
            now = time.monotonic()
            if now - self._cap_logged_at >= _CAP_LOG_INTERVAL_S:
                log.warning(
                    "%d connections (http.max_connections): refusing new ones "
                    "(%d refused since the last report)",
                    self.active,
                    self._refused,
                )
                self._cap_logged_at = now
                self._refused = 0
            return False
        self.active += 1
        return True

    def release(self) -> None:
        self.active -= 1

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)


class GuardedAppRunner(web.AppRunner):
    """``web.AppRunner`` serving its application through a ``GuardedServer``."""

    def __init__(self, app: web.Application, limits: HttpSettings, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limits = limits

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # starts and freezes the application
        return GuardedServer(
            plain.request_handler,
            limits=self._limits,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )
