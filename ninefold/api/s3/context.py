"""Per-request context handed to every S3 handler, and response helpers."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from ninefold.api.auth import AuthResult
from ninefold.api.s3.router import S3Request
from ninefold.api.s3.xml import render
from ninefold.coordinator.multipart import MultipartService
from ninefold.coordinator.objects import ObjectService

__all__ = ["ApiSettings", "Context", "Services", "owner_id", "xml_response"]


@dataclass(frozen=True, slots=True)
class ApiSettings:
    region: str = "us-east-1"
    #: virtual-hosted-style base domain (``<bucket>.<domain>``); None: path style only
    domain: str | None = None
    max_clock_skew_s: int = 900


@dataclass(frozen=True, slots=True)
class Services:
    objects: ObjectService
    multipart: MultipartService
    settings: ApiSettings


@dataclass(frozen=True, slots=True)
class Context:
    request: web.BaseRequest
    s3: S3Request
    auth: AuthResult
    services: Services
    request_id: str

    @property
    def bucket(self) -> str:
        assert self.s3.bucket is not None
        return self.s3.bucket

    @property
    def key(self) -> str:
        assert self.s3.key is not None
        return self.s3.key

    @property
    def user(self) -> str:
        return self.auth.principal.user


def owner_id(user: str) -> str:
    """A stable 64-hex canonical user id, as S3 shows owners."""
    return hashlib.sha256(f"ninefold-user:{user}".encode()).hexdigest()


def xml_response(root: ET.Element, status: int = 200, tail: Sequence[str] = ()) -> web.Response:
    return web.Response(status=status, body=render(root, tail=tail), content_type="application/xml")
