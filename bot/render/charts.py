"""Charts as PNG images: a neutral description (:class:`ChartData`) drawn with matplotlib.

The figure is built with matplotlib's object API (``Figure`` and the Agg canvas, never
``pyplot``: pyplot keeps every figure in a global registry, which leaks in a long-running
server) and is meant to run in a worker thread. Images are 1200x675 pixels on an opaque
background, so they read the same on a chat's dark and light themes; the words that go with
an image (caption, alt text) come from :func:`chart_words`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from bot.render.i18n import Language, percent, translate

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.ticker import FuncFormatter

Role = Literal["basket", "control", "software", "symbol", "portfolio"]

WIDTH_PX, HEIGHT_PX, DPI = 1200, 675, 100
MAX_BYTES = 1_000_000
"""Telegram takes photos up to 10 MB and Discord attachments up to 10 MB; a chart stays far
below, so a fan-out to thousands of chats uploads little."""

_BACKGROUND = "#16191f"
_PANEL = "#1e232b"
_GRID = "#39414d"
_TEXT = "#e8ebf0"
_MUTED = "#9aa3af"
_COLOURS: dict[Role, str] = {
    "basket": "#ff6b5e",  # the AI-infrastructure basket: the line the alert is about
    "symbol": "#f4f6fa",
    "control": "#8fb8ff",
    "software": "#7ee2a8",
    "portfolio": "#ffd166",
}
_UP, _DOWN = "#4cc38a", "#ff6b5e"


@dataclass(frozen=True)
class ChartLine:
    """One line: a return path since the chart's base (fractions, 0.05 = +5 %)."""

    role: Role
    label: str
    times: tuple[datetime, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class ChartBar:
    """One bar of the movers panel: a name and its return (a fraction)."""

    label: str
    value: float


@dataclass(frozen=True)
class ChartData:
    """What a chart shows, already in the reader's language.

    Attributes:
        title: the first line on the image.
        subtitle: what the lines are measured from ("since the previous close").
        lines: the return paths.
        bars: the top movers (empty: no movers panel).
        data_time: the time of the newest price shown (UTC).
        footer: data time, delay and source, printed at the bottom.
        mark: ``DRILL`` across the image for a drill; ``None`` for live and recorded prices.
        level: a horizontal line and its label (a portfolio's estimated move).
        key: identifies the chart for caching (episode and reading, or symbol and range).
        time_axis: what the time axis is in (``UTC`` for a session's hours).
    """

    title: str
    subtitle: str
    lines: tuple[ChartLine, ...]
    bars: tuple[ChartBar, ...]
    data_time: datetime
    footer: str
    mark: str | None = None
    level: tuple[str, float] | None = None
    key: str = ""
    time_axis: str = ""
    """The time axis's unit ("UTC" for a session's hours)."""


@dataclass(frozen=True)
class ChartImage:
    """A drawn chart and its numbers in words (caption, alt text)."""

    png: bytes
    words: str


class ChartError(ValueError):
    """The data cannot make a chart (no line has two points)."""


def _percent_ticks(language: Language, digits: int | None = None) -> FuncFormatter:
    """Tick labels as percentages; by default whole ones from 10 % up."""
    from matplotlib.ticker import FuncFormatter

    def label(value: float, _: object) -> str:
        if abs(value) < 1e-9:
            return "0 %" if language == "de" else "0%"
        whole = abs(value * 100 - round(value * 100)) < 1e-6
        places = digits if digits is not None else (0 if whole else 1)
        return percent(language, value, places)

    return FuncFormatter(label)


def _style(axes: Axes) -> None:
    axes.set_facecolor(_PANEL)
    axes.tick_params(colors=_MUTED, labelsize=11)
    axes.grid(True, color=_GRID, linewidth=0.6, alpha=0.8)
    for spine in axes.spines.values():
        spine.set_color(_GRID)


def _draw_lines(axes: Axes, data: ChartData, language: Language) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    for line in data.lines:
        if not line.values:
            continue
        axes.plot(
            list(line.times),  # type: ignore[arg-type]  # matplotlib's date converter
            line.values,
            color=_COLOURS[line.role],
            linewidth=3.0 if line.role in ("basket", "symbol") else 2.0,
            label=f"{line.label} {percent(language, line.values[-1])}",
            marker="o" if len(line.values) < 12 else None,
            markersize=4,
        )
    axes.axhline(0, color=_MUTED, linewidth=0.8)
    if data.level is not None:
        label, value = data.level
        axes.axhline(
            value,
            color=_COLOURS["portfolio"],
            linewidth=2.0,
            linestyle="--",
            label=f"{label} {percent(language, value)}",
        )
    locator = AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    concise = ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator,
        formats=["%Y", "%Y-%m", "%d", "%H:%M", "%H:%M", "%S"],
        offset_formats=[
            "",
            "%Y",
            "%Y-%m",
            *(f"%Y-%m-%d {data.time_axis}".rstrip() for _ in range(2)),
            f"%Y-%m-%d %H:%M {data.time_axis}".rstrip(),
        ],
    )
    axes.xaxis.set_major_formatter(concise)
    axes.yaxis.set_major_formatter(_percent_ticks(language))
    # Below the plot, in one row: inside it, the legend would hide a line's lows or highs.
    legend = axes.legend(
        loc="upper left",
        bbox_to_anchor=(0.0, -0.09),
        ncol=min(len(data.lines) + (data.level is not None), 4),
        fontsize=11,
        frameon=False,
    )
    for text in legend.get_texts():
        text.set_color(_TEXT)


