"""Which recent headlines explain an alert: the "why it fired" of divergence alerts.

Headlines never trigger a price alert; they are ranked by what they say about it: the themes of a
DeepSeek-style shock weigh most, then the names that moved most, then any basket name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from bot.alerts import Alert, Headline
from bot.storage.store import Store
from bot.universe import Universe

THEME_WEIGHTS = {
    "deepseek": 4.0,
    "export_controls": 3.0,
    "ai_capex": 3.0,
    "datacenter_power": 2.0,
    "tariffs": 1.5,
    "earnings": 1.0,
}
MOVER_WEIGHT = 2.0
BASKET_WEIGHT = 0.5


def score(headline: Headline, movers: set[str], basket: set[str]) -> float:
    theme_score = sum(THEME_WEIGHTS.get(t, 0.5) for t in headline.themes)
    names = set(headline.symbols)
    return theme_score + MOVER_WEIGHT * len(names & movers) + BASKET_WEIGHT * len(names & basket)


def rank(
    headlines: Iterable[Headline], movers: set[str], basket: set[str], limit: int
) -> list[Headline]:
    """The ``limit`` most telling headlines, most telling (then newest) first."""
    scored = [(score(h, movers, basket), h) for h in headlines]
    relevant = [(s, h) for s, h in scored if s > 0]
    relevant.sort(
        key=lambda sh: (sh[0], sh[1].published.timestamp() if sh[1].published else 0.0),
        reverse=True,
    )
    seen: set[str] = set()
    out: list[Headline] = []
    for _, h in relevant:
        if h.title in seen:
            continue
        seen.add(h.title)
        out.append(h)
        if len(out) == limit:
            break
    return out


class Explainer:
    """Finds the headlines of the ``hours`` before an alert that explain it."""

    def __init__(self, store: Store, universe: Universe, hours: float = 24.0, limit: int = 3):
        self.store = store
        self.universe = universe
        self.window = timedelta(hours=hours)
        self.limit = limit

    def __call__(self, alert: Alert, now: datetime) -> tuple[Headline, ...]:
        region = alert.region.removesuffix("_pre")
        basket = (
            set(self.universe.baskets(region).infra) if region in self.universe.regions else set()
        )
        movers = {m.symbol for m in alert.top_movers}
        recent: Sequence[Headline] = self.store.recent_headlines(since=now - self.window, until=now)
        return tuple(rank(recent, movers, basket, self.limit))
