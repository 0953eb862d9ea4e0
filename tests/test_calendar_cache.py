"""Built exchange calendars are kept on disk so the next process starts without rebuilding."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.detection import calendars

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 12, 7)


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("BOT_CALENDAR_CACHE", str(tmp_path))
    monkeypatch.setattr(calendars, "_CACHE", {})
    monkeypatch.setattr(calendars, "_TABLES", {})
    return tmp_path


def test_a_built_calendar_is_written_and_read_back(cache: Path) -> None:
    built = calendars.calendar("XNYS", today=TODAY)
    files = list(cache.glob("XNYS-*.pickle"))
    assert len(files) == 1
    assert "2028-12-31" in files[0].name

    calendars._CACHE.clear()
    loaded = calendars.calendar("XNYS", today=TODAY)

    assert loaded is not built
    assert loaded.last_session == built.last_session == pd.Timestamp("2028-12-29")
    monday = pd.Timestamp("2025-01-27")
    assert loaded.session_open(monday) == pd.Timestamp("2025-01-27 14:30", tz="UTC")
    assert loaded.previous_session(monday) == pd.Timestamp("2025-01-24")


def test_a_damaged_cache_file_is_rebuilt_and_replaced(cache: Path) -> None:
    calendars.calendar("XTKS", today=TODAY)
    (path,) = cache.glob("XTKS-*.pickle")
    path.write_bytes(b"not a pickle")
    calendars._CACHE.clear()

    cal = calendars.calendar("XTKS", today=TODAY)

    assert cal.is_session(pd.Timestamp("2025-01-27"))
    assert path.read_bytes() != b"not a pickle"


def test_an_empty_setting_turns_the_cache_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOT_CALENDAR_CACHE", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(calendars, "_CACHE", {})

    calendars.calendar("XETR", today=TODAY)

    assert calendars.cache_dir() is None
    assert list(tmp_path.rglob("*.pickle")) == []


def test_an_unwritable_cache_only_costs_the_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("BOT_CALENDAR_CACHE", str(blocker / "calendars"))
    monkeypatch.setattr(calendars, "_CACHE", {})

    assert calendars.calendar("XNYS", today=TODAY).is_session(pd.Timestamp("2025-01-27"))


def test_a_second_process_reads_the_first_ones_calendar(tmp_path: Path) -> None:
    script = (
        "import time; from bot.detection import calendars; t = time.perf_counter(); "
        "calendars.calendar('XNYS'); print(round(time.perf_counter() - t, 3))"
    )
    env = {"BOT_CALENDAR_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run() -> None:
        subprocess.run(
            [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, check=True, timeout=60
        )

    run()
    (path,) = tmp_path.glob("XNYS-*.pickle")
    written = path.stat().st_mtime_ns
    run()
    assert path.stat().st_mtime_ns == written


SESSIONS_IN_A_FRESH_PROCESS = """
import sys
from datetime import date
from bot.detection import calendars
days = calendars.sessions_between("XNYS", date(2025, 1, 24), date(2025, 1, 28))
print([d.isoformat() for d in days], "exchange_calendars" in sys.modules)
"""


def test_session_lookups_read_their_table_without_the_calendar_library(tmp_path: Path) -> None:
    env = {"BOT_CALENDAR_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def fresh() -> str:
        done = subprocess.run(
            [sys.executable, "-c", SESSIONS_IN_A_FRESH_PROCESS],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout.strip()

    days = "['2025-01-24', '2025-01-27', '2025-01-28']"
    assert fresh() == f"{days} True"  # the first process builds the calendar and its table
    assert len(list(tmp_path.glob("XNYS-*.sessions"))) == 1
    assert fresh() == f"{days} False"  # the next one reads the table alone

    (table,) = tmp_path.glob("XNYS-*.sessions")
    table.write_bytes(b"damaged")
    assert fresh() == f"{days} True"  # a damaged table is built again and replaced
    assert table.read_bytes() != b"damaged"


def test_sessions_match_the_calendar_library(cache: Path) -> None:
    calendars._TABLES.clear()
    cal = calendars.calendar("XETR")
    for start, end in (
        (date(2015, 1, 1), date(2026, 8, 4)),
        (date(2025, 1, 25), date(2025, 1, 26)),
    ):
        expected = cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
        got = calendars.sessions("XETR", start, end)
        assert got.equals(pd.DatetimeIndex(expected))
        assert got.dtype == expected.dtype


def test_previous_session_and_schedule_match_the_calendar_library(cache: Path) -> None:
    cal = calendars.calendar("XNYS")
    for day in (date(2025, 1, 27), date(2025, 1, 21), date(2024, 11, 29)):
        expected = cal.previous_session(pd.Timestamp(day)).date()
        assert calendars.previous_session("XNYS", day) == expected
    with pytest.raises(ValueError, match="not a XNYS session"):
        calendars.previous_session("XNYS", date(2025, 1, 25))  # a Saturday
    closes = calendars.session_schedule("XNYS", "close")
    expected_closes = pd.DatetimeIndex(cal.schedule["close"]).tz_convert("UTC")
    assert closes.equals(pd.Series(expected_closes, index=cal.schedule.index))
