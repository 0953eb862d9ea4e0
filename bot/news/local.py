"""Feed files and URLs read once (``python -m bot news``, ``replay --feeds``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.news.items import FeedConfig
from bot.sources.feeds import FeedState, FetchLimits, ParsedFeed, fetch_feed, read_feed_file

FEED_SUFFIXES = (".xml", ".rss", ".atom")


@dataclass(frozen=True)
class FeedRead:
    """One source read: where from, and what it gave (or why it gave nothing)."""

    source: str
    parsed: ParsedFeed | None
    error: str | None = None


def feed_files(path: Path) -> list[Path]:
    """A file, or every feed file below a directory (sorted)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in FEED_SUFFIXES)
    return [path]


def read_paths(paths: Sequence[Path]) -> list[FeedRead]:
    out = []
    for path in paths:
        if not path.exists():
            out.append(FeedRead(str(path), None, "no such file or directory"))
            continue
        files = feed_files(path)
        if not files:
            out.append(FeedRead(str(path), None, "no feed files (*.xml, *.rss, *.atom) here"))
        for file in files:
            try:
                out.append(FeedRead(str(file), read_feed_file(file)))
            except OSError as exc:
                out.append(FeedRead(str(file), None, f"cannot read: {exc.strerror}"))
    return out


async def read_url(url: str, limits: FetchLimits) -> FeedRead:
    """Fetch one URL with the same limits as the live watch."""
    try:
        feed = FeedConfig.model_validate({"name": url, "url": url})
    except ValueError:
        return FeedRead(url, None, "not an http(s) URL")
    async with httpx.AsyncClient() as client:
        result = await fetch_feed(client, feed, FeedState(), datetime.now(UTC), limits)
    if result.parsed is None:
        return FeedRead(url, None, result.message)
    return FeedRead(url, result.parsed)
