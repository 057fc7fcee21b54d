"""Browser uploads from a real browser: Debian's headless Chromium, driven by Playwright.

A tiny aiohttp server on loopback serves a page whose origin (its own port) differs from the S3
endpoint's, so every request the page makes to the server is cross-origin. With `fetch()` the
page

* PUTs a file to a presigned PUT URL (boto3 ``generate_presigned_url``): a PUT is never a
  "simple" request, so Chromium sends a CORS preflight first and sends the PUT only when the
  bucket's CORS rules allow it;
* POSTs a FormData built from boto3's ``generate_presigned_post`` to the bucket URL (POST
  Object, answered ``201`` with a PostResponse document the page reads).

Without CORS rules the page's fetches fail. Chromium comes from the ``chromium`` Debian package
(``scripts/install-deps.sh`` installs it; ``playwright install`` is never used), so a missing
browser fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pytest
from aiohttp import web
from playwright.sync_api import Browser, Page, sync_playwright

from tests.integration.helpers import delete_bucket, read_all, unique_name
from tests.support.server import ServerProc

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 10_000

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Ninefold browser uploads</title></head>
<body>
<script>
async function outcome(request) {
  try {
    const response = await request;
    return {ok: true, status: response.status, body: await response.text()};
  } catch (error) {
    return {ok: false, error: String(error)};
  }
}
// PUT to a presigned URL: not a simple request, so the browser preflights it first
function putPresigned(url, text) {
  return outcome(fetch(url, {
    method: "PUT", body: text, headers: {"Content-Type": "text/plain"},
  }));
}
// POST Object: the fields in order, the file last
function postForm(url, fields, text, filename) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([text], {type: "text/plain"}), filename);
  return outcome(fetch(url, {method: "POST", body: form}));
}
</script>
</body></html>
"""


class PageServer:
    """Serves PAGE at ``/`` from an aiohttp server on 127.0.0.1 in a thread of its own."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.origin = ""

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    async def _start(self) -> None:
        async def index(request: web.Request) -> web.Response:
            return web.Response(text=PAGE, content_type="text/html")

        app = web.Application()
        app.router.add_get("/", index)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.origin = f"http://{host}:{port}"

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="module")
def page_server() -> Iterator[PageServer]:
    pages = PageServer()
    pages.start()
    try:
        yield pages
    finally:
        pages.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, page_server: PageServer) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.goto(page_server.origin + "/")
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def upload_bucket(server: ServerProc) -> Iterator[str]:
    client = server.boto3_client()
    name = unique_name("nf-browser")
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        delete_bucket(client, name)


def allow_origin(s3: Any, bucket: str, origin: str) -> None:
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [origin],
                    "AllowedMethods": ["PUT", "POST"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                }
            ]
        },
    )


def put_from_page(page: Page, url: str, text: str) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("([u, t]) => putPresigned(u, t)", [url, text])
    return result


def post_from_page(
    page: Page, presigned: dict[str, Any], text: str, filename: str
) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        "([u, f, t, n]) => postForm(u, f, t, n)",
        [presigned["url"], presigned["fields"], text, filename],
    )
    return result


def presigned_put(s3: Any, bucket: str, key: str) -> str:
    url: str = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": "text/plain"},
        ExpiresIn=300,
    )
    return url


def presigned_post(s3: Any, bucket: str, prefix: str) -> dict[str, Any]:
    post: dict[str, Any] = s3.generate_presigned_post(
        bucket,
        prefix + "${filename}",
        Fields={"success_action_status": "201"},
        Conditions=[
            ["content-length-range", 1, 1024 * 1024],
            ["starts-with", "$key", prefix],
            {"success_action_status": "201"},
        ],
        ExpiresIn=300,
    )
    return post


@pytest.mark.parametrize("signature_version", [None, "s3v4"], ids=["default", "sigv4"])
def test_page_uploads_with_presigned_put_and_post_object(
    server: ServerProc,
    page: Page,
    page_server: PageServer,
    upload_bucket: str,
    signature_version: str | None,
) -> None:
    s3 = (
        server.boto3_client(signature_version=signature_version)
        if signature_version
        else (server.boto3_client())
    )
    allow_origin(s3, upload_bucket, page_server.origin)

    put_text = "uploaded by PUT from " + page_server.origin
    put = put_from_page(page, presigned_put(s3, upload_bucket, "put/hello.txt"), put_text)
    assert put == {"ok": True, "status": 200, "body": ""}, put

    post_text = "uploaded by POST Object \u2713"
    post = post_from_page(page, presigned_post(s3, upload_bucket, "posted/"), post_text, "a.txt")
    assert post["ok"] and post["status"] == 201, post
    document = {child.tag: child.text for child in ElementTree.fromstring(post["body"])}
    assert document["Bucket"] == upload_bucket
    assert document["Key"] == "posted/a.txt"

    assert read_all(s3, upload_bucket, "put/hello.txt") == put_text.encode()
    assert read_all(s3, upload_bucket, "posted/a.txt") == post_text.encode()
    assert s3.head_object(Bucket=upload_bucket, Key="put/hello.txt")["ContentType"] == (
        "text/plain"
    )


def test_without_cors_rules_the_page_cannot_upload(
    server: ServerProc, page: Page, upload_bucket: str
) -> None:
    s3 = server.boto3_client()
    put = put_from_page(page, presigned_put(s3, upload_bucket, "put/refused.txt"), "nope")
    assert not put["ok"] and "Failed to fetch" in put["error"], put
    # the preflight was refused, so the PUT itself was never sent
    assert s3.list_objects_v2(Bucket=upload_bucket).get("KeyCount") == 0

    # a multipart/form-data POST is a "simple" request: the browser sends it without a
    # preflight and only hides the answer from the page. The policy, not CORS, guards the bucket.
    post = post_from_page(page, presigned_post(s3, upload_bucket, "posted/"), "hidden", "b.txt")
    assert not post["ok"] and "Failed to fetch" in post["error"], post
    assert read_all(s3, upload_bucket, "posted/b.txt") == b"hidden"
