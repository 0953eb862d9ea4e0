"""Scan regions and their clocks: when each market trades, from its exchange calendar.

The day moves from Tokyo to Europe to the New York pre-market and the regular session. Each
scan region watches one universe region during one window of each trading session; holidays,
early closes and daylight-saving changes come from ``exchange_calendars``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.detection.calendars import session_bounds, sessions_between
from bot.universe import Universe

PREMARKET_OPEN = time(4, 0)


@dataclass(frozen=True)
class ScanRegion:
    """A market window the bot scans.

    Attributes:
        key: ``jp``, ``eu``, ``us_pre`` or ``us``.
        universe_region: the universe region whose instruments it reads.
        group: regions of one group share alert episodes (pre-market and cash in New York).
        calendar: exchange calendar code.
        timezone: the exchange's time zone.
        premarket: scans from 04:00 local time to the regular open instead of the session.
    """

    key: str
    universe_region: str
    group: str
    calendar: str
    timezone: str
    premarket: bool = False


@dataclass(frozen=True)
class Window:
    """One session's scan window of a region, in UTC."""

    session: date
    start: datetime
    end: datetime
    settles: bool

    def elapsed(self, at: datetime) -> float:
        """Share of the window that has passed at ``at`` (0..1)."""
        total = (self.end - self.start).total_seconds()
        done = (min(max(at, self.start), self.end) - self.start).total_seconds()
        return done / total if total > 0 else 1.0


def default_scan_regions(calendars: dict[str, tuple[str, str]]) -> list[ScanRegion]:
    """The four scan regions, given each universe region's (calendar, time zone)."""
    return [
        ScanRegion("jp", "jp", "asia", *calendars["jp"]),
        ScanRegion("eu", "eu", "europe", *calendars["eu"]),
        ScanRegion("us_pre", "us", "us", *calendars["us"], premarket=True),
        ScanRegion("us", "us", "us", *calendars["us"]),
    ]


def window(region: ScanRegion, session: date) -> Window:
    """The scan window of ``region`` on a trading session."""
    try:
        opens, closes = session_bounds(region.calendar, session)
    except KeyError:
        raise ValueError(f"{session} is not a {region.calendar} trading session") from None
    if region.premarket:
        local = datetime.combine(session, PREMARKET_OPEN, ZoneInfo(region.timezone))
        return Window(session, local.astimezone(UTC), opens, settles=False)
    return Window(session, opens, closes, settles=True)


def sessions_around(
    region: ScanRegion, at: datetime, before: int = 1, after: int = 10
) -> list[date]:
    """Trading sessions from ``before`` days before ``at`` to ``after`` days after it."""
    day = at.astimezone(ZoneInfo(region.timezone)).date()
    return sessions_between(
        region.calendar, day - timedelta(days=before), day + timedelta(days=after)
    )


def fire_times(win: Window, interval: timedelta, settle_delay: timedelta) -> list[datetime]:
    """Scan times of one window: every ``interval`` after its start while it is open, then
    (for a regular session) one settled reading ``settle_delay`` after the close."""
    times = []
    at = win.start + interval
    while at < win.end:
        times.append(at)
        at += interval
    if win.settles:
        times.append(win.end + settle_delay)
    elif win.end not in times:
        times.append(win.end)
    return times


def last_fire_time(
    region: ScanRegion, interval: timedelta, settle_delay: timedelta, at: datetime
) -> datetime | None:
    """The last scan time at or before ``at`` (of the sessions of the last few days)."""
    latest = None
    for session in sessions_around(region, at, before=4, after=0):
        for fire in fire_times(window(region, session), interval, settle_delay):
            if fire <= at and (latest is None or fire > latest):
                latest = fire
    return latest


def next_fire_time(
    region: ScanRegion, interval: timedelta, settle_delay: timedelta, after: datetime
) -> datetime | None:
    """The first scan time at or after ``after``."""
    for session in sessions_around(region, after):
        for at in fire_times(window(region, session), interval, settle_delay):
            if at >= after:
                return at
    return None


def window_at(
    region: ScanRegion,
    at: datetime,
    settle_delay: timedelta,
    tolerance: timedelta = timedelta(0),
) -> Window | None:
    """The window a scan at ``at`` belongs to (its session, open or just settled), if any.

    ``tolerance`` accepts a scan that starts a little after the window's last fire time (a
    scheduler never runs a job at exactly its fire time).
    """
    for session in sessions_around(region, at, before=3, after=0):
        win = window(region, session)
        last = win.end + (settle_delay if win.settles else timedelta(0)) + tolerance
        if win.start <= at <= last:
            return win
    return None


def scan_regions(universe: Universe, keys: Sequence[str]) -> list[ScanRegion]:
    """The scan regions named in ``keys``, with calendars from the universe's regions."""
    calendars = {k: (r.calendar, r.timezone) for k, r in universe.regions.items()}
    return [r for r in default_scan_regions(calendars) if r.key in keys]
