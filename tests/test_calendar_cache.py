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
