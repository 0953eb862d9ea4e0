"""Neutral replies: what a handler says, before any platform's markup.

A reply is a list of blocks made of spans. Renderers (``bot/render/chat.py``) turn it into
Telegram HTML, Discord markdown or plain text, escaping every span for the platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A run of text with one style."""

    text: str
    bold: bool = False
    code: bool = False
    italic: bool = False
    link: str | None = None


@dataclass(frozen=True)
class Paragraph:
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[tuple[Span, ...], ...]


@dataclass(frozen=True)
class Table:
    """A small table; rendered monospaced."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Paragraph | Heading | Bullets | Table


@dataclass(frozen=True)
class Image:
    """A picture with a reply (a chart): PNG bytes and its content in words (alt text)."""

    png: bytes
    alt: str


@dataclass(frozen=True)
class Button:
    """A button: its label and the data a press sends back (a command, see
    :mod:`bot.render.buttons`)."""

    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Reply:
    """What a command answers. ``severity`` colours it where a platform can (Discord embeds)."""

    blocks: tuple[Block, ...] = field(default_factory=tuple)
    severity: str | None = None
    image: Image | None = None
    """Shown with the text: the text becomes its caption where the platform has one."""
    buttons: Keyboard = ()
    """Buttons under the reply (a press runs the command in their data)."""

    @staticmethod
    def text(*lines: str) -> Reply:
        return Reply(tuple(Paragraph((Span(line),)) for line in lines))


def spans(*parts: str | Span) -> tuple[Span, ...]:
    """Build spans: plain strings become plain spans."""
    return tuple(Span(p) if isinstance(p, str) else p for p in parts)


def bold(text: str) -> Span:
    return Span(text, bold=True)


def code(text: str) -> Span:
    return Span(text, code=True)
