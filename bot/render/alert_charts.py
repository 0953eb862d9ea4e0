"""An alert's chart in every language, drawn from the readings its region's scans stored, and
the personal copies of a divergence alert for chats with a saved portfolio."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from bot.alerts import Alert, AlertKind
from bot.detection.portfolio import portfolio_move
from bot.detection.regions import ScanRegion, window
from bot.render.chart_data import SHOCK_LABELS, PathPoint, alert_chart
from bot.render.charts import ChartImage, chart_words, render_png
from bot.render.i18n import LANGUAGES, Language, translate
from bot.storage.store import Store
from bot.universe import Universe

log = logging.getLogger(__name__)

PERSONAL_CHARTS = 5
"""Chats whose chart also marks their portfolio's line, per alert: each takes ~0.2 s to draw
before the alert is stored, so beyond these the chats get the shared chart (their text still
carries their portfolio's line)."""


def is_charted(alert: Alert) -> bool:
    """Divergence and broad alerts that open or escalate an episode carry a chart."""
    return (
        alert.kind is not AlertKind.RECOVER
        and alert.label in SHOCK_LABELS
        and alert.stats is not None
    )


def _draw(
    alert: Alert,
    points: Sequence[PathPoint],
    opened: datetime,
    language: Language,
    level: tuple[str, float] | None = None,
) -> ChartImage:
    data = alert_chart(alert, points, opened, language, level=level)
    return ChartImage(render_png(data, language), chart_words(data, language))


def draw_all(alert: Alert, points: Sequence[PathPoint], opened: datetime) -> dict[str, ChartImage]:
    """The alert's chart in every language (blocking: matplotlib)."""
    return {lang: _draw(alert, points, opened, lang) for lang in LANGUAGES}


@dataclass(frozen=True)
class PersonalAlert:
    """A chat's own copy of an alert: with its portfolio's line (and maybe its own chart)."""

    platform: str
    chat_id: str
    language: Language
    alert: Alert
    chart: ChartImage | None = None


class AlertCharter:
    """Draws the charts of the alerts a scan raised, off the event loop; a chart that cannot
    be drawn is left out (logged) and the alert goes as text."""

    def __init__(self, store: Store, universe: Universe) -> None:
        self.store = store
        self.universe = universe

    def _path(
        self, alert: Alert, region: ScanRegion, session: date
    ) -> tuple[list[PathPoint], datetime]:
        opened = window(region, session).start
        bodies = self.store.readings_between(alert.region, opened, alert.data_time)
        return [p for p in map(PathPoint.from_reading, bodies) if p is not None], opened

    async def charts(
        self, alert: Alert, region: ScanRegion, session: date
    ) -> dict[str, ChartImage] | None:
        if not is_charted(alert):
            return None
        try:
            points, opened = self._path(alert, region, session)
            return await asyncio.to_thread(draw_all, alert, points, opened)
        except Exception as exc:
            log.warning(
                "alert %s goes without its chart: %s: %s", alert.key, type(exc).__name__, exc
            )
            return None

    async def personal(
        self, alert: Alert, region: ScanRegion, session: date
    ) -> list[PersonalAlert]:
        """Copies of a divergence alert for every subscribed chat with a saved portfolio that
        has a price in it; the first :data:`PERSONAL_CHARTS` of them with their own chart."""
        if not (is_charted(alert) and alert.label.is_divergence and alert.stats is not None):
            return []
        moves = alert.stats.moves
        out: list[PersonalAlert] = []
        estimates: list[float] = []
        for platform, chat_id, language, positions in self.store.subscribed_portfolios():
            move = portfolio_move(positions, moves, self.universe)
            if move is not None:
                copy = replace(alert, portfolio=move)
                out.append(PersonalAlert(platform, chat_id, language, copy))
                estimates.append(move.estimate)
        if not out:
            return out
        try:
            points, opened = self._path(alert, region, session)
            for n, item in enumerate(out[:PERSONAL_CHARTS]):
                level = (translate(item.language, "chart.portfolio"), estimates[n])
                chart = await asyncio.to_thread(
                    _draw, item.alert, points, opened, item.language, level
                )
                out[n] = replace(item, chart=chart)
        except Exception as exc:
            log.warning(
                "alert %s: portfolio charts not drawn: %s: %s", alert.key, type(exc).__name__, exc
            )
        return out
