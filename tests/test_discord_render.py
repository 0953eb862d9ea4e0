"""Discord rendering: markdown escaped, mentions defused, every limit respected."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.adapters.discord import alert_payload, language_of, reply_embeds
from bot.alerts import Alert, AlertKind, Headline
from bot.detection.detect import Label, Mover, Severity, Stats
from bot.render.chat import (
    DISCORD_DESCRIPTION,
    DISCORD_EMBED_TOTAL,
    discord_escape,
    discord_markdown,
)
from bot.render.replies import Heading, Paragraph, Reply, Span, Table

NOW = datetime(2025, 1, 27, 15, 30, tzinfo=UTC)


def test_mass_mentions_and_markdown_are_defused() -> None:
    text = discord_escape("@everyone @here <@123> <@&456> **bold** _x_ `c` [a](b) > q")

    assert "@everyone" not in text
    assert "@here" not in text
    assert "<@123>" not in text
    assert "<@&456>" not in text
    assert "\\*\\*bold\\*\\*" in text
    assert "\\[a\\]\\(b\\)" in text


def test_long_replies_become_pages_within_the_embed_limit() -> None:
    reply = Reply(tuple(Paragraph((Span(f"line {n} " + "x" * 80),)) for n in range(300)))
    pages = discord_markdown(reply)

    assert len(pages) > 1
    assert all(len(p) <= DISCORD_DESCRIPTION for p in pages)
    embeds = reply_embeds(reply, "en")
    assert len(embeds) <= 10
    assert all(len(e.description or "") <= DISCORD_DESCRIPTION for e in embeds)


def test_tables_and_headings() -> None:
    reply = Reply((Heading("@everyone look"), Table(("a", "b"), (("x`y", "1"),))))
    page = discord_markdown(reply)[0]

    assert page.startswith("**@\u200beveryone look**")
    assert "```" in page
    assert "x`y" not in page  # a backtick inside a code block would end it


def test_alert_payload_respects_discords_limits() -> None:
    stats = Stats(
        -0.13,
        -0.004,
        0.01,
        1.7,
        -9.2,
        -11.0,
        -0.4,
        -8.9,
        0.9,
        -0.015,
        tuple(Mover(s, -0.2, -7.0) for s in ("VRT", "VST", "ANET")),
        16,
    )
    headlines = tuple(
        Headline("@everyone DeepSeek " + "y" * 3000, "feed", "https://example.com/a", NOW)
        for _ in range(40)
    )
    alert = Alert(
        "k",
        "e",
        AlertKind.OPEN,
        Label.DIVERGENCE_DOWN,
        Severity.CRITICAL,
        "us",
        "down",
        NOW,
        NOW,
        stats,
        reasons=("r" * 5000,),
        headlines=headlines,
    )

    payload = json.loads(alert_payload(alert, "en")[0])
    embed = payload["embed"]

    assert payload["critical"] is True
    assert embed["color"] == 0xE74C3C
    assert len(embed["title"]) <= 256
    assert len(embed["description"]) <= DISCORD_DESCRIPTION
    assert embed["description"].endswith("(full text: /status, /news)")
    assert len(embed["title"]) + len(embed["description"]) <= DISCORD_EMBED_TOTAL
    assert "@everyone" not in json.dumps(embed)


def test_recovery_is_green_and_never_pings() -> None:
    alert = Alert(
        "k",
        "e",
        AlertKind.RECOVER,
        Label.DIVERGENCE_DOWN,
        Severity.CRITICAL,
        "us",
        "down",
        NOW,
        NOW,
    )
    payload = json.loads(alert_payload(alert, "de")[0])

    assert payload["critical"] is False
    assert payload["embed"]["color"] == 0x2ECC71
    assert payload["embed"]["title"].startswith("ENTWARNUNG")


def test_locale_to_language() -> None:
    assert language_of("de") == "de"
    assert language_of("en-US") == "en"
    assert language_of(None) == "en"


def test_a_headline_link_cannot_smuggle_a_second_masked_link() -> None:
    """A ``)`` in a feed's link used to end the masked link early, and what followed became a
    second, hidden link. Alerts and replies now share one link writer."""
    link = "https://example.com/a)[click](https://evil.example/x"
    alert = Alert(
        "k",
        "e",
        AlertKind.OPEN,
        Label.DIVERGENCE_DOWN,
        Severity.ALERT,
        "us",
        "down",
        NOW,
        NOW,
        headlines=(Headline("Chips [fall] (again)", "feed", link, NOW),),
    )

    description = json.loads(alert_payload(alert, "en")[0])["embed"]["description"]

    (value,) = [line for line in description.splitlines() if line.startswith("• ")]
    assert value.count("](") == 1  # one masked link
    assert value.endswith("(https://example.com/a%29[click]%28https://evil.example/x) \\(feed\\)")
    assert "\\[fall\\]" in value  # the title's brackets are text, not markup


def test_a_long_discord_reply_is_cut_as_markdown_not_as_html() -> None:
    """One paragraph longer than an embed: before, it went through the Telegram HTML cutter
    and came out as ``AT&amp;T`` with ``<...>`` text deleted."""
    reply = Reply((Paragraph((Span("AT&T <NVDA> " * 600),)),))

    (page,) = reply_embeds(reply, "en")

    text = page.description or ""
    assert len(text) <= DISCORD_DESCRIPTION
    assert text.startswith("AT&T <NVDA\\> AT&T")  # ">" escaped: it would start a quote
    assert "&amp;" not in text
    assert text.endswith("…")


def test_mentions_in_code_and_tables_are_defused_too() -> None:
    """Found by Hypothesis: a table cell ``<@`` reached the page verbatim."""
    reply = Reply(
        (
            Paragraph((Span("<@123> @everyone", code=True),)),
            Table(("who", "<@&456>"), (("@here", "<#789>"),)),
        )
    )

    (page,) = discord_markdown(reply)

    assert "<@" not in page
    assert "<#" not in page
    assert "@everyone" not in page
    assert "@here" not in page
