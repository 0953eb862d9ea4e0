"""`python -m benchmarks`: run every benchmark and print a Markdown summary."""

from __future__ import annotations

from benchmarks import (
    detector,
    event_loop,
    fanout,
    machine,
    news,
    outbox_scale,
    scaling,
    startup,
)

BACKTEST_TARGET_SECONDS = 3.0


def main() -> None:
    print(f"machine: {machine.describe()}")
    speed = detector.snapshot_speed()
    print(
        f"| detector, 100 instruments | baseline {speed['baseline_us']:.0f} us per session, "
        f"detect {speed['detect_us']:.0f} us per snapshot |"
    )
    full = detector.full_backtest()
    verdict = "meets" if full["seconds_best"] < BACKTEST_TARGET_SECONDS else "MISSES"
    print(
        f"| full backtest 2015-2026, daily_close (35 symbols, 2912 sessions, cold process) | "
        f"best {full['seconds_best']:.2f} s, median {full['seconds_median']:.2f} s "
        f"({verdict} the {BACKTEST_TARGET_SECONDS:.0f} s target), peak RSS "
        f"{full['peak_rss_mib']:.0f} MiB |"
    )

    feed = news.parse_and_match()
    print(
        f"| news parse and match, Reuters file ({feed['megabytes']:.1f} MB, "
        f"{feed['items']:.0f} items, {feed['matched']:.0f} matched) | parse "
        f"{feed['parse_s'] * 1000:.0f} ms + match {feed['match_s'] * 1000:.0f} ms: "
        f"{feed['items_per_s']:.0f} items/s, {feed['mb_per_s']:.1f} MB/s |"
    )
    print(fanout.summary(fanout.fanout()))
    print(event_loop.summary(event_loop.loop_holding()))
    print(outbox_scale.summary(outbox_scale.outbox_scale()))
    print(startup.summary(startup.startup()))
    print(scaling.summary(scaling.scaling()))


if __name__ == "__main__":
    main()
