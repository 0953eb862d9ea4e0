"""Charts: what they show (from stored readings and region histories) and the PNG they make."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib.image import imread

from bot.alerts import Alert, AlertKind
from bot.detection.detect import Label, Mover, Severity, Stats
from bot.render.chart_data import PathPoint, alert_chart
from bot.render.charts import MAX_BYTES, ChartData, ChartError, ChartLine, chart_words, render_png
from tests.conftest import PRICES, PROJECT_ROOT
from tests.factories import DEEPSEEK_STATS

OPEN = datetime(2025, 1, 27, 14, 30, tzinfo=UTC)


def _stats() -> Stats:
    movers = (
        Mover("NVDA", -0.17, -7.0),
        Mover("AVGO", -0.17, -6.0),
        Mover("VST", -0.28, -8.0),
        Mover("AAPL", 0.032, 1.5),
    )
    return replace(
        DEEPSEEK_STATS, basket_ret=-0.061, control_ret=-0.019, software_ret=0.004, top_movers=movers
    )


def _alert(drill: bool = False) -> Alert:
    return Alert(
        key="us:2025-01-27:divergence:down:open",
        episode_id="us:2025-01-27:divergence:down",
        kind=AlertKind.OPEN,
        label=Label.DIVERGENCE_DOWN,
        severity=Severity.CRITICAL,
        region="us",
        direction="down",
        fired_at=OPEN + timedelta(minutes=65),
        data_time=OPEN + timedelta(minutes=60),
        stats=_stats(),
        drill=drill,
    )


def _points() -> list[PathPoint]:
    return [
        PathPoint(OPEN + timedelta(minutes=5), -0.040, -0.022, -0.007),
        PathPoint(OPEN + timedelta(minutes=60), -0.061, -0.019, 0.004),
        PathPoint(OPEN + timedelta(minutes=120), -0.070, -0.015, 0.006),  # after the alert
        PathPoint(OPEN - timedelta(hours=6), -0.5, -0.5, -0.5),  # another session
    ]


def test_an_alert_chart_starts_at_the_previous_close_and_stops_at_the_alert() -> None:
    data = alert_chart(_alert(), _points(), OPEN, "en")

    basket = next(line for line in data.lines if line.role == "basket")
    assert basket.times == (OPEN, OPEN + timedelta(minutes=5), OPEN + timedelta(minutes=60))
    assert basket.values == (0.0, -0.040, -0.061)
    assert {line.role for line in data.lines} == {"basket", "control", "software"}
    assert [bar.label for bar in data.bars] == ["NVDA", "AVGO", "VST", "AAPL"]
    assert data.mark is None
    assert "2025-01-27 15:30" in data.footer
    assert "5 min" in data.footer


def test_a_drill_chart_says_so_in_both_languages() -> None:
    assert alert_chart(_alert(drill=True), _points(), OPEN, "en").mark == "DRILL"
    german = alert_chart(_alert(drill=True), _points(), OPEN, "de")
    assert german.mark == "ÜBUNG"
    assert "KI-Infrastruktur" in chart_words(german, "de")


def test_the_words_say_the_numbers() -> None:
    words = chart_words(alert_chart(_alert(), _points(), OPEN, "en"), "en")

    assert "-6.1%" in words
    assert "-1.9%" in words
    assert "NVDA -17.0%" in words
    assert "VST -28.0%" in words


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_png_is_1200_by_675_and_small(language: str) -> None:
    data = alert_chart(_alert(drill=True), _points(), OPEN, language)  # type: ignore[arg-type]

    png = render_png(data, language)  # type: ignore[arg-type]

    assert png.startswith(b"\x89PNG")
    assert len(png) < MAX_BYTES
    height, width, _ = imread(io.BytesIO(png)).shape
    assert (width, height) == (1200, 675)


def test_a_chart_without_a_path_is_refused() -> None:
    empty = ChartData(
        title="t",
        subtitle="s",
        lines=(ChartLine("basket", "b", (OPEN,), (0.0,)),),
        bars=(),
        data_time=OPEN,
        footer="f",
    )
    with pytest.raises(ChartError):
        render_png(empty, "en")


# --- python -m bot chart, as a user runs it ------------------------------------------------

RECORDED = [
    arg
    for folder in ("hourly", "daily_ohlcv", "daily_close")
    for arg in ("--prices", str(PRICES / folder))
]


def _chart_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "chart", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_chart_file(path: Path) -> None:
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) < MAX_BYTES
    height, width, _ = imread(io.BytesIO(png)).shape
    assert (width, height) == (1200, 675)


def test_the_chart_command_draws_deepseek_monday(tmp_path: Path) -> None:
    out = tmp_path / "charts" / "c.png"

    done = _chart_cli(*RECORDED, "--date", "2025-01-27", "--out", str(out))

    assert done.returncode == 0, done.stderr
    words, wrote = done.stdout.splitlines()
    assert words.startswith(
        "AI-infrastructure sell-off while the market holds (US session): AI infrastructure -"
    )
    assert "Top movers: " in words
    assert wrote.startswith(f"wrote {out} (")
    _assert_chart_file(out)


def test_the_chart_command_draws_one_name_in_german(tmp_path: Path) -> None:
    out = tmp_path / "nvda.png"

    done = _chart_cli(
        *RECORDED, "--date", "2025-01-27", "--symbol", "nvda", "--language", "de", "--out", str(out)
    )

    assert done.returncode == 0, done.stderr
    assert "NVDA -16,9 %" in done.stdout
    assert "KI-Infrastruktur -" in done.stdout
    _assert_chart_file(out)

    month = tmp_path / "month.png"
    done = _chart_cli(
        *RECORDED, "--date", "2025-01-31", "--symbol", "NVDA", "--range", "1m", "--out", str(month)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("NVDA, last month (US session): NVDA -")
    _assert_chart_file(month)


def test_the_chart_command_says_what_is_wrong(tmp_path: Path) -> None:
    saturday = _chart_cli(*RECORDED, "--date", "2025-01-25", "--out", str(tmp_path / "s.png"))
    assert saturday.returncode == 2
    assert "error: no scans of us on 2025-01-25" in saturday.stderr
    assert "Traceback" not in saturday.stderr
    assert not (tmp_path / "s.png").exists()

    missing = _chart_cli(
        "--prices",
        str(tmp_path / "nowhere"),
        "--date",
        "2025-01-27",
        "--out",
        str(tmp_path / "m.png"),
    )
    assert missing.returncode == 2
    assert "error: " in missing.stderr
    assert "Traceback" not in missing.stderr
