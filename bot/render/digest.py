"""The daily digest as a neutral reply in a chat's language."""

from __future__ import annotations

from collections.abc import Mapping

from bot.detection.detect import Severity
from bot.digest import DigestData, RegionDay
from bot.episodes import Episode
from bot.news.match import Theme
from bot.render.i18n import Language, percent, translate
from bot.render.replies import Block, Bullets, Heading, Paragraph, Reply, Span


def _region_line(language: Language, day: RegionDay) -> str:
    def t(key: str, **values: object) -> str:
        return translate(language, key, **values)

    if day.basket is None:
        return t("digest.region_unread", region=t(f"region.{day.region}"))
    reading = t(f"label.{day.label.value}")
    if day.severity > Severity.NONE:
        reading += f" ({t(f'severity.{day.severity}')})"
    line = t(
        "digest.region",
        region=t(f"region.{day.region}"),
        basket=percent(language, day.basket),
        market="-" if day.control is None else percent(language, day.control),
        software="-" if day.software is None else percent(language, day.software),
        reading=reading,
    )
    if not day.settled:
        line += " " + t("digest.so_far", time=f"{day.as_of:%H:%M}")
    return line


def _episode(language: Language, episode: Episode, closed: bool) -> str:
    at = episode.closed_at if closed and episode.closed_at else episode.opened_at
    return translate(
        language,
        "digest.episode",
        label=translate(language, f"label.{episode.label.value}"),
        severity=translate(language, f"severity.{episode.severity}"),
        regions=", ".join(translate(language, f"region.{r}") for r in episode.regions)
        or episode.group,
        time=f"{at:%H:%M}",
    )


def digest_reply(
    data: DigestData, language: Language, themes: Mapping[str, Theme] | None = None
) -> Reply:
    """The digest of ``data.day``: a short one on a quiet day."""

    def t(key: str, **values: object) -> str:
        return translate(language, key, **values)

    title = t("digest.title", day=data.day.isoformat())
    if data.drill:
        title = f"{t('alert.drill')} {title}"
    blocks: list[Block] = [Heading(title)]
    if not data.regions:
        blocks.append(Paragraph((Span(t("digest.no_scans")),)))
        return Reply(tuple(blocks))
    if data.quiet:
        blocks.append(Paragraph((Span(t("digest.quiet")),)))
    blocks += [Paragraph((Span(_region_line(language, day)),)) for day in data.regions]
    if data.movers and not data.quiet:
        movers = ", ".join(f"{m.symbol} {percent(language, m.ret)}" for m in data.movers)
        blocks.append(Paragraph((Span(t("digest.movers", movers=movers)),)))
    if data.opened:
        opened = "; ".join(_episode(language, e, closed=False) for e in data.opened)
        blocks.append(Paragraph((Span(t("digest.opened", episodes=opened)),)))
    if data.closed:
        closed = "; ".join(_episode(language, e, closed=True) for e in data.closed)
        blocks.append(Paragraph((Span(t("digest.closed", episodes=closed)),)))
    if data.bursts:
        bursts = ", ".join(
            f"{themes[key].name(language) if themes and key in themes else key} ({count})"
            for key, count in data.bursts
        )
        blocks.append(Paragraph((Span(t("digest.bursts", bursts=bursts)),)))
    if data.themes:
        named = ", ".join(
            f"{themes[key].name(language) if themes and key in themes else key} ({count})"
            for key, count in data.themes
        )
        blocks.append(Paragraph((Span(t("digest.themes", themes=named)),)))
    if data.headlines and not data.quiet:
        blocks.append(Paragraph((Span(t("digest.headlines"), italic=True),)))
        blocks.append(
            Bullets(
                tuple(
                    (Span(h.title, link=h.link or None), Span(f" ({h.feed})"))
                    for h in data.headlines
                )
            )
        )
    return Reply(tuple(blocks))
