"""Typed, platform-neutral alerts: what fired, when, and the data it rests on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from bot.detection.detect import Label, Mover, Severity, Stats, reason_data, rounded
from bot.detection.portfolio import PortfolioMove

Direction = Literal["down", "up"]


@dataclass(frozen=True)
class Headline:
    """A matched news item shown with an alert ("why it fired") or by ``/news``."""

    title: str
    feed: str
    link: str | None
    published: datetime | None
    symbols: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "title": self.title,
            "feed": self.feed,
            "link": self.link,
            "published": self.published.isoformat() if self.published else None,
            "symbols": list(self.symbols),
            "themes": list(self.themes),
        }


@dataclass(frozen=True)
class BurstInfo:
    """What a news-burst alert is about."""

    theme: str
    name_en: str
    name_de: str
    count: int
    sources: tuple[str, ...]
    window_minutes: int
    usual_per_window: float

    def name(self, language: str) -> str:
        return self.name_de if language == "de" else self.name_en


def episode_prefix(alert_key: str) -> str:
    """The part of an alert's key that names its episode (and when it opened): the keys of
    one episode's opening, escalations and recovery share it."""
    for marker in (":open:", ":escalate:", ":recover"):
        at = alert_key.rfind(marker)
        if at >= 0:
            return alert_key[:at]
    return alert_key


class AlertKind(StrEnum):
    """Where in its episode an alert stands."""

    OPEN = "open"
    ESCALATE = "escalate"
    RECOVER = "recover"


@dataclass(frozen=True)
class Alert:
    """One notification, the same for every chat platform.

    Attributes:
        key: idempotency key; an alert with a key already delivered is never sent again.
        episode_id: the episode this alert belongs to.
        kind: open, escalate or recover.
        label: the detector's label that fired (for a recovery: the episode's label).
        severity: the severity notified (raised one level when two regions agree).
        region: the scan region whose reading fired it (``jp``, ``eu``, ``us_pre``, ``us``).
        direction: ``down`` or ``up``; ``None`` for a news burst.
        fired_at: when the bot raised it (UTC).
        data_time: the time of the prices it rests on (UTC).
        stats: basket, control and software moves, z-scores, breadth, top movers.
        agreeing_regions: other regions with an open episode in the same direction.
        reasons: the detector's explanation, one line each.
        headlines: matched news of the preceding hours that explain it.
        drill: raised by a drill (a rehearsal on recorded prices), never by today's market.
        portfolio: the receiving chat's saved portfolio in this shock (set per chat when the
            alert is staged; ``None`` in the alert every chat shares).
    """

    key: str
    episode_id: str
    kind: AlertKind
    label: Label
    severity: Severity
    region: str
    direction: Direction | None
    fired_at: datetime
    data_time: datetime
    stats: Stats | None = None
    agreeing_regions: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    headlines: tuple[Headline, ...] = ()
    burst: BurstInfo | None = None
    drill: bool = False
    portfolio: PortfolioMove | None = None

    @property
    def top_movers(self) -> tuple[Mover, ...]:
        return self.stats.top_movers if self.stats else ()

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ISO 8601 UTC times, returns as fractions."""
        s = self.stats

        return {
            "time": self.fired_at.isoformat(),
            "kind": self.kind.value,
            "label": self.label.value,
            "severity": str(self.severity),
            "region": self.region,
            "direction": self.direction,
            "data_time": self.data_time.isoformat(),
            "episode": self.episode_id,
            "key": self.key,
            "drill": self.drill,
            "basket_names": s.basket_names if s else None,
            "basket_ret": rounded(s.basket_ret, 5) if s else None,
            "control_ret": rounded(s.control_ret, 5) if s else None,
            "software_ret": rounded(s.software_ret, 5) if s else None,
            "z_div": rounded(s.z_div) if s else None,
            "z_mkt": rounded(s.z_mkt) if s else None,
            "z_sw": rounded(s.z_sw) if s else None,
            "breadth": rounded(s.breadth) if s else None,
            "agreeing_regions": list(self.agreeing_regions),
            "top_movers": [m.as_dict() for m in self.top_movers],
            "reasons": list(self.reasons),
            "reason_data": reason_data(self.reasons),
            "headlines": [h.as_dict() for h in self.headlines],
            "burst": None
            if self.burst is None
            else {
                "theme": self.burst.theme,
                "count": self.burst.count,
                "sources": list(self.burst.sources),
                "window_minutes": self.burst.window_minutes,
                "usual_per_window": round(self.burst.usual_per_window, 2),
            },
        }
