"""RSS/Atom feeds: fetched with httpx, parsed with feedparser, turned into :class:`NewsItem`.

Fetching is ours, not feedparser's (DESIGN.md section 4): timeouts, a size cap, redirects we
follow and check ourselves, conditional requests with ``ETag``/``Last-Modified`` and a backoff
per feed. The body is then handed to ``feedparser.parse(io.BytesIO(body), response_headers=...)``;
never raw bytes or a string, which feedparser may take for a URL or a local file name.

How a parse result is judged (:class:`ParsedFeed`):

* entries present: ``ok``; when feedparser flagged the document (``bozo``) the status says
  ``"ok with warnings: ..."`` and the items are still used;
* a feed version but no entries: ``"empty feed: valid channel, no items"`` (``ok``, a feed with
  nothing in it right now is not a failure), unless the document is also ill-formed, which makes
  it ``"unreadable: ..."`` (a truncated download looks like that);
* no version and no entries: not ok, either ``"not a feed: looks like an HTML page"`` (the error
  page some hosts answer with ``200``), ``"not a feed: ..."`` or ``"unreadable: ..."``.

Parsing never de-duplicates: a feed whose items all share one link and guid gives all of them.

:func:`fetch_feed` does not mutate the :class:`FeedState` it gets: :class:`FeedState` is frozen
and every :class:`FetchResult` carries the state to store for the next fetch.
"""

from __future__ import annotations

import asyncio
import errno
import html
import io
import logging
import re
import stat
import unicodedata
import xml.sax
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import feedparser
import httpx

from bot.news.items import FeedConfig, Language, NewsItem
from bot.text import visible_text

__all__ = [
    "FeedState",
    "FetchLimits",
    "FetchResult",
    "FetchStatus",
    "ParsedFeed",
    "fetch_feed",
    "normalise_text",
    "parse_feed",
    "parse_feed_async",
    "read_feed_file",
]

log = logging.getLogger(__name__)

FetchStatus = Literal["ok", "not_modified", "error", "paused"]

# --------------------------------------------------------------------------------------------
# Text normalisation

_ZERO_WIDTH_RE: Final = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad]")
_COMMENT_RE: Final = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_CDATA_RE: Final = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|\Z)", re.DOTALL)
_SCRIPT_RE: Final = re.compile(
    r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.DOTALL | re.IGNORECASE
)
# A tag needs a letter right after "<" (or "</"), so "a < b" and "x <3" survive.
_TAG_RE: Final = re.compile(r"</?([a-zA-Z][a-zA-Z0-9:-]*)\b[^<>]*>|<![a-zA-Z][^<>]*>")
_BLOCK_TAGS: Final = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "img", "li", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_WHITESPACE_RE: Final = re.compile(r"\s+")
_MAX_UNESCAPE_PASSES: Final = 4


def _replace_tag(match: re.Match[str]) -> str:
    name = (match.group(1) or "").lower()
    return " " if name in _BLOCK_TAGS else ""


def _strip_markup(text: str) -> str:
    text = _COMMENT_RE.sub(" ", text)
    text = _CDATA_RE.sub(r"\1", text)
    text = _SCRIPT_RE.sub(" ", text)
    return _TAG_RE.sub(_replace_tag, text)


def normalise_text(text: str) -> str:
    """Plain, single-line text from a feed's title or description.

    Strips HTML tags (block tags become a space, inline tags vanish, ``<script>``/``<style>``
    with their content), unescapes entities (repeatedly, so ``&amp;amp;`` and double-escaped
    markup like ``&amp;lt;b&amp;gt;`` come out right), drops zero-width characters (U+200B..
    U+200F, U+2060, U+FEFF, the soft hyphen U+00AD), applies NFKC, removes control and
    bidirectional-override characters (:func:`bot.text.visible_text`) and collapses whitespace.
    """
    for _ in range(_MAX_UNESCAPE_PASSES):
        unescaped = html.unescape(_strip_markup(text))
        if unescaped == text:
            break
        text = unescaped
    else:
        text = _strip_markup(text)
    text = _ZERO_WIDTH_RE.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    text = visible_text(_ZERO_WIDTH_RE.sub("", text))
    return _WHITESPACE_RE.sub(" ", text).strip()


# --------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class ParsedFeed:
    """What one feed document gave.

    Attributes:
        items: the entries with a title, in document order, not de-duplicated.
        version: feedparser's format name (``"rss20"``, ``"atom10"``, ...), ``""`` if none.
        status: one human-readable line: ``"ok: 38 items (rss20)"``,
            ``"ok with warnings: <what feedparser complained about>; 1 item (rss20)"``,
            ``"empty feed: valid channel, no items"``, ``"not a feed: looks like an HTML page"``,
            ``"unreadable: <reason>"``.
        ok: whether the document is a usable feed (an empty but valid feed is).
    """

    items: list[NewsItem]
    version: str
    status: str
    ok: bool


