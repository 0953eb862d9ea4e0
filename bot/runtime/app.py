"""Wires sources, store, scheduler and adapters into one process on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import aiohttp
import httpx

from bot.adapters.console import ConsoleAdapter
from bot.adapters.discord import (
    DiscordAdapter,
    DiscordConfig,
    DiscordTransport,
    WebhookTransport,
    alert_payload,
    subscribe_webhooks,
)
from bot.adapters.telegram import (
    TelegramAdapter,
    TelegramConfig,
    TelegramTransport,
    is_group_chat,
    render_alert,
)
from bot.config import LoadedConfig, webhook_urls
from bot.delivery.outbox import Outbox
from bot.delivery.outbox_sink import OutboxSink, Renderer
from bot.delivery.ratelimit import Limits
from bot.delivery.sender import OutboxSender, SenderSettings, Transport
from bot.delivery.sinks import AlertSink, Dispatcher
from bot.detection.regions import scan_regions
from bot.episodes import EpisodeBook
from bot.news.explain import Explainer
from bot.news.match import Matcher, load_themes
from bot.pipeline import AlertPipeline
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.marketdata import MarketData
from bot.sources.prices import PriceSource
from bot.sources.yahoo import YahooPriceSource
from bot.storage.store import Store
from handlers.commands import build_registry
from handlers.registry import Dispatcher as CommandDispatcher
from handlers.registry import RateLimit
from handlers.services import Services
from jobs.news_poll import NewsWatch, burst_detector
from jobs.price_scan import PriceScan, ScanSettings
from jobs.scheduler import JobHealth, ScheduledJob, add_news_jobs, build_scheduler

log = logging.getLogger(__name__)

DISCORD_LIMITS = Limits(
    per_chat_interval=timedelta(seconds=1), group_per_minute=60, overall_per_second=40.0
)
"""Discord: about 5 messages per 5 s per channel, 50 requests per second overall."""


def price_source(loaded: LoadedConfig) -> PriceSource:
    """The configured live price source."""
    prices = loaded.settings.prices
    if prices.source == "csv":
        return CsvPriceSource(list(prices.csv_dirs))
    return YahooPriceSource(
        prices.cache_dir,
        auto_adjust=prices.auto_adjust,
        prepost=True,
        timeout=prices.timeout_seconds,
    )


def telegram_config(loaded: LoadedConfig) -> TelegramConfig | None:
    """Telegram settings when a token is configured (environment only)."""
    tg = loaded.settings.telegram
    if tg.token is None:
        return None
    return TelegramConfig(
        token=tg.token.get_secret_value(),
        base_url=tg.api_base_url,
        base_file_url=tg.api_base_file_url,
        poll_timeout=tg.poll_timeout_seconds,
        webhook_url=tg.webhook_url,
        webhook_listen=tg.webhook_listen,
        webhook_port=tg.webhook_port,
        webhook_secret=tg.webhook_secret.get_secret_value() if tg.webhook_secret else None,
    )


def every_chat(_: str) -> bool:
    """Discord: every channel has group-style limits."""
    return True


def utc_now() -> datetime:
    return datetime.now(UTC)


class App:
    """The running bot."""

    def __init__(
        self,
        loaded: LoadedConfig,
        extra_sinks: Sequence[AlertSink] = (),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.loaded = loaded
        self.extra_sinks = list(extra_sinks)
        self.clock = clock
        self.health = JobHealth()
        self.telegram: TelegramAdapter | None = None
        self.senders: list[asyncio.Task[None]] = []
        self.starting: list[asyncio.Task[None]] = []
        self.http: httpx.AsyncClient | None = None
        self.discord: DiscordAdapter | None = None
        self.session: aiohttp.ClientSession | None = None

    def _start_in_background(
        self, name: str, start: Callable[[], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Connect a chat platform without holding up the rest: retried with backoff."""

        async def keep_trying() -> None:
            delay = 5.0
            while not stop.is_set():
                try:
                    await start()
                except Exception as exc:
                    log.error(
                        "%s: cannot connect (%s: %s); retrying in %.0f s",
                        name,
                        type(exc).__name__,
                        exc,
                        delay,
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, 300.0)
                else:
                    return

        self.starting.append(asyncio.create_task(keep_trying(), name=f"{name}-start"))

    def _delivery(
        self,
        store: Store,
        transport: Transport,
        limits: Limits,
        render: Renderer,
        is_group: Callable[[str], bool],
        stop: asyncio.Event,
    ) -> OutboxSink:
        """An outbox sink for a platform and the sender task that drains it."""
        platform = transport.platform
        sender = OutboxSender(
            Outbox(store),
            transport,
            SenderSettings(limits=limits),
            on_unreachable=lambda chat, why: store.disable_chat(platform, chat, why, self.clock()),
            on_migrate=lambda old, new: store.migrate_chat(platform, old, new, self.clock()),
            clock=self.clock,
        )
        self.senders.append(asyncio.create_task(sender.run(stop), name=f"{platform}-sender"))
        return OutboxSink(
            platform,
            sender.outbox,
            store,
            self.loaded.universe,
            render,
            is_group,
            self.clock,
            sender,
        )

    async def _start_discord(
        self, commands: CommandDispatcher, store: Store, stop: asyncio.Event
    ) -> list[AlertSink]:
        """The Discord bot and the push-only webhooks, when configured."""
        settings = self.loaded.settings.discord
        universe = self.loaded.universe
        sinks: list[AlertSink] = []
        if settings.token is not None:
            config = DiscordConfig(settings.token.get_secret_value(), settings.manager_role)
            self.discord = DiscordAdapter(config, commands, universe)
            self._start_in_background("discord", self.discord.start, stop)
            transport = DiscordTransport(self.discord.client, store)
            sinks.append(
                self._delivery(store, transport, DISCORD_LIMITS, alert_payload, every_chat, stop)
            )
        urls = {name: url for name, url in webhook_urls(self.loaded.settings).items() if url}
        missing = [w.url_env for w in settings.webhooks if w.name not in urls]
        for env_name in missing:
            log.warning("discord webhook: environment variable %s is not set; skipped", env_name)
        if urls:
            subscribe_webhooks(
                store, [w for w in settings.webhooks if w.name in urls], self.clock()
            )
            self.session = aiohttp.ClientSession()
            hooks = WebhookTransport(urls, self.session)
            sinks.append(
                self._delivery(store, hooks, DISCORD_LIMITS, alert_payload, every_chat, stop)
            )
        return sinks

    async def run(self, stop: asyncio.Event) -> None:
        """Scan on schedule until ``stop`` is set; then shut everything down."""
        settings = self.loaded.settings
        universe = self.loaded.universe
        store = Store(settings.storage.path)
        try:
            source = price_source(self.loaded)
            matcher = Matcher(universe, load_themes()) if settings.news.enabled else None
            services = Services(
                universe=universe,
                store=store,
                market=MarketData(source, universe, settings.detector, self.clock),
                params=settings.detector,
                clock=self.clock,
                job_errors=self.health.errors,
                matcher=matcher,
            )
            commands = CommandDispatcher(
                build_registry(), services, RateLimit(calls=settings.commands.per_user_per_minute)
            )
            sinks: list[AlertSink] = list(self.extra_sinks)
            tg = telegram_config(self.loaded)
            if tg is not None:
                self.telegram = TelegramAdapter(tg, commands)
                self._start_in_background("telegram", self.telegram.start, stop)
                transport = TelegramTransport(self.telegram.app.bot)
                sinks.append(
                    self._delivery(store, transport, Limits(), render_alert, is_group_chat, stop)
                )
            sinks += await self._start_discord(commands, store, stop)
            if not sinks:
                sinks.append(ConsoleAdapter(sys.stdout))
            book = EpisodeBook(settings.episodes, store.episodes())
            explain = Explainer(
                store, universe, settings.news.headline_hours, settings.news.headlines_per_alert
            )
            pipeline = AlertPipeline(book, store, Dispatcher(sinks), explain)
            sched = settings.scheduler
            scan_settings = ScanSettings(
                interval=timedelta(minutes=sched.scan_interval_minutes),
                settle_delay=timedelta(minutes=sched.settle_delay_minutes),
                max_age=timedelta(minutes=sched.max_age_minutes),
                history_sessions=settings.prices.history_sessions,
                attempts=sched.fetch_attempts,
                backoff_seconds=sched.backoff_seconds,
                lateness=timedelta(seconds=sched.misfire_grace_seconds),
            )
            jobs = [
                ScheduledJob(
                    region,
                    PriceScan(
                        region,
                        source,
                        self.loaded.universe,
                        settings.detector,
                        scan_settings,
                        pipeline,
                        store,
                    ),
                )
                for region in scan_regions(self.loaded.universe, sched.regions)
            ]
            scheduler = build_scheduler(
                jobs,
                scan_settings.interval,
                scan_settings.settle_delay,
                timedelta(seconds=sched.misfire_grace_seconds),
                self.health,
            )
            if matcher is not None:
                self.http = httpx.AsyncClient()
                watch = NewsWatch(store, matcher, burst_detector(settings), pipeline, self.clock)
                add_news_jobs(scheduler, watch, self.http, settings.news, self.health)
            scheduler.start()
            for job in scheduler.get_jobs():
                log.info("scheduled %s: next run %s", job.id, job.next_run_time)
            log.info(
                "bot running: %d regions, prices from %s, alerts to %s, %d open episodes",
                len(jobs),
                source.name,
                ", ".join(s.name for s in sinks),
                len(book.open_episodes),
            )
            await stop.wait()
            log.info("shutting down")
            scheduler.shutdown(wait=False)
        finally:
            stop.set()
            for task in self.starting:
                task.cancel()
            await asyncio.gather(*self.starting, *self.senders, return_exceptions=True)
            if self.telegram is not None:
                await self.telegram.stop()
            if self.discord is not None:
                await self.discord.stop()
            if self.session is not None:
                await self.session.close()
            if self.http is not None:
                await self.http.aclose()
            store.close()
        log.info("stopped")


def run_forever(loaded: LoadedConfig) -> int:
    """``python -m bot run``: run until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await App(loaded).run(stop)

    asyncio.run(main())
    return 0


async def discord_sync(
    loaded: LoadedConfig, token: str, guild_ids: list[int], global_: bool
) -> int:
    """``python -m bot discord-sync``: register the slash commands, then disconnect."""
    store = Store(":memory:")
    clock = utc_now
    source = price_source(loaded)
    services = Services(
        universe=loaded.universe,
        store=store,
        market=MarketData(source, loaded.universe, loaded.settings.detector, clock),
        params=loaded.settings.detector,
        clock=clock,
    )
    adapter = DiscordAdapter(
        DiscordConfig(token, loaded.settings.discord.manager_role),
        CommandDispatcher(build_registry(), services),
        loaded.universe,
    )
    try:
        await adapter.client.login(token)
        await adapter.client.application_info()
        done = await adapter.sync(guild_ids, global_)
    finally:
        await adapter.client.close()
        store.close()
    for where, count in done.items():
        print(f"synced {count} commands: {where}")
    return 0
