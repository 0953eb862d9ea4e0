"""Property-based tests (Hypothesis): whatever the input, a reply, valid markup, no pings."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.discord import alert_payload, chart_payload, reply_payload
from bot.adapters.telegram import chart_caption, parse_command, render_alert
from bot.alerts import Alert, AlertKind, Headline
from bot.detection.detect import Label, Severity
from bot.render.chat import TELEGRAM_LIMIT, discord_markdown, telegram_html
from bot.render.replies import Bullets, Heading, Paragraph, Reply, Span, Table
from bot.sources.feeds import normalise_text, parse_feed
from bot.text import visible_text
from handlers.exposure import Request, parse_request
from handlers.registry import UsageError, split_args
from tests.fakes.telegram_api import parse_html, utf16_len

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any text, with markup characters, astral emoji (two UTF-16 units) and controls well represented.
texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("<>&\"'`*_~|@#[]()\\:/ \n")),
        st.sampled_from(["😀", "\U0001d54f", "\u202e", "\x1b", "\u200b", "é", "ß"]),
        st.characters(codec="utf-8"),
    ),
    max_size=300,
)
links = st.one_of(st.none(), st.just("https://example.com/a_(b)?q=1&r=2"), texts)
span = st.builds(
    Span, text=texts, bold=st.booleans(), code=st.booleans(), italic=st.booleans(), link=links
)
blocks = st.one_of(
    st.builds(Paragraph, spans=st.lists(span, min_size=1, max_size=4).map(tuple)),
    st.builds(Heading, text=texts),
    st.builds(
        Bullets,
        items=st.lists(
            st.lists(span, min_size=1, max_size=3).map(tuple), min_size=1, max_size=4
        ).map(tuple),
    ),
    st.builds(
        Table,
        header=st.tuples(texts, texts),
        rows=st.lists(st.tuples(texts, texts), max_size=5).map(tuple),
    ),
)
replies = st.builds(Reply, blocks=st.lists(blocks, min_size=1, max_size=30).map(tuple))


@FAST
@given(replies)
def test_every_telegram_message_is_valid_bot_api_html_within_the_limit(reply: Reply) -> None:
    for message in telegram_html(reply):
        assert utf16_len(message) <= TELEGRAM_LIMIT
        plain, _ = parse_html(message)  # raises on markup Telegram would refuse
        assert utf16_len(plain) <= TELEGRAM_LIMIT


@FAST
@given(replies)
def test_every_discord_page_fits_and_pings_nobody(reply: Reply) -> None:
    for page in discord_markdown(reply):
        assert len(page) <= 4096
        assert not re.search(r"@(everyone|here)", page)
        assert "<@" not in page
        assert "<#" not in page


NOW = datetime(2025, 1, 27, 15, 30, tzinfo=UTC)
headlines = st.builds(
    Headline, title=texts, feed=texts, link=links.map(lambda x: x or ""), published=st.just(NOW)
)
alerts = st.builds(
    Alert,
    key=st.just("k"),
    episode_id=st.just("e"),
    kind=st.sampled_from(AlertKind),
    label=st.sampled_from(Label),
    severity=st.sampled_from(Severity),
    region=st.sampled_from(["us", "us_pre", "eu", "jp"]),
    direction=st.sampled_from(["down", "up"]),
    fired_at=st.just(NOW),
    data_time=st.just(NOW),
    reasons=st.lists(texts, max_size=20).map(tuple),
    headlines=st.lists(headlines, max_size=30).map(tuple),
    drill=st.booleans(),
)


@FAST
@given(alerts, st.sampled_from(["en", "de"]))
def test_every_alert_renders_within_each_platforms_limits(alert: Alert, language: str) -> None:
    """Alerts are replies: the same renderers, the same guarantees."""
    for message in render_alert(alert, language):  # type: ignore[arg-type]
        assert utf16_len(message) <= TELEGRAM_LIMIT
        parse_html(message)
    (payload,) = alert_payload(alert, language)  # type: ignore[arg-type]
    embed = json.loads(payload)["embed"]
    assert len(embed["title"]) <= 256
    assert len(embed["description"]) <= 4096
    assert not re.search(r"@(everyone|here)", embed["description"])
    assert "<@" not in embed["description"]


@FAST
@given(st.text(max_size=3000) | texts, st.sampled_from(["en", "de"]))
def test_every_chart_caption_fits_and_pings_nobody(words: str, language: str) -> None:
    """A chart's words (names, numbers) as a Telegram photo caption and a Discord embed."""
    caption = chart_caption(words, language)  # type: ignore[arg-type]
    assert utf16_len(caption) <= 1024
    plain, _ = parse_html(caption)
    assert utf16_len(plain) <= 1024
    embed = json.loads(chart_payload(words, language))["embed"]  # type: ignore[arg-type]
    assert len(embed["description"]) <= 4096
    assert embed["image"] == {"url": "attachment://chart.png"}
    assert not re.search(r"@(everyone|here)", embed["description"])
    assert "<@" not in embed["description"]


@FAST
@given(replies)
def test_every_digest_page_for_discord_fits_and_pings_nobody(reply: Reply) -> None:
    for payload in reply_payload(reply):
        embed = json.loads(payload)["embed"]
        assert len(embed.get("title", "")) <= 256
        assert len(embed["description"]) <= 4096
        assert not re.search(r"@(everyone|here)", embed["description"] + embed.get("title", ""))


@FAST
@given(texts, st.one_of(st.none(), st.just("ai_shock_bot")))
def test_any_message_text_parses_or_is_ignored(text: str, bot: str | None) -> None:
    parsed = parse_command(text, bot)
    if parsed is not None:
        name, rest = parsed
        assert isinstance(name, str)
        assert isinstance(rest, str)


@FAST
@given(st.lists(texts, max_size=12))
def test_exposure_arguments_parse_or_say_why(args: list[str]) -> None:
    raw = " ".join(args)
    refused: str | None = None
    try:
        request = parse_request(split_args(visible_text(raw)))
    except UsageError as exc:  # a bad input is said, in the user's words, never a crash
        refused = exc.key
    if refused is not None:
        assert refused.startswith("exposure.")
        return
    assert isinstance(request, Request)
    assert abs(sum(p.weight for p in request.positions) - 1.0) < 1e-6 or request.single


@FAST
@given(st.binary(max_size=4000))
def test_feed_parsing_of_arbitrary_bytes_never_raises(body: bytes) -> None:
    parsed = parse_feed(body, "fuzz", "en")
    for item in parsed.items:
        assert item.title == normalise_text(item.title)
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", item.title)


@FAST
@given(texts)
def test_visible_text_is_idempotent_and_keeps_what_a_reader_sees(text: str) -> None:
    once = visible_text(text)
    assert visible_text(once) == once
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", once)
