"""The detector on seeded synthetic markets: each branch of the classification."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from bot.detection.detect import (
    Baseline,
    Baskets,
    DetectorParams,
    History,
    Label,
    NoBaseline,
    Severity,
    Snapshot,
    baseline_at,
    baseline_rows,
    basket_series,
    build_baseline,
    detect,
    ewma_sigma,
    name_scales,
    window_rows,
)

INFRA = tuple(f"CHIP{i}" for i in range(10))
SOFTWARE = ("SOFT1", "SOFT2", "SOFT3")
BASKETS = Baskets(
    infra=INFRA,
    control=(("DOW",), ("SPX", "SPXETF")),
    software=SOFTWARE,
    broad_index=("SPX", "SPXETF"),
)
SYMBOLS = (*INFRA, *SOFTWARE, "DOW", "SPX", "SPXETF")
PARAMS = DetectorParams()
WHEN = datetime(2025, 1, 27, 21, 0)


def synthetic_history(sessions: int = 300, seed: int = 7) -> History:
    """A one-factor market: chips have beta 1.5 and a shared sector factor."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.009, sessions)
    sector = rng.normal(0.0, 0.008, sessions)
    columns = []
    for _ in INFRA:
        columns.append(1.5 * market + sector + rng.normal(0, 0.012, sessions))
    for _ in SOFTWARE:
        columns.append(1.1 * market + rng.normal(0, 0.012, sessions))
    columns.append(market + rng.normal(0, 0.002, sessions))  # DOW
    spx = market + rng.normal(0, 0.001, sessions)
    columns += [spx, spx + rng.normal(0, 0.0002, sessions)]
    return History(SYMBOLS, np.column_stack(columns))


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    result = build_baseline(synthetic_history(), BASKETS, PARAMS)
    assert isinstance(result, Baseline)
    return result


def snapshot(
    chips: float | list[float],
    market: float = 0.0,
    software: float = 0.0,
    variance_fraction: float = 1.0,
) -> Snapshot:
    chip_moves = chips if isinstance(chips, list) else [chips] * len(INFRA)
    returns = dict(zip(INFRA, chip_moves, strict=True))
    returns |= dict.fromkeys(SOFTWARE, software)
    returns |= {"DOW": market, "SPX": market, "SPXETF": market}
    return Snapshot("us", WHEN, returns, variance_fraction)


def spread(center: float, width: float = 0.01) -> list[float]:
    """Ten chip moves around ``center`` so the basket is not ten copies of one number."""
    return [center + width * (k - 4.5) / 4.5 for k in range(len(INFRA))]


def test_baseline_recovers_beta_and_volatility(baseline: Baseline) -> None:
    # True beta 1.5, shrunk a third of the way towards 1.
    assert 1.2 < baseline.beta < 1.55
    assert 0.005 < baseline.sigma_div < 0.02
    assert 0.006 < baseline.sigma_mkt < 0.013
    assert baseline.expected == frozenset(SYMBOLS)


def test_deepseek_like_day_is_a_critical_divergence(baseline: Baseline) -> None:
    reading = detect(
        snapshot(spread(-0.15), market=0.002, software=0.03), baseline, BASKETS, PARAMS
    )

    assert reading.label is Label.DIVERGENCE_DOWN
    assert reading.severity is Severity.CRITICAL
    assert reading.stats is not None
    assert reading.stats.breadth == 1.0
    assert reading.top_movers[0].symbol == "CHIP0"
    assert reading.top_movers[0].ret == pytest.approx(-0.16)
    assert "AI infrastructure" in reading.reasons[0]


def test_rally_of_chips_alone_is_an_upward_divergence(baseline: Baseline) -> None:
    reading = detect(snapshot(spread(0.08), market=0.001), baseline, BASKETS, PARAMS)

    assert reading.label is Label.DIVERGENCE_UP
    assert reading.severity >= Severity.ALERT


def test_broad_crash_is_not_a_divergence(baseline: Baseline) -> None:
    beta_move = baseline.beta * -0.05
    reading = detect(
        snapshot(spread(beta_move), market=-0.05, software=-0.05), baseline, BASKETS, PARAMS
    )

    assert reading.label is Label.BROAD_SELLOFF
    assert reading.severity >= Severity.ALERT
    assert not reading.sector_led


def test_broad_crash_led_by_chips_carries_the_sector_flag(baseline: Baseline) -> None:
    reading = detect(
        snapshot(spread(-0.16), market=-0.04, software=-0.045), baseline, BASKETS, PARAMS
    )

    assert reading.label is Label.BROAD_SELLOFF
    assert reading.sector_led
    assert any("led by AI infrastructure" in r for r in reading.reasons)


