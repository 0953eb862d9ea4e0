"""An hourly replay of one month (January 2025, with DeepSeek Monday) as a user runs it.

``python -m bot replay --prices hourly --prices daily_close --from 2025-01-01 --to 2025-01-31
--interval 1h --json``, cold processes: start-up, reading the files, every scan of every region
and the alerts. Run alone with ``python -m benchmarks.replay``.
"""

from __future__ import annotations

from typing import Any

from benchmarks.detector import DAILY_CLOSE, measured_run

HOURLY = DAILY_CLOSE.parent / "hourly"
TARGET_SECONDS = 1.0
COMMAND = [
    "replay",
    "--prices",
    str(HOURLY),
    "--prices",
    str(DAILY_CLOSE),
    "--from",
    "2025-01-01",
    "--to",
    "2025-01-31",
    "--interval",
    "1h",
    "--json",
]


def replay(repeats: int = 5) -> dict[str, float]:
    result = measured_run(COMMAND, repeats)
    result["alerts"] = result.pop("stdout_lines")
    return result


def summary(result: dict[str, Any]) -> str:
    verdict = "meets" if result["seconds_best"] <= TARGET_SECONDS else "MISSES"
    return (
        f"| hourly replay of January 2025 (`hourly` + `daily_close`, 4 regions), cold process | "
        f"best {result['seconds_best']:.2f} s, median {result['seconds_median']:.2f} s, "
        f"{result['alerts']:.0f} alerts, peak RSS {result['peak_rss_mib']:.0f} MiB | "
        f"<= {TARGET_SECONDS:.0f} s: {verdict} |"
    )


if __name__ == "__main__":
    from benchmarks import machine

    print(f"machine: {machine.describe()}")
    print(summary(replay()))
