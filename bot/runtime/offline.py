"""``python -m bot chart`` and ``python -m bot digest``: what the bot draws and says about a
recorded day, made by the code that makes ``/chart``, alerts' charts and digests, on the
scans (and headlines) a replay of that day stores."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from bot.charting import ChartContext, ChartRequest, NoScansError, build_chart, draw_cached
from bot.config import LoadedConfig
from bot.detection.regions import scan_regions
from bot.digest import collect_digest
from bot.news.items import NewsItem
from bot.news.match import load_themes
from bot.render.charts import ChartError, ChartImage
from bot.render.digest import digest_reply
from bot.render.i18n import Language
from bot.render.replies import Reply
from bot.runtime.replay import run_replay
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.marketdata import MarketData
from bot.sources.prices import PriceError
from bot.sources.recorded import RecordedPriceSource
from bot.storage.store import Store

log = logging.getLogger(__name__)


class OfflineError(Exception):
    """The chart or digest cannot be made from these files (said in one line)."""


@dataclass(frozen=True)
class RecordedDay:
    """A recorded day after its replay: the store of its scans and the market data."""

    context: ChartContext
    day: date


@asynccontextmanager
async def recorded_day(
    loaded: LoadedConfig,
    prices: Sequence[Path],
    day: date,
    *,
    replay: bool = True,
    news: Sequence[NewsItem] = (),
) -> AsyncIterator[RecordedDay]:
    """Read the price files, replay ``day`` through the bot's scans (hourly), and hand out
    what the chart and the digest read, as of the end of that day."""
    try:
        batch, intraday = CsvPriceSource(list(prices)).load_intervals(end=day)
    except PriceError as exc:
        raise OfflineError(exc.message) from None
    if not batch.series:
        raise OfflineError("no readable price file")
    store = Store(":memory:")
    try:
        if replay:
            await run_replay(
                loaded,
                batch.series,
                store,
                [],
                start=day,
                end=day,
                interval="1h",
                intraday=intraday.series,
                news=news,
            )
        now = datetime.combine(day, time(23, 59, 59), UTC)
        source = RecordedPriceSource(
            batch.series,
            lambda: now,
            loaded.universe.calendars_by_symbol(),
            intraday=intraday.series,
        )
        market = MarketData(source, loaded.universe, loaded.settings.detector, lambda: now)
        yield RecordedDay(ChartContext(loaded.universe, market, store, now), day)
    finally:
        store.close()


async def offline_chart(
    loaded: LoadedConfig,
    prices: Sequence[Path],
    day: date,
    *,
    region: str | None = None,
    symbol: str | None = None,
    range_: str = "1d",
    language: Language = "en",
) -> ChartImage:
    """The chart of ``day`` (a session chart: the day replayed through the bot's scans; a
    range: daily closes up to ``day``)."""
    async with recorded_day(loaded, prices, day, replay=range_ == "1d") as recorded:
        ctx = recorded.context
        request = ChartRequest(symbol.upper() if symbol else None, range_, region)
        try:
            data = await build_chart(ctx, request, language)
        except NoScansError:
            raise OfflineError(
                f"no scans of {region or 'us'} on {day}: not a trading day there, or no prices "
                "of that day in the given directories"
            ) from None
        except ChartError as exc:
            raise OfflineError(f"nothing to draw: {exc}") from None
        except PriceError as exc:
            raise OfflineError(exc.message) from None
        return await draw_cached(ctx.store, data, language, ctx.now)


async def offline_digest(
    loaded: LoadedConfig,
    prices: Sequence[Path],
    day: date,
    *,
    news: Sequence[NewsItem] = (),
    language: Language = "en",
    chart: bool = False,
) -> tuple[Reply, ChartImage | None]:
    """The digest of ``day`` as a chat would get it after the US close (and its chart)."""
    async with recorded_day(loaded, prices, day, news=news) as recorded:
        ctx = recorded.context
        regions = scan_regions(loaded.universe, loaded.settings.scheduler.regions)
        data = collect_digest(ctx.store, regions, day, ctx.now)
        reply = digest_reply(data, language, load_themes())
        image = None
        if chart and data.regions:
            try:
                drawn = await build_chart(ctx, ChartRequest(None, "1d", "us"), language)
                image = await draw_cached(ctx.store, drawn, language, ctx.now)
            except (ChartError, PriceError) as exc:
                log.warning("digest without its chart: %s", exc)
        return reply, image