def test_an_index_pulled_down_by_chips_while_software_holds_is_a_divergence(
    baseline: Baseline,
) -> None:
    """DeepSeek Monday's open: the S&P -2.2 % (a broad move by its size), software -0.7 %,
    the basket -9 %. The index fell with its AI names; the market did not."""
    reading = detect(
        snapshot(spread(-0.09), market=-0.022, software=-0.007), baseline, BASKETS, PARAMS
    )

    assert reading.label is Label.DIVERGENCE_DOWN
    assert reading.severity is Severity.CRITICAL
    rotation = next(r for r in reading.reasons if getattr(r, "kind", "") == "rotation")
    assert rotation.startswith("the broad market's -2.20%")


def test_software_falling_with_the_index_keeps_it_broad(baseline: Baseline) -> None:
    reading = detect(
        snapshot(spread(-0.09), market=-0.022, software=-0.025), baseline, BASKETS, PARAMS
    )

    assert reading.label is Label.BROAD_SELLOFF
    assert reading.sector_led


def test_two_percent_index_day_with_controls_agreeing_is_broad(baseline: Baseline) -> None:
    moves = {"DOW": 0.018, "SPX": 0.022, "SPXETF": 0.022}
    snap = snapshot(spread(0.03), market=0.0)
    snap = replace(snap, returns={**snap.returns, **moves})

    reading = detect(snap, baseline, BASKETS, PARAMS)

    assert reading.label is Label.BROAD_RALLY


def test_one_stock_collapse_is_a_single_stock_move(baseline: Baseline) -> None:
    moves = [0.001] * len(INFRA)
    moves[3] = -0.30
    reading = detect(snapshot(moves), baseline, BASKETS, PARAMS)

    assert reading.label is Label.SINGLE_STOCK
    assert reading.severity is Severity.WATCH
    assert "CHIP3" in reading.reasons[0]


def test_ordinary_day_is_quiet(baseline: Baseline) -> None:
    reading = detect(
        snapshot(spread(0.004), market=0.003, software=0.002), baseline, BASKETS, PARAMS
    )

    assert reading.label is Label.QUIET
    assert reading.severity is Severity.NONE


def test_stale_basket_gives_no_decision_naming_the_missing(baseline: Baseline) -> None:
    snap = snapshot(spread(-0.15))
    fresh = {s: r for s, r in snap.returns.items() if s not in INFRA[:4]}
    reading = detect(replace(snap, returns=fresh), baseline, BASKETS, PARAMS)

    assert reading.label is Label.NO_DECISION
    assert reading.coverage == pytest.approx(0.6)
    assert "CHIP0" in reading.reasons[0]
    assert "6 of 10" in reading.reasons[0]


def test_non_finite_returns_count_as_stale(baseline: Baseline) -> None:
    snap = snapshot(spread(-0.15))
    broken = {**snap.returns, **dict.fromkeys(INFRA[:5], float("nan"))}
    reading = detect(replace(snap, returns=broken), baseline, BASKETS, PARAMS)

    assert reading.label is Label.NO_DECISION


def test_missing_control_gives_no_decision(baseline: Baseline) -> None:
    snap = snapshot(spread(-0.15))
    no_control = {s: r for s, r in snap.returns.items() if s not in ("DOW", "SPX", "SPXETF")}
    reading = detect(replace(snap, returns=no_control), baseline, BASKETS, PARAMS)

    assert reading.label is Label.NO_DECISION
    assert "control" in reading.reasons[0]


def test_short_history_gives_no_baseline_with_reason() -> None:
    history = synthetic_history(sessions=30)
    result = build_baseline(history, BASKETS, PARAMS)

    assert isinstance(result, NoBaseline)
    assert "30 sessions" in result.reason
    reading = detect(snapshot(-0.2), result, BASKETS, PARAMS)
    assert reading.label is Label.NO_DECISION
    assert reading.reasons == (result.reason,)


def test_history_without_basket_names_says_so() -> None:
    history = synthetic_history()
    only_market = History(("DOW",), history.returns[:, [SYMBOLS.index("DOW")]])

    result = build_baseline(only_market, BASKETS, PARAMS)

    assert isinstance(result, NoBaseline)
    assert "no AI-infrastructure names" in result.reason


def test_intraday_snapshot_scales_sigma_by_elapsed_variance(baseline: Baseline) -> None:
    full = detect(snapshot(spread(-0.03)), baseline, BASKETS, PARAMS)
    quarter = detect(snapshot(spread(-0.03), variance_fraction=0.25), baseline, BASKETS, PARAMS)

    assert full.stats is not None
    assert quarter.stats is not None
    assert quarter.stats.z_div == pytest.approx(2 * full.stats.z_div)


