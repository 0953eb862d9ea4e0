"""The day in the AI supply chain, from what the bot stored: each region's reading, the top
movers, the episodes opened and closed, and the news themes with their best headlines.

:func:`collect_digest` reads the store; :func:`bot.render.digest.digest_reply` says it in a
chat's language. The scheduled job (``jobs/digest.py``) and ``python -m bot digest`` share
both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.alerts import Headline
from bot.charting import SETTLE_ALLOWANCE
from bot.detection.calendars import sessions_between
from bot.detection.detect import Label, Mover, Severity
from bot.detection.regions import ScanRegion, window
from bot.episodes import Episode
from bot.render.chart_data import PathPoint, stored_movers, stored_severity
from bot.storage.store import Store

DIGEST_REGIONS = ("jp", "eu", "us")
BEST_HEADLINES = 3


@dataclass(frozen=True)
class RegionDay:
    """One region's session: its last reading's moves and its strongest reading of the day."""

    region: str
    basket: float | None
    """``None``: the region was scanned but never had enough prices for a reading."""
    control: float | None
    software: float | None
    label: Label
    severity: Severity
    as_of: datetime
    settled: bool


@dataclass(frozen=True)
class DigestData:
    day: date
    regions: tuple[RegionDay, ...]
    movers: tuple[Mover, ...]
    opened: tuple[Episode, ...]
    closed: tuple[Episode, ...]
    themes: tuple[tuple[str, int], ...]
    """Theme keys with how many headlines of the day named them, most first."""
    headlines: tuple[Headline, ...]
    drill: bool = False
    bursts: tuple[tuple[str, int], ...] = ()
    """News bursts raised that day: theme key and how many headlines made it."""

    @property
    def quiet(self) -> bool:
        """Nothing diverged or broke down anywhere, and no episode opened or closed."""
        return (
            not self.opened
            and not self.closed
            and all(
                r.severity < Severity.WATCH or not (r.label.is_divergence or r.label.is_broad)
                for r in self.regions
            )
        )


def _label(body: Mapping[str, object]) -> Label:
    try:
        return Label(str(body.get("label")))
    except ValueError:
        return Label.NO_DECISION


def region_day(
    store: Store, region: ScanRegion, day: date, now: datetime
) -> tuple[RegionDay, list[Mover]] | None:
    """The region's session on ``day`` as its scans saw it up to ``now``, with the movers of
    its last reading; ``None`` when it did not trade or was not scanned."""
    if day not in sessions_between(region.calendar, day, day):
        return None
    win = window(region, day)
    bodies = store.readings_between(region.key, win.start, min(now, win.end + SETTLE_ALLOWANCE))
    if not bodies:
        return None
    priced = [(b, p) for b in bodies if (p := PathPoint.from_reading(b)) is not None]
    if not priced:
        at = datetime.fromisoformat(str(bodies[-1].get("as_of")))
        unread = RegionDay(
            region.key, None, None, None, Label.NO_DECISION, Severity.NONE, at, at >= win.end
        )
        return unread, []
    last_body, last = priced[-1]
    strongest = max(reversed(bodies), key=stored_severity)
    day_of = RegionDay(
        region.key,
        last.basket,
        last.control,
        last.software,
        _label(strongest),
        stored_severity(strongest),
        last.at,
        last.at >= win.end,
    )
    return day_of, stored_movers(last_body)


def _best(headlines: Sequence[Headline]) -> tuple[Headline, ...]:
    """The headlines naming the most instruments and themes, newest first among equals."""
    ranked = sorted(
        headlines,
        key=lambda h: (
            len(h.symbols) + len(h.themes),
            h.published or datetime.min.replace(tzinfo=UTC),
        ),
        reverse=True,
    )
    seen: set[str] = set()
    out: list[Headline] = []
    for h in ranked:
        title = h.title.strip().lower()
        if title not in seen:
            seen.add(title)
            out.append(h)
        if len(out) == BEST_HEADLINES:
            break
    return tuple(out)


def collect_digest(
    store: Store, regions: Sequence[ScanRegion], day: date, now: datetime, *, drill: bool = False
) -> DigestData:
    """What the digest of ``day`` says, as of ``now``."""
    days: list[RegionDay] = []
    movers: dict[str, Mover] = {}
    for region in regions:
        if region.key not in DIGEST_REGIONS:
            continue
        found = region_day(store, region, day, now)
        if found is None:
            continue
        days.append(found[0])
        for mover in found[1]:
            if abs(mover.ret) > abs(movers.get(mover.symbol, Mover(mover.symbol, 0.0, 0.0)).ret):
                movers[mover.symbol] = mover
    episodes = store.episodes(open_only=False, since=day - timedelta(days=1))
    opened = tuple(e for e in episodes if e.opened_at.astimezone(UTC).date() == day)
    closed = tuple(
        e for e in episodes if e.closed_at is not None and e.closed_at.astimezone(UTC).date() == day
    )
    start = datetime.combine(day, time(0), UTC)
    headlines = store.recent_headlines(since=start, until=min(now, start + timedelta(days=1)))
    themes = Counter(theme for h in headlines for theme in h.themes)
    bursts = []
    for body in store.alerts(since=start):
        raw = body.get("burst")
        if body.get("label") == Label.NEWS_BURST.value and isinstance(raw, dict):
            when = datetime.fromisoformat(str(body.get("time")))
            if when.astimezone(UTC).date() == day:
                bursts.append((str(raw.get("theme")), int(raw.get("count") or 0)))
    return DigestData(
        day=day,
        regions=tuple(days),
        movers=tuple(sorted(movers.values(), key=lambda m: -abs(m.ret))[:5]),
        opened=opened,
        closed=closed,
        themes=tuple(themes.most_common(5)),
        headlines=_best(headlines),
        drill=drill,
        bursts=tuple(bursts),
    )
