"""News parse-and-match throughput on the 1.3 MB Reuters file with zero-width characters."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bot.news.match import Matcher, load_themes
from bot.sources.feeds import parse_feed
from bot.universe import load_universe

ROOT = Path(__file__).resolve().parent.parent
REUTERS = ROOT.parent / "shared" / "data" / "feeds" / "bad" / "reuters_zero_width_chars.xml"


def parse_and_match(rounds: int = 5) -> dict[str, float]:
    """Seconds to parse and match the whole file (median of ``rounds``), and throughput."""
    body = REUTERS.read_bytes()
    matcher = Matcher(load_universe(), load_themes())
    parse_times, match_times = [], []
    items = 0
    matched = 0
    for _ in range(rounds):
        started = time.perf_counter()
        parsed = parse_feed(body, "reuters", "en")
        parsed_at = time.perf_counter()
        matched = sum(1 for item in parsed.items if matcher.match(item))
        done = time.perf_counter()
        items = len(parsed.items)
        parse_times.append(parsed_at - started)
        match_times.append(done - parsed_at)
    parse_s, match_s = statistics.median(parse_times), statistics.median(match_times)
    total = parse_s + match_s
    return {
        "megabytes": len(body) / 1e6,
        "items": items,
        "matched": matched,
        "parse_s": parse_s,
        "match_s": match_s,
        "items_per_s": items / total,
        "mb_per_s": len(body) / 1e6 / total,
    }
