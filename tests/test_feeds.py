"""Feed parsing on the real feed files in ../shared/data/feeds, and fetching from a fake host."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import re
import resource
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.news.items import FeedConfig
from bot.sources.feeds import (
    FeedState,
    FetchLimits,
    FetchResult,
    ParsedFeed,
    fetch_feed,
    normalise_text,
    parse_feed,
    parse_feed_async,
    read_feed_file,
)
from tests.conftest import SHARED_DATA
from tests.fakes.feed_server import DEFAULT_FEED, FeedServer

FEEDS = SHARED_DATA / "feeds"
FEED_FILES = sorted(FEEDS.rglob("*.xml"))
ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad]")

# What each real file is expected to give: "ok", "warnings" (ok with warnings), "empty",
# "unreadable" or "not a feed". Files added later are still checked for a sane status.
EXPECTED_KIND: dict[str, str] = {
    "bad/feedparser/encoding/big5.xml": "empty",
    "bad/feedparser/encoding/bozo_bogus_encoding.xml": "empty",
    "bad/feedparser/encoding/bozo_double-encoded-html.xml": "warnings",
    "bad/feedparser/encoding/bozo_encoding_mismatch_crash.xml": "warnings",
    "bad/feedparser/encoding/bozo_http_i18n.xml": "empty",
    "bad/feedparser/encoding/bozo_http_text_plain.xml": "empty",
    "bad/feedparser/encoding/bozo_http_text_plain_charset.xml": "empty",
    "bad/feedparser/encoding/bozo_invalid-bytes-with-bom.xml": "unreadable",
    "bad/feedparser/encoding/bozo_linenoise.xml": "warnings",
    "bad/feedparser/encoding/demoronize-1.xml": "ok",
    "bad/feedparser/encoding/demoronize-2.xml": "ok",
    "bad/feedparser/encoding/demoronize-3.xml": "ok",
    "bad/feedparser/encoding/double-encoded-html.xml": "ok",
    "bad/feedparser/encoding/euc-kr.xml": "empty",
    "bad/feedparser/encoding/utf-16le-bom.xml": "empty",
    "bad/feedparser/encoding/utf-8-bom.xml": "empty",
    "bad/feedparser/illformed/aaa_illformed.xml": "unreadable",
    "bad/feedparser/illformed/always_strip_doctype.xml": "empty",
    "bad/feedparser/illformed/chardet/big5.xml": "empty",
    "bad/feedparser/illformed/chardet/eucjp.xml": "warnings",
    "bad/feedparser/illformed/chardet/euckr.xml": "warnings",
    "bad/feedparser/illformed/chardet/gb2312.xml": "warnings",
    "bad/feedparser/illformed/chardet/koi8r.xml": "warnings",
    "bad/feedparser/illformed/chardet/shiftjis.xml": "warnings",
    "bad/feedparser/illformed/chardet/tis620.xml": "warnings",
    "bad/feedparser/illformed/chardet/windows1255.xml": "warnings",
    "bad/feedparser/illformed/geo/georss_point_no_coords.xml": "ok",
    "bad/feedparser/illformed/geo/georss_polygon_insufficient_coords.xml": "ok",
    "bad/feedparser/illformed/geo/gml_point.xml": "ok",
    "bad/feedparser/illformed/http_high_bit_date.xml": "empty",
    "bad/feedparser/illformed/rdf_channel_empty_textinput.xml": "warnings",
    "bad/feedparser/illformed/rss_empty_document.xml": "unreadable",
    "bad/feedparser/illformed/rss_incomplete_cdata.xml": "warnings",
    "bad/feedparser/illformed/rss_item_link_corrupted_ampersands.xml": "warnings",
    "bad/feedparser/illformed/undeclared_namespace.xml": "unreadable",
    "bad/handelsblatt_same_link_every_item.xml": "ok",
    "bad/reuters_no_items.xml": "empty",
    "bad/reuters_zero_width_chars.xml": "ok",
    "deepseek_2025-01/reconstructed_eetimes_com_feed.xml": "ok",
    "deepseek_2025-01/reconstructed_feeds_a_dj_com_rss_RSSWSJD_xml.xml": "ok",
    "deepseek_2025-01/reconstructed_feeds_arstechnica_com_arstechnica_index.xml": "ok",
    "deepseek_2025-01/reconstructed_feeds_bbci_co_uk_news_technology_rss_xml.xml": "ok",
    "deepseek_2025-01/reconstructed_feeds_nbcnews_com_nbcnews_public_tech.xml": "ok",
    "deepseek_2025-01/reconstructed_rss_nytimes_com_services_xml_rss_nyt_HomePage_xml.xml": "ok",
    "finance_misc/feed-marketscreener.xml": "ok",
    "finance_misc/feed-seekingalpha-notable-calls.xml": "ok",
    "german/deutschlandfunk-wirtschaft.xml": "ok",
    "german/feed-manager-magazin.xml": "ok",
    "german/feed-tagesschau-topthemen.xml": "ok",
    "german/ntv.xml": "ok",
    "german/spiegel.xml": "ok",
    "german/tagesschau.xml": "ok",
}
OK_KINDS = {"ok", "warnings", "empty"}


def _rel(path: Path) -> str:
    return path.relative_to(FEEDS).as_posix()


def _kind(status: str) -> str:
    for prefix, kind in (
        ("ok with warnings: ", "warnings"),
        ("ok: ", "ok"),
        ("empty feed: ", "empty"),
        ("unreadable: ", "unreadable"),
        ("not a feed: ", "not a feed"),
    ):
        if status.startswith(prefix):
            return kind
    raise AssertionError(f"unclear status {status!r}")


def _read(rel: str, language: str = "en") -> ParsedFeed:
    assert language in ("en", "de")
    return read_feed_file(FEEDS / rel, "de" if language == "de" else "en")


# --------------------------------------------------------------------------------------------
# Every real file


def test_the_feed_data_is_there() -> None:
    assert len(FEED_FILES) >= len(EXPECTED_KIND)
    missing = [rel for rel in EXPECTED_KIND if not (FEEDS / rel).is_file()]
    assert not missing


@pytest.mark.parametrize("path", FEED_FILES, ids=_rel)
def test_every_feed_file_parses_with_a_clear_status(path: Path) -> None:
    parsed = read_feed_file(path)

    kind = _kind(parsed.status)
    assert parsed.ok is (kind in OK_KINDS)
    expected = EXPECTED_KIND.get(_rel(path))
    if expected is not None:
        assert kind == expected, parsed.status
    if kind in {"ok", "warnings"}:
        assert f"{len(parsed.items)} item" in parsed.status
        assert parsed.version in parsed.status
    else:
        assert parsed.items == []
    for item in parsed.items:
        assert item.feed == path.stem
        assert item.title == item.title.strip() != ""
        assert not ZERO_WIDTH.search(item.title + item.summary)
        assert item.published is None or item.published.utcoffset() == timedelta(0)
        assert item.link is None or item.link.startswith(("http://", "https://"))


def _feedparser_case(path: Path) -> tuple[dict[str, str], str]:
    """The ``Header:`` lines and the ``Expect:`` line of one of feedparser's own test files."""
    raw = path.read_bytes()
    text = (
        raw.decode("utf-16")
        if raw.startswith((b"\xff\xfe", b"\xfe\xff"))
        else raw.decode("latin-1")
    )
    headers = {
        m.group(1).strip(): m.group(2).strip()
        for m in re.finditer(r"^Header:\s*([^:]+):(.*)$", text, re.MULTILINE)
    }
    expect = re.search(r"^Expect:\s*(.*)$", text, re.MULTILINE)
    return headers, expect.group(1).strip() if expect else ""


