"""Backtest time and memory at 35, 100, 300 and 1,000 US instruments.

The extra instruments are synthetic copies of the real AI-infrastructure series in
``../shared/data/prices/daily_close``: each copy is a real series times a seeded random walk
(1 % a day), under a new symbol (``SYN0001`` ...), added to the infrastructure basket by a
universe file the benchmark writes. The real files are linked, never copied into the project.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.detector import DAILY_CLOSE, ROOT, measured_backtest

SIZES = (35, 100, 300, 1000)
INFRA_SEGMENTS = ("compute", "foundry", "memory", "networking", "servers", "dc_power_cooling")
SOURCES = ("NVDA", "AMD", "AVGO", "MU", "ANET", "TSM", "ASML", "MRVL", "SMCI", "DELL")


def build(directory: Path, instruments: int, seed: int = 1) -> tuple[Path, Path]:
    """A prices directory and a config with ``instruments`` US instruments in all."""
    prices = directory / "prices"
    prices.mkdir()
    real = sorted(DAILY_CLOSE.glob("*.csv"))
    for path in real:
        (prices / path.name).symlink_to(path)
    rng = np.random.default_rng(seed)
    universe = (ROOT / "bot" / "data" / "universe.toml").read_text(encoding="utf-8")
    extra = []
    for n in range(max(0, instruments - len(real))):
        source = SOURCES[n % len(SOURCES)]
        frame = pd.read_csv(DAILY_CLOSE / f"{source}.csv")
        walk = np.exp(np.cumsum(rng.normal(0.0, 0.01, len(frame))))
        frame["Close"] = (frame["Close"] * walk).round(4)
        symbol = f"SYN{n + 1:04d}"
        frame.to_csv(prices / f"{symbol}.csv", index=False)
        extra.append(
            f'\n[[instruments]]\nsymbol = "{symbol}"\nname = "Synthetic {n + 1}"\n'
            f'region = "us"\ncurrency = "USD"\n'
            f'segments = ["{INFRA_SEGMENTS[n % len(INFRA_SEGMENTS)]}"]\n'
        )
    universe_file = directory / "universe.toml"
    universe_file.write_text(universe + "".join(extra), encoding="utf-8")
    config = directory / "config.toml"
    config.write_text(f'[universe]\nfile = "{universe_file}"\n', encoding="utf-8")
    return prices, config


def backtest(prices: Path, config: Path, repeats: int) -> dict[str, float]:
    """Wall time (best and median) and peak RSS of a cold ``backtest --json`` process."""
    return measured_backtest(["--prices", str(prices), "--config", str(config)], repeats)


def scaling(sizes: tuple[int, ...] = SIZES, repeats: int = 3) -> dict[int, dict[str, float]]:
    """The backtest at each size."""
    results = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
            prices, config = build(Path(tmp), size)
            results[size] = backtest(prices, config, repeats)
    return results


RATIO_TARGET = 3.0
SMALL_TARGET_SECONDS = 1.0


def summary(results: dict[int, dict[str, float]]) -> str:
    """One table row per size; the smallest and largest carry the issue's targets."""
    small, large = min(results), max(results)
    base = results[small]["seconds_best"]
    rows = []
    for size, r in results.items():
        ratio = r["seconds_best"] / base
        if size == small:
            ok = r["seconds_best"] <= SMALL_TARGET_SECONDS
            target = f"<= {SMALL_TARGET_SECONDS:.0f} s: {'meets' if ok else 'MISSES'}"
        elif size == large:
            ok = ratio <= RATIO_TARGET
            target = f"<= {RATIO_TARGET:.0f}x the {small}-instrument run: " + (
                "meets" if ok else "MISSES"
            )
        else:
            target = "-"
        rows.append(
            f"| backtest 2015-2026, {size} US instruments ({r['sessions']:.0f} sessions), cold "
            f"process | best {r['seconds_best']:.2f} s, median {r['seconds_median']:.2f} s, "
            f"{ratio:.1f}x the {small}-instrument run, peak RSS {r['peak_rss_mib']:.0f} MiB "
            f"| {target} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(summary(scaling(repeats=1)))
