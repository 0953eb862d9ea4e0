"""The shared shapes of the news watch: a configured feed and a normalised item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

Language = Literal["en", "de"]


class FeedConfig(BaseModel):
    """One feed of the ``[[news.feeds]]`` config list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    url: HttpUrl
    language: Language = "en"
    interval_minutes: int = Field(default=10, ge=1, le=24 * 60)


@dataclass(frozen=True)
class NewsItem:
    """One feed entry after normalisation (plain text, no HTML, no zero-width characters).

    Attributes:
        feed: the configured feed's name (or the file name for local files).
        title: the headline.
        link: the article URL, if any.
        guid: the feed's id for the entry, if any.
        summary: the description as plain text ("" when absent).
        published: publication (or update) time in UTC, if the feed gave one.
        language: the feed's language.
    """

    feed: str
    title: str
    link: str | None
    guid: str | None
    summary: str
    published: datetime | None
    language: Language