FEEDPARSER_FILES = sorted((FEEDS / "bad" / "feedparser").rglob("*.xml"))


@pytest.mark.parametrize("path", FEEDPARSER_FILES, ids=_rel)
def test_feedparser_bozo_cases_are_reported(path: Path) -> None:
    """Where feedparser's own suite expects ``bozo``, the status says so (with its headers)."""
    headers, expect = _feedparser_case(path)
    parsed = parse_feed(path.read_bytes(), path.stem, "en", headers)

    if expect.startswith("bozo"):
        assert (not parsed.ok) or "warning" in parsed.status, parsed.status
    elif expect.startswith("not bozo"):
        assert parsed.ok
        assert "warning" not in parsed.status


def test_feedparser_http_headers_reach_the_parser() -> None:
    path = FEEDS / "bad/feedparser/encoding/bozo_http_text_plain.xml"
    assert read_feed_file(path).status == "empty feed: valid channel, no items"
    with_header = parse_feed(path.read_bytes(), "x", "en", {"Content-Type": "text/plain"})
    assert with_header.ok
    assert "text/plain is not an XML media type" in with_header.status


def test_empty_channel_is_an_empty_feed() -> None:
    parsed = _read("bad/reuters_no_items.xml")
    assert parsed.status == "empty feed: valid channel, no items"
    assert parsed.ok
    assert parsed.version == "rss20"
    assert parsed.items == []


