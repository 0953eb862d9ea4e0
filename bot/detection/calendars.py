"""Exchange calendars (sessions, holidays, early closes, DST) through ``exchange_calendars``."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import exchange_calendars as xc
import pandas as pd

CALENDAR_START = "2010-01-01"
CALENDAR_YEARS_AHEAD = 2
"""A calendar is built to end this many years after the day it is built."""
REBUILD_WITHIN = timedelta(days=180)
"""A cached calendar is rebuilt when its last session is this close to today."""

_CACHE: dict[str, xc.ExchangeCalendar] = {}
_LOCK = threading.Lock()


class UnknownCalendarError(ValueError):
    """An exchange calendar code that ``exchange_calendars`` does not know."""


def _end_for(today: date) -> date:
    try:
        return today.replace(year=today.year + CALENDAR_YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + CALENDAR_YEARS_AHEAD, day=28)


def calendar(code: str, today: date | None = None) -> xc.ExchangeCalendar:
    """The calendar for an ISO MIC code such as ``XNYS``, cached per process.

    It ends two years after it was built and is rebuilt once ``today`` (default: the current
    UTC date) comes within 180 days of its last session, so a long-running bot never runs out
    of sessions.
    """
    today = datetime.now(UTC).date() if today is None else today
    with _LOCK:
        cached = _CACHE.get(code)
        if cached is not None and cached.last_session.date() - today > REBUILD_WITHIN:
            return cached
        try:
            built = xc.get_calendar(code, start=CALENDAR_START, end=_end_for(today).isoformat())
        except xc.errors.InvalidCalendarName:
            raise UnknownCalendarError(f"unknown exchange calendar {code!r}") from None
        _CACHE[code] = built
        return built


def sessions(code: str, start: date, end: date) -> pd.DatetimeIndex:
    """Trading sessions from ``start`` to ``end`` (inclusive) as naive midnight dates."""
    cal = calendar(code)
    first = max(pd.Timestamp(start), cal.first_session)
    last = min(pd.Timestamp(end), cal.last_session)
    if first > last:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(cal.sessions_in_range(first, last))
