"""Theme bursts: many feeds suddenly writing about one theme (DeepSeek on 2025-01-27).

A theme bursts when, within the last ``window_minutes``, at least ``min_sources`` distinct feeds
named it and the number of its items is at least ``min_ratio`` times its usual number per window
over the last ``baseline_days``. The usual number is counted over the history the detector has
actually seen (not over a full baseline it has not), and never below ``usual_floor``, so a
theme's first burst after quiet weeks counts. After a burst the theme stays quiet for
``cooldown_minutes``.

The detector is pure: time is passed in, nothing is read from the clock. Feed items should be
deduplicated first (:mod:`bot.news.dedupe`), or one story repeated by a feed counts twice.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.news.items import NewsItem

__all__ = ["Burst", "BurstDetector", "BurstRules"]


@dataclass(frozen=True)
class BurstRules:
    """When a theme counts as bursting (see the module doc)."""

    window_minutes: int = 60
    min_sources: int = 3
    baseline_days: int = 7
    min_ratio: float = 4.0
    cooldown_minutes: int = 240
    usual_floor: float = 0.5

    def __post_init__(self) -> None:
        if self.window_minutes < 1 or self.min_sources < 1 or self.cooldown_minutes < 0:
            raise ValueError("window_minutes and min_sources must be >= 1, cooldown >= 0")
        if self.baseline_days * 24 * 60 <= self.window_minutes:
            raise ValueError("baseline_days must span more than one window")
        if self.min_ratio <= 0 or self.usual_floor <= 0:
            raise ValueError("min_ratio and usual_floor must be positive")


@dataclass(frozen=True)
class Burst:
    """A theme that just started bursting."""

    theme: str
    at: datetime
    sources: tuple[str, ...]  # distinct feed names in the window, sorted
    count: int  # items naming the theme in the window
    usual_per_window: float
    headlines: tuple[NewsItem, ...]  # most recent first, up to 5


@dataclass(frozen=True)
class _Seen:
    at: datetime
    order: int
    item: NewsItem


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sort_key(seen: _Seen) -> tuple[datetime, int]:
    return (seen.at, seen.order)


class BurstDetector:
    """Remembers which themes items named when, and reports bursts as they start."""

    def __init__(self, rules: BurstRules | None = None) -> None:
        self.rules = rules or BurstRules()
        self._window = timedelta(minutes=self.rules.window_minutes)
        self._baseline = timedelta(days=self.rules.baseline_days)
        self._cooldown = timedelta(minutes=self.rules.cooldown_minutes)
        self._seen: dict[str, list[_Seen]] = {}  # per theme, sorted by time
        self._last_burst: dict[str, datetime] = {}
        self._since: datetime | None = None  # earliest time the detector knows about
        self._order = 0

    def observe(self, item: NewsItem, themes: Sequence[str], at: datetime) -> list[Burst]:
        """Record that ``item`` names ``themes`` and return the bursts that start now.

        The item counts at its publication time (``at`` when it has none, and never later than
        ``at``). ``at`` must be timezone-aware; naive publication times are taken as UTC.
        """
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        now = at.astimezone(UTC)
        when = min(_utc(item.published), now) if item.published is not None else now
        horizon = now - self._baseline
        self._forget(horizon)
        if when < horizon:
            return []
        self._since = when if self._since is None else min(self._since, when)
        bursts: list[Burst] = []
        for theme in dict.fromkeys(themes):
            seen = self._seen.setdefault(theme, [])
            self._order += 1
            insort(seen, _Seen(when, self._order, item), key=_sort_key)
            if when > now - self._window:
                burst = self._check(theme, seen, now)
                if burst is not None:
                    self._last_burst[theme] = now
                    bursts.append(burst)
        return bursts

    def _check(self, theme: str, seen: list[_Seen], now: datetime) -> Burst | None:
        last = self._last_burst.get(theme)
        if last is not None and now - last < self._cooldown:
            return None
        start = now - self._window
        first_in_window = bisect_right(seen, start, key=lambda s: s.at)
        recent = seen[first_in_window:]
        sources = tuple(sorted({s.item.feed for s in recent}))
        if len(sources) < self.rules.min_sources:
            return None
        earlier = seen[
            bisect_left(seen, now - self._baseline, key=lambda s: s.at) : first_in_window
        ]
        known_since = max(self._since or start, now - self._baseline)
        windows = (start - known_since) / self._window
        usual = len(earlier) / windows if windows >= 1 else 0.0
        if len(recent) < self.rules.min_ratio * max(usual, self.rules.usual_floor):
            return None
        headlines = tuple(s.item for s in sorted(recent, key=_sort_key, reverse=True)[:5])
        return Burst(
            theme=theme,
            at=now,
            sources=sources,
            count=len(recent),
            usual_per_window=usual,
            headlines=headlines,
        )

    def _forget(self, horizon: datetime) -> None:
        for theme in list(self._seen):
            seen = self._seen[theme]
            cut = bisect_left(seen, horizon, key=lambda s: s.at)
            if cut:
                del seen[:cut]
            if not seen:
                del self._seen[theme]
        if self._since is not None and self._since < horizon:
            self._since = horizon
        for theme, last in list(self._last_burst.items()):
            if last < horizon - self._cooldown:
                del self._last_burst[theme]