def _draw_bars(axes: Axes, bars: Sequence[ChartBar], language: Language) -> None:
    from matplotlib.ticker import MaxNLocator

    ordered = sorted(bars, key=lambda bar: bar.value)
    positions = list(range(len(ordered)))
    values = [bar.value for bar in ordered]
    axes.barh(positions, values, color=[_UP if v >= 0 else _DOWN for v in values], height=0.65)
    labels = [f"{bar.label} {percent(language, bar.value)}" for bar in ordered]
    axes.set_yticks(positions, labels, color=_TEXT, fontsize=12)
    low, high = min([*values, 0.0]), max([*values, 0.0])
    pad = (high - low) * 0.08 or 0.01
    axes.set_xlim(low - pad, high + pad)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=3))
    axes.xaxis.set_major_formatter(_percent_ticks(language, digits=0))
    axes.grid(False, axis="y")
    axes.axvline(0, color=_MUTED, linewidth=0.8)
    axes.set_title(translate(language, "chart.movers"), color=_TEXT, fontsize=13, loc="left")


def render_png(data: ChartData, language: Language) -> bytes:
    """The chart as a PNG of 1200x675 pixels (at most :data:`MAX_BYTES`).

    Raises:
        ChartError: no line has two points to draw.
    """
    if not any(len(line.values) >= 2 for line in data.lines):
        raise ChartError("no price path to draw")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor=_BACKGROUND)
    FigureCanvasAgg(figure)
    if data.bars:
        grid = figure.add_gridspec(1, 2, width_ratios=(2.5, 1), wspace=0.32)
        paths, movers = figure.add_subplot(grid[0]), figure.add_subplot(grid[1])
        _style(movers)
        _draw_bars(movers, data.bars, language)
    else:
        paths = figure.add_subplot()
    _style(paths)
    _draw_lines(paths, data, language)
    figure.subplots_adjust(left=0.07, right=0.97, top=0.84, bottom=0.24)
    figure.text(0.07, 0.94, data.title, color=_TEXT, fontsize=19, weight="bold")
    figure.text(0.07, 0.895, data.subtitle, color=_MUTED, fontsize=13)
    figure.text(0.07, 0.025, data.footer, color=_MUTED, fontsize=10)
    if data.mark:
        figure.text(
            0.5,
            0.5,
            data.mark,
            color=_TEXT,
            alpha=0.13,
            fontsize=110,
            weight="bold",
            ha="center",
            va="center",
            rotation=18,
        )
        figure.text(0.97, 0.94, data.mark, color="#ffd166", fontsize=17, weight="bold", ha="right")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, facecolor=_BACKGROUND)
    png = out.getvalue()
    if len(png) > MAX_BYTES:  # pragma: no cover - a 1200x675 chart is ~100 KB
        raise ChartError(f"chart of {len(png)} bytes is over {MAX_BYTES}")
    return png


def chart_words(data: ChartData, language: Language) -> str:
    """The chart's numbers in words, for a caption or an image's alt text."""
    moves = [
        translate(language, "chart.words.line", label=line.label, move=percent(language, v[-1]))
        for line in data.lines
        if (v := line.values)
    ]
    text = f"{data.title}: " + "; ".join(moves)
    if data.bars:
        movers = ", ".join(f"{bar.label} {percent(language, bar.value)}" for bar in data.bars)
        text += ". " + translate(language, "chart.words.movers", movers=movers)
    if data.level is not None:
        text += f". {data.level[0]} {percent(language, data.level[1])}"
    return f"{text}. {data.footer}"
