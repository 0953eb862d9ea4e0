"""A fake feed host on 127.0.0.1 (random port) for the fetch tests.

Built-in routes (all paths are fixed; the feed body is configurable):

=====================  ====================================================================
``/feed.xml``          the feed with ``ETag`` and ``Last-Modified``; 304 to a matching
                       ``If-None-Match`` or to an ``If-Modified-Since`` not older than it
``/etag.xml``          the feed with only an ``ETag`` (304 on a matching ``If-None-Match``)
``/modified.xml``      the feed with only ``Last-Modified`` (304 on ``If-Modified-Since``)
``/gzip.xml``          the feed gzip-compressed (``Content-Encoding: gzip``)
``/redirect``          301 to ``/feed.xml``
``/loop-a``            302 to ``/loop-b``, which redirects back: a redirect loop
``/to-ftp``            302 to ``ftp://127.0.0.1/feed.xml``
``/error``             500 with a short text body
``/html``              200 with an HTML error page (``text/html``)
``/slow``              answers only after ``slow_seconds`` (or when the server stops)
``/huge``              ``huge_bytes`` of XML-ish filler in chunks, without ``Content-Length``;
                       the bytes actually written are counted in :attr:`FeedServer.huge_sent`
``/huge-declared``     the same with a ``Content-Length`` header
=====================  ====================================================================

Any other path can be given a canned answer with :meth:`FeedServer.respond` (and changed
between requests, e.g. failing first and succeeding later). Every request is logged in
:attr:`FeedServer.requests`. Stopping the server releases the slow and huge handlers first,
so it shuts down at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from types import TracebackType
from typing import Self

from aiohttp import web

__all__ = ["DEFAULT_FEED", "CannedResponse", "FeedServer", "RecordedRequest"]

DEFAULT_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Fake</title><link>http://127.0.0.1/</link>
<description>fake feed</description>
<item><title>Nvidia shares fall as DeepSeek &amp;amp; rivals rise</title>
<link>https://example.com/a</link><guid>a</guid><pubDate>Mon, 27 Jan 2025 14:30:00 GMT</pubDate>
<description>&lt;p&gt;Chip stocks slid.&lt;/p&gt;</description></item>
<item><title>B\xc3\xb6rse: Halbleiter unter Druck</title><link>https://example.com/b</link>
<guid>b</guid><pubDate>Mon, 27 Jan 2025 15:00:00 +0100</pubDate></item>
</channel></rss>
"""

HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>503 Service Unavailable</title></head>
<body><h1>Service Unavailable</h1><p>Please try again later.</p></body></html>
"""

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received (header names as sent, lookup is case-sensitive)."""

    method: str
    path: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """A header's value, looked up case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass
class CannedResponse:
    """A fixed answer for :meth:`FeedServer.respond`."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """``async with FeedServer() as server: server.url("/feed.xml")``."""

    def __init__(
        self,
        *,
        feed_body: bytes = DEFAULT_FEED,
        etag: str = '"v1-abc"',
        last_modified: datetime = datetime(2025, 1, 27, 15, 0, tzinfo=UTC),
        slow_seconds: float = 60.0,
        huge_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        self.feed_body = feed_body
        self.etag = etag
        self.last_modified = last_modified
        self.slow_seconds = slow_seconds
        self.huge_bytes = huge_bytes
        self.requests: list[RecordedRequest] = []
        self.huge_sent = 0
        """Bytes of the huge body handed to the transport (aiohttp waits for the socket to
        drain above its buffer limit, so this is close to what was actually sent)."""
        self.huge_done = asyncio.Event()
        """Set when a huge-body handler has ended (finished or the client went away)."""
        self._canned: dict[str, CannedResponse] = {}
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- for tests ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self._port}{path}"

    def respond(
        self, path: str, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        """Answer requests to ``path`` with a fixed response from now on."""
        self._canned[path] = CannedResponse(status, body, dict(headers or {}))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The logged requests for one path."""
        return [r for r in self.requests if r.path == path]

    # -- handlers ----------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers)))
        canned = self._canned.get(request.path)
        if canned is not None:
            return web.Response(status=canned.status, body=canned.body, headers=canned.headers)
        match request.path:
            case "/feed.xml":
                return self._feed(request, use_etag=True, use_modified=True)
            case "/etag.xml":
                return self._feed(request, use_etag=True, use_modified=False)
            case "/modified.xml":
                return self._feed(request, use_etag=False, use_modified=True)
            case "/gzip.xml":
                return web.Response(
                    body=gzip.compress(self.feed_body),
                    headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
                )
            case "/redirect":
                return _redirect(301, "/feed.xml")
            case "/loop-a":
                return _redirect(302, "/loop-b")
            case "/loop-b":
                return _redirect(302, "/loop-a")
            case "/to-ftp":
                return _redirect(302, "ftp://127.0.0.1/feed.xml")
            case "/error":
                return web.Response(status=500, text="internal error")
            case "/html":
                return web.Response(body=HTML_PAGE, content_type="text/html", charset="utf-8")
            case "/slow":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.slow_seconds)
                return web.Response(body=self.feed_body, content_type="application/rss+xml")
            case "/huge":
                return await self._huge(request, declare_length=False)
            case "/huge-declared":
                return await self._huge(request, declare_length=True)
        return web.Response(status=404, text="not found")

    def _feed(self, request: web.Request, *, use_etag: bool, use_modified: bool) -> web.Response:
        headers = {"Content-Type": "application/rss+xml; charset=utf-8"}
        if use_etag:
            headers["ETag"] = self.etag
        if use_modified:
            headers["Last-Modified"] = format_datetime(self.last_modified, usegmt=True)
        if use_etag and request.headers.get("If-None-Match") == self.etag:
            return web.Response(status=304, headers=headers)
        since = request.headers.get("If-Modified-Since")
        if use_modified and since is not None:
            with contextlib.suppress(TypeError, ValueError):
                if parsedate_to_datetime(since) >= self.last_modified:
                    return web.Response(status=304, headers=headers)
        return web.Response(body=self.feed_body, headers=headers)

    async def _huge(self, request: web.Request, *, declare_length: bool) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        if declare_length:
            response.content_length = self.huge_bytes
        else:
            response.enable_chunked_encoding()
        chunk = b"<!-- " + b"x" * (_CHUNK - 9) + b" -->\n"
        try:
            await response.prepare(request)
            sent = 0
            while sent < self.huge_bytes and not self._stopping.is_set():
                piece = chunk[: self.huge_bytes - sent]
                await response.write(piece)
                sent += len(piece)
                self.huge_sent += len(piece)
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up: that is what the test wants to see
        finally:
            self.huge_done.set()
        return response


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location})
