"""``/news [TICKER|theme]``: the latest headlines matched to the AI supply chain."""

from __future__ import annotations

from bot.render.replies import Bullets, Heading, Paragraph, Reply, Span, spans
from handlers.registry import Context

SHOWN = 8
SCANNED = 1000


async def news(ctx: Context) -> Reply:
    matcher = ctx.services.matcher
    if matcher is None:
        return Reply.text(ctx.t("news.off"))
    query = " ".join(ctx.args).strip()
    symbols: set[str] = set()
    themes: set[str] = set()
    if query:
        found_symbols, found_themes = matcher.lookup(query)
        symbols, themes = set(found_symbols), set(found_themes)
        if not symbols and not themes:
            known = ", ".join(matcher.themes)
            return Reply.text(ctx.t("news.unknown", query=query[:40], themes=known))
    headlines = [
        h
        for h in ctx.services.store.recent_headlines(limit=SCANNED)
        if not query or symbols & set(h.symbols) or themes & set(h.themes)
    ][:SHOWN]
    title = ctx.t("news.title_for", query=query[:40]) if query else ctx.t("news.title")
    if not headlines:
        return Reply((Heading(title), Paragraph(spans(ctx.t("news.none")))))
    items = []
    for h in headlines:
        when = f"{h.published:%Y-%m-%d %H:%M} UTC" if h.published else ""
        tags = ", ".join([*h.symbols, *h.themes])
        detail = " · ".join(part for part in (h.feed, when, tags) if part)
        items.append((Span(h.title, link=h.link), Span(f" — {detail}", italic=True)))
    return Reply((Heading(title), Bullets(tuple(items))))
