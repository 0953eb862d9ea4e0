"""What a chart shows, from the bot's own data: an alert's session path from the readings its
scans stored, or a name's (or the basket's) path over a range from the region history.

Pure functions from data to :class:`~bot.render.charts.ChartData` in a reader's language;
drawing is :func:`bot.render.charts.render_png`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

import numpy as np

from bot.alerts import Alert
from bot.detection.detect import Label, Mover, Severity
from bot.detection.exposure import RegionHistory
from bot.render.charts import ChartBar, ChartData, ChartLine
from bot.render.i18n import Language, translate

RANGES: dict[str, int] = {"5d": 5, "1m": 21, "3m": 63, "1y": 250}
"""Chart ranges over daily closes, in sessions."""
SHOCK_LABELS = frozenset(
    {Label.DIVERGENCE_DOWN, Label.DIVERGENCE_UP, Label.BROAD_SELLOFF, Label.BROAD_RALLY}
)
"""Labels a chart is titled by; any other reading's chart says "no shock"."""


@dataclass(frozen=True)
class PathPoint:
    """One scan's moves since the previous close (fractions; ``None``: not measured)."""

    at: datetime
    basket: float | None
    control: float | None
    software: float | None
    names: int = 0
    """How many AI-infrastructure names the basket's median was taken over."""

    @classmethod
    def from_reading(cls, body: Mapping[str, object]) -> PathPoint | None:
        """A point from a stored reading (``Reading.as_dict``); ``None`` without numbers."""

        def value(key: str) -> float | None:
            raw = body.get(key)
            return float(raw) if isinstance(raw, int | float) and math.isfinite(raw) else None

        at = body.get("as_of")
        if not isinstance(at, str) or value("basket_ret") is None:
            return None
        names = body.get("basket_names")
        return cls(
            datetime.fromisoformat(at).astimezone(UTC),
            value("basket_ret"),
            value("control_ret"),
            value("software_ret"),
            names if isinstance(names, int) else 0,
        )


def stored_severity(body: Mapping[str, object]) -> Severity:
    """The severity of a stored reading (``none`` when it cannot be read)."""
    try:
        return Severity.parse(str(body.get("severity", "none")))
    except ValueError:
        return Severity.NONE


def stored_movers(body: Mapping[str, object]) -> list[Mover]:
    """The top movers of a stored reading (``Reading.as_dict``)."""
    raw = body.get("top_movers")
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("ret"), int | float):
            out.append(Mover(str(item.get("symbol")), float(item["ret"]), float(item.get("z", 0))))
    return out


def chart_mark(drill: bool, language: Language) -> str | None:
    """``DRILL`` in ``language`` for a drill's chart; ``None`` for live and recorded prices."""
    return translate(language, "chart.mark.drill") if drill else None


def _line(
    role: str, label: str, points: Sequence[tuple[datetime, float | None]]
) -> ChartLine | None:
    kept = [(at, v) for at, v in points if v is not None]
    if len(kept) < 2:
        return None
    return ChartLine(
        role,  # type: ignore[arg-type]
        label,
        tuple(at for at, _ in kept),
        tuple(v for _, v in kept),
    )


def _pairs(
    times: Sequence[datetime], values: Sequence[float | None]
) -> list[tuple[datetime, float | None]]:
    return list(zip(times, values, strict=True))


def _lines(
    language: Language,
    times: Sequence[datetime],
    basket: Sequence[float | None],
    control: Sequence[float | None],
    software: Sequence[float | None],
    first: tuple[str, str] | None = None,
) -> tuple[ChartLine, ...]:
    """The chart's lines: ``first`` (role, label) for the basket values (a symbol's chart puts
    the symbol there and the basket beside it)."""
    role, label = first or ("basket", translate(language, "chart.basket"))
    made = [
        _line(role, label, _pairs(times, basket)),
        _line(
            "control", translate(language, "chart.market"), list(zip(times, control, strict=True))
        ),
        _line(
            "software",
            translate(language, "chart.software"),
            _pairs(times, software),
        ),
    ]
    return tuple(line for line in made if line is not None)