def test_listings_of_one_index_count_once(baseline: Baseline) -> None:
    snap = snapshot(spread(0.0))
    moves = {**snap.returns, "DOW": 0.01, "SPX": -0.01, "SPXETF": -0.01}
    reading = detect(replace(snap, returns=moves), baseline, BASKETS, PARAMS)

    assert reading.stats is not None
    assert reading.stats.control_ret == pytest.approx(0.0)


def test_one_shock_does_not_blind_the_volatility_estimate() -> None:
    rng = np.random.default_rng(3)
    calm = rng.normal(0, 0.01, 250)
    shocked = calm.copy()
    shocked[-1] = -0.30

    sigma_calm = ewma_sigma(calm, 0.94, 5.0, 0.001)
    sigma_shocked = ewma_sigma(shocked, 0.94, 5.0, 0.001)

    # Unwinsorised, the -30 % day alone would lift sigma above 7 %.
    assert sigma_shocked < 4 * sigma_calm
    assert sigma_shocked < 0.05


def test_severity_parse_order_and_raise() -> None:
    assert Severity.parse(" Alert ") is Severity.ALERT
    assert Severity.WATCH < Severity.ALERT < Severity.CRITICAL
    assert Severity.ALERT.raised() is Severity.CRITICAL
    assert Severity.CRITICAL.raised() is Severity.CRITICAL
    assert Severity.NONE.raised() is Severity.NONE
    assert str(Severity.CRITICAL) == "critical"
    with pytest.raises(ValueError, match="accepted: none, watch, alert, critical"):
        Severity.parse("panic")


def test_params_reject_inconsistent_thresholds() -> None:
    with pytest.raises(ValueError, match="watch_z < alert_z"):
        DetectorParams(watch_z=5.0, alert_z=4.0)
    with pytest.raises(ValueError, match="ewma_lambda"):
        DetectorParams(ewma_lambda=1.5)


def test_params_reject_unknown_keys_when_validated_from_config() -> None:
    adapter = TypeAdapter(DetectorParams)
    assert adapter.validate_python({"watch_z": 2.0}).watch_z == 2.0
    with pytest.raises(ValidationError, match="watch_zz"):
        adapter.validate_python({"watch_zz": 2.0})


def test_reading_as_dict_is_flat_and_json_ready(baseline: Baseline) -> None:
    reading = detect(snapshot(spread(-0.15)), baseline, BASKETS, PARAMS)
    body = reading.as_dict()

    assert body["label"] == "ai_infra_divergence_down"
    assert body["severity"] == "critical"
    assert isinstance(body["z_div"], float)
    movers = body["top_movers"]
    assert isinstance(movers, list)
    assert movers[0]["symbol"] == "CHIP0"


# ------------------------------------------------------------------------------ detector v2


def turbulent_history(seed: int = 11) -> History:
    """A calm year whose last month is turbulent: the sector factor's volatility triples."""
    history = synthetic_history(seed=seed)
    rng = np.random.default_rng(seed)
    returns = history.returns.copy()
    returns[-21:, : len(INFRA)] += rng.normal(0.0, 0.03, (21, 1))  # one sector shock a day
    return History(history.symbols, returns)


def test_a_turbulent_month_cannot_inflate_the_scale_into_blindness() -> None:
    turbulent = build_baseline(turbulent_history(), BASKETS, PARAMS)
    assert isinstance(turbulent, Baseline)
    assert turbulent.sigma_div_ewma is not None
    assert turbulent.sigma_div < turbulent.sigma_div_ewma  # the cap took effect

    reading = detect(snapshot(spread(-0.066)), turbulent, BASKETS, PARAMS)
    uncapped = replace(turbulent, sigma_div=turbulent.sigma_div_ewma)
    before = detect(snapshot(spread(-0.066)), uncapped, BASKETS, PARAMS)

    assert reading.label is Label.DIVERGENCE_DOWN
    assert reading.severity is Severity.ALERT
    assert before.severity is Severity.WATCH  # the EWMA alone reads it lower


@pytest.mark.parametrize(
    ("move", "expected"),
    [(-0.055, Severity.WATCH), (-0.075, Severity.ALERT), (-0.11, Severity.CRITICAL)],
)
def test_size_floors_hold_in_any_volatility_regime(move: float, expected: Severity) -> None:
    """With a scale so large that no z-score fires, the move beyond beta still counts."""
    calm = build_baseline(synthetic_history(), BASKETS, PARAMS)
    assert isinstance(calm, Baseline)
    wild = replace(calm, sigma_div=0.05, sigma_sw=0.05, name_sigma=dict.fromkeys(SYMBOLS, 0.2))

    reading = detect(snapshot(spread(move, 0.004)), wild, BASKETS, PARAMS)

    assert reading.label is Label.DIVERGENCE_DOWN
    assert reading.severity is expected
    assert any("in any volatility regime" in r for r in reading.reasons), reading.reasons


