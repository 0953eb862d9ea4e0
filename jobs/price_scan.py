"""The price-scan job of one region: fetch, build a snapshot, detect, hand on to the pipeline.

Failures of the price source are retried with exponential backoff and jitter; when they persist
the scan records a ``no_decision`` reading that says why, and never raises an alert from stale
data.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.detection.detect import (
    Baseline,
    DetectorParams,
    Label,
    NoBaseline,
    Reading,
    Severity,
    build_baseline,
    detect,
)
from bot.detection.regions import ScanRegion, Window, next_fire_time, window_at
from bot.detection.snapshots import (
    SnapshotBuild,
    history_before,
    intraday_snapshot,
    previous_closes,
    previous_session,
    settled_snapshot,
)
from bot.metrics import DATA_AGE, READINGS, SCAN_FAILURES, SCAN_SECONDS
from bot.pipeline import AlertPipeline
from bot.sources.prices import (
    Interval,
    NoIntradayError,
    PriceBatch,
    PriceError,
    PriceSeries,
    PriceSource,
    RateLimitedError,
    SourceUnavailableError,
)
from bot.storage.store import Store
from bot.universe import Universe

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class ScanSettings:
    """How a region is scanned."""

    interval: timedelta
    settle_delay: timedelta
    max_age: timedelta
    history_sessions: int
    bar_length: timedelta = timedelta(hours=1)
    attempts: int = 3
    backoff_seconds: float = 2.0
    lateness: timedelta = timedelta(0)
    """How late a scheduled scan may start and still belong to its window."""


@dataclass(frozen=True)
class _SessionBasis:
    """What every scan of one session shares: the daily history, its baseline and each name's
    previous close."""

    series: Mapping[str, PriceSeries]
    baseline: Baseline | NoBaseline
    bases: Mapping[str, float | None]


class PriceScan:
    """One region's scan; call it with the scan time (``None``: now)."""

    def __init__(
        self,
        region: ScanRegion,
        source: PriceSource,
        universe: Universe,
        params: DetectorParams,
        settings: ScanSettings,
        pipeline: AlertPipeline,
        store: Store,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.region = region
        self.source = source
        self.params = params
        self.settings = settings
        self.pipeline = pipeline
        self.store = store
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not cryptography)
        self.symbols = [i.symbol for i in universe.in_region(region.universe_region)]
        self.baskets = universe.baskets(region.universe_region)
        self._history: dict[date, _SessionBasis] = {}

    async def _fetch(
        self, symbols: Sequence[str], start: date, end: date, interval: Interval
    ) -> PriceBatch:
        """One request, retried on rate limits and outages; the last failure propagates."""
        attempts = self.settings.attempts
        for attempt in range(1, attempts):
            try:
                return await self.source.history(symbols, start=start, end=end, interval=interval)
            except (RateLimitedError, SourceUnavailableError) as exc:
                delay = self.settings.backoff_seconds * 2 ** (attempt - 1)
                if isinstance(exc, RateLimitedError) and exc.retry_after:
                    delay = max(delay, exc.retry_after)
                delay += self.rng.uniform(0, self.settings.backoff_seconds)
                log.info(
                    "scan %s: %s %s prices failed (%s); retry %d/%d in %.1f s",
                    self.region.key,
                    self.source.name,
                    interval,
                    exc.message,
                    attempt,
                    attempts - 1,
                    delay,
                )
                await self.sleep(delay)
        return await self.source.history(symbols, start=start, end=end, interval=interval)

    async def _baseline(self, session: date) -> _SessionBasis:
        cached = self._history.get(session)
        if cached is not None:
            return cached
        prev = previous_session(self.region, session)
        first = session - timedelta(days=self.settings.history_sessions * 3 // 2 + 10)
        batch = await self._fetch(self.symbols, first, prev, "1d")
        failed = sorted(
            s
            for s, e in batch.errors.items()
            if s in self.baskets.infra and isinstance(e, RateLimitedError | SourceUnavailableError)
        )
        if failed:
            # A partial history would shrink the set of expected names and so let a thin
            # snapshot pass the coverage gate; decide nothing and fetch again next scan.
            raise SourceUnavailableError(
                f"history of {len(failed)} AI-infrastructure names unavailable "
                f"({', '.join(failed[:5])}{', ...' if len(failed) > 5 else ''})"
            )
        basis = await asyncio.to_thread(self._basis, batch.series, session)
        self._history = {session: basis}
        return basis

    def _basis(self, series: Mapping[str, PriceSeries], session: date) -> _SessionBasis:
        baseline = self._build_baseline(series, session)
        return _SessionBasis(series, baseline, previous_closes(series, self.region, session))

    def _build_baseline(
        self, series: Mapping[str, PriceSeries], session: date
    ) -> Baseline | NoBaseline:
        history = history_before(series, self.region, session, self.settings.history_sessions)
        return build_baseline(history, self.baskets, self.params)

    async def read(self, now: datetime, win: Window) -> Reading:
        """The reading of this region at ``now`` (no alerts, no storage).

        Snapshot building (pandas) and detection run in a worker thread: the event loop keeps
        serving chats meanwhile.
        """
        basis = await self._baseline(win.session)
        daily, baseline = basis.series, basis.baseline
        if now >= win.end and win.settles:
            prev = previous_session(self.region, win.session)
            today = await self._fetch(self.symbols, prev, win.session, "1d")
            return await asyncio.to_thread(self._settled, today.series, win, baseline, basis.bases)
        bars = await self._fetch(self.symbols, win.session, win.session, "1h")
        no_intraday = frozenset(s for s, e in bars.errors.items() if isinstance(e, NoIntradayError))
        return await asyncio.to_thread(
            self._intraday, daily, bars.series, win, now, no_intraday, baseline, basis.bases
        )

    def _settled(
        self,
        series: Mapping[str, PriceSeries],
        win: Window,
        baseline: Baseline | NoBaseline,
        bases: Mapping[str, float | None] | None = None,
    ) -> Reading:
        """The session's close-to-close reading. ``bases``: the previous closes known since
        the session's first scan; a name without one gets it from ``series``."""
        known = dict(bases or {})
        missing = {s: v for s, v in series.items() if known.get(s) is None}
        if missing:
            known |= previous_closes(missing, self.region, win.session)
        return self._detect(settled_snapshot(series, self.region, win, known), baseline)

    def _intraday(
        self,
        daily: Mapping[str, PriceSeries],
        bars: Mapping[str, PriceSeries],
        win: Window,
        now: datetime,
        no_intraday: frozenset[str],
        baseline: Baseline | NoBaseline,
        bases: Mapping[str, float | None] | None = None,
    ) -> Reading:
        build = intraday_snapshot(
            daily,
            bars,
            self.region,
            win,
            now,
            self.settings.bar_length,
            self.settings.max_age,
            no_intraday,
            bases,
        )
        return self._detect(build, baseline)

    def _detect(self, build: SnapshotBuild, baseline: Baseline | NoBaseline) -> Reading:
        if build.stale:
            log.debug("scan %s: stale %s", self.region.key, dict(build.stale))
        return detect(build.snapshot, baseline, self.baskets, self.params)

    async def __call__(self, now: datetime | None = None) -> Reading | None:
        now = now or datetime.now(UTC)
        win = window_at(self.region, now, self.settings.settle_delay, self.settings.lateness)
        if win is None:
            log.info("scan %s at %s: outside the region's sessions", self.region.key, now)
            return None
        started = time.perf_counter()
        succeeded = False
        try:
            reading = await self.read(now, win)
        except PriceError as exc:
            SCAN_FAILURES.labels(self.region.key, self.source.name).inc()
            upcoming = next_fire_time(
                self.region,
                self.settings.interval,
                self.settings.settle_delay,
                now + timedelta(seconds=1),
            )
            log.warning(
                "scan %s: no decision, prices from %s unavailable: %s; next try at %s",
                self.region.key,
                self.source.name,
                exc.message,
                f"{upcoming:%Y-%m-%d %H:%M} UTC" if upcoming else "the next session",
            )
            self.store.record_scan(self.region.key, self.source.name, now, exc.message)
            reading = Reading(
                self.region.key,
                now,
                Label.NO_DECISION,
                Severity.NONE,
                0.0,
                reasons=(f"prices unavailable from {self.source.name}: {exc.message}",),
            )
        else:
            succeeded = True
            if reading.label is not Label.NO_DECISION:
                age = (now - reading.as_of).total_seconds()
                DATA_AGE.labels(self.region.key, self.source.name).set(max(age, 0.0))
        READINGS.labels(self.region.key, reading.label.value, str(reading.severity)).inc()
        undecided = reading.label is Label.NO_DECISION and reading.reasons
        log.info(
            "scan %s %s: %s %s (coverage %.0f%%%s)%s",
            self.region.key,
            now.isoformat(),
            reading.label,
            reading.severity,
            100 * reading.coverage,
            f", {reading.stats.basket_names} fresh AI-infrastructure names"
            if reading.stats
            else "",
            f": {reading.reasons[0]}" if undecided else "",
            extra={
                "region": self.region.key,
                "source": self.source.name,
                "label": reading.label.value,
                "severity": str(reading.severity),
            },
        )
        await self.pipeline.handle(reading, self.region, win.session, now)
        if succeeded:
            # Only now: a process that dies before its alert is stored has not done the scan,
            # and the next leader runs it again (catch_up_missed_scans).
            self.store.record_scan(self.region.key, self.source.name, now)
        SCAN_SECONDS.labels(self.region.key, self.source.name).observe(
            time.perf_counter() - started
        )
        return reading