def session_chart(
    label: str,
    region: str,
    points: Sequence[PathPoint],
    opened: datetime,
    until: datetime,
    movers: Sequence[Mover],
    footer: str,
    language: Language,
    *,
    mark: str | None = None,
    symbol: ChartLine | None = None,
    level: tuple[str, float] | None = None,
    key: str = "",
) -> ChartData:
    """A session's path of the basket, the market and AI software since the previous close:
    one point per scan from the window's start ``opened`` (at 0) up to ``until``, the movers
    as bars, and optionally one name's own path (``symbol``) drawn first."""
    kept = sorted((p for p in points if opened <= p.at <= until), key=lambda p: p.at)
    times = [opened, *(p.at for p in kept)]
    lines = _lines(
        language,
        times,
        [0.0, *(p.basket for p in kept)],
        [0.0, *(p.control for p in kept)],
        [0.0, *(p.software for p in kept)],
    )
    region_name = translate(language, f"region.{region}")
    if label in SHOCK_LABELS:
        title = translate(
            language,
            "chart.alert_title",
            label=translate(language, f"label.{label}"),
            region=region_name,
        )
    else:
        title = translate(language, "chart.calm_title", region=region_name)
    counts = sorted({p.names for p in kept if p.names})
    if counts:
        names = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        footer = f"{footer}. {translate(language, 'chart.basket_names', names=names)}"
    return ChartData(
        title=title,
        subtitle=translate(language, "chart.since_close"),
        lines=(symbol, *lines) if symbol is not None else lines,
        bars=tuple(ChartBar(m.symbol, m.ret) for m in movers[:8]),
        data_time=until,
        footer=footer,
        mark=mark,
        level=level,
        key=key,
        time_axis=translate(language, "chart.time_axis"),
    )


def alert_chart(
    alert: Alert,
    points: Sequence[PathPoint],
    opened: datetime,
    language: Language,
    *,
    level: tuple[str, float] | None = None,
) -> ChartData:
    """The chart of a divergence or broad alert: its session up to the alert's data time."""
    delay = max(0, round((alert.fired_at - alert.data_time).total_seconds() / 60))
    footer = translate(
        language, "chart.footer", time=f"{alert.data_time:%Y-%m-%d %H:%M}", delay=delay
    )
    return session_chart(
        alert.label.value,
        alert.region,
        points,
        opened,
        alert.data_time,
        alert.top_movers,
        footer,
        language,
        mark=chart_mark(alert.drill, language),
        level=level,
        key=f"{alert.key}:{language}",
    )


def symbol_line(symbol: str, times: Sequence[datetime], moves: Sequence[float]) -> ChartLine | None:
    """One name's path since the previous close (``moves`` as fractions), from 0 at the
    first time."""
    return _line("symbol", symbol, _pairs(list(times), list(moves)))


def _compounded(returns: np.ndarray) -> list[float | None]:
    """Cumulative compounded return after each session (a missing session adds nothing)."""
    filled = np.where(np.isfinite(returns), returns, 0.0)
    path = np.cumprod(1.0 + filled) - 1.0
    return [float(v) for v in path]


def range_chart(
    hist: RegionHistory,
    symbol: str | None,
    returns: np.ndarray | None,
    sessions: int,
    range_label: str,
    language: Language,
    *,
    drill: bool = False,
) -> ChartData:
    """A name's (``symbol`` with its session ``returns``) or the basket's (``symbol`` None)
    path over the last ``sessions`` closed sessions, beside the market and AI software."""
    count = min(sessions, len(hist.sessions) - 1)
    if count < 1:
        raise ValueError("not enough sessions for a chart")
    days = hist.sessions[-(count + 1) :]
    times = [datetime.combine(d.date(), time(0), UTC) for d in days]

    def path(series: np.ndarray) -> list[float | None]:
        return [0.0, *_compounded(series[-count:])]

    basket = path(hist.baskets.infra)
    control = path(hist.baskets.control)
    software = path(hist.baskets.software)
    if symbol is not None and returns is not None:
        lines = _lines(language, times, path(returns), control, software, ("symbol", symbol))
        extra = _line("basket", translate(language, "chart.basket"), _pairs(times, basket))
        lines = (*lines[:1], *((extra,) if extra else ()), *lines[1:])
        subject = symbol
    else:
        lines = _lines(language, times, basket, control, software)
        subject = translate(language, "chart.basket")
    last = hist.last_session
    title = translate(
        language,
        "chart.range_title",
        subject=subject,
        range=translate(language, f"chart.range.{range_label}"),
        region=translate(language, f"region.{hist.region}"),
    )
    return ChartData(
        title=title,
        subtitle=translate(language, "chart.since_day", day=f"{days[0].date():%Y-%m-%d}"),
        lines=lines,
        bars=(),
        data_time=datetime.combine(last, time(0), UTC),
        footer=translate(language, "chart.range_footer", day=f"{last:%Y-%m-%d}"),
        mark=chart_mark(drill, language),
        key=f"range:{hist.region}:{symbol or 'basket'}:{range_label}:{last}:{language}",
    )