def test_empty_document_is_unreadable() -> None:
    parsed = _read("bad/feedparser/illformed/rss_empty_document.xml")
    assert not parsed.ok
    assert parsed.version == ""
    assert parsed.status.startswith("unreadable: ")
    assert "no element found" in parsed.status


def test_illformed_feed_with_entries_is_ok_with_warnings() -> None:
    parsed = _read("bad/feedparser/illformed/rdf_channel_empty_textinput.xml")
    assert parsed.ok
    assert parsed.status.startswith("ok with warnings: ill-formed XML at line 6")
    assert [item.title for item in parsed.items] == ["crashes here"]
    assert parsed.items[0].guid == "http://example.com/1"


def test_truncated_feed_without_entries_is_unreadable() -> None:
    parsed = _read("bad/feedparser/illformed/aaa_illformed.xml")
    assert not parsed.ok
    assert parsed.version == "rss20"
    assert parsed.status.startswith("unreadable: ill-formed XML")


def test_entries_without_title_are_skipped_and_counted() -> None:
    parsed = _read("bad/feedparser/encoding/demoronize-1.xml")
    assert parsed.items == []
    assert parsed.status == "ok: 0 items (rss20), 1 entry without a title skipped"


# --------------------------------------------------------------------------------------------
# Particular real files


def test_reuters_zero_width_characters_are_removed() -> None:
    path = FEEDS / "bad/reuters_zero_width_chars.xml"
    raw_zero_width = len(ZERO_WIDTH.findall(path.read_text(encoding="utf-8")))
    assert raw_zero_width > 9000  # the test means something only if the file has them

    parsed = read_feed_file(path)

    # The data README says 463 items; the file holds 500 <item> elements, all with a title.
    assert len(parsed.items) == 500
    assert parsed.status == "ok: 500 items (rss20)"
    for item in parsed.items:
        assert not ZERO_WIDTH.search(item.title), item.title
        assert not ZERO_WIDTH.search(item.summary), item.summary[:80]
        assert "  " not in item.summary
    first = parsed.items[0]
    assert first.summary.startswith("MANILA, April 13 (Reuters) - ASEAN foreign ministers")
    assert "United States and Iran" in first.summary  # was "States \u200band"
    assert first.published == datetime(2026, 4, 13, 11, 1, 9, tzinfo=UTC)
    assert first.guid is None  # the items have no <guid>


DEEPSEEK_FILES = sorted((FEEDS / "deepseek_2025-01").glob("reconstructed_*.xml"))


@pytest.mark.parametrize("path", DEEPSEEK_FILES, ids=_rel)
def test_deepseek_items_are_published_26_to_28_january_2025_utc(path: Path) -> None:
    parsed = read_feed_file(path)
    assert parsed.ok
    assert parsed.items
    for item in parsed.items:
        assert item.published is not None
        assert item.published.tzinfo is UTC
        assert (
            datetime(2025, 1, 26, tzinfo=UTC) <= item.published < datetime(2025, 1, 29, tzinfo=UTC)
        )
        assert item.link is not None
        assert item.link.startswith("https://")


