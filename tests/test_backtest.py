"""The backtest on the real history in ../shared/data: labelled days, quiet days, splits."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.cli import main
from bot.detection.backtest import BacktestResult, run_backtest
from bot.detection.calendars import sessions
from bot.detection.detect import DetectorParams, Label, Reading, Severity
from bot.sources.csv_prices import CsvPriceSource
from bot.universe import load_universe
from tests.conftest import PRICES, SHARED_DATA

UNIVERSE = load_universe()


def backtest(folder: str, start: date | None = None, end: date | None = None) -> BacktestResult:
    batch = CsvPriceSource([PRICES / folder]).load_all()
    return run_backtest(batch.series, UNIVERSE, DetectorParams(), start=start, end=end)


def by_date(result: BacktestResult) -> dict[date, Reading]:
    return {r.as_of.date(): r for r in result.readings}


@pytest.fixture(scope="module")
def daily_close() -> dict[date, Reading]:
    return by_date(backtest("daily_close"))


def dev_labels() -> list[dict[str, str]]:
    with (SHARED_DATA / "events" / "dev_labels.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("row", dev_labels(), ids=lambda row: f"{row['date']}-{row['label']}")
def test_reproduces_labelled_days(daily_close: dict[date, Reading], row: dict[str, str]) -> None:
    reading = daily_close[date.fromisoformat(row["date"])]

    assert reading.label.value == row["label"], reading.reasons
    assert reading.severity >= Severity.parse(row["min_severity"])


def test_quiet_days_push_nothing_above_watch(daily_close: dict[date, Reading]) -> None:
    closes = {
        s: series.closes
        for s, series in CsvPriceSource([PRICES / "daily_close"]).load_all().series.items()
    }
    rets = pd.DataFrame(closes).pct_change(fill_method=None).loc["2023-01-01":"2025-12-31"]
    infra = [s for s in UNIVERSE.baskets("us").infra if s in rets.columns]
    spy = rets["SPY"]
    median = rets[infra].median(axis=1)
    quiet = (
        (spy.abs() < 0.0075)
        & ((median - spy).abs() < 0.015)
        & (rets[infra].abs().max(axis=1) < 0.08)
    )
    quiet_days = [d.date() for d in rets.index[quiet]]
    assert len(quiet_days) > 200

    loud = [d for d in quiet_days if daily_close[d].severity > Severity.WATCH]

    assert len(loud) <= 0.01 * len(quiet_days), loud


def test_every_session_has_a_reading_and_undecided_ones_say_why(
    daily_close: dict[date, Reading],
) -> None:
    expected = sessions("XNYS", date(2015, 1, 2), date(2026, 8, 3))
    assert len(daily_close) == len(expected)
    undecided = [r for r in daily_close.values() if r.label is Label.NO_DECISION]
    assert undecided, "the first sessions cannot have a baseline"
    assert all(r.reasons and r.reasons[0] for r in undecided)


def test_deepseek_day_names_the_hardest_hit(daily_close: dict[date, Reading]) -> None:
    reading = daily_close[date(2025, 1, 27)]
    movers = {m.symbol for m in reading.top_movers}

    assert {"VST", "ANET"} <= movers
    assert reading.stats is not None
    assert reading.stats.basket_ret < -0.10


def test_unadjusted_set_finds_deepseek_and_ignores_the_splits() -> None:
    readings = by_date(backtest("daily_unadjusted"))

    assert readings[date(2025, 1, 27)].label is Label.DIVERGENCE_DOWN
    assert readings[date(2025, 1, 27)].severity >= Severity.ALERT
    for split_day in (date(2024, 6, 10), date(2024, 7, 15), date(2024, 10, 1)):
        reading = readings[split_day]
        assert reading.severity is Severity.NONE, (split_day, reading.reasons)
        for mover in reading.top_movers:
            assert abs(mover.ret) < 0.2, (split_day, mover)


def test_hourly_bars_collapse_to_sessions_and_find_deepseek() -> None:
    readings = by_date(backtest("hourly", start=date(2025, 1, 21), end=date(2025, 1, 31)))

    assert readings[date(2025, 1, 27)].label is Label.DIVERGENCE_DOWN
    assert [d for d, r in readings.items() if r.severity > Severity.WATCH] == [date(2025, 1, 27)]


def data_sets() -> list[Path]:
    return sorted({p.parent for p in PRICES.rglob("*.csv")})


@pytest.mark.parametrize("folder", data_sets(), ids=lambda p: str(p.relative_to(PRICES)))
def test_every_data_set_runs_through_the_cli(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backtest", "--prices", str(folder), "--json", "--from", "2024-12-02"])
    out = capsys.readouterr().out.splitlines()

    assert code == 0
    rows = [json.loads(line) for line in out]
    assert rows
    assert all(row["date"] >= "2024-12-02" for row in rows)
    for row in rows:
        assert {
            "date",
            "label",
            "severity",
            "z_div",
            "z_mkt",
            "breadth",
            "coverage",
            "top_movers",
        } <= row.keys()
        if row["label"] == "no_decision":
            assert row["reasons"], row


def test_json_stdout_holds_only_json_one_line_per_us_session(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "backtest",
            "--prices",
            str(PRICES / "daily_close"),
            "--from",
            "2025-01-21",
            "--to",
            "2025-01-31",
            "--json",
        ]
    )
    captured = capsys.readouterr()

    assert code == 0
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["date"] for r in rows] == [
        "2025-01-21",
        "2025-01-22",
        "2025-01-23",
        "2025-01-24",
        "2025-01-27",
        "2025-01-28",
        "2025-01-29",
        "2025-01-30",
        "2025-01-31",
    ]
    deepseek = rows[4]
    assert deepseek["label"] == "ai_infra_divergence_down"
    assert deepseek["severity"] == "critical"
    assert deepseek["top_movers"][0]["symbol"] == "VRT"


def test_table_lists_shocks_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "backtest",
            "--prices",
            str(PRICES / "daily_close"),
            "--from",
            "2025-01-21",
            "--to",
            "2025-01-31",
        ]
    )
    out = capsys.readouterr().out

    assert code == 0
    assert "2025-01-27  ai_infra_divergence_down  critical" in out
    assert "2025-01-24" not in out  # quiet sessions only with --all
    assert "sessions per label and severity" in out


def test_long_table_shows_progress_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "backtest",
            "--prices",
            str(PRICES / "daily_close"),
            "--from",
            "2023-01-01",
            "--to",
            "2025-12-31",
        ]
    )
    captured = capsys.readouterr()

    assert "backtest 35 symbols [" in captured.err
    assert "[" not in captured.out.splitlines()[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prices", "/nonexistent/prices"], "/nonexistent/prices"),
        (["--prices", "DIR", "--from", "2025-02-01", "--to", "2025-01-01"], "--from is after"),
        (["--prices", "DIR", "--region", "mars"], "unknown region 'mars'"),
        (["--prices", "DIR", "--from", "2030-01-01"], "no session"),
    ],
)
def test_bad_backtest_input_exits_2_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(PRICES / "daily_close") if a == "DIR" else a for a in args]
    code = main(["backtest", *args])

    assert code == 2
    assert message in capsys.readouterr().err


def test_bad_date_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "--prices", "x", "--from", "27.01.2025"])

    assert exc.value.code == 2
    assert "not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_directory_without_price_files_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("no prices here")

    assert main(["backtest", "--prices", str(tmp_path)]) == 2
    assert "no readable price file" in capsys.readouterr().err