def test_size_floors_need_half_the_names_along(baseline: Baseline) -> None:
    wild = replace(baseline, sigma_div=0.05, name_sigma=dict.fromkeys(SYMBOLS, 0.2))
    moves = [-0.12] * 4 + [0.0] * 6  # a -6 % mean, but the median barely moved
    reading = detect(snapshot(moves), wild, BASKETS, PARAMS)

    assert reading.severity < Severity.ALERT
    assert not any("in any volatility regime" in r for r in reading.reasons)


def test_software_confirms_only_when_it_held_up(baseline: Baseline) -> None:
    held = detect(snapshot(spread(-0.05), software=0.02), baseline, BASKETS, PARAMS)
    fell = detect(snapshot(spread(-0.05), software=-0.045), baseline, BASKETS, PARAMS)
    rose_alone = detect(snapshot(spread(0.05), software=-0.045), baseline, BASKETS, PARAMS)

    assert any("software held up" in r for r in held.reasons)
    assert not any("software held up" in r for r in fell.reasons)
    assert not any("software held up" in r for r in rose_alone.reasons)
    assert held.severity >= fell.severity


def test_a_sector_led_broad_move_takes_the_stronger_severity_one_level_up(
    baseline: Baseline,
) -> None:
    reading = detect(
        snapshot(spread(-0.16), market=-0.04, software=-0.045), baseline, BASKETS, PARAMS
    )
    market_only = detect(
        snapshot(spread(baseline.beta * -0.04), market=-0.04, software=-0.045),
        baseline,
        BASKETS,
        PARAMS,
    )

    assert reading.label is Label.BROAD_SELLOFF
    assert reading.sector_led
    assert market_only.severity is not Severity.CRITICAL
    assert reading.severity is Severity.CRITICAL  # max(broad, divergence) raised one level
    assert "led by AI infrastructure" in reading.reasons[1]


def test_no_single_stock_when_the_whole_basket_moved(baseline: Baseline) -> None:
    wild = replace(baseline, sigma_div=0.05, name_sigma=dict.fromkeys(SYMBOLS, 0.2))
    moves = [-0.055] * len(INFRA)
    moves[0] = -0.30
    reading = detect(snapshot(moves), wild, BASKETS, PARAMS)

    assert reading.label is Label.DIVERGENCE_DOWN
    assert reading.severity >= Severity.WATCH


def test_a_small_leader_never_drives_the_basket(baseline: Baseline) -> None:
    moves = [0.0] * len(INFRA)
    moves[0] = -0.06  # under 8 %: not a single-stock story
    moves[1] = -0.05
    moves[2] = -0.04
    reading = detect(snapshot(moves), baseline, BASKETS, PARAMS)

    assert reading.label is not Label.SINGLE_STOCK


def test_a_crash_on_a_rally_day_is_a_divergence_not_a_rally(baseline: Baseline) -> None:
    """The S&P up 2.1 % while the basket falls 5-17 %: the sector's story, the broad move named
    among the reasons (before: a broad_rally watch that never mentioned the crash)."""
    moves = [-0.05 - 0.012 * k for k in range(len(INFRA))]
    reading = detect(snapshot(moves, market=0.021), baseline, BASKETS, PARAMS)

    assert reading.label is Label.DIVERGENCE_DOWN
    assert reading.severity is Severity.CRITICAL
    assert any(r.startswith("against a broad market move of +2.10%") for r in reading.reasons)


def test_size_floors_outrank_the_single_stock_rule(baseline: Baseline) -> None:
    """The median name down under 5 %, more than 7 % beyond beta on a firm market, in a wild
    regime's sigmas; one name down 30 %: the floors say sector (before: single_stock watch
    while the divergence said alert)."""
    wild = replace(baseline, sigma_div=0.05, name_sigma=dict.fromkeys(SYMBOLS, 0.2))
    moves = [-0.045, -0.046, -0.047, -0.048, -0.049, -0.049, -0.05, -0.051, -0.02, -0.30]
    reading = detect(snapshot(moves, market=0.018), wild, BASKETS, PARAMS)

    assert reading.stats is not None
    assert abs(reading.stats.basket_ret) < 0.05
    assert reading.stats.residual < -0.07

    assert reading.label is Label.DIVERGENCE_DOWN
    assert reading.severity is Severity.ALERT


