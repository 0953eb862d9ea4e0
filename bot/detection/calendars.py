"""Exchange calendars (sessions, holidays, early closes, DST) through ``exchange_calendars``."""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import exchange_calendars as xc
import pandas as pd

log = logging.getLogger(__name__)

CALENDAR_START = "2010-01-01"
CALENDAR_YEARS_AHEAD = 2
"""A calendar is built to end on 31 December this many years after the day it is built."""
REBUILD_WITHIN = timedelta(days=180)
"""A cached calendar is rebuilt when its last session is this close to today."""

_CACHE: dict[str, xc.ExchangeCalendar] = {}
_LAST_SESSION: dict[str, date] = {}
"""Each cached calendar's last session as a plain date: the check on every call is then a
comparison, not a pandas property (scans call this thousands of times in a replay)."""
_LOCK = threading.Lock()


class UnknownCalendarError(ValueError):
    """An exchange calendar code that ``exchange_calendars`` does not know."""


def _end_for(today: date) -> date:
    return date(today.year + CALENDAR_YEARS_AHEAD, 12, 31)


def cache_dir() -> Path | None:
    """Where built calendars are kept between processes, or None when caching is off.

    ``BOT_CALENDAR_CACHE`` names the directory (empty turns the cache off); the default is
    ``$XDG_CACHE_HOME/ai-shock-bot/calendars`` (``~/.cache/...``).
    """
    chosen = os.environ.get("BOT_CALENDAR_CACHE")
    if chosen is not None:
        return Path(chosen) if chosen.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ai-shock-bot" / "calendars"


def _cache_file(folder: Path, code: str, end: date) -> Path:
    return folder / f"{code}-{CALENDAR_START}-{end.isoformat()}-xc{xc.__version__}.pickle"


def _load_cached(code: str, end: date) -> xc.ExchangeCalendar | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        data = _cache_file(folder, code, end).read_bytes()
    except OSError:
        return None
    try:
        # The file is this user's own cache, written by _store below; it is keyed by the
        # exchange_calendars version so a library upgrade never reads an older layout.
        loaded = pickle.loads(data)  # noqa: S301
    except Exception:  # a truncated or foreign file is rebuilt, never trusted
        log.debug("calendar cache for %s unreadable; rebuilding", code, exc_info=True)
        return None
    return loaded if isinstance(loaded, xc.ExchangeCalendar) else None


def _store(code: str, end: date, built: xc.ExchangeCalendar) -> None:
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as out:
            pickle.dump(built, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(out.name, _cache_file(folder, code, end))
    except OSError as exc:  # a read-only home: the calendar is simply built each start
        log.debug("calendar cache not written for %s: %s", code, exc)


def _build(code: str, end: date) -> xc.ExchangeCalendar:
    cached = _load_cached(code, end)
    if cached is not None:
        return cached
    try:
        built = xc.get_calendar(code, start=CALENDAR_START, end=end.isoformat())
    except xc.errors.InvalidCalendarName:
        raise UnknownCalendarError(f"unknown exchange calendar {code!r}") from None
    _store(code, end, built)
    return built


def calendar(code: str, today: date | None = None) -> xc.ExchangeCalendar:
    """The calendar for an ISO MIC code such as ``XNYS``, cached per process.

    It ends on 31 December two years after it was built and is rebuilt once ``today``
    (default: the current UTC date) comes within 180 days of its last session, so a
    long-running bot never runs out of sessions. Building one takes 0.2-0.3 s, so a built
    calendar is also kept on disk (see :func:`cache_dir`) for the next process.
    """
    today = datetime.now(UTC).date() if today is None else today
    cached = _CACHE.get(code)
    last = _LAST_SESSION.get(code)
    if cached is not None and last is not None and last - today > REBUILD_WITHIN:
        return cached
    with _LOCK:
        cached = _CACHE.get(code)
        if cached is not None and cached.last_session.date() - today > REBUILD_WITHIN:
            _LAST_SESSION[code] = cached.last_session.date()
            return cached
        built = _build(code, _end_for(today))
        _CACHE[code] = built
        _LAST_SESSION[code] = built.last_session.date()
        return built


def sessions(code: str, start: date, end: date) -> pd.DatetimeIndex:
    """Trading sessions from ``start`` to ``end`` (inclusive) as naive midnight dates."""
    cal = calendar(code)
    first = max(pd.Timestamp(start), cal.first_session)
    last = min(pd.Timestamp(end), cal.last_session)
    if first > last:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(cal.sessions_in_range(first, last))


@dataclass(frozen=True)
class _SessionTable:
    """A calendar's sessions as plain Python values, for lookups in a scan's hot path."""

    built_from: xc.ExchangeCalendar
    days: list[date]
    bounds: dict[date, tuple[datetime, datetime]]


_TABLES: dict[str, _SessionTable] = {}


def _table(code: str) -> _SessionTable:
    cal = calendar(code)
    table = _TABLES.get(code)
    if table is not None and table.built_from is cal:
        return table
    schedule = cal.schedule
    opens = pd.DatetimeIndex(schedule["open"]).tz_convert("UTC").to_pydatetime()
    closes = pd.DatetimeIndex(schedule["close"]).tz_convert("UTC").to_pydatetime()
    days = [stamp.date() for stamp in schedule.index]
    table = _SessionTable(cal, days, dict(zip(days, zip(opens, closes, strict=True), strict=True)))
    _TABLES[code] = table
    return table


def session_bounds(code: str, session: date) -> tuple[datetime, datetime]:
    """The regular open and close of ``session`` in UTC.

    Raises:
        KeyError: ``session`` is not a trading session of the calendar.
    """
    return _table(code).bounds[session]


def sessions_between(code: str, start: date, end: date) -> list[date]:
    """Trading sessions from ``start`` to ``end`` (inclusive), as dates."""
    days = _table(code).days
    return days[bisect_left(days, start) : bisect_right(days, end)]
