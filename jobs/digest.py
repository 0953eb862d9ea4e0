"""The daily digest job: looks every minute for chats whose digest is due and queues it.

A chat's digest is due 30 minutes after the US close on trading days, or at its chosen local
time (``/digest on 18:00 Europe/Berlin``). It goes through the platform's outbox like an
alert (stored before it is sent, at most once per chat and day).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.charting import ChartContext, ChartRequest, build_chart, draw_cached
from bot.delivery.outbox_sink import OutboxSink
from bot.detection.calendars import sessions_between
from bot.detection.regions import ScanRegion, window
from bot.digest import DIGEST_REGIONS, collect_digest
from bot.news.match import Theme
from bot.render.charts import ChartImage
from bot.render.digest import digest_reply
from bot.render.i18n import Language
from bot.render.replies import Reply
from bot.sources.marketdata import MarketData
from bot.sources.prices import PriceError
from bot.storage.store import DigestSetting, Store
from bot.universe import Universe

log = logging.getLogger(__name__)

AFTER_CLOSE = timedelta(minutes=30)
"""The default digest goes this long after the US close (the settled scan comes first)."""


def due_day(
    setting: DigestSetting, now: datetime, us: ScanRegion, regions: Sequence[ScanRegion]
) -> date | None:
    """The day whose digest the chat should get now, if any."""
    if setting.at is None:
        day = now.astimezone(ZoneInfo(us.timezone)).date()
        if day not in sessions_between(us.calendar, day, day):
            return None
        if now < window(us, day).end + AFTER_CLOSE:
            return None
    else:
        local = now.astimezone(ZoneInfo(setting.timezone))
        if local.time() < setting.at:
            return None
        day = local.date()
        if not any(day in sessions_between(r.calendar, day, day) for r in regions):
            return None  # no market traded: nothing to sum up
    if setting.last_day is not None and setting.last_day >= day:
        return None
    return day


class DigestJob:
    """Queues the digests that are due, in each chat's language, with the US session's chart."""

    def __init__(
        self,
        store: Store,
        universe: Universe,
        market: MarketData,
        regions: Sequence[ScanRegion],
        sinks: Callable[[], Sequence[OutboxSink]],
        clock: Callable[[], datetime],
        *,
        themes: Mapping[str, Theme] | None = None,
        charts: bool = True,
        drill: bool = False,
    ) -> None:
        self.store = store
        self.universe = universe
        self.market = market
        self.regions = [r for r in regions if r.key in DIGEST_REGIONS]
        self.sinks = sinks
        self.clock = clock
        self.themes = themes
        self.charts = charts
        self.drill = drill

    def _us(self) -> ScanRegion | None:
        return next((r for r in self.regions if r.key == "us"), None)

    async def _chart(self, now: datetime, language: Language) -> ChartImage | None:
        if not self.charts or self._us() is None:
            return None
        context = ChartContext(self.universe, self.market, self.store, now, self.drill)
        try:
            data = await build_chart(context, ChartRequest(None, "1d", "us"), language)
            return await draw_cached(self.store, data, language, now)
        except (ValueError, PriceError) as exc:
            log.info("digest without a chart: %s", exc)
            return None

    async def __call__(self) -> int:
        """Queue every due digest; returns how many messages were queued."""
        now = self.clock()
        us = self._us()
        sinks = {sink.platform: sink for sink in self.sinks()}
        if us is None or not sinks:
            return 0
        due = [
            (setting, day)
            for setting in self.store.digests()
            if setting.platform in sinks
            and (day := due_day(setting, now, us, self.regions)) is not None
        ]
        if not due:
            return 0
        made: dict[tuple[date, Language], tuple[Reply, ChartImage | None]] = {}
        queued = 0
        for setting, day in due:
            language: Language = self.store.chat(setting.platform, setting.chat_id).language or "en"
            if (day, language) not in made:
                data = collect_digest(self.store, self.regions, day, now, drill=self.drill)
                chart = await self._chart(now, language) if data.regions else None
                made[(day, language)] = (digest_reply(data, language, self.themes), chart)
            reply, chart = made[(day, language)]
            key = f"{'drill:' if self.drill else ''}digest:{day.isoformat()}@{now:%H%M}"
            with self.store.transaction():
                sink = sinks[setting.platform]
                queued += sink.stage_reply(key, setting.chat_id, language, reply, chart, now)
                self.store.mark_digest_sent(setting.platform, setting.chat_id, day)
        for sink in sinks.values():
            sink.wake()
        log.info("digest: %d chats, %d messages queued", len(due), queued)
        return queued
