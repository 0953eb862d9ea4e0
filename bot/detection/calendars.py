"""Exchange calendars (sessions, holidays, early closes, DST) through ``exchange_calendars``.

Two things are kept on disk between processes (see :func:`cache_dir`): the built calendars,
and each calendar's sessions with their opens and closes as plain values. Session lookups
(:func:`sessions`, :func:`sessions_between`, :func:`session_bounds`) read the latter and
never import ``exchange_calendars`` (0.07-0.09 s of a backtest's start) unless a table has to
be built.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import sys
import tempfile
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import exchange_calendars as xc

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


def _library_stamp() -> str:
    """Which ``exchange_calendars`` is installed, without importing it: its version when
    loaded, else its package file's size and time (an upgrade changes both)."""
    loaded = sys.modules.get("exchange_calendars")
    spec = importlib.util.find_spec("exchange_calendars")
    if spec is None or spec.origin is None:
        return getattr(loaded, "__version__", "none")
    stat = os.stat(spec.origin)
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def _cache_file(folder: Path, code: str, end: date, kind: str = "pickle") -> Path:
    return folder / f"{code}-{CALENDAR_START}-{end.isoformat()}-xc{_library_stamp()}.{kind}"


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
    import exchange_calendars as xc

    return loaded if isinstance(loaded, xc.ExchangeCalendar) else None


def _store(code: str, end: date, value: object, kind: str = "pickle") -> None:
    """Keep a built calendar (or, ``kind="sessions"``, its table) for the next process."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(out.name, _cache_file(folder, code, end, kind))
    except OSError as exc:  # a read-only home: the calendar is simply built each start
        log.debug("calendar cache not written for %s: %s", code, exc)


def _build(code: str, end: date) -> xc.ExchangeCalendar:
    import exchange_calendars as xc

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
    days = sessions_between(code, _as_date(start), _as_date(end))
    return pd.DatetimeIndex(np.array(days, dtype="datetime64[D]").astype("datetime64[ns]"))


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class _SessionTable:
    """A calendar's sessions as plain Python values, for lookups in a scan's hot path."""

    days: list[date]
    bounds: dict[date, tuple[datetime, datetime]]


_TABLES: dict[str, _SessionTable] = {}


def _load_table(code: str, end: date) -> _SessionTable | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        data = _cache_file(folder, code, end, "sessions").read_bytes()
        # This user's own cache, written by _table below (plain dates and datetimes).
        days, bounds = pickle.loads(data)  # noqa: S301
    except Exception:  # missing, truncated or foreign: built again
        return None
    if not isinstance(days, list) or not isinstance(bounds, dict) or not days:
        return None
    return _SessionTable(days, bounds)


def _table(code: str, today: date | None = None) -> _SessionTable:
    today = datetime.now(UTC).date() if today is None else today
    table = _TABLES.get(code)
    if table is not None and table.days[-1] - today > REBUILD_WITHIN:
        return table
    end = _end_for(today)
    table = _load_table(code, end)
    if table is None or table.days[-1] - today <= REBUILD_WITHIN:
        schedule = calendar(code, today).schedule
        opens = pd.DatetimeIndex(schedule["open"]).tz_convert("UTC").to_pydatetime()
        closes = pd.DatetimeIndex(schedule["close"]).tz_convert("UTC").to_pydatetime()
        days = [stamp.date() for stamp in schedule.index]
        table = _SessionTable(days, dict(zip(days, zip(opens, closes, strict=True), strict=True)))
        _store(code, end, (table.days, table.bounds), "sessions")
    _TABLES[code] = table
    return table


def session_bounds(code: str, session: date) -> tuple[datetime, datetime]:
    """The regular open and close of ``session`` in UTC.

    Raises:
        KeyError: ``session`` is not a trading session of the calendar.
    """
    return _table(code).bounds[session]


def previous_session(code: str, session: date) -> date:
    """The trading session before ``session``.

    Raises:
        ValueError: ``session`` is not a trading session of the calendar (or its first).
    """
    days = _table(code).days
    at = bisect_left(days, session)
    if at == 0 or at == len(days) or days[at] != session:
        raise ValueError(f"{session} is not a {code} session with one before it")
    return days[at - 1]


def session_schedule(code: str, which: str) -> pd.Series:
    """Each session's UTC ``which`` ("open" or "close"), indexed by the session (naive
    midnight), as ``calendar(code).schedule`` has them."""
    table = _table(code)
    at = 0 if which == "open" else 1
    times = pd.DatetimeIndex([table.bounds[day][at] for day in table.days]).as_unit("ns")
    days = np.array(table.days, dtype="datetime64[D]").astype("datetime64[ns]")
    return pd.Series(times, index=pd.DatetimeIndex(days))


def sessions_between(code: str, start: date, end: date) -> list[date]:
    """Trading sessions from ``start`` to ``end`` (inclusive), as dates."""
    days = _table(code).days
    return days[bisect_left(days, start) : bisect_right(days, end)]
