"""How long ``python -m bot --help`` takes against a bare ``python -c pass`` (medians of 7).

The CLI imports what each command needs when it runs, so printing help loads no pandas, numpy,
calendars or chat libraries. Run alone with ``python -m benchmarks.startup``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

TARGET_RATIO = 4.0
RUNS = 7


def _median_seconds(args: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def startup() -> dict[str, float]:
    bare = _median_seconds(["-c", "pass"])
    help_ = _median_seconds(["-m", "bot", "--help"])
    return {"bare_s": bare, "help_s": help_, "ratio": help_ / bare}


def summary(result: dict[str, float]) -> str:
    meets = "meets" if result["ratio"] <= TARGET_RATIO else "MISSES"
    return (
        f"| start-up: `python -m bot --help` | {result['help_s'] * 1000:.0f} ms against "
        f"{result['bare_s'] * 1000:.0f} ms for `python -c pass`: {result['ratio']:.1f}x "
        f"({meets} <= {TARGET_RATIO:.0f}x) |"
    )


if __name__ == "__main__":
    from benchmarks import machine

    print(f"machine: {machine.describe()}")
    print(summary(startup()))
