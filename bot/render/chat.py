"""Neutral replies (command answers and alerts) rendered for a platform: Telegram HTML,
Discord markdown and plain text.

Every dynamic span is escaped for its platform, and long texts are split on line boundaries so
each message fits the platform's limit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence

from bot.render.replies import Block, Bullets, Heading, Paragraph, Reply, Span, Table

TELEGRAM_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024
ELLIPSIS = "…"


def _table_lines(table: Table) -> list[str]:
    rows = [table.header, *table.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.header))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _html_span(span: Span) -> str:
    text = html.escape(span.text, quote=False)
    if span.code:
        text = f"<code>{text}</code>"
    if span.bold:
        text = f"<b>{text}</b>"
    if span.italic:
        text = f"<i>{text}</i>"
    if span.link and span.link.startswith(("http://", "https://")):
        text = f'<a href="{html.escape(span.link, quote=True)}">{text}</a>'
    return text


def _html_spans(spans: Iterable[Span]) -> str:
    return "".join(_html_span(s) for s in spans)


def _html_units(block: Block, limit: int) -> list[str]:
    """Complete HTML fragments for one block, none longer than ``limit``."""
    if isinstance(block, Heading):
        return [f"<b>{html.escape(block.text, quote=False)}</b>"]
    if isinstance(block, Paragraph):
        return [_html_spans(block.spans)]
    if isinstance(block, Bullets):
        return [f"• {_html_spans(item)}" for item in block.items]
    units: list[str] = []
    current: list[str] = []
    for line in _table_lines(block):
        escaped = html.escape(line, quote=False)
        if current and utf16_len("\n".join([*current, escaped])) + 11 > limit:
            units.append("<pre>" + "\n".join(current) + "</pre>")
            current = []
        current.append(escaped)
    if current:
        units.append("<pre>" + "\n".join(current) + "</pre>")
    return units


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts (an emoji beyond U+FFFF counts two)."""
    return len(text.encode("utf-16-le")) // 2


def _fit(unit: str, limit: int) -> str:
    """A single HTML fragment too long for a message, cut as plain text."""
    if utf16_len(unit) <= limit:
        return unit
    text = html.unescape(re.sub(r"<[^>]+>", "", unit))
    cut = text[: limit // 2]
    while utf16_len(html.escape(cut, quote=False)) + 1 > limit:
        cut = cut[: len(cut) * 9 // 10]
    return html.escape(cut, quote=False) + ELLIPSIS


def _fit_markdown(unit: str, limit: int) -> str:
    """A single Discord markdown fragment too long for a page, cut (never mid-escape)."""
    if len(unit) <= limit:
        return unit
    return unit[: limit - len(ELLIPSIS)].rstrip("\\") + ELLIPSIS


def pack(
    units: Sequence[str],
    limit: int,
    separator: str = "\n",
    fit: Callable[[str, int], str] = _fit,
    measure: Callable[[str], int] = utf16_len,
) -> list[str]:
    """Join fragments into as few messages as fit ``limit``, breaking only between them; a
    fragment longer than a message is cut by ``fit``. The defaults are Telegram's: HTML,
    counted in UTF-16 units (the markup counted too, so the text Telegram counts fits)."""
    messages: list[str] = []
    current = ""
    for unit in units:
        unit = fit(unit, limit)
        candidate = f"{current}{separator}{unit}" if current else unit
        if measure(candidate) > limit:
            messages.append(current)
            current = unit
        else:
            current = candidate
    if current:
        messages.append(current)
    return messages


def telegram_html(reply: Reply, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """A reply as Telegram HTML messages (parse mode HTML), each within ``limit``."""
    units: list[str] = []
    for n, block in enumerate(reply.blocks):
        if n and isinstance(block, Heading):
            units.append("")
        units.extend(_html_units(block, limit))
    return pack(units, limit) or [""]


def telegram_caption(text: str) -> str:
    """Plain ``text`` as a photo caption in Telegram HTML, within the 1024-unit limit."""
    return _fit(html.escape(text, quote=False), TELEGRAM_CAPTION_LIMIT)


def plain_text(reply: Reply) -> str:
    """A reply as plain text (console, logs, tests)."""
    lines: list[str] = []
    for block in reply.blocks:
        if isinstance(block, Heading):
            lines.append(block.text)
        elif isinstance(block, Paragraph):
            lines.append("".join(s.text for s in block.spans))
        elif isinstance(block, Bullets):
            lines.extend("• " + "".join(s.text for s in item) for item in block.items)
        else:
            lines.extend(_table_lines(block))
    return "\n".join(lines)


DISCORD_DESCRIPTION = 4096
DISCORD_TITLE = 256
DISCORD_EMBED_TOTAL = 6000
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()#-])")
_BACKTICK_STANDIN = "\u02cb"  # a modifier letter: looks like ` but closes no code span
_MASS_MENTION = re.compile(r"@(everyone|here)")


def discord_escape(text: str) -> str:
    """Markdown-escaped text in which ``@everyone``/``@here`` and user, role and channel
    mentions cannot ping (a zero-width space breaks them; allowed_mentions forbids them too)."""
    return _defuse_mentions(_MARKDOWN.sub(r"\\\1", text))


def _defuse_mentions(text: str) -> str:
    """``@everyone``/``@here`` and user, role and channel mentions broken by a zero-width space
    (also inside code, where the text is otherwise verbatim)."""
    text = _MASS_MENTION.sub("@\u200b\\1", text)
    return text.replace("<@", "<\u200b@").replace("<#", "<\u200b#")


def _discord_span(span: Span) -> str:
    text = discord_escape(span.text)
    if span.code:
        text = f"`{_defuse_mentions(span.text.replace('`', _BACKTICK_STANDIN))}`"
    if span.bold:
        text = f"**{text}**"
    if span.italic:
        text = f"*{text}*"
    if span.link and span.link.startswith(("http://", "https://")):
        text = discord_link(text, span.link)
    return text


def discord_link(label: str, url: str) -> str:
    """A masked link ``[label](url)``: ``label`` already escaped; in ``url`` the characters
    that would end the link early or start a second, hidden one are percent-encoded."""
    safe = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20").replace("<", "%3C")
    return f"[{label}]({safe.replace('>', '%3E')})"


def _discord_units(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [f"**{discord_escape(block.text)}**"]
    if isinstance(block, Paragraph):
        return ["".join(_discord_span(s) for s in block.spans)]
    if isinstance(block, Bullets):
        return ["• " + "".join(_discord_span(s) for s in item) for item in block.items]
    lines = [_defuse_mentions(line.replace("`", _BACKTICK_STANDIN)) for line in _table_lines(block)]
    units: list[str] = []
    current: list[str] = []
    for line in lines:
        if current and len("\n".join([*current, line])) + 8 > DISCORD_DESCRIPTION:
            units.append("```\n" + "\n".join(current) + "\n```")
            current = []
        current.append(line)
    if current:
        units.append("```\n" + "\n".join(current) + "\n```")
    return units


def discord_markdown(reply: Reply, limit: int = DISCORD_DESCRIPTION) -> list[str]:
    """A reply as Discord markdown pages, each fitting an embed description."""
    units: list[str] = []
    for block in reply.blocks:
        units.extend(_discord_units(block))
    pages = pack(units, limit, fit=_fit_markdown, measure=len)
    return [page for page in pages if page] or ["\u200b"]


def shorten(text: str, limit: int, pointer: str = "") -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis and ``pointer``."""
    if len(text) <= limit:
        return text
    tail = f"{ELLIPSIS} {pointer}".rstrip()
    return text[: max(0, limit - len(tail))].rstrip() + tail
