"""Sample objects shared by tests and benchmarks."""

from __future__ import annotations

from dataclasses import replace

from bot.detect import Mover, Stats

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
