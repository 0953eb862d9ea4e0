"""What a shock does to a saved portfolio: its estimated move from its names' moves so far."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.universe import Role, Universe

CHAIN_ROLES = frozenset({Role.INFRASTRUCTURE, Role.PLATFORM, Role.BENEFICIARY})
"""Roles of the AI supply chain (the controls and reference indexes are not part of it)."""


@dataclass(frozen=True)
class PortfolioMove:
    """A portfolio's estimated move in one alert's snapshot.

    Attributes:
        estimate: the weighted move of the names with a price, their weights rescaled to 1.
        priced: share of the portfolio's weight that has a price in the snapshot.
        chain: share of the weight in names of the AI supply chain.
    """

    estimate: float
    priced: float
    chain: float


def chain_share(positions: Sequence[tuple[str, float]], universe: Universe) -> float:
    """Share of the weight in AI-supply-chain names (infrastructure, platforms, beneficiaries)."""
    total = sum(w for _, w in positions) or 1.0
    inside = 0.0
    for symbol, weight in positions:
        inst = universe.get(symbol)
        if inst is not None and universe.roles(inst) & CHAIN_ROLES:
            inside += weight
    return inside / total


def portfolio_move(
    positions: Sequence[tuple[str, float]], moves: Mapping[str, float], universe: Universe
) -> PortfolioMove | None:
    """The estimate from ``moves`` (each name's move since its previous close); ``None`` when
    no name of the portfolio has one."""
    total = sum(w for _, w in positions)
    priced = [(moves[s], w) for s, w in positions if s in moves]
    weight = sum(w for _, w in priced)
    if total <= 0 or weight <= 0:
        return None
    estimate = sum(r * w for r, w in priced) / weight
    return PortfolioMove(estimate, weight / total, chain_share(positions, universe))