# ------------------------------------------------------------------ baselines of many windows


def reference_ewma_sigma(series: np.ndarray, lam: float, wins: float, floor: float) -> float:
    """The definition, one value at a time: NaNs skipped, clipped at ``wins`` robust sigmas,
    weight ``lam**k`` for the k-th latest valid value."""
    valid = [float(x) for x in series if not np.isnan(x)]
    if not valid:
        return floor
    mad = 1.4826 * float(np.median(np.abs(valid)))
    clip = wins * max(mad, floor)
    total = weights = 0.0
    for k, x in enumerate(reversed(valid)):
        total += lam**k * min(abs(x), clip) ** 2
        weights += lam**k
    return max(float(np.sqrt(total / weights)), floor)


@pytest.mark.parametrize("seed", range(6))
def test_ewma_sigma_follows_its_definition_with_gaps_and_shocks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    series = rng.normal(0.0, 0.01, int(rng.integers(1, 300)))
    series[rng.random(series.size) < 0.2] = np.nan  # missing sessions
    series[rng.integers(0, series.size)] = -0.3  # a shock the clip must hold
    expected = reference_ewma_sigma(series, 0.94, 5.0, 0.004)

    assert ewma_sigma(series, 0.94, 5.0, 0.004) == pytest.approx(expected, rel=1e-12)
    assert ewma_sigma(np.full(5, np.nan), 0.94, 5.0, 0.004) == 0.004


def gappy_history(sessions: int = 420, seed: int = 5) -> History:
    """The synthetic market with missing prices: whole sessions, single names, a quiet spell
    of software, so windows differ in what they hold."""
    history = synthetic_history(sessions, seed)
    rng = np.random.default_rng(seed)
    returns = history.returns.copy()
    returns[rng.random(returns.shape) < 0.05] = np.nan
    returns[100:110] = np.nan
    software = [SYMBOLS.index(s) for s in SOFTWARE]
    returns[130:360, software] = np.nan
    return History(history.symbols, returns)


def test_baselines_of_all_windows_at_once_equal_each_built_alone() -> None:
    """The backtest computes every session's baseline in one pass; a live scan builds one
    from the history before it. Both must agree to the last bit, with NoBaseline alike."""
    history = gappy_history()
    series = basket_series(history, BASKETS)
    ends = np.arange(len(history.returns) + 1, dtype=np.intp)
    width = PARAMS.beta_window
    rows = baseline_rows(
        window_rows(series.infra, ends, width),
        window_rows(series.control, ends, width),
        window_rows(series.software, ends, width),
        PARAMS,
    )
    kinds = set()
    for t in ends.tolist():
        past = History(history.symbols, history.returns[:t])
        alone = build_baseline(past, BASKETS, PARAMS)
        names = name_scales(past.returns[-width:], past.symbols, PARAMS)
        together = baseline_at(rows, t, history.symbols, names, PARAMS)
        if isinstance(alone, Baseline):
            assert isinstance(together, Baseline)
            assert replace(together, name_sigma=alone.name_sigma) == alone, t
            kinds.add("software" if alone.sigma_sw is not None else "no software")
        else:
            assert together == alone, t
            kinds.add("none")
    assert kinds == {"software", "no software", "none"}  # every branch was compared


@pytest.mark.parametrize("shape", [(400, 1), (400, 2), (400, 7), (300, 600)])
def test_row_medians_are_numpys_to_the_bit(shape: tuple[int, int]) -> None:
    from bot.detection.detect import _nanmedian_rows

    rng = np.random.default_rng(shape[1])
    matrix = rng.normal(0.0, 0.02, shape)
    matrix[rng.random(shape) < 0.2] = np.nan
    matrix[3] = np.nan  # a session without any price
    has_values = ~np.all(np.isnan(matrix), axis=1)
    expected = np.full(shape[0], np.nan)
    expected[has_values] = np.nanmedian(matrix[has_values], axis=1)

    assert _nanmedian_rows(matrix).tobytes() == expected.tobytes()


@pytest.mark.parametrize("size", [3, 20, 257, 600])
def test_the_first_ranked_are_the_stable_sorts_first(size: int) -> None:
    from bot.detection.detect import _first_ranked

    rng = np.random.default_rng(size)
    for _ in range(50):
        keys = np.round(rng.normal(0.0, 0.02, size), 2)  # many ties
        keys[rng.random(size) < 0.1] = -0.0
        expected = np.argsort(keys, kind="stable")[:5]
        assert _first_ranked(keys, 5).tolist() == expected.tolist()
