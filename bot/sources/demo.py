"""The bundled DeepSeek demo: a scenario replayed through the whole pipeline, offline.

The scenario (``bot/data/deepseek_demo.toml``) says what is real (published moves of
2025-01-27) and what is simulated (the background history and every other figure).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources

import numpy as np
import pandas as pd

from bot.detection.calendars import calendar
from bot.sources.prices import PriceSeries
from bot.universe import Role, Universe

DAILY_VOL = {
    Role.INFRASTRUCTURE: 0.018,
    Role.PLATFORM: 0.013,
    Role.BENEFICIARY: 0.014,
    Role.MARKET_CONTROL: 0.002,
    Role.SOFTWARE_CONTROL: 0.006,
    Role.REFERENCE: 0.008,
}
BETA = {
    Role.INFRASTRUCTURE: 1.4,
    Role.PLATFORM: 1.1,
    Role.BENEFICIARY: 1.0,
    Role.MARKET_CONTROL: 1.0,
    Role.SOFTWARE_CONTROL: 1.0,
    Role.REFERENCE: 1.2,
}


@dataclass(frozen=True)
class Scenario:
    seed: int
    history_sessions: int
    shock: date
    replay_from: date
    replay_to: date
    reported: Mapping[date, Mapping[str, float]]
    simulated_shock: Mapping[str, float]
    simulated_region_scale: Mapping[str, float]


def load_scenario() -> Scenario:
    text = resources.files("bot").joinpath("data/deepseek_demo.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    return Scenario(
        seed=int(raw["seed"]),
        history_sessions=int(raw["history_sessions"]),
        shock=date.fromisoformat(raw["shock"]),
        replay_from=date.fromisoformat(raw["replay_from"]),
        replay_to=date.fromisoformat(raw["replay_to"]),
        reported={
            date.fromisoformat(day): {s: float(v) / 100 for s, v in moves.items()}
            for day, moves in raw["reported"].items()
        },
        simulated_shock={k: float(v) / 100 for k, v in raw["simulated_shock"].items()},
        simulated_region_scale={k: float(v) for k, v in raw["simulated_region_scale"].items()},
    )


def _role(universe: Universe, symbol: str) -> Role:
    inst = universe.instruments[symbol]
    roles = universe.roles(inst)
    for role in Role:
        if role in roles:
            return role
    raise ValueError(symbol)  # pragma: no cover - every instrument has a segment


def build_series(universe: Universe, scenario: Scenario) -> dict[str, PriceSeries]:
    """Daily closes of every instrument: simulated history, reported and simulated shock."""
    rng = np.random.default_rng(scenario.seed)
    out: dict[str, PriceSeries] = {}
    for region_key, region in universe.regions.items():
        cal = calendar(region.calendar)
        shock = pd.Timestamp(scenario.shock)
        before = cal.sessions_window(shock, -scenario.history_sessions)
        after = cal.sessions_in_range(shock, pd.Timestamp(scenario.replay_to))
        days = pd.DatetimeIndex(before.union(after))
        n = len(days)
        market = rng.normal(0.0003, 0.009, n)
        sector = rng.normal(0.0, 0.009, n)
        for inst in universe.in_region(region_key):
            role = _role(universe, inst.symbol)
            rets = BETA[role] * market + rng.normal(0.0, DAILY_VOL[role], n)
            if role is Role.INFRASTRUCTURE:
                rets += sector
            for day, moves in scenario.reported.items():
                if pd.Timestamp(day) not in days:
                    continue
                where = int(days.searchsorted(pd.Timestamp(day)))
                if inst.symbol in moves:
                    rets[where] = moves[inst.symbol]
                elif day == scenario.shock:
                    segment = scenario.simulated_shock[inst.segments[0]]
                    scale = scenario.simulated_region_scale.get(region_key, 1.0)
                    rets[where] = segment * scale + rng.normal(0, 0.01)
            rets[0] = 0.0
            closes = pd.Series(100.0 * np.cumprod(1.0 + rets), index=days, name=inst.symbol)
            out[inst.symbol] = PriceSeries(
                inst.symbol, closes, "1d", adjusted=True, notes=("simulated demo series",)
            )
    return out


PREMARKET_SHARE = 0.6
"""Share of the day's move a US name shows in the pre-market (NVDA: about -11 % of -17 %)."""
OPEN_SHARE = 0.75
"""Share of the day's move in the first hourly bar of a session (the gap at the open)."""
PREMARKET_HOURS = 5
"""Hourly pre-market bars before the New York open (from 04:30 New York time)."""


def build_intraday(
    universe: Universe, scenario: Scenario, daily: Mapping[str, PriceSeries]
) -> dict[str, PriceSeries]:
    """SIMULATED hourly bars of the shock day, as a chat would have lived it.

    Each name opens with most of its day's move (``OPEN_SHARE``) and drifts, with seeded noise,
    to its daily close (the last bar ends exactly there); US names also trade in the
    pre-market, where they show ``PREMARKET_SHARE`` of the move. Tokyo's bars come first,
    Europe's next, New York's last: the order in which the shock travelled on the day.
    """
    rng = np.random.default_rng(scenario.seed + 1)
    shock = pd.Timestamp(scenario.shock)
    out: dict[str, PriceSeries] = {}
    for region_key, region in universe.regions.items():
        cal = calendar(region.calendar)
        if not cal.is_session(shock):
            continue
        opens = pd.Timestamp(cal.session_open(shock)).tz_convert("UTC")
        closes = pd.Timestamp(cal.session_close(shock)).tz_convert("UTC")
        starts = pd.date_range(opens, closes, freq="1h", inclusive="left")
        premarket = (
            pd.date_range(end=opens - pd.Timedelta(hours=1), periods=PREMARKET_HOURS, freq="1h")
            if region_key == "us"
            else pd.DatetimeIndex([], tz="UTC")
        )
        for inst in universe.in_region(region_key):
            series = daily.get(inst.symbol)
            if series is None or shock not in series.closes.index:
                continue
            at = int(pd.DatetimeIndex(series.closes.index).searchsorted(shock))
            if at == 0:
                continue
            prev, last = float(series.closes.iloc[at - 1]), float(series.closes.iloc[at])
            move = last / prev - 1.0
            n = len(starts)
            path = OPEN_SHARE + (1 - OPEN_SHARE) * np.arange(1, n + 1) / n
            noise = rng.normal(0.0, 0.003, n)
            noise[-1] = 0.0
            prices = prev * (1.0 + move * path) * (1.0 + noise)
            before = prev * (
                1.0 + move * PREMARKET_SHARE * np.arange(1, len(premarket) + 1) / len(premarket)
            )
            index = premarket.append(starts)
            closes_ = pd.Series(np.concatenate([before, prices]), index=index, name=inst.symbol)
            out[inst.symbol] = PriceSeries(
                inst.symbol, closes_, "1h", adjusted=True, notes=("simulated demo series",)
            )
    return out
