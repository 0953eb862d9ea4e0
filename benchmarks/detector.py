"""Detector speed and memory: time per snapshot at 100 instruments, the full daily backtest."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from bot.detection.detect import (
    Baseline,
    Baskets,
    DetectorParams,
    History,
    Snapshot,
    build_baseline,
    detect,
)

ROOT = Path(__file__).resolve().parent.parent
DAILY_CLOSE = ROOT.parent / "shared" / "data" / "prices" / "daily_close"


def _synthetic(names: int, sessions: int, seed: int = 1) -> tuple[History, Baskets]:
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, sessions)
    symbols = tuple(f"S{i:03d}" for i in range(names))
    betas = rng.uniform(0.5, 2.0, names)
    returns = market[:, None] * betas[None, :] + rng.normal(0, 0.015, (sessions, names))
    infra = symbols[: names * 6 // 10]
    software = symbols[names * 6 // 10 : names * 8 // 10]
    controls = tuple((s,) for s in symbols[names * 8 // 10 : names * 8 // 10 + 3])
    baskets = Baskets(infra=infra, control=controls, software=software, broad_index=controls[0])
    return History(symbols, returns), baskets


def snapshot_speed(names: int = 100, rounds: int = 2000) -> dict[str, float]:
    """Mean microseconds for a baseline (once per session) and a detect (every snapshot)."""
    history, baskets = _synthetic(names, 251)
    params = DetectorParams()
    past = History(history.symbols, history.returns[:-1])
    today = dict(zip(history.symbols, history.returns[-1].tolist(), strict=True))
    snap = Snapshot("us", datetime(2025, 1, 27, 15, 30), today, 0.5)

    started = time.perf_counter()
    for _ in range(rounds // 10):
        baseline = build_baseline(past, baskets, params)
    baseline_us = (time.perf_counter() - started) / (rounds // 10) * 1e6
    assert isinstance(baseline, Baseline)

    timings = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            detect(snap, baseline, baskets, params)
        timings.append((time.perf_counter() - started) / rounds * 1e6)
    return {"baseline_us": baseline_us, "detect_us": statistics.median(timings)}


_MEASURED_RUN = """
import resource, runpy, sys
sys.argv = ["bot", *sys.argv[1:]]
try:
    runpy.run_module("bot", run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("peak_rss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def measured_run(command: list[str], repeats: int) -> dict[str, float]:
    """Wall time (best, median), peak RSS and stdout lines of cold ``python -m bot COMMAND`` runs.

    The peak is the measured process's own (RUSAGE_SELF, reported by it at exit): a child's
    RUSAGE_CHILDREN figure starts from the parent's size at fork and so counted the benchmark.
    """
    times, peaks, lines = [], [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _MEASURED_RUN, *command],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        times.append(time.perf_counter() - started)
        peaks += [
            int(line.split()[1])
            for line in done.stderr.splitlines()
            if line.startswith("peak_rss_kib")
        ]
        lines = len(done.stdout.splitlines())
    return {
        "seconds_best": min(times),
        "seconds_median": statistics.median(times),
        "peak_rss_mib": max(peaks) / 1024,
        "stdout_lines": float(lines),
    }


def measured_backtest(args: list[str], repeats: int) -> dict[str, float]:
    """:func:`measured_run` of ``backtest --json ARGS``; one JSON line per session."""
    result = measured_run(["backtest", *args, "--json"], repeats)
    result["sessions"] = result.pop("stdout_lines")
    return result


def full_backtest(repeats: int = 3) -> dict[str, float]:
    """The backtest over 2015-2026 on ``daily_close``, cold process."""
    return measured_backtest(["--prices", str(DAILY_CLOSE)], repeats)
