"""Sample objects shared by tests and benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.config import load_config
from bot.detection.detect import Mover, Stats
from bot.news.match import Matcher
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.marketdata import MarketData
from bot.storage.store import Store
from bot.universe import Universe
from handlers.services import Services
from tests.conftest import PRICES

DEEPSEEK_STATS = Stats(
    basket_ret=-0.1734,
    control_ret=-0.0123,
    software_ret=0.0051,
    beta=1.234,
    z_div=-7.81,
    z_sw=0.4,
    z_mkt=-1.4,
    z_div_loo=-6.9,
    breadth=0.85,
    broad_index_ret=-0.015,
    top_movers=(Mover("NVDA", -0.169, -9.1), Mover("TSM", -0.132, -7.2)),
    basket_names=14,
)


def sample_stats(z_mkt: float = DEEPSEEK_STATS.z_mkt) -> Stats:
    """The statistics of a DeepSeek-like reading (with another market z if given)."""
    return replace(DEEPSEEK_STATS, z_mkt=z_mkt)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def command_services(
    store: Store,
    clock: Callable[[], datetime],
    matcher: Matcher | None = None,
    universe: Universe | None = None,
) -> Services:
    """Services for command handlers on the real daily closes in ../shared/data."""
    config = load_config(None, {})
    universe = universe or config.universe
    market = MarketData(
        CsvPriceSource([PRICES / "daily_close"]), universe, config.settings.detector, clock
    )
    return Services(
        universe=universe,
        store=store,
        market=market,
        params=config.settings.detector,
        clock=clock,
        matcher=matcher,
    )
