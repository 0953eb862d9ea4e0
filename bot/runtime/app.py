"""The bot process (``run`` and ``run --drill``): the runtime, the chat platforms and the
scheduler on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx

from bot.adapters.console import ConsoleAdapter
from bot.adapters.discord import (
    DiscordAdapter,
    DiscordConfig,
    DiscordTransport,
    DiscordUnavailable,
    WebhookTransport,
    alert_payload,
    chart_payload,
    reply_payload,
    subscribe_webhooks,
)
from bot.adapters.telegram import (
    TelegramAdapter,
    TelegramConfig,
    TelegramTransport,
    chart_caption,
    is_group_chat,
    render_alert,
)
from bot.clock import Clock, DrillClock, WallClock
from bot.config import LoadedConfig, webhook_urls
from bot.delivery.outbox import Outbox
from bot.delivery.outbox_sink import Captioner, OutboxSink, Renderer, ReplyRenderer
from bot.delivery.ratelimit import Limits, RateLimiter
from bot.delivery.sender import OutboxSender, SenderSettings, Transport
from bot.delivery.sinks import AlertSink
from bot.news.items import NewsItem
from bot.render.chat import telegram_html
from bot.runtime.leadership import Leadership
from bot.runtime.ops import OpsServer, ReadinessInputs
from bot.runtime.wiring import Runtime, build_runtime
from bot.sources.csv_prices import CsvPriceSource, describe_intervals
from bot.sources.prices import PriceError, PriceSource
from bot.sources.recorded import RecordedPriceSource, WatchedRecording
from bot.sources.yahoo import YahooPriceSource
from bot.storage.engine import is_postgres
from bot.storage.store import Scope, Store
from handlers.registry import Dispatcher as CommandDispatcher
from jobs.digest import DigestJob
from jobs.news_poll import NewsReplay
from jobs.scheduler import (
    ScheduledJob,
    add_digest_job,
    add_news_jobs,
    add_prune_job,
    add_recorded_news_job,
    build_scheduler,
    catch_up_missed_scans,
)

log = logging.getLogger(__name__)

DISCORD_RENDER: tuple[Renderer, Captioner, ReplyRenderer] = (
    alert_payload,
    chart_payload,
    reply_payload,
)
DIGEST_EVERY = timedelta(minutes=1)

DISCORD_LIMITS = Limits(
    per_chat_interval=timedelta(seconds=1), group_per_minute=60, overall_per_second=40
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
        concurrent_updates=tg.concurrent_updates,
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
        drill: Drill | None = None,
        *,
        store: Store | None = None,
        ops: OpsServer | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        """Args:
        loaded: configuration and universe.
        extra_sinks: alert sinks besides the configured chat platforms.
        drill: run a drill (recorded prices on a drill clock) instead of the live bot.
        store: the database, opened by the caller (the leader's; it stays open); ``None``:
            the app opens ``[storage]`` and closes it at the end.
        ops: the HTTP endpoints, started by the caller; ``None``: the app runs its own.
        leadership: this process leads instances that share the database.
        """
        self.loaded = loaded
        self.given_store = store
        self.leadership = leadership
        self.owner = leadership.owner if leadership else f"{socket.gethostname()} pid {os.getpid()}"
        self.extra_sinks = list(extra_sinks)
        self.drill = drill
        self.clock: Clock = DrillClock(drill.start, drill.speed) if drill else WallClock()
        self.outbox_senders: list[OutboxSender] = []
        self.telegram: TelegramAdapter | None = None
        self.senders: list[asyncio.Task[None]] = []
        self.starting: list[asyncio.Task[None]] = []
        self.http: httpx.AsyncClient | None = None
        self.discord: DiscordAdapter | None = None
        self.ops: OpsServer | None = ops
        self.own_ops = ops is None
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
        render: tuple[Renderer, Captioner, ReplyRenderer],
        is_group: Callable[[str], bool],
        stop: asyncio.Event,
        limiter: RateLimiter | None = None,
        buttons: bool = False,
    ) -> OutboxSink:
        """An outbox sink for a platform and the sender task that drains it. ``render``: the
        platform's alert texts and chart captions; ``limiter``: a send budget the sender
        shares (with command replies)."""
        platform = transport.platform
        sender = OutboxSender(
            Outbox(store),
            transport,
            SenderSettings(limits=limits),
            on_unreachable=lambda chat, why: store.disable_chat(platform, chat, why, utc_now()),
            on_migrate=lambda old, new: store.migrate_chat(platform, old, new, utc_now()),
            clock=utc_now,
            owner=self.owner,
            limiter=limiter,
        )
        self.outbox_senders.append(sender)
        self.senders.append(asyncio.create_task(sender.run(stop), name=f"{platform}-sender"))
        return OutboxSink(
            platform,
            sender.outbox,
            store,
            self.loaded.universe,
            render[0],
            is_group,
            utc_now,
            sender,
            caption=render[1],
            render_reply=render[2],
            buttons=buttons,
        )

    async def _start_discord(
        self, commands: CommandDispatcher, store: Store, stop: asyncio.Event
    ) -> list[AlertSink]:
        """The Discord bot and the push-only webhooks, when configured."""
        settings = self.loaded.settings.discord
        universe = self.loaded.universe
        sinks: list[AlertSink] = []
        if settings.token is not None:
            config = DiscordConfig(
                settings.token.get_secret_value(),
                settings.manager_role,
                api_base_url=settings.api_base_url,
                gateway_url=settings.gateway_url,
            )
            self.discord = DiscordAdapter(config, commands, universe)
            self._start_in_background("discord", self.discord.start, stop)
            transport = DiscordTransport(self.discord.client, store)
            sinks.append(
                self._delivery(
                    store, transport, DISCORD_LIMITS, DISCORD_RENDER, every_chat, stop, buttons=True
                )
            )
        urls = {name: url for name, url in webhook_urls(self.loaded.settings).items() if url}
        missing = [w.url_env for w in settings.webhooks if w.name not in urls]
        for env_name in missing:
            log.warning("discord webhook: environment variable %s is not set; skipped", env_name)
        if urls:
            subscribe_webhooks(store, [w for w in settings.webhooks if w.name in urls], utc_now())
            self.session = aiohttp.ClientSession()
            hooks = WebhookTransport(urls, self.session)
            sinks.append(
                self._delivery(store, hooks, DISCORD_LIMITS, DISCORD_RENDER, every_chat, stop)
            )
        return sinks

    def _digests(self, runtime: Runtime, store: Store, clock: Clock) -> DigestJob:
        """The daily digests of the chats that asked for one, through the platforms'
        outboxes (a drill's on its own clock, marked as a drill's)."""
        matcher = runtime.services.matcher
        return DigestJob(
            store,
            self.loaded.universe,
            runtime.services.market,
            [region for region, _ in runtime.scan_jobs()],
            lambda: [s for s in runtime.dispatcher.sinks if isinstance(s, OutboxSink)],
            clock.now,
            themes=matcher.themes if matcher is not None else None,
            charts=self.loaded.settings.charts.enabled,
            drill=clock.drill,
        )

    def _price_source(self, clock: Clock) -> PriceSource:
        """Live: the configured source. Drill: the CSV files, served on the drill clock."""
        if not clock.drill:
            return price_source(self.loaded)
        prices = self.loaded.settings.prices
        csv = CsvPriceSource(list(prices.csv_dirs))
        daily, intraday = csv.load_intervals()
        log.info("drill prices: %s", describe_intervals(daily, intraday))
        last = max((s.closes.index[-1].date() for s in daily.series.values()), default=None)
        if last is None or clock.now().date() > last:
            end = f"end on {last}" if last is not None else "hold no daily bars"
            raise PriceError(
                f"the recorded prices in {', '.join(map(str, prices.csv_dirs))} {end}; "
                f"a drill from {clock.now():%Y-%m-%d} would have nothing to read"
            )
        recording = RecordedPriceSource(
            daily.series,
            clock.now,
            self.loaded.universe.calendars_by_symbol(),
            intraday=intraday.series,
        )
        return WatchedRecording(recording, csv.check_dirs)

    def _readiness(self, runtime: Runtime, store: Store) -> ReadinessInputs:
        platforms: dict[str, Callable[[], bool]] = {}
        if self.telegram is not None:
            platforms["telegram"] = self.telegram.connected
        if self.discord is not None:
            platforms["discord"] = self.discord.connected
        scanning = runtime.scan_settings
        return ReadinessInputs(
            store=store,
            regions=[scan.region for scan in runtime.scans],
            interval=scanning.interval,
            settle_delay=scanning.settle_delay,
            grace=scanning.lateness + timedelta(minutes=2),
            clock=self.clock.now,
            started=self.clock.now(),
            platforms=platforms,
            outbox_bound=timedelta(seconds=self.loaded.settings.http.ready_outbox_seconds),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Scan on schedule until ``stop`` is set (a drill: until its end); then shut down."""
        settings = self.loaded.settings
        clock = self.clock
        scope: Scope = "drill" if clock.drill else "live"
        store = self.given_store or Store(settings.storage.location, scope=scope)
        try:
            source = self._price_source(clock)
            drill_news = self.drill.news if self.drill is not None else ()
            runtime = build_runtime(
                self.loaded,
                clock,
                store,
                source,
                sinks=self.extra_sinks,
                news=True if drill_news else None,
                recorded=clock.drill,
            )
            tg = telegram_config(self.loaded)
            if tg is not None:
                self.telegram = TelegramAdapter(
                    tg,
                    runtime.commands,
                    on_migrate=lambda old, new: store.migrate_chat("telegram", old, new, utc_now()),
                )
                self._start_in_background("telegram", self.telegram.start, stop)
                transport = TelegramTransport(
                    self.telegram.app.bot, lambda chat: store.thread_of("telegram", chat)
                )
                runtime.add_sink(
                    self._delivery(
                        store,
                        transport,
                        Limits(),
                        (render_alert, chart_caption, telegram_html),
                        is_group_chat,
                        stop,
                        limiter=self.telegram.limiter,
                        buttons=True,
                    )
                )
            for sink in await self._start_discord(runtime.commands, store, stop):
                runtime.add_sink(sink)
            if not runtime.dispatcher.sinks:
                runtime.add_sink(ConsoleAdapter(sys.stdout))
            sched = settings.scheduler
            scheduler = build_scheduler(
                [ScheduledJob(region, job) for region, job in runtime.scan_jobs()],
                runtime.scan_settings.interval,
                runtime.scan_settings.settle_delay,
                timedelta(seconds=sched.misfire_grace_seconds),
                runtime.health,
                clock,
            )
            if self.drill is None:  # a drill's history is dated in the past: keep it
                add_prune_job(scheduler, store, settings.storage.keep_days)
            every = timedelta(seconds=1) if clock.drill else DIGEST_EVERY
            add_digest_job(scheduler, self._digests(runtime, store, clock), every)
            if runtime.news is not None and self.drill is None:
                self.http = httpx.AsyncClient()
                add_news_jobs(scheduler, runtime.news, self.http, settings.news, runtime.health)
            if runtime.news is not None and drill_news:
                feed = NewsReplay(runtime.news, drill_news)
                await feed.start(clock.now())
                add_recorded_news_job(scheduler, feed, clock)
            if isinstance(clock, DrillClock):
                self._start_drill_clock(clock)
            # What start-up built (libraries, universe, calendars) lives as long as the process:
            # out of the collector's sight, a full collection no longer holds the event loop
            # for ~90 ms (docs/benchmarks.md, outbox at 50,000 chats).
            gc.freeze()
            scheduler.start()
            if self.leadership is not None and self.leadership.previous is not None:
                catch_up_missed_scans(
                    scheduler,
                    store,
                    [scan.region for scan in runtime.scans],
                    runtime.scan_settings.interval,
                    runtime.scan_settings.settle_delay,
                    clock,
                )
            warming = runtime.services.market.warm()
            self.starting.append(asyncio.create_task(warming, name="warm-market-data"))
            if self.ops is not None:
                self.ops.serve(self._readiness(runtime, store))
            elif settings.http.enabled:
                self.ops = OpsServer(settings.http, self._readiness(runtime, store))
                await self.ops.start()
            for job in scheduler.get_jobs():
                log.info(
                    "scheduled %s: next run %s",
                    job.id,
                    clock.to_bot(job.next_run_time) if job.next_run_time else None,
                )
            log.info(
                "bot running%s: %d regions, prices from %s, alerts to %s, open episodes: %d",
                f" a DRILL from {clock.now():%Y-%m-%d %H:%M} UTC" if clock.drill else "",
                len(runtime.scans),
                source.name,
                ", ".join(s.name for s in runtime.dispatcher.sinks),
                len(runtime.book.open_episodes),
            )
            waiters: set[asyncio.Task[Any]] = {asyncio.create_task(stop.wait(), name="stop")}
            if self.drill is not None and self.drill.until is not None:
                ends = self._drill_end(self.drill.until, self.drill.speed)
                waiters.add(asyncio.create_task(ends, name="drill-end"))
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            log.info("shutting down")
            scheduler.pause()
            await runtime.finish_running(limit=30.0)
            scheduler.shutdown(wait=False)
            if self.drill is not None and not stop.is_set():
                await self._drain(timedelta(seconds=self.drill.drain_seconds))
        finally:
            stop.set()
            if self.ops is not None and self.own_ops:
                await self.ops.stop()
            elif self.ops is not None:
                self.ops.serve(None)
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
            if self.given_store is None:
                store.close()
        log.info("stopped")

    def _start_drill_clock(self, clock: DrillClock) -> None:
        """Start the drill now, or continue the drill the last leader ran on its clock."""
        epoch = self.leadership.drill_epoch if self.leadership else None
        if epoch is None:
            clock.restart()
        else:
            clock.resume(epoch)
            log.info("the drill continues on the last leader's clock, at %s UTC", clock.now())
        if self.leadership is not None:
            self.leadership.note_drill_epoch(clock.wall_start)

    async def _drill_end(self, until: datetime, speed: float) -> None:
        """Return when the drill clock passes ``until``."""
        # The drill clock runs on the monotonic clock, as the event loop's timers do; the margin
        # covers a timer that fires within the loop's clock resolution before its time.
        await asyncio.sleep(max(0.0, (until - self.clock.now()).total_seconds() / speed) + 0.01)
        log.info("drill reached its end at %s", until.isoformat())

    async def _drain(self, limit: timedelta) -> None:
        """Give the senders time to deliver what the drill raised before the process ends."""
        deadline = utc_now() + limit
        waiting: dict[str, int] = {}
        while True:
            waiting = {}
            for sender in self.outbox_senders:
                left = sender.backlog()
                if left:
                    waiting[sender.platform] = left
            if not waiting or utc_now() >= deadline:
                break
            await asyncio.sleep(0.2)
        for platform, left in waiting.items():
            log.warning(
                "%s: %d messages (or alerts not yet fanned out) still queued at the drill's "
                "end; they go out at the next start",
                platform,
                left,
            )


@dataclass(frozen=True)
class Drill:
    """``run --drill``: the live process on recorded prices, from ``start`` at ``speed``."""

    start: datetime
    speed: float = 1.0
    until: datetime | None = None
    news: Sequence[NewsItem] = ()
    drain_seconds: float = 30.0
    """At the end, how long queued drill messages may still take to go out."""


def run_forever(loaded: LoadedConfig, drill: Drill | None = None) -> int:
    """``python -m bot run [--drill ...]``: run until SIGINT or SIGTERM (a drill: its end)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if is_postgres(loaded.settings.storage.location):
            from bot.runtime.elected import run_elected

            await run_elected(loaded, drill, stop)
        else:
            await App(loaded, drill=drill).run(stop)

    asyncio.run(main())
    return 0


async def discord_sync(
    loaded: LoadedConfig, token: str, guild_ids: list[int], global_: bool
) -> int:
    """``python -m bot discord-sync``: register the slash commands, then disconnect."""
    store = Store(":memory:")
    runtime = build_runtime(loaded, WallClock(), store, price_source(loaded), news=False)
    adapter = DiscordAdapter(
        DiscordConfig(
            token,
            loaded.settings.discord.manager_role,
            api_base_url=loaded.settings.discord.api_base_url,
            gateway_url=loaded.settings.discord.gateway_url,
        ),
        runtime.commands,
        loaded.universe,
    )
    try:
        done = await adapter.login_and_sync(token, guild_ids, global_)
    except DiscordUnavailable as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    finally:
        store.close()
    for where, count in done.items():
        print(f"synced {count} commands: {where}")
    return 0
