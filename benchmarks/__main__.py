"""`python -m benchmarks`: run every benchmark, print a Markdown table, keep a JSON record.

The record (``docs/benchmarks.json``: the machine, the date, each benchmark's figures and its
table row with target and verdict) is written after every full run, and the section between the
``bench:latest`` markers in ``docs/benchmarks.md`` is regenerated from it; the dated sections
above it are history, written by hand.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    charts,
    detector,
    event_loop,
    exposure,
    fanout,
    live_scan,
    machine,
    news,
    outbox_scale,
    replay,
    scaling,
    startup,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"
RECORD = DOCS / "benchmarks.json"
TABLE = DOCS / "benchmarks.md"
START, END = "<!-- bench:latest -->", "<!-- /bench:latest -->"
BACKTEST_TARGET_SECONDS = 3.0


def _detector() -> tuple[dict[str, Any], str]:
    speed = detector.snapshot_speed()
    return speed, (
        f"| detector alone, 100 synthetic instruments | baseline {speed['baseline_us']:.0f} us "
        f"per session, detect {speed['detect_us']:.0f} us per snapshot | - |"
    )


def _backtest() -> tuple[dict[str, Any], str]:
    full = detector.full_backtest()
    verdict = "meets" if full["seconds_best"] < BACKTEST_TARGET_SECONDS else "MISSES"
    return full, (
        f"| full backtest 2015-2026, `daily_close`, cold process | best "
        f"{full['seconds_best']:.2f} s, median {full['seconds_median']:.2f} s, peak RSS "
        f"{full['peak_rss_mib']:.0f} MiB | < {BACKTEST_TARGET_SECONDS:.0f} s: {verdict} |"
    )


def _news() -> tuple[dict[str, Any], str]:
    feed = news.parse_and_match()
    return feed, (
        f"| news parse and match, Reuters file ({feed['megabytes']:.1f} MB, "
        f"{feed['items']:.0f} items, {feed['matched']:.0f} matched) | parse "
        f"{feed['parse_s'] * 1000:.0f} ms + match {feed['match_s'] * 1000:.0f} ms: "
        f"{feed['items_per_s']:.0f} items/s, {feed['mb_per_s']:.1f} MB/s | - |"
    )


def _with(run: Callable[[], Any], summary: Callable[[Any], str]) -> Callable[[], tuple[Any, str]]:
    def both() -> tuple[Any, str]:
        result = run()
        return result, summary(result)

    return both


BENCHMARKS: dict[str, Callable[[], tuple[Any, str]]] = {
    "detector": _detector,
    "backtest": _backtest,
    "scaling": _with(scaling.scaling, scaling.summary),
    "replay": _with(replay.replay, replay.summary),
    "live_scan": _with(live_scan.live_scan, live_scan.summary),
    "exposure": _with(exposure.exposure, exposure.summary),
    "startup": _with(startup.startup, startup.summary),
    "charts": _with(charts.charts, charts.summary),
    "news": _news,
    "fanout": _with(fanout.fanout, fanout.summary),
    "event_loop": _with(event_loop.loop_holding, event_loop.summary),
    "outbox_scale": _with(outbox_scale.outbox_scale, outbox_scale.summary),
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def regenerate(record: dict[str, Any]) -> None:
    """Rewrite the ``bench:latest`` section of docs/benchmarks.md from ``record``."""
    rows = "\n".join(entry["row"] for entry in record["results"].values())
    section = (
        f"{START}\n## Latest `make bench` ({record['date']})\n\n"
        f"Generated from `docs/benchmarks.json`. Machine: {record['machine']}.\n\n"
        f"| benchmark | result | target |\n|---|---|---|\n{rows}\n{END}"
    )
    text = TABLE.read_text(encoding="utf-8")
    if START in text and END in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    TABLE.write_text(text, encoding="utf-8")


def main(names: list[str]) -> None:
    chosen = names or list(BENCHMARKS)
    record: dict[str, Any] = {
        "machine": machine.describe(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "results": {},
    }
    print(f"machine: {record['machine']}")
    print("| benchmark | result | target |\n|---|---|---|")
    for name in chosen:
        figures, row = BENCHMARKS[name]()
        print(row, flush=True)
        record["results"][name] = {"figures": _jsonable(figures), "row": row}
    if not names:  # a partial run records nothing
        RECORD.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        regenerate(record)
        print(f"recorded in {RECORD.name}; {TABLE.name} regenerated")


if __name__ == "__main__":
    main(sys.argv[1:])
