"""The news watch: poll feeds, drop duplicates, match headlines, raise news bursts.

A feed that has never been fetched successfully is seeded: its backlog is stored (for ``/news``
and for explaining alerts) but raises no burst. Bursts go through the same pipeline (records,
idempotency keys, delivery) as price alerts, at watch severity. Headlines never raise a price
alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import httpx

from bot.alerts import Alert, AlertKind, BurstInfo, Headline
from bot.config import Settings
from bot.detection.detect import Label, Severity
from bot.metrics import FEED_FAILURES
from bot.news.burst import Burst, BurstDetector, BurstRules
from bot.news.dedupe import Deduplicator, dedupe_keys
from bot.news.items import FeedConfig, NewsItem
from bot.news.match import Matcher
from bot.pipeline import AlertPipeline
from bot.sources.feeds import FeedState, FetchLimits, FetchResult, fetch_feed
from bot.storage.store import Store

log = logging.getLogger(__name__)


def state_to_dict(state: FeedState) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in asdict(state).items():
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def state_from_dict(data: dict[str, object] | None) -> FeedState:
    if not data:
        return FeedState()

    def when(key: str) -> datetime | None:
        value = data.get(key)
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    failures = data.get("failures")
    return FeedState(
        etag=text("etag"),
        last_modified=text("last_modified"),
        failures=failures if isinstance(failures, int) else 0,
        paused_until=when("paused_until"),
        last_status=text("last_status") or "never fetched",
        last_success=when("last_success"),
        last_error=text("last_error"),
    )


@dataclass
class IngestResult:
    fresh: int = 0
    matched: list[Headline] = field(default_factory=list)
    bursts: list[Burst] = field(default_factory=list)


def headline_of(item: NewsItem, symbols: Sequence[str], themes: Sequence[str]) -> Headline:
    return Headline(item.title, item.feed, item.link, item.published, tuple(symbols), tuple(themes))


class NewsWatch:
    """Everything between fetched feed items and stored headlines and burst alerts."""

    def __init__(
        self,
        store: Store,
        matcher: Matcher,
        bursts: BurstDetector,
        pipeline: AlertPipeline | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.matcher = matcher
        self.bursts = bursts
        self.pipeline = pipeline
        self.clock = clock
        self.dedupe = Deduplicator()
        self.dedupe.load(store.news_keys())
        self.warm_up(clock())

    def warm_up(self, now: datetime) -> None:
        """Teach the burst detector the stored headlines of its baseline period.

        Without it, a restart forgets every theme's usual rate (routine headlines would look
        like a burst) and every cooldown.
        """
        since = now - timedelta(days=self.bursts.rules.baseline_days)
        stored = self.store.recent_headlines(since=since, until=now, limit=1_000_000)
        for h in reversed(stored):  # oldest first
            if not h.themes:
                continue
            item = NewsItem(h.feed, h.title, h.link, None, "", h.published, "en")
            self.bursts.observe(item, h.themes, h.published or now)

    async def ingest(self, items: Sequence[NewsItem], now: datetime, *, seed: bool) -> IngestResult:
        """Dedupe, match (in a thread) and store items; feed the burst detector unless seeding.

        The database is only touched on the event loop's thread.
        """
        result = IngestResult()
        fresh = self.dedupe.fresh(items)
        result.fresh = len(fresh)
        keys: list[str] = []
        by_feed: dict[str, list[NewsItem]] = {}
        for item in fresh:
            by_feed.setdefault(item.feed, []).append(item)
        for batch in by_feed.values():
            for item_keys in dedupe_keys(batch):
                keys.extend(item_keys)
        self.store.add_news_keys(keys, now)
        matches = await asyncio.to_thread(lambda: [self.matcher.match(i) for i in fresh])
        for item, match in zip(fresh, matches, strict=True):
            if not match:
                continue
            result.matched.append(headline_of(item, match.symbols, match.themes))
            if not seed and match.themes:
                result.bursts += self.bursts.observe(item, match.themes, now)
        self.store.save_headlines(result.matched, now)
        return result

    def burst_alert(self, burst: Burst) -> Alert:
        theme = self.matcher.themes[burst.theme]
        stamp = burst.at.isoformat(timespec="minutes")
        return Alert(
            key=f"news:{burst.theme}:{stamp}",
            episode_id=f"{burst.at.date().isoformat()}:news:{burst.theme}",
            kind=AlertKind.OPEN,
            label=Label.NEWS_BURST,
            severity=Severity.WATCH,
            region="news",
            direction=None,
            fired_at=burst.at,
            data_time=burst.at,
            headlines=tuple(headline_of(i, (), (burst.theme,)) for i in burst.headlines[:5]),
            burst=BurstInfo(
                burst.theme,
                theme.name_en,
                theme.name_de,
                burst.count,
                burst.sources,
                self.bursts.rules.window_minutes,
                burst.usual_per_window,
            ),
        )

    async def raise_bursts(self, bursts: Sequence[Burst], now: datetime) -> list[Alert]:
        if not bursts or self.pipeline is None:
            return []
        alerts = [self.burst_alert(b) for b in bursts]
        for alert in alerts:
            log.info(
                "news burst: %s, %d items from %s",
                alert.key,
                alert.burst.count if alert.burst else 0,
                ", ".join(alert.burst.sources if alert.burst else ()),
            )
        return await self.pipeline.deliver(alerts, now)

    async def poll(
        self, client: httpx.AsyncClient, feed: FeedConfig, limits: FetchLimits
    ) -> FetchResult:
        """Fetch one feed and take in what it brought."""
        now = self.clock()
        state = state_from_dict(self.store.feed_state(feed.name))
        seed = state.last_success is None
        result = await fetch_feed(client, feed, state, now, limits)
        if result.status == "error":
            FEED_FAILURES.labels(feed.name).inc()
        self.store.save_feed_state(feed.name, state_to_dict(result.state))
        if result.status == "ok" and result.parsed is not None:
            ingested = await self.ingest(result.parsed.items, now, seed=seed)
            log.info(
                "feed %s: %s; %d new, %d matched%s",
                feed.name,
                result.parsed.status,
                ingested.fresh,
                len(ingested.matched),
                " (seeded)" if seed else "",
            )
            await self.raise_bursts(ingested.bursts, now)
        return result  # a failure was logged where it was classified (bot/sources/feeds.py)


def burst_detector(settings: Settings) -> BurstDetector:
    news = settings.news
    return BurstDetector(
        BurstRules(
            window_minutes=news.burst_window_minutes,
            min_sources=news.burst_min_sources,
            baseline_days=news.burst_baseline_days,
            min_ratio=news.burst_min_ratio,
            cooldown_minutes=news.burst_cooldown_minutes,
        )
    )


class NewsReplay:
    """Recorded feed items, each taken in once the simulated clock passes its publication."""

    def __init__(self, watch: NewsWatch, items: Sequence[NewsItem]) -> None:
        self.watch = watch
        self.undated = [i for i in items if i.published is None]
        self.pending = sorted(
            (i for i in items if i.published is not None),
            key=lambda i: i.published.timestamp() if i.published else 0.0,
        )

    async def start(self, at: datetime) -> None:
        """Items without a publication time are known from the start (as seeded backlog)."""
        await self.watch.ingest(self.undated, at, seed=True)

    async def until(self, now: datetime) -> None:
        due = [i for i in self.pending if i.published is not None and i.published <= now]
        if not due:
            return
        self.pending = self.pending[len(due) :]
        for item in due:
            at = item.published or now
            result = await self.watch.ingest([item], at, seed=False)
            await self.watch.raise_bursts(result.bursts, at)
