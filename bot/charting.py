"""Charts on request (``/chart``, ``python -m bot chart``): a name or the basket over a session
or a range, from the bot's own stored scans and its market data.

One code path for the chat command and the offline command: the offline one builds the same
market data and store from recorded prices (a replay of the day) and calls :func:`build_chart`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from bot.detection.detect import Label
from bot.detection.regions import ScanRegion, scan_regions, sessions_around, window
from bot.render.chart_data import (
    RANGES,
    PathPoint,
    chart_mark,
    range_chart,
    session_chart,
    stored_movers,
    stored_severity,
    symbol_line,
)
from bot.render.charts import ChartData, ChartError, ChartImage, chart_words, render_png
from bot.render.i18n import Language, translate
from bot.sources.marketdata import MarketData
from bot.sources.prices import PriceError
from bot.storage.store import Store
from bot.universe import Universe

SESSION_RANGE = "1d"
CHART_RANGES = (SESSION_RANGE, *RANGES)
SETTLE_ALLOWANCE = timedelta(hours=1)
"""Readings up to this long after a window's end belong to its session (the settled scan)."""


class NoScansError(ChartError):
    """The bot has not scanned the session yet; the message says so in the reader's language."""


@dataclass(frozen=True)
class ChartRequest:
    """What to draw: ``symbol`` (``None``: the AI-infrastructure basket) over ``range``;
    ``region`` (a scan region key) for the basket, else the name's own region."""

    symbol: str | None = None
    range: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class ChartContext:
    universe: Universe
    market: MarketData
    store: Store
    now: datetime
    drill: bool = False


def _scan_region(ctx: ChartContext, request: ChartRequest) -> ScanRegion:
    key = request.region
    if key is None:
        key = ctx.market.region_of(request.symbol) if request.symbol else "us"
    found = scan_regions(ctx.universe, [key])
    if not found:
        raise ChartError(f"no region {key!r}")
    return found[0]


def _latest_session(region: ScanRegion, now: datetime) -> tuple[date, datetime, datetime]:
    """The newest session whose scan window has started by ``now``: (session, start, end)."""
    for session in reversed(sessions_around(region, now, before=10, after=0)):
        win = window(region, session)
        if win.start <= now:
            return session, win.start, min(now, win.end + SETTLE_ALLOWANCE)
    raise ChartError(f"no session of {region.key} before {now:%Y-%m-%d}")


def _strongest(bodies: list[dict[str, object]]) -> dict[str, object]:
    """The reading that best names the day: the most severe, the latest among equals."""

    return max(reversed(bodies), key=stored_severity)


async def _symbol_path(
    ctx: ChartContext, symbol: str, session: date, start: datetime, until: datetime
) -> tuple[list[datetime], list[float]]:
    """A name's intraday moves since its previous close, from the price source."""
    daily = await ctx.market.source.history(
        [symbol], start=session - timedelta(days=14), end=session - timedelta(days=1)
    )
    series = daily.series.get(symbol)
    if series is None or series.closes.empty:
        raise daily.errors.get(symbol) or PriceError(f"{symbol}: no previous close")
    base = float(series.closes.iloc[-1])
    bars = await ctx.market.source.history([symbol], start=session, end=session, interval="1h")
    intraday = bars.series.get(symbol)
    if intraday is None:
        raise bars.errors.get(symbol) or PriceError(f"{symbol}: no intraday prices")
    times, moves = [start], [0.0]
    stamps = pd.DatetimeIndex(intraday.closes.index).to_pydatetime()
    for stamp, close in zip(stamps, intraday.closes.to_numpy(), strict=True):
        if start <= stamp <= until and base > 0:
            times.append(stamp)
            moves.append(float(close) / base - 1.0)
    return times, moves


async def _session(ctx: ChartContext, request: ChartRequest, language: Language) -> ChartData:
    region = _scan_region(ctx, request)
    session, start, until = _latest_session(region, ctx.now)
    bodies = ctx.store.readings_between(region.key, start, until)
    points = [p for p in map(PathPoint.from_reading, bodies) if p is not None]
    if not points:
        name = translate(language, f"region.{region.key}")
        raise NoScansError(translate(language, "chart.no_scans", region=name))
    day = _strongest(bodies)
    label = str(day.get("label") or Label.QUIET.value)
    line = None
    if request.symbol is not None:
        times, moves = await _symbol_path(ctx, request.symbol, session, start, until)
        line = symbol_line(request.symbol, times, moves)
    last = points[-1].at
    footer = translate(language, "chart.session_footer", time=f"{last:%Y-%m-%d %H:%M}")
    return session_chart(
        label,
        region.key,
        points,
        start,
        until,
        stored_movers(day),
        footer,
        language,
        mark=chart_mark(ctx.drill, language),
        symbol=line,
        key=f"session:{region.key}:{request.symbol or 'basket'}:{last.isoformat()}:{language}",
    )


async def _range(ctx: ChartContext, request: ChartRequest, language: Language) -> ChartData:
    label = request.range or "1m"
    region = request.region
    if region is None:
        region = ctx.market.region_of(request.symbol) if request.symbol else "us"
    if region == "us_pre":
        region = "us"
    hist = await ctx.market.region(region)
    returns = None
    if request.symbol is not None:
        returns = await ctx.market.returns_of(request.symbol, hist)
    try:
        return range_chart(
            hist,
            request.symbol,
            returns,
            RANGES[label],
            label,
            language,
            drill=ctx.drill,
        )
    except ValueError as exc:
        raise ChartError(str(exc)) from None


async def build_chart(ctx: ChartContext, request: ChartRequest, language: Language) -> ChartData:
    """What the chart of ``request`` shows. Without a range: the current session when the bot
    has scanned it, else the last month.

    Raises:
        ChartError: nothing to draw (no scans of the session yet, too little history).
        PriceError: the prices could not be fetched.
    """
    if request.range == SESSION_RANGE:
        return await _session(ctx, request, language)
    if request.range is None:
        try:
            return await _session(ctx, request, language)
        except (ChartError, PriceError):
            return await _range(ctx, ChartRequest(request.symbol, "1m", request.region), language)
    return await _range(ctx, request, language)


async def draw_cached(
    store: Store, data: ChartData, language: Language, now: datetime
) -> ChartImage:
    """The chart as an image, drawn off the event loop once per ``data.key`` (an alert's
    chart, or a session and range up to one data time) and kept in the store."""
    words = chart_words(data, language)
    if data.key:
        cached = store.image_by_key(data.key)
        if cached is not None:
            return ChartImage(cached, words)
    png = await asyncio.to_thread(render_png, data, language)
    if data.key:
        store.save_image(data.key, png, now)
    return ChartImage(png, words)
