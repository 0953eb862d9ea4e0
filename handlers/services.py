"""What handlers may use: the core services, never a platform object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.detection.detect import DetectorParams
from bot.news.match import Matcher
from bot.sources.marketdata import MarketData
from bot.storage.store import Store
from bot.universe import Universe


@dataclass(frozen=True)
class Services:
    """Shared by every handler call.

    Attributes:
        job_errors: the scheduler's last error per job (for ``/status``), read live.
        matcher: the news matcher (``/news``); ``None`` when the news watch is off.
        drill: the bot runs a drill (``/status`` says so and shows the drill's time).
    """

    universe: Universe
    store: Store
    market: MarketData
    params: DetectorParams
    clock: Callable[[], datetime]
    job_errors: Mapping[str, str] = field(default_factory=dict)
    matcher: Matcher | None = None
    drill: bool = False
    """The bot runs a drill: its clock is a rehearsal's, its prices recorded."""