# Response headers feedparser uses when parsing a stream (others, like Content-Encoding,
# describe the transfer that httpx already undid).
_PARSE_HEADERS: Final = frozenset({"content-type", "content-location", "content-language"})
_HTML_RE: Final = re.compile(rb"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.I)
_MAX_STATUS_DETAIL: Final = 200


def _describe_exception(exc: object) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        detail = f"ill-formed XML at line {exc.getLineNumber()}: {exc.getMessage()}"
    elif isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe):
        detail = str(exc)
    elif isinstance(exc, BaseException):
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    else:
        detail = str(exc)
    detail = normalise_text(detail)
    if len(detail) > _MAX_STATUS_DETAIL:
        detail = detail[: _MAX_STATUS_DETAIL - 3] + "..."
    return detail


def _looks_like_html(body: bytes, headers: Mapping[str, str]) -> bool:
    if _HTML_RE.search(body[:2048]):
        return True
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in {"text/html", "application/xhtml+xml"}


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value is None:
            continue
        try:
            # feedparser gives a time.struct_time already converted to UTC.
            year, month, day, hour, minute, second = (int(v) for v in tuple(value)[:6])
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except (TypeError, ValueError, OverflowError):
            continue
    return None


def _http_link(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    link = _ZERO_WIDTH_RE.sub("", value).strip()
    return link if link.lower().startswith(("http://", "https://")) else None


def _item(entry: Any, feed_name: str, language: Language) -> NewsItem | None:
    title = normalise_text(str(entry.get("title") or ""))
    if not title:
        return None
    guid = str(entry.get("id") or "").strip()
    return NewsItem(
        feed=feed_name,
        title=title,
        link=_http_link(entry.get("link")),
        guid=guid or None,
        summary=normalise_text(str(entry.get("summary") or "")),
        published=_published(entry),
        language=language,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _judge(
    result: Any, body: bytes, headers: Mapping[str, str], feed_name: str, language: Language
) -> ParsedFeed:
    version = str(result.get("version") or "")
    entries = list(result.get("entries") or [])
    bozo = bool(result.get("bozo"))
    exc = result.get("bozo_exception")
    warning = _describe_exception(exc) if bozo and exc is not None else ""
    minor = bozo and isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe)

    if entries:
        items = [item for entry in entries if (item := _item(entry, feed_name, language))]
        what = f"{_count(len(items), 'item')} ({version or 'unknown format'})"
        skipped = len(entries) - len(items)
        if skipped:
            what += f", {_count(skipped, 'entry')} without a title skipped"
        status = f"ok with warnings: {warning}; {what}" if bozo else f"ok: {what}"
        return ParsedFeed(items=items, version=version, status=status, ok=True)

    if version:
        if bozo and not minor:
            return ParsedFeed([], version, f"unreadable: {warning} (no items)", ok=False)
        status = "empty feed: valid channel, no items"
        if warning:
            status += f" (warning: {warning})"
        return ParsedFeed([], version, status, ok=True)

    if not body.strip():
        return ParsedFeed([], "", "unreadable: empty document", ok=False)
    if _looks_like_html(body, headers):
        return ParsedFeed([], "", "not a feed: looks like an HTML page", ok=False)
    if bozo and not minor:
        return ParsedFeed([], "", f"unreadable: {warning}", ok=False)
    return ParsedFeed([], "", "not a feed: no RSS or Atom document found", ok=False)


def parse_feed(
    body: bytes,
    feed_name: str,
    language: Language,
    headers: Mapping[str, str] | None = None,
) -> ParsedFeed:
    """Parse one feed document; never raises.

    Args:
        body: the document as received (decompressed, not decoded: feedparser finds the
            encoding from the XML declaration, a BOM or the ``Content-Type`` charset).
        feed_name: stored on every item.
        language: stored on every item.
        headers: the HTTP response headers, if any (``Content-Type``, ``Content-Location``
            and ``Content-Language`` are passed on to feedparser; names are case-insensitive).
    """
    response_headers = {
        key.lower(): value
        for key, value in (headers or {}).items()
        if key.lower() in _PARSE_HEADERS
    }
    try:
        result = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
        return _judge(result, body, response_headers, feed_name, language)
    except Exception as exc:  # a parser bug must not stop the news watch
        log.warning("feed %s could not be parsed: %r", feed_name, exc)
        return ParsedFeed([], "", f"unreadable: parser failed: {_describe_exception(exc)}", False)


async def parse_feed_async(
    body: bytes,
    feed_name: str,
    language: Language,
    headers: Mapping[str, str] | None = None,
) -> ParsedFeed:
    """:func:`parse_feed` in a worker thread (parsing 200 items costs tens of milliseconds)."""
    return await asyncio.to_thread(parse_feed, body, feed_name, language, headers)


MAX_FILE_BYTES: Final = 5 * 1024 * 1024
"""The most a local feed file may hold (the same cap as a fetched feed)."""


def read_feed_file(
    path: Path, language: Language = "en", max_bytes: int = MAX_FILE_BYTES
) -> ParsedFeed:
    """Parse a local feed file; the feed name is the file's stem.

    Only regular files are read (a FIFO would block, ``/dev/zero`` never ends), and only up to
    ``max_bytes``.

    Raises:
        OSError: the file cannot be read, is not a regular file or is too large.
    """
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    if info.st_size > max_bytes:
        raise OSError(errno.EFBIG, f"larger than {_size_text(max_bytes)}", str(path))
    with path.open("rb") as fh:
        body = fh.read(max_bytes + 1)
    if len(body) > max_bytes:  # it grew while we looked
        raise OSError(errno.EFBIG, f"larger than {_size_text(max_bytes)}", str(path))
    return parse_feed(body, path.stem, language)


# --------------------------------------------------------------------------------------------
# Fetching


@dataclass(frozen=True)
class FeedState:
    """What is remembered about one feed between fetches (frozen: fetches return a new one).

    Attributes:
        etag: the last successful response's ``ETag``, sent back as ``If-None-Match``.
        last_modified: its ``Last-Modified``, sent back verbatim as ``If-Modified-Since``.
        failures: consecutive failed fetches (0 after a success or a 304).
        paused_until: no request before this time (backoff or pause), None when free to fetch.
        last_status: a one-line description of the last fetch.
        last_success: when the feed last answered with a feed or a 304.
        last_error: the last failure's message, cleared by a success.
    """

    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    paused_until: datetime | None = None
    last_status: str = "never fetched"
    last_success: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class FetchLimits:
    """Limits of one fetch and the backoff after failures.

    After the n-th consecutive failure the feed waits ``backoff_base_minutes * 2**(n-1)``
    minutes (at most ``pause_minutes``); from ``pause_after_failures`` failures on it is paused
    for ``pause_minutes`` and the operator is warned once.
    """

    timeout_seconds: float = 20.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    backoff_base_minutes: float = 5
    pause_after_failures: int = 5
    pause_minutes: float = 360


@dataclass(frozen=True)
class FetchResult:
    """The outcome of :func:`fetch_feed`.

    Attributes:
        status: ``"ok"`` (parsed holds the feed), ``"not_modified"`` (304), ``"error"``
            (parsed holds the document if it was received but is not a feed) or ``"paused"``
            (no request was made: the feed is backing off or paused).
        parsed: the parsed document, if one was received.
        state: the feed's state to keep for the next fetch.
        message: one human-readable line.
    """

    status: FetchStatus
    parsed: ParsedFeed | None
    state: FeedState
    message: str


class _FetchError(Exception):
    """A failed fetch; the message is what the operator reads."""


_REDIRECT_CODES: Final = frozenset({301, 302, 303, 307, 308})
_ACCEPT: Final = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


def _check_scheme(url: httpx.URL, what: str) -> None:
    if url.scheme not in {"http", "https"}:
        raise _FetchError(f"{what} unsupported URL scheme {url.scheme!r}: {url}")


def _size_text(n_bytes: int) -> str:
    mb = n_bytes / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{n_bytes} bytes"


_DECODABLE = {"gzip", "x-gzip", "deflate"}


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, decoded, capped at ``max_bytes`` of *decoded* bytes whatever the encoding.

    httpx would decode a whole chunk before a cap could be checked (a 3.5 KB gzip inside a gzip
    grows to 2 GB): the raw bytes are read instead and inflated here with an output budget. One
    encoding (gzip or deflate) is accepted; stacked or unknown ones are refused.
    """
    declared = response.headers.get("content-length")
    too_large = f"body larger than {_size_text(max_bytes)}"
    # Content-Length counts the encoded bytes; a compressed body may still grow past the cap,
    # which the budget below catches.
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _FetchError(f"{too_large} (Content-Length {declared})")
    encodings = [
        e.strip().lower()
        for e in response.headers.get("content-encoding", "").split(",")
        if e.strip() and e.strip().lower() != "identity"
    ]
    if len(encodings) > 1:
        raise _FetchError(f"stacked Content-Encoding ({', '.join(encodings)[:60]}) refused")
    if encodings and encodings[0] not in _DECODABLE:
        raise _FetchError(f"unknown Content-Encoding {encodings[0][:30]!r} refused")
    # wbits 32 + 15: a gzip or a zlib header, whichever the server sent.
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 32) if encodings else None
    chunks: list[bytes] = []
    size = 0
    try:
        async for raw in response.aiter_raw():
            pending = raw
            while pending:
                if inflater is None:
                    out, pending = pending, b""
                else:
                    out = inflater.decompress(pending, max_bytes - size + 1)
                    pending = inflater.unconsumed_tail
                size += len(out)
                if size > max_bytes:
                    raise _FetchError(too_large)
                chunks.append(out)
    except zlib.error as exc:
        raise _FetchError(f"the compressed body is damaged ({exc})") from None
    return b"".join(chunks)


async def _download(
    client: httpx.AsyncClient, feed: FeedConfig, state: FeedState, limits: FetchLimits
) -> tuple[int, httpx.Headers, bytes]:
    """GET the feed, following redirects by hand. Returns (status, headers, body)."""
    url = httpx.URL(str(feed.url))
    _check_scheme(url, "feed has")
    headers = {"Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    timeout = httpx.Timeout(limits.timeout_seconds)
    for _ in range(limits.max_redirects + 1):
        async with client.stream(
            "GET", url, headers=headers, timeout=timeout, follow_redirects=False
        ) as response:
            code = response.status_code
            if code in _REDIRECT_CODES:
                location = response.headers.get("location")
                if not location:
                    raise _FetchError(f"HTTP {code} redirect without a Location header")
                url = url.join(location.strip())
                _check_scheme(url, "redirect to")
                continue
            if code == 304:
                return code, response.headers, b""
            if code >= 400:
                raise _FetchError(f"HTTP {code} {response.reason_phrase}".strip())
            body = await _read_capped(response, limits.max_bytes)
            return code, response.headers, body
    raise _FetchError(f"too many redirects (more than {limits.max_redirects})")


def _failure(
    feed: FeedConfig,
    state: FeedState,
    now: datetime,
    limits: FetchLimits,
    message: str,
    parsed: ParsedFeed | None = None,
) -> FetchResult:
    failures = state.failures + 1
    if failures >= limits.pause_after_failures:
        wait = timedelta(minutes=limits.pause_minutes)
    else:
        minutes = min(limits.backoff_base_minutes * 2 ** (failures - 1), limits.pause_minutes)
        wait = timedelta(minutes=minutes)
    until = now + wait
    new_state = replace(
        state,
        failures=failures,
        paused_until=until,
        last_status=f"error: {message}",
        last_error=message,
    )
    if failures == limits.pause_after_failures:
        log.warning(
            "feed %s paused after %d failures: %s (url %s, paused until %s)",
            feed.name,
            failures,
            message,
            feed.url,
            until.isoformat(),
        )
    else:
        log.info(
            "feed %s fetch failed (%d in a row): %s (next try after %s)",
            feed.name,
            failures,
            message,
            until.isoformat(),
        )
    return FetchResult(status="error", parsed=parsed, state=new_state, message=message)


async def fetch_feed(
    client: httpx.AsyncClient,
    feed: FeedConfig,
    state: FeedState,
    now: datetime,
    limits: FetchLimits,
) -> FetchResult:
    """Fetch and parse one feed, honouring its backoff; never raises for network trouble.

    ``now`` is the current time (this function reads no clock). The ``client`` is the
    caller's; its redirect setting is overridden (redirects are followed and checked here).
    A fetch while the feed backs off or is paused returns ``"paused"`` without a request.
    """
    if state.paused_until is not None and now < state.paused_until:
        message = (
            f"feed {feed.name} waits until {state.paused_until.isoformat()} "
            f"after {_count(state.failures, 'failure')}"
        )
        return FetchResult(status="paused", parsed=None, state=state, message=message)

    try:
        async with asyncio.timeout(limits.timeout_seconds):
            code, headers, body = await _download(client, feed, state, limits)
    except _FetchError as exc:
        return _failure(feed, state, now, limits, str(exc))
    except (TimeoutError, httpx.TimeoutException):
        return _failure(feed, state, now, limits, f"timed out after {limits.timeout_seconds:g} s")
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        return _failure(feed, state, now, limits, f"request failed: {_describe_exception(exc)}")

    if code == 304:
        new_state = replace(
            state,
            etag=headers.get("etag") or state.etag,
            last_modified=headers.get("last-modified") or state.last_modified,
            failures=0,
            paused_until=None,
            last_status="not modified",
            last_success=now,
            last_error=None,
        )
        log.debug("feed %s not modified", feed.name)
        return FetchResult("not_modified", None, new_state, "not modified (HTTP 304)")

    parsed = await parse_feed_async(body, feed.name, feed.language, headers)
    if not parsed.ok:
        return _failure(feed, state, now, limits, parsed.status, parsed)
    new_state = FeedState(
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        failures=0,
        paused_until=None,
        last_status=parsed.status,
        last_success=now,
        last_error=None,
    )
    log.debug("feed %s fetched: %s", feed.name, parsed.status)
    return FetchResult(status="ok", parsed=parsed, state=new_state, message=parsed.status)