def test_deepseek_feeds_match_the_recorded_items() -> None:
    recorded = [
        json.loads(line)
        for line in (FEEDS / "deepseek_2025-01/real_feed_items_2025-01-26_28.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
        if line.strip()
    ]
    items = [item for path in DEEPSEEK_FILES for item in read_feed_file(path).items]
    assert len(recorded) == len(items) == 38

    by_link = {item.link: item for item in items}
    for row in recorded:
        item = by_link[row["link"]]
        assert item.title == normalise_text(row["title"])
        assert item.published == datetime.fromisoformat(row["date_published"])
    mentions = [i for i in items if re.search(r"deepseek|nvidia", f"{i.title} {i.summary}", re.I)]
    assert len(mentions) == 15


GERMAN_FILES = sorted((FEEDS / "german").glob("*.xml"))


@pytest.mark.parametrize("path", GERMAN_FILES, ids=_rel)
def test_german_feeds_keep_umlauts(path: Path) -> None:
    parsed = read_feed_file(path, "de")
    assert parsed.ok
    text = " ".join(f"{i.title} {i.summary}" for i in parsed.items)
    assert re.search("[äöüÄÖÜß]", text)
    assert "Ã" not in text  # no UTF-8 read as Latin-1
    assert all(item.language == "de" for item in parsed.items)


def test_german_titles_verbatim() -> None:
    titles = [item.title for item in _read("german/tagesschau.xml", "de").items]
    assert titles[0] == "Syrische Übergangsregierung benennt Außenminister"
    dlf = _read("german/deutschlandfunk-wirtschaft.xml", "de")
    assert "Künstliche Intelligenz - Der Stromhunger der KI" in [i.title for i in dlf.items]


def test_same_link_every_item_is_not_deduplicated() -> None:
    parsed = _read("bad/handelsblatt_same_link_every_item.xml", "de")
    assert len(parsed.items) == 30
    # The data README says every item shares link, guid and date; in the file 28 of the 30
    # share the home-page link (and guid), and all 30 share the date.
    links = Counter(item.link for item in parsed.items)
    assert links["https://www.handelsblatt.com/"] == 28
    assert [item.guid for item in parsed.items] == [item.link for item in parsed.items]
    assert {item.published for item in parsed.items} == {
        datetime(2026, 5, 2, 13, 17, 25, tzinfo=UTC)
    }
    assert len({item.title for item in parsed.items}) == 30
    assert parsed.items[0].title == (
        "Die Rückkehr der klassischen Prozessoren \u2013 und Intels letzte Chance"
    )


def test_atom_feed_items() -> None:
    parsed = _read("finance_misc/feed-seekingalpha-notable-calls.xml")
    assert parsed.version == "atom10"
    assert len(parsed.items) == 25
    first = parsed.items[0]
    assert first.title == "Insider trades: AMD, Micron and Coca-Cola among notable names"
    assert first.published == datetime(2026, 8, 22, 15, 3, 40, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# parse_feed on made-up input


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"", "unreadable: empty document", id="empty"),
        pytest.param(b"  \n ", "unreadable: empty document", id="blank"),
        pytest.param(
            b"<!DOCTYPE html><html><body><p>502</p></body></html>",
            "not a feed: looks like an HTML page",
            id="html",
        ),
        pytest.param(b'{"items": []}', "unreadable: ill-formed XML", id="json"),
        pytest.param(b"\x00\xff\xfe garbage \x81", "unreadable: ill-formed XML", id="binary"),
        pytest.param(b"<note><to>x</to></note>", "not a feed: no RSS or Atom", id="other-xml"),
        # Raw bytes that look like a file name or URL must not be opened or fetched.
        pytest.param(b"/etc/hostname", "unreadable: ill-formed XML", id="file-name"),
        pytest.param(b"http://127.0.0.1:9/feed.xml", "unreadable: ill-formed XML", id="url"),
    ],
)
def test_parse_feed_never_raises_on_junk(body: bytes, status: str) -> None:
    parsed = parse_feed(body, "junk", "en")
    assert not parsed.ok
    assert parsed.items == []
    assert parsed.version == ""
    assert parsed.status.startswith(status), parsed.status


def test_html_page_recognised_by_content_type() -> None:
    parsed = parse_feed(b"<div>Error</div>", "x", "en", {"Content-Type": "text/html"})
    assert parsed.status == "not a feed: looks like an HTML page"


