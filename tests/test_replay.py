"""The DeepSeek week replayed through scheduler maths, jobs, episodes, store and adapters."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.alerts import Alert, AlertKind
from bot.cli import main
from bot.config import load_config
from bot.detection.detect import Label, Severity
from bot.runtime.replay import run_replay
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.prices import PriceSeries
from bot.storage.store import Store
from tests.conftest import PRICES

CONFIG = load_config(None, {})


RECORDED = [PRICES / "hourly", PRICES / "daily_ohlcv", PRICES / "daily_close"]
"""Hourly bars, daily bars with opening prints, and the daily closes of the other names."""

Series = dict[str, PriceSeries]


@pytest.fixture(scope="module")
def hourly() -> Series:
    return dict(CsvPriceSource([PRICES / "hourly"]).load_all(end=date(2025, 2, 7)).series)


@pytest.fixture(scope="module")
def recorded() -> tuple[Series, Series]:
    daily, intraday = CsvPriceSource(RECORDED).load_intervals(end=date(2025, 2, 7))
    return dict(daily.series), dict(intraday.series)


def replay(
    series: Series, store: Store, start: date, end: date, intraday: Series | None = None
) -> list[Alert]:
    return asyncio.run(
        run_replay(CONFIG, series, store, [], start=start, end=end, intraday=intraday)
    )


def test_deepseek_alert_opens_at_10_30_new_york_and_is_not_repeated(
    recorded: tuple[Series, Series],
) -> None:
    daily, intraday = recorded
    alerts = replay(daily, Store(":memory:"), date(2025, 1, 21), date(2025, 1, 31), intraday)

    first = alerts[0]
    assert first.kind is AlertKind.OPEN
    assert first.label is Label.DIVERGENCE_DOWN
    assert first.severity is Severity.CRITICAL
    assert first.region == "us"
    # Hour by hour, the first scan of the session: the hourly bars that closed at 10:30 New
    # York and the opening prints of the names with daily bars only.
    assert first.fired_at.isoformat() == "2025-01-27T15:30:00+00:00"
    assert first.data_time.isoformat() == "2025-01-27T15:30:00+00:00"
    assert first.stats is not None
    assert first.stats.basket_ret < -0.05
    assert first.stats.basket_names >= 10
    assert {"VST", "CEG"} <= {m.symbol for m in first.top_movers}
    same_day = [a for a in alerts if a.fired_at.date() == date(2025, 1, 27)]
    assert same_day == [first]
    recoveries = [a for a in alerts if a.kind is AlertKind.RECOVER]
    assert [a.episode_id for a in recoveries] == [first.episode_id]
    assert recoveries[0].fired_at > first.fired_at
    assert all(a.fired_at.date() >= date(2025, 1, 27) for a in alerts)


def test_four_fresh_names_hold_a_divergence_at_watch(hourly: Series) -> None:
    alerts = replay(hourly, Store(":memory:"), date(2025, 1, 27), date(2025, 1, 27))

    first = alerts[0]
    assert (first.label, first.severity) == (Label.DIVERGENCE_DOWN, Severity.WATCH)
    assert first.stats is not None
    assert first.stats.basket_names == 4
    assert any(
        r == "rests on 4 fresh AI-infrastructure prices; critical needs 6: held at watch"
        for r in first.reasons
    )


def test_a_restart_mid_week_repeats_nothing(hourly: dict[str, PriceSeries], tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    store = Store(db)
    monday = replay(hourly, store, date(2025, 1, 21), date(2025, 1, 27))
    store.close()

    store = Store(db)  # the restart: the same file, episodes and sent alerts reloaded
    rest_of_week = replay(hourly, store, date(2025, 1, 28), date(2025, 1, 31))
    again = replay(hourly, store, date(2025, 1, 21), date(2025, 1, 31))
    store.close()

    assert [a.kind for a in monday] == [AlertKind.OPEN]
    assert [a.kind for a in rest_of_week] == [AlertKind.RECOVER]
    assert rest_of_week[0].episode_id == monday[0].episode_id
    assert again == []


def test_daily_replay_alerts_after_the_close(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "replay",
            "--prices",
            str(PRICES / "daily_close"),
            "--from",
            "2025-01-24",
            "--to",
            "2025-01-28",
            "--interval",
            "1d",
            "--json",
        ]
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert code == 0
    assert rows[0]["time"] == "2025-01-27T21:20:00+00:00"
    assert rows[0]["kind"] == "open"
    assert rows[0]["label"] == "ai_infra_divergence_down"
    assert rows[0]["severity"] == "critical"
    assert rows[0]["region"] == "us"
    assert rows[0]["top_movers"][0]["symbol"] == "VRT"


def test_a_month_of_hourly_scans_opens_each_shock_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """August 2024 hour by hour (before, 2024-08-02, 2024-08-05 and 2024-08-23 each opened
    twice): per session and direction at most one open, its escalations and one recovery."""
    code = main(
        [
            "replay",
            "--prices",
            str(PRICES / "hourly"),
            "--prices",
            str(PRICES / "daily_close"),
            "--from",
            "2024-07-29",
            "--to",
            "2024-08-27",
            "--interval",
            "1h",
            "--json",
        ]
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert code == 0
    kinds = Counter((row["episode"], row["kind"]) for row in rows)
    assert kinds, "the quarter has shocks"
    assert max(n for (_, kind), n in kinds.items() if kind != "escalate") == 1
    for row in rows:
        if row["kind"] == "open":  # the episode is the session's, opened once
            assert row["episode"].startswith(row["key"][:10])


def test_replay_cli_prints_readable_alerts(capsys: pytest.CaptureFixture[str]) -> None:
    prices = [arg for folder in RECORDED for arg in ("--prices", str(folder))]
    code = main(["replay", *prices, "--from", "2025-01-27", "--to", "2025-01-27"])
    out = capsys.readouterr().out

    assert code == 0
    assert "2025-01-27 15:30 UTC  CRITICAL: AI-infrastructure sell-off" in out
    assert "Top movers: VST" in out
    assert "\x1b[" not in out  # no colour codes when stdout is not a terminal


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-02-01", "--to", "2025-01-01"], "--from is after --to"),
        (
            ["--prices", "/nonexistent", "--from", "2025-01-01", "--to", "2025-01-02"],
            "/nonexistent",
        ),
        (
            ["--feeds", "/nonexistent", "--from", "2025-01-01", "--to", "2025-01-02"],
            "error: /nonexistent: no such file or directory",
        ),
    ],
)
def test_replay_bad_input(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--prices" not in args:
        args = ["--prices", str(PRICES / "daily_close"), *args]

    assert main(["replay", *args]) == 2
    assert message in capsys.readouterr().err


def test_demo_tells_the_story_tokyo_europe_new_york(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    opens = [r for r in rows if r["kind"] == "open"]
    assert [r["region"] for r in opens] == ["jp", "eu", "us_pre"]
    assert all(r["label"] == "ai_infra_divergence_down" for r in opens)
    jp, eu, us = (datetime.fromisoformat(r["data_time"]) for r in opens)
    # As the day travelled: during Tokyo's session, after Europe's open, before New York's.
    assert datetime(2025, 1, 27, 0, tzinfo=UTC) < jp < datetime(2025, 1, 27, 6, tzinfo=UTC)
    assert datetime(2025, 1, 27, 8, tzinfo=UTC) < eu < datetime(2025, 1, 27, 12, tzinfo=UTC)
    assert datetime(2025, 1, 27, 9, tzinfo=UTC) < us < datetime(2025, 1, 27, 14, 30, tzinfo=UTC)
    assert opens[-1]["agreeing_regions"] == ["eu", "jp"]
    us_alerts = [r for r in rows if r["region"] in ("us_pre", "us") and r["kind"] != "recover"]
    assert us_alerts[-1]["severity"] == "critical"
    assert {r["region"] for r in rows if r["kind"] == "recover"} == {"jp", "eu", "us"}


def test_demo_console_explains_what_is_real(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out

    assert "published figures" in out
    assert "simulated" in out.lower()
    assert "SIMULATED" in out
    assert "ALERT: AI-infrastructure sell-off while the market holds (US pre-market, new)" in out
    assert "(Tokyo, new)" in out
