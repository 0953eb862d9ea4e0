"""The news watch end to end: real feed files served by a local server, matched, stored,
bursting into alerts, explaining price alerts, and answering /news."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.alerts import Alert, Headline
from bot.cli import main
from bot.config import load_config
from bot.delivery.sinks import Dispatcher as SinkDispatcher
from bot.detection.detect import Label, Severity
from bot.episodes import EpisodeBook
from bot.news.burst import BurstDetector
from bot.news.items import FeedConfig, NewsItem
from bot.news.match import Matcher, load_themes
from bot.pipeline import AlertPipeline
from bot.render.chat import plain_text
from bot.sources.feeds import FetchLimits
from bot.storage.store import Store
from handlers.commands import build_registry
from handlers.registry import Dispatcher, Invocation
from handlers.services import Services
from jobs.news_poll import NewsWatch
from tests.conftest import PRICES, SHARED_DATA
from tests.factories import Clock, command_services
from tests.fakes.feed_server import FeedServer

CONFIG = load_config(None, {})
DEEPSEEK = SHARED_DATA / "feeds" / "deepseek_2025-01"
FEEDS = {
    "/wsj": DEEPSEEK / "reconstructed_feeds_a_dj_com_rss_RSSWSJD_xml.xml",
    "/bbc": DEEPSEEK / "reconstructed_feeds_bbci_co_uk_news_technology_rss_xml.xml",
    "/nyt": DEEPSEEK / "reconstructed_rss_nytimes_com_services_xml_rss_nyt_HomePage_xml.xml",
    "/nbc": DEEPSEEK / "reconstructed_feeds_nbcnews_com_nbcnews_public_tech.xml",
}
QUIET_FEED = SHARED_DATA / "feeds" / "german" / "tagesschau.xml"
LIMITS = FetchLimits(timeout_seconds=5.0)


class Collector:
    name = "collector"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def send_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)


def make_watch(store: Store, clock: Clock, sink: Collector) -> NewsWatch:
    pipeline = AlertPipeline(EpisodeBook(CONFIG.settings.episodes), store, SinkDispatcher([sink]))
    matcher = Matcher(CONFIG.universe, load_themes())
    return NewsWatch(store, matcher, BurstDetector(), pipeline, clock)


def feed(server: FeedServer, path: str, language: str = "en") -> FeedConfig:
    return FeedConfig.model_validate(
        {"name": path.strip("/"), "url": server.url(path), "language": language}
    )


async def test_a_new_feed_is_seeded_without_alerting_its_backlog(tmp_path: Path) -> None:
    store = Store(tmp_path / "bot.sqlite3")
    clock = Clock(datetime(2025, 1, 27, 14, 0, tzinfo=UTC))
    sink = Collector()
    watch = make_watch(store, clock, sink)
    async with FeedServer() as server, httpx.AsyncClient() as client:
        for path, file in FEEDS.items():
            server.respond(path, body=file.read_bytes(), headers={"Content-Type": "text/xml"})
        for path in FEEDS:
            result = await watch.poll(client, feed(server, path), LIMITS)
            assert result.status == "ok"

    assert sink.alerts == []
    titles = [h.title for h in store.recent_headlines()]
    assert "DeepSeek's 'cheap' Chinese AI chatbot sparks tech stock selloff" in titles
    assert store.feed_state("bbc") is not None


async def test_several_sources_on_one_theme_burst_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "bot.sqlite3")
    clock = Clock(datetime(2025, 1, 27, 13, 30, tzinfo=UTC))
    sink = Collector()
    watch = make_watch(store, clock, sink)
    async with FeedServer() as server, httpx.AsyncClient() as client:
        for path in FEEDS:  # first contact: a quiet feed, which seeds each source
            server.respond(path, body=QUIET_FEED.read_bytes())
            await watch.poll(client, feed(server, path), LIMITS)
        for path, file in FEEDS.items():
            server.respond(path, body=file.read_bytes())
        for path in FEEDS:
            await watch.poll(client, feed(server, path), LIMITS)
        clock.now += timedelta(minutes=10)
        for path in FEEDS:  # the same items again: nothing new, no second alert
            await watch.poll(client, feed(server, path), LIMITS)

    bursts = [a for a in sink.alerts if a.label is Label.NEWS_BURST]
    assert len(bursts) == 1
    burst = bursts[0]
    assert burst.severity is Severity.WATCH
    assert burst.burst is not None
    assert burst.burst.theme == "deepseek"
    assert len(burst.burst.sources) >= 3
    assert any("DeepSeek" in h.title for h in burst.headlines)
    assert store.record_alert(burst) is False  # recorded, so never sent twice


async def test_a_restart_remembers_what_was_seen(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    clock = Clock(datetime(2025, 1, 27, 14, 0, tzinfo=UTC))
    first = make_watch(Store(db), clock, Collector())
    items = []
    async with FeedServer() as server, httpx.AsyncClient() as client:
        server.respond("/bbc", body=FEEDS["/bbc"].read_bytes())
        result = await first.poll(client, feed(server, "/bbc"), LIMITS)
        assert result.parsed is not None
        items = result.parsed.items
    second = make_watch(Store(db), clock, Collector())

    assert (await second.ingest(items, clock.now, seed=False)).fresh == 0


async def test_a_failing_feed_backs_off_and_shows_in_status(tmp_path: Path) -> None:
    store = Store(tmp_path / "bot.sqlite3")
    clock = Clock(datetime(2025, 1, 27, 14, 0, tzinfo=UTC))
    watch = make_watch(store, clock, Collector())
    async with FeedServer() as server, httpx.AsyncClient() as client:
        result = await watch.poll(client, feed(server, "/error"), LIMITS)
        again = await watch.poll(client, feed(server, "/error"), LIMITS)
        assert len(server.requests_to("/error")) == 1
    assert result.status == "error"
    assert again.status == "paused"

    services = command_services(store, clock)
    reply = await Dispatcher(build_registry(), services).dispatch(invocation("status"))
    assert reply is not None
    text = plain_text(reply)
    assert "News feeds" in text
    assert "error: next try after 2025-01-27T14:05 UTC, 1 failures in a row" in text


def invocation(command: str, args: str = "", language: str = "en") -> Invocation:
    async def no() -> bool:
        return False

    return Invocation("test", command, args, "1", "private", "1", language, no)


@pytest.fixture
async def news_services(tmp_path: Path) -> Services:
    store = Store(tmp_path / "bot.sqlite3")
    clock = Clock(datetime(2025, 1, 28, 12, 0, tzinfo=UTC))
    watch = make_watch(store, clock, Collector())
    async with FeedServer() as server, httpx.AsyncClient() as client:
        for path, file in FEEDS.items():
            server.respond(path, body=file.read_bytes())
            await watch.poll(client, feed(server, path), LIMITS)
        server.respond("/de", body=(SHARED_DATA / "feeds" / "german" / "spiegel.xml").read_bytes())
        await watch.poll(client, feed(server, "/de", "de"), LIMITS)
    return command_services(store, clock, watch.matcher)


Ask = Callable[[str, str], Awaitable[str]]


@pytest.fixture
def ask(news_services: Services) -> Ask:
    async def run(args: str, language: str = "en") -> str:
        reply = await Dispatcher(build_registry(), news_services).dispatch(
            invocation("news", args, language)
        )
        assert reply is not None
        return plain_text(reply)

    return run


async def test_news_command_filters_by_ticker_and_theme(ask: Ask) -> None:
    nvidia = await ask("NVDA", "en")
    assert "Latest headlines: NVDA" in nvidia
    assert "Nvidia Reels After DeepSeek\u2019s A.I. Breakthrough" in nvidia

    theme = await ask("deepseek", "en")
    assert theme.count("• ") == 8
    assert all("deepseek" in line for line in theme.splitlines()[1:])

    everything = await ask("", "en")
    assert everything.startswith("Latest headlines")


async def test_news_command_in_german_and_for_unknown_queries(ask: Ask) -> None:
    german = await ask("Nvidia-Aktie", "de")
    assert german.startswith("Neueste Schlagzeilen: Nvidia-Aktie")

    unknown = await ask("frobnitz", "en")
    assert "'frobnitz' is neither a ticker of the list nor a theme" in unknown
    assert "deepseek" in unknown


def test_news_cli_on_files_and_a_broken_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["news", "--feeds", str(FEEDS["/bbc"]), "--json"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    selloff = next(r for r in rows if "sparks tech stock selloff" in r["title"])
    assert selloff["themes"] == ["deepseek"]
    assert selloff["published"].startswith("2025-01-27")
    assert "ok: " in captured.err

    bad = SHARED_DATA / "feeds" / "bad" / "reuters_no_items.xml"
    assert main(["news", "--feeds", str(bad), "/nonexistent/feed.xml", "ftp://x.org/a.xml"]) == 1
    err = capsys.readouterr().err
    assert "problem: /nonexistent/feed.xml: no such file or directory" in err
    assert "problem: ftp://x.org/a.xml: only http(s) URLs and local files, not ftp" in err


async def test_news_cli_reads_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    async with FeedServer() as server:
        server.respond("/nyt", body=FEEDS["/nyt"].read_bytes())
        url = server.url("/nyt")
        code = await asyncio.to_thread(main, ["news", "--feeds", url])
    out = capsys.readouterr().out
    assert code == 0
    assert "[deepseek] What is DeepSeek? And How Is It Upending A.I.?" in out


def test_replay_with_feeds_warns_early_and_explains(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "replay",
            "--prices",
            str(PRICES / "hourly"),
            "--feeds",
            str(DEEPSEEK),
            "--from",
            "2025-01-27",
            "--to",
            "2025-01-27",
            "--json",
        ]
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert code == 0
    burst, divergence = rows[0], rows[1]
    assert burst["label"] == "news_burst"
    assert burst["time"] < "2025-01-27T14:30"  # before New York opened
    assert burst["burst"]["theme"] == "deepseek"
    assert divergence["label"] == "ai_infra_divergence_down"
    assert divergence["time"] == "2025-01-27T15:30:00+00:00"
    why = [h["title"] for h in divergence["headlines"]]
    assert len(why) == 3
    assert all("DeepSeek" in title or "Market Talk" in title for title in why)


async def test_a_restart_keeps_each_themes_usual_rate(tmp_path: Path) -> None:
    """Routine headlines must not look like a burst just because the process restarted."""
    db = tmp_path / "bot.sqlite3"
    start = datetime(2025, 1, 20, 0, 0, tzinfo=UTC)
    store = Store(db)
    routine = []
    for hour in range(0, 7 * 24, 1):  # a week of tariff news, three feeds, every hour
        at = start + timedelta(hours=hour)
        routine += [
            Headline(f"Tariff talk {hour} from {feed}", feed, None, at, (), ("tariffs",))
            for feed in ("a", "b", "c")
        ]
    for h in routine:
        store.save_headlines([h], h.published or start)
    now = start + timedelta(days=7)
    store.close()

    restarted = make_watch(Store(db), Clock(now), Collector())
    items = [
        NewsItem(feed, f"New tariff round announced ({feed})", None, None, "", now, "en")
        for feed in ("a", "b", "c")
    ]
    result = await restarted.ingest(items, now, seed=False)

    assert len(result.matched) == 3
    assert result.bursts == []
