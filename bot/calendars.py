"""Exchange calendars (sessions, holidays, early closes, DST) through ``exchange_calendars``."""

from __future__ import annotations

import functools
from datetime import date

import exchange_calendars as xc
import pandas as pd

CALENDAR_START = "2010-01-01"


class UnknownCalendarError(ValueError):
    """An exchange calendar code that ``exchange_calendars`` does not know."""


@functools.cache
def calendar(code: str) -> xc.ExchangeCalendar:
    """The calendar for an ISO MIC code such as ``XNYS``; built once per process."""
    try:
        return xc.get_calendar(code, start=CALENDAR_START)
    except xc.errors.InvalidCalendarName:
        raise UnknownCalendarError(f"unknown exchange calendar {code!r}") from None


def sessions(code: str, start: date, end: date) -> pd.DatetimeIndex:
    """Trading sessions from ``start`` to ``end`` (inclusive) as naive midnight dates."""
    cal = calendar(code)
    first = max(pd.Timestamp(start), cal.first_session)
    last = min(pd.Timestamp(end), cal.last_session)
    if first > last:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(cal.sessions_in_range(first, last))