def test_parse_feed_items_from_the_fake_feed() -> None:
    parsed = parse_feed(DEFAULT_FEED, "fake", "de")
    assert parsed.status == "ok: 2 items (rss20)"
    first, second = parsed.items
    assert first.title == "Nvidia shares fall as DeepSeek & rivals rise"
    assert first.summary == "Chip stocks slid."
    assert first.link == "https://example.com/a"
    assert first.guid == "a"
    assert first.feed == "fake"
    assert first.language == "de"
    assert first.published == datetime(2025, 1, 27, 14, 30, tzinfo=UTC)
    assert second.title == "Börse: Halbleiter unter Druck"
    assert second.summary == ""
    assert second.published == datetime(2025, 1, 27, 14, 0, tzinfo=UTC)  # +0100 -> UTC


def test_updated_used_when_no_published_and_bad_links_dropped() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:t</id>
<updated>2025-01-27T10:00:00Z</updated>
<entry><title>Only updated</title><id>urn:1</id><updated>2025-01-27T10:00:00+02:00</updated>
<link href="javascript:alert(1)"/></entry>
<entry><title>No date</title><id>urn:2</id><link href="https://example.com/2"/></entry>
</feed>"""
    parsed = parse_feed(body, "atom", "en")
    assert parsed.status == "ok: 2 items (atom10)"
    first, second = parsed.items
    assert first.published == datetime(2025, 1, 27, 8, 0, tzinfo=UTC)
    assert first.link is None
    assert first.guid == "urn:1"
    assert second.published is None
    assert second.link == "https://example.com/2"


async def test_parse_feed_async_gives_the_same_result() -> None:
    path = FEEDS / "german/spiegel.xml"
    body = path.read_bytes()
    assert await parse_feed_async(body, "spiegel", "de") == parse_feed(body, "spiegel", "de")


# --------------------------------------------------------------------------------------------
# normalise_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<p>Hello <b>world</b></p>", "Hello world"),
        ("Nv<b>idia</b> falls", "Nvidia falls"),
        ("line<br/>break<p>para</p>", "line break para"),
        ("Fish &amp; Chips", "Fish & Chips"),
        ("AT&amp;amp;T", "AT&T"),
        ("&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt; text", "bold text"),
        ("&lt;p&gt;escaped markup&lt;/p&gt;", "escaped markup"),
        (
            "zero\u200bwidth\u200c\u200d\u200e\u200f\u2060\ufeff soft\u00adhyphen",
            "zerowidth softhyphen",
        ),
        ("entity&#8203;zero&#x200B;width", "entityzerowidth"),
        ("\ufb01nance\u3000\uff12\uff10\uff12\uff15", "finance 2025"),
        ("Cafe\u0301", "Caf\u00e9"),
        ("  many \n\t spaces\r\n ", "many spaces"),
        ("a&nbsp;b&#160;c\u00a0d", "a b c d"),
        ("Börse München: Straße", "Börse München: Straße"),
        ("a < b and c > d", "a < b and c > d"),
        ("<script>alert(1)</script>Text<style>p{}</style>", "Text"),
        ("<!-- comment -->visible", "visible"),
        ('<a href="https://x.example/?a=1&amp;b=2">link</a> text', "link text"),
        ("", ""),
        ("\u200b\u00ad ", ""),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


def test_normalise_text_is_idempotent_on_real_titles() -> None:
    for item in _read("german/ntv.xml", "de").items:
        assert normalise_text(item.title) == item.title


# --------------------------------------------------------------------------------------------
# Fetching from the fake host

NOW = datetime(2025, 1, 27, 12, 0, tzinfo=UTC)
LIMITS = FetchLimits()
LOGGER = "bot.sources.feeds"


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


def _feed(server: FeedServer, path: str, language: str = "en") -> FeedConfig:
    return FeedConfig.model_validate(
        {"name": f"fake{path}", "url": server.url(path), "language": language}
    )


async def _fetch(
    client: httpx.AsyncClient,
    feed: FeedConfig,
    state: FeedState | None = None,
    now: datetime = NOW,
    limits: FetchLimits = LIMITS,
) -> FetchResult:
    return await fetch_feed(client, feed, state or FeedState(), now, limits)


async def test_fetch_ok_then_304_with_etag(server: FeedServer, client: httpx.AsyncClient) -> None:
    feed = _feed(server, "/etag.xml")
    first = await _fetch(client, feed)
    assert first.status == "ok"
    assert first.parsed is not None
    assert first.parsed.items[0].title == "Nvidia shares fall as DeepSeek & rivals rise"
    assert first.message == "ok: 2 items (rss20)"
    assert first.state.etag == server.etag
    assert first.state.last_modified is None
    assert first.state.last_success == NOW
    assert first.state.failures == 0

    later = NOW + timedelta(minutes=10)
    second = await _fetch(client, feed, first.state, later)
    assert second.status == "not_modified"
    assert second.parsed is None
    assert second.state.etag == server.etag
    assert second.state.last_success == later
    first_request, second_request = server.requests_to("/etag.xml")
    assert first_request.header("If-None-Match") is None
    assert second_request.header("If-None-Match") == server.etag
    assert second_request.header("If-Modified-Since") is None

    server.etag = '"v2"'  # the feed changed
    third = await _fetch(client, feed, second.state, later)
    assert third.status == "ok"
    assert third.state.etag == '"v2"'


async def test_fetch_ok_then_304_with_last_modified(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed = _feed(server, "/modified.xml")
    first = await _fetch(client, feed)
    assert first.status == "ok"
    assert first.state.etag is None
    assert first.state.last_modified == "Mon, 27 Jan 2025 15:00:00 GMT"

    second = await _fetch(client, feed, first.state)
    assert second.status == "not_modified"
    assert second.state.last_modified == "Mon, 27 Jan 2025 15:00:00 GMT"
    assert server.requests_to("/modified.xml")[1].header("If-Modified-Since") == (
        "Mon, 27 Jan 2025 15:00:00 GMT"
    )

    server.last_modified += timedelta(hours=1)
    third = await _fetch(client, feed, second.state)
    assert third.status == "ok"
    assert third.state.last_modified == "Mon, 27 Jan 2025 16:00:00 GMT"


async def test_fetch_sends_both_validators(server: FeedServer, client: httpx.AsyncClient) -> None:
    feed = _feed(server, "/feed.xml")
    first = await _fetch(client, feed)
    second = await _fetch(client, feed, first.state)
    assert second.status == "not_modified"
    request = server.requests_to("/feed.xml")[1]
    assert request.header("If-None-Match") == server.etag
    assert request.header("If-Modified-Since") == first.state.last_modified
    assert "application/rss+xml" in (request.header("Accept") or "")


async def test_server_error_backs_off_without_requests(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed = _feed(server, "/error")
    first = await _fetch(client, feed)
    assert first.status == "error"
    assert first.message == "HTTP 500 Internal Server Error"
    assert first.state.failures == 1
    assert first.state.paused_until == NOW + timedelta(minutes=5)
    assert first.state.last_error == first.message
    assert first.state.last_success is None

    during = await _fetch(client, feed, first.state, NOW + timedelta(minutes=4, seconds=59))
    assert during.status == "paused"
    assert during.state == first.state
    assert len(server.requests_to("/error")) == 1  # no request while backing off

    after = await _fetch(client, feed, first.state, NOW + timedelta(minutes=5))
    assert after.status == "error"
    assert len(server.requests_to("/error")) == 2
    assert after.state.failures == 2
    assert after.state.paused_until == NOW + timedelta(minutes=5 + 10)


async def test_backoff_doubles_then_pauses_with_one_warning(
    server: FeedServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    feed = _feed(server, "/error")
    state = FeedState()
    now = NOW
    waits = []
    for _ in range(7):
        result = await _fetch(client, feed, state, now)
        assert result.status == "error"
        state = result.state
        assert state.paused_until is not None
        waits.append(state.paused_until - now)
        now = state.paused_until
    assert [w / timedelta(minutes=1) for w in waits] == [5, 10, 20, 40, 360, 360, 360]
    assert state.failures == 7
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert (
        warnings[0]
        .getMessage()
        .startswith("feed fake/error paused after 5 failures: HTTP 500 Internal Server Error")
    )
    assert all("\n" not in r.getMessage() for r in caplog.records)


async def test_backoff_is_capped_at_the_pause(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    limits = FetchLimits(pause_after_failures=100, pause_minutes=60)
    feed = _feed(server, "/error")
    state = FeedState(failures=4)  # the next failure would back off 5 * 2**4 = 80 minutes
    result = await _fetch(client, feed, state, NOW, limits)
    assert result.state.paused_until == NOW + timedelta(minutes=60)


async def test_success_resets_failures(server: FeedServer, client: httpx.AsyncClient) -> None:
    feed = _feed(server, "/flaky.xml")
    server.respond("/flaky.xml", status=503, body=b"busy")
    failed = await _fetch(client, feed)
    failed = await _fetch(client, feed, failed.state, NOW + timedelta(minutes=5))
    assert failed.state.failures == 2
    assert failed.message == "HTTP 503 Service Unavailable"

    server.respond(
        "/flaky.xml",
        body=DEFAULT_FEED,
        headers={"Content-Type": "application/rss+xml", "ETag": '"fresh"'},
    )
    later = NOW + timedelta(minutes=15)
    ok = await _fetch(client, feed, failed.state, later)
    assert ok.status == "ok"
    assert ok.state == FeedState(
        etag='"fresh"',
        last_modified=None,
        failures=0,
        paused_until=None,
        last_status="ok: 2 items (rss20)",
        last_success=later,
        last_error=None,
    )


async def test_slow_response_times_out_quickly(client: httpx.AsyncClient) -> None:
    limits = FetchLimits(timeout_seconds=0.5)
    started = time.monotonic()
    async with FeedServer(slow_seconds=60) as server:
        result = await _fetch(client, _feed(server, "/slow"), limits=limits)
        fetched = time.monotonic()
    stopped = time.monotonic()
    assert result.status == "error"
    assert result.message == "timed out after 0.5 s"
    assert result.state.failures == 1
    assert fetched - started < 5
    assert stopped - fetched < 5  # the server does not wait for its slow handler


async def test_huge_body_is_aborted_early(server: FeedServer, client: httpx.AsyncClient) -> None:
    result = await _fetch(client, _feed(server, "/huge"))
    assert result.status == "error"
    assert result.message == "body larger than 5 MB"
    assert result.state.failures == 1
    await asyncio.wait_for(server.huge_done.wait(), timeout=30)
    assert LIMITS.max_bytes < server.huge_sent < 20 * 1024 * 1024  # of 50 MB


async def test_huge_declared_body_is_refused_before_reading(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    result = await _fetch(client, _feed(server, "/huge-declared"))
    assert result.status == "error"
    assert result.message == "body larger than 5 MB (Content-Length 52428800)"
    await asyncio.wait_for(server.huge_done.wait(), timeout=30)
    assert server.huge_sent < 20 * 1024 * 1024


async def test_size_limit_applies_to_the_decompressed_body(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    # The server sends DEFAULT_FEED gzip-compressed: 339 bytes on the wire, 571 decoded.
    assert len(gzip.compress(DEFAULT_FEED)) < 450 < len(DEFAULT_FEED)
    limits = FetchLimits(max_bytes=450)
    result = await _fetch(client, _feed(server, "/gzip.xml"), limits=limits)
    assert result.status == "error"
    assert result.message == "body larger than 450 bytes"  # the Content-Length check passed


async def test_a_gzip_bomb_in_a_gzip_is_refused_at_once(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """``Content-Encoding: gzip, gzip``: 2 GB from a few KB. Refused before any inflating."""
    bomb = gzip.compress(gzip.compress(b"<rss>" + b" " * (200 * 1024 * 1024)))
    server.respond("/bomb.xml", body=bomb, headers={"Content-Encoding": "gzip, gzip"})
    started = time.perf_counter()

    result = await _fetch(client, _feed(server, "/bomb.xml"))

    assert result.status == "error"
    assert result.message == "stacked Content-Encoding (gzip, gzip) refused"
    assert time.perf_counter() - started < 5


async def test_a_single_gzip_bomb_stops_at_the_budget(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    """200 MB of spaces in 200 KB of gzip: inflated only up to the 5 MB cap, within seconds
    and without holding the 200 MB."""
    bomb = gzip.compress(b"<rss>" + b" " * (200 * 1024 * 1024))
    server.respond("/one-bomb.xml", body=bomb, headers={"Content-Encoding": "gzip"})
    started = time.perf_counter()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    result = await _fetch(client, _feed(server, "/one-bomb.xml"))

    assert result.status == "error"
    assert result.message == "body larger than 5 MB"
    assert time.perf_counter() - started < 5
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kib < 100 * 1024


async def test_an_unknown_content_encoding_is_refused(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server.respond("/zstd.xml", body=b"\x28\xb5\x2f\xfd", headers={"Content-Encoding": "zstd"})

    result = await _fetch(client, _feed(server, "/zstd.xml"))

    assert result.status == "error"
    assert result.message == "unknown Content-Encoding 'zstd' refused"


def test_local_feed_files_are_capped_and_special_files_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"<rss>" + b" " * (6 * 1024 * 1024))
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)

    for path, why in ((big, "larger than 5 MB"), (fifo, "not a regular file")):
        with pytest.raises(OSError, match=why):
            read_feed_file(path)
    with pytest.raises(OSError, match="not a regular file"):
        read_feed_file(Path("/dev/zero"))


async def test_redirect_loop_is_an_error(server: FeedServer, client: httpx.AsyncClient) -> None:
    result = await _fetch(client, _feed(server, "/loop-a"))
    assert result.status == "error"
    assert result.message == "too many redirects (more than 5)"
    assert result.state.failures == 1
    assert len(server.requests) == LIMITS.max_redirects + 1


async def test_redirect_to_ftp_is_an_error(server: FeedServer, client: httpx.AsyncClient) -> None:
    result = await _fetch(client, _feed(server, "/to-ftp"))
    assert result.status == "error"
    assert result.message.startswith("redirect to unsupported URL scheme 'ftp'")
    assert [r.path for r in server.requests] == ["/to-ftp"]


async def test_redirect_is_followed_with_validators(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    result = await _fetch(client, _feed(server, "/redirect"), FeedState(etag='"old"'))
    assert result.status == "ok"
    assert [r.path for r in server.requests] == ["/redirect", "/feed.xml"]
    assert server.requests[1].header("If-None-Match") == '"old"'


async def test_gzip_body_is_parsed(server: FeedServer, client: httpx.AsyncClient) -> None:
    result = await _fetch(client, _feed(server, "/gzip.xml"))
    assert result.status == "ok"
    assert result.parsed is not None
    assert len(result.parsed.items) == 2
    assert "gzip" in (server.requests[0].header("Accept-Encoding") or "")


async def test_html_page_is_not_a_feed(server: FeedServer, client: httpx.AsyncClient) -> None:
    result = await _fetch(client, _feed(server, "/html"))
    assert result.status == "error"
    assert result.message == "not a feed: looks like an HTML page"
    assert result.parsed is not None
    assert not result.parsed.ok
    assert result.state.failures == 1
    assert result.state.last_status == "error: not a feed: looks like an HTML page"


async def test_not_found_is_an_error(server: FeedServer, client: httpx.AsyncClient) -> None:
    result = await _fetch(client, _feed(server, "/missing.xml"))
    assert result.status == "error"
    assert result.message == "HTTP 404 Not Found"


async def test_connection_refused_is_an_error(client: httpx.AsyncClient) -> None:
    async with FeedServer() as server:
        feed = _feed(server, "/feed.xml")
    result = await _fetch(client, feed)  # the server is gone
    assert result.status == "error"
    assert result.message.startswith("request failed: ConnectError")
    assert result.state.failures == 1


async def test_fetched_items_carry_feed_name_and_language(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    result = await _fetch(client, _feed(server, "/feed.xml", language="de"))
    assert result.parsed is not None
    assert {(i.feed, i.language) for i in result.parsed.items} == {("fake/feed.xml", "de")}


def test_control_and_bidi_override_characters_never_leave_a_feed() -> None:
    """ESC sequences would drive the console; U+202E reverses what a chat shows."""
    raw = "Nvidia\x1b[2J\x07 falls\x00 \u202eeslaf\u202c on \u2066DeepSeek\u2069\x08 news\x9b"

    assert normalise_text(raw) == "Nvidia[2J falls eslaf on DeepSeek news"
