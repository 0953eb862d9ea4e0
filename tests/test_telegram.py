"""The Telegram adapter end to end: the real python-telegram-bot Application inside
``TelegramAdapter`` polls the fake Bot API over HTTP on 127.0.0.1 and answers on real prices;
alerts travel ``OutboxSink -> OutboxSender -> TelegramTransport`` to the same fake.

Every reply is parsed by the fake as Telegram HTML (it answers 400 to invalid HTML), so a
message that arrives proves its markup was valid. A command whose reply may be missing (or
split) is followed by a sentinel ``/start`` in another chat: PTB handles updates one at a time,
so once the sentinel is answered everything before it has been answered too.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.telegram import (
    TelegramAdapter,
    TelegramConfig,
    TelegramTransport,
    is_group_chat,
    render_alert,
)
from bot.alerts import Alert, AlertKind, Headline
from bot.config import RedactSecrets, Settings, install_log_redaction, load_config
from bot.delivery.outbox import Outbox
from bot.delivery.outbox_sink import OutboxSink
from bot.delivery.ratelimit import Limits, RateLimiter
from bot.delivery.sender import OutboxSender, SenderSettings, utc_now
from bot.detection.detect import Label, Mover, Severity, Stats
from bot.render.chat import TELEGRAM_LIMIT
from bot.render.i18n import translate
from bot.render.replies import Paragraph, Reply, spans
from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from bot.universe import Universe, UniverseOverrides, load_universe
from handlers.commands import build_registry
from handlers.registry import Command, Context, Dispatcher, RateLimit, Registry
from handlers.services import Services
from tests.factories import Clock
from tests.fakes.telegram_api import FakeBotApi, JSONDict, SentMessage, utf16_len

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SECRET_PART = TOKEN.split(":", 1)[1]
USER = 4242  # an English-speaking user in a private chat (private chat id == user id)
DE_USER = 4343  # a German-speaking user in a private chat
SENTINEL = 9999  # a private chat whose /start marks "every earlier update was handled"
GROUP = -4001
SUPERGROUP = -1009876543210
ADMIN = 5151
OWNER = 5353
MEMBER = 5252

CONFIG = load_config(None, {})
NOW = datetime(2026, 8, 4, 12, 0, tzinfo=UTC)
COMMAND_NAMES = [c.name for c in build_registry().commands]

SCRIPT_NAME = "<script>alert(1)</script> & Co"
SCRIPT_UNIVERSE = load_universe(
    UniverseOverrides(
        add=({**CONFIG.universe.instruments["AAPL"].model_dump(), "name": SCRIPT_NAME},)
    )
)


async def _long_report(ctx: Context) -> Reply:
    return Reply(tuple(Paragraph(spans(line)) for line in LONG_LINES))


LONG_LINES = [f"line {n:03d} & <{n}> " + "x" * 40 for n in range(300)]
LONG_REGISTRY = Registry(
    [Command("report", _long_report, "cmd.status.summary", "cmd.status.usage")]
)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        fake.add_chat(USER, "private", first_name="Ada", language_code="en")
        fake.add_chat(DE_USER, "private", first_name="Grete", language_code="de")
        fake.add_chat(SENTINEL, "private", first_name="Sentinel", language_code="en")
        fake.add_chat(GROUP, "group", title="Investors & <Friends>")
        yield fake
        assert fake.errors == []  # the fake never crashed (that would be a 500)


def make_adapter(
    api: FakeBotApi, services: Services, registry: Registry, limiter: RateLimiter | None = None
) -> TelegramAdapter:
    config = TelegramConfig(
        token=TOKEN,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        poll_timeout=1,
        concurrent_updates=1,  # one at a time: `ask` reads replies in the order of updates
    )
    return TelegramAdapter(config, Dispatcher(registry, services, RateLimit(calls=1000)), limiter)


@pytest.fixture
async def adapter(
    api: FakeBotApi, services: Services, registry: Registry
) -> AsyncIterator[TelegramAdapter]:
    tg = make_adapter(api, services, registry)
    try:
        await tg.start()
        yield tg
    finally:
        await tg.stop()


@dataclass
class Delivery:
    """The alert path of the app: sink -> outbox -> sender -> Telegram transport."""

    sink: OutboxSink
    sender: OutboxSender
    outbox: Outbox
    clock: Clock
    slept: list[float]

    async def deliver(self, alert: Alert) -> None:
        await self.sink.send_alert(alert)
        await self.sender.drain()


def make_delivery(adapter: TelegramAdapter, store: Store, universe: Universe) -> Delivery:
    clock = Clock(NOW)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # time passes without waiting
        slept.append(seconds)
        clock.now += timedelta(seconds=seconds)

    outbox = Outbox(store)
    sender = OutboxSender(
        outbox,
        TelegramTransport(adapter.app.bot),
        SenderSettings(),
        on_unreachable=lambda chat, why: store.disable_chat("telegram", chat, why, clock()),
        on_migrate=lambda old, new: store.migrate_chat("telegram", old, new, clock()),
        clock=clock,
        sleep=sleep,
        rng=random.Random(7),
    )
    sink = OutboxSink(
        "telegram", outbox, store, universe, render_alert, is_group_chat, clock, sender
    )
    return Delivery(sink, sender, outbox, clock, slept)


@pytest.fixture
def delivery(adapter: TelegramAdapter, store: Store, universe: Universe) -> Delivery:
    return make_delivery(adapter, store, universe)


# ------------------------------------------------------------------------------ helpers


async def ask(
    api: FakeBotApi, chat_id: int, user_id: int, text: str, *, language: str = "en"
) -> list[SentMessage]:
    """Send ``text`` as ``user_id`` in ``chat_id``; return every message the bot answered."""
    before = api.sent_count(chat_id)
    api.push_command(chat_id, user_id, text, language_code=language)
    answered = api.sent_count(SENTINEL) + 1
    api.push_command(SENTINEL, SENTINEL, "/start", language_code="en")
    await api.wait_for_sent(SENTINEL, answered, timeout=30)  # /exposure computes on real data
    return api.sent(chat_id)[before:]


async def say(
    api: FakeBotApi, chat_id: int, user_id: int, text: str, *, language: str = "en"
) -> str:
    """The plain text of a reply (one or more messages, each valid HTML within the limit)."""
    messages = await ask(api, chat_id, user_id, text, language=language)
    assert messages, f"no reply to {text!r}"
    for message in messages:
        assert message.parse_mode == "HTML"
        assert len(message.text) <= TELEGRAM_LIMIT
    return "\n".join(m.plain_text for m in messages)


def make_alert(episode: str = "us-2026-08-04-down", headlines: tuple[Headline, ...] = ()) -> Alert:
    return Alert(
        key=f"{episode}|open",
        episode_id=episode,
        kind=AlertKind.OPEN,
        label=Label.DIVERGENCE_DOWN,
        severity=Severity.CRITICAL,
        region="us",
        direction="down",
        fired_at=NOW,
        data_time=NOW - timedelta(minutes=20),
        stats=Stats(
            basket_ret=-0.092,
            control_ret=0.004,
            software_ret=0.012,
            beta=1.35,
            z_div=-6.4,
            z_sw=0.8,
            z_mkt=0.3,
            z_div_loo=-6.1,
            breadth=0.95,
            broad_index_ret=-0.01,
            top_movers=(Mover("NVDA", -0.17, -7.9), Mover("AVGO", -0.174, -7.2)),
            basket_names=22,
        ),
        headlines=headlines,
    )


EN_HEADLINE = "CRITICAL: AI-infrastructure sell-off while the market holds (US session, new)"
DE_HEADLINE = "KRITISCH: KI-Infrastruktur fällt, der Markt hält (US-Handel, neu)"


def send_statuses(api: FakeBotApi, chat_id: int) -> list[int]:
    """HTTP statuses of every sendMessage to one chat, in order."""
    return [r.status for r in api.calls("sendMessage") if r.params.get("chat_id") == chat_id]


async def subscribe_group(api: FakeBotApi, args: str = "") -> None:
    api.set_member_status(GROUP, ADMIN, "administrator")
    assert "Subscribed" in await say(api, GROUP, ADMIN, f"/subscribe {args}".strip())


# ------------------------------------------------------------------------------ start-up


async def test_startup_registers_the_command_menu_in_both_languages(
    api: FakeBotApi, adapter: TelegramAdapter
) -> None:
    english = api.commands()
    german = api.commands(language_code="de")

    assert [c["command"] for c in english] == COMMAND_NAMES
    assert [c["command"] for c in german] == COMMAND_NAMES
    core = {"start", "help", "exposure", "subscribe", "unsubscribe", "settings", "status"}
    assert core <= set(COMMAND_NAMES)
    en = {c["command"]: c["description"] for c in english}
    de = {c["command"]: c["description"] for c in german}
    assert en["start"] == translate("en", "cmd.start.summary") == "Introduction"
    assert de["start"] == translate("de", "cmd.start.summary") == "Einführung"
    assert de["exposure"] == "KI-Lieferketten-Risiko einer Aktie oder eines Depots"
    assert en["subscribe"] == "Alerts in this chat"
    calls = api.calls("setMyCommands")
    assert [c.params.get("language_code") for c in calls] == [None, "de"]
    assert all(c.params["scope"] == {"type": "default"} for c in calls)
    assert all(c.status == 200 for c in calls)
    await api.wait_until(lambda: api.polling)  # start() left it polling for updates
    assert adapter.app.bot.username == "fake_test_bot"


# ------------------------------------------------------------------------------ private chats


async def test_commands_in_a_private_chat_in_english(
    api: FakeBotApi, adapter: TelegramAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    start = await say(api, USER, USER, "/start")
    assert "I watch the AI supply chain" in start
    assert "Try /exposure NVDA, or /subscribe to get alerts here." in start
    reply = api.sent(USER)[-1]
    assert reply.params["link_preview_options"] == {"is_disabled": True}

    help_text = await say(api, USER, USER, "/help")
    assert help_text.startswith("Commands")
    for name in COMMAND_NAMES:
        assert f"/{name} " in help_text
    assert "/subscribe Alerts in this chat (admins only in groups)" in help_text
    assert "Segments for /subscribe and /settings: compute, foundry" in help_text
    code = [e for e in api.sent(USER)[-1].entities if e["type"] == "code"]
    assert len(code) == 2 * len(COMMAND_NAMES)  # every name and every usage as <code>

    exposure = await say(api, USER, USER, "/exposure NVDA")
    assert exposure.startswith("NVDA · Nvidia")
    assert "in the AI supply-chain list" in exposure
    assert "Compute (GPUs and custom silicon) (AI infrastructure)" in exposure
    assert "DeepSeek Monday (2025-01-27): NVDA -17.0%" in exposure
    assert "Prices up to 2026-08-03." in exposure
    assert api.sent(USER)[-1].text.startswith("<b>NVDA · Nvidia</b>")

    portfolio = await say(api, USER, USER, "/exposure NVDA:40 MSFT:30 CRM:30")
    assert portfolio.startswith("Portfolio of 3 positions")
    assert re.search(r"Compute \(GPUs and custom silicon\)\s+40%", portfolio)
    assert "What drives the exposure: NVDA" in portfolio
    match = re.search(r"it would have moved ([+-]\d+\.\d)%", portfolio)
    assert match
    assert -7.0 < float(match.group(1)) < -5.5
    assert [e["type"] for e in api.sent(USER)[-1].entities].count("pre") == 2  # two tables

    status = await say(api, USER, USER, "/status")
    assert status.splitlines()[0] == "Status"
    assert "No readings yet." in status
    assert "No price scans yet." in status

    settings = await say(api, USER, USER, "/settings")
    assert settings.splitlines() == [
        "Settings of this chat",
        "Alerts: off",
        "Minimum severity: alert",
        "Segments: all",
        "Quiet hours: none",
        "Language: en",
    ]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_commands_in_a_private_chat_in_german(
    api: FakeBotApi, adapter: TelegramAdapter
) -> None:
    start = await say(api, DE_USER, DE_USER, "/start", language="de")
    assert "Ich beobachte die KI-Lieferkette" in start
    assert "Probiere /exposure NVDA" in start

    help_text = await say(api, DE_USER, DE_USER, "/help", language="de")
    assert help_text.startswith("Befehle")
    for name in COMMAND_NAMES:
        assert f"/{name} " in help_text
    assert "/subscribe Warnungen in diesem Chat (in Gruppen nur für Admins)" in help_text

    exposure = await say(api, DE_USER, DE_USER, "/exposure NVDA", language="de")
    assert exposure.startswith("NVDA · Nvidia")
    assert "in der KI-Lieferkettenliste" in exposure
    assert "Rechenchips (GPUs und eigene KI-Chips) (KI-Infrastruktur)" in exposure
    assert "DeepSeek-Montag (27.01.2025): NVDA -17,0 %" in exposure
    assert "Kurse bis 2026-08-03." in exposure

    portfolio = await say(api, DE_USER, DE_USER, "/exposure NVDA:40 MSFT:30 CRM:30", language="de")
    assert portfolio.startswith("Depot mit 3 Positionen")
    assert re.search(r"Rechenchips \(GPUs und eigene KI-Chips\)\s+40 %", portfolio)
    assert "Was das Risiko treibt: NVDA" in portfolio
    assert re.search(r"hätte es sich um -\d+,\d % bewegt", portfolio)

    status = await say(api, DE_USER, DE_USER, "/status", language="de")
    assert "Noch keine Messungen." in status
    assert "Noch keine Kursabfragen." in status

    settings = await say(api, DE_USER, DE_USER, "/settings", language="de")
    assert settings.splitlines() == [
        "Einstellungen dieses Chats",
        "Warnungen: aus",
        "Mindeststufe: Warnung",
        "Segmente: alle",
        "Ruhezeiten: keine",
        "Sprache: de",
    ]


# ------------------------------------------------------------------------------ groups


async def test_in_groups_only_administrators_subscribe_and_unsubscribe(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store
) -> None:
    refused = await say(api, GROUP, MEMBER, "/subscribe")
    assert refused == "Only administrators of this chat can use /subscribe here."
    asked = [(r.params["chat_id"], r.params["user_id"]) for r in api.calls("getChatMember")]
    assert asked == [(GROUP, MEMBER)]
    assert not store.chat("telegram", str(GROUP)).subscribed

    api.set_member_status(GROUP, ADMIN, "administrator")
    done = await say(api, GROUP, ADMIN, "/subscribe@Fake_Test_Bot watch compute")
    assert done == "Subscribed: alerts of severity watch and above, segments: compute."
    chat = store.chat("telegram", str(GROUP))
    assert chat.subscribed
    assert chat.min_severity is Severity.WATCH
    assert chat.segments == ("compute",)
    assert api.calls("getChatMember")[-1].params["user_id"] == ADMIN

    refused = await say(api, GROUP, MEMBER, "/unsubscribe")
    assert refused == "Only administrators of this chat can use /unsubscribe here."
    assert store.chat("telegram", str(GROUP)).subscribed

    api.set_member_status(GROUP, OWNER, "creator")
    assert await say(api, GROUP, OWNER, "/unsubscribe") == (
        "Unsubscribed: no more alerts in this chat."
    )
    assert not store.chat("telegram", str(GROUP)).subscribed
    assert len(api.calls("getChatMember")) == 4


async def test_private_chats_need_no_admin_check(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store
) -> None:
    assert "Subscribed" in await say(api, USER, USER, "/subscribe")
    assert store.chat("telegram", str(USER)).subscribed
    assert store.chat("telegram", str(USER)).language == "en"
    assert api.calls("getChatMember") == []


# ------------------------------------------------------------------------------ bad input

JUNK = ("§$%&/()=?`+#*'~<>|" * 12)[:200]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "/exposure NVDAA",
            ["I don't know the symbol NVDAA.", "Did you mean: NVDA", "Yahoo Finance symbol"],
            id="unknown-ticker",
        ),
        pytest.param(
            f"/exposure {JUNK}",
            ["I could not read '§$%&/()'.", "Usage: /exposure NVDA"],
            id="junk",
        ),
        pytest.param(
            "/exposure NVDA:abc MSFT:30",
            ["Weights must be positive numbers ('abc').", "Usage: /exposure NVDA"],
            id="bad-weight",
        ),
        pytest.param(
            "/exposure " + " ".join(f"S{n}:1" for n in range(31)),
            ["At most 30 positions, you sent 31.", "Usage: /exposure NVDA"],
            id="31-positions",
        ),
        pytest.param(
            "/exposure",
            [
                "Name a ticker or a portfolio (or save one with /portfolio set",
                "Usage: /exposure NVDA",
            ],
            id="empty",
        ),
        pytest.param(
            "/frobnicate now",
            ["Unknown command /frobnicate. Send /help for the list."],
            id="unknown-command",
        ),
    ],
)
async def test_bad_input_gets_a_helpful_reply(
    api: FakeBotApi, adapter: TelegramAdapter, text: str, expected: list[str]
) -> None:
    assert len(JUNK) == 200
    messages = await ask(api, USER, USER, text)

    assert len(messages) == 1
    (message,) = messages
    assert message.parse_mode == "HTML"
    for fragment in expected:
        assert fragment in message.plain_text
    assert "error" not in message.plain_text.lower()  # no apology: nothing crashed


async def test_a_command_for_another_bot_is_ignored(
    api: FakeBotApi, adapter: TelegramAdapter
) -> None:
    assert await ask(api, USER, USER, "/help@other_bot") == []
    assert await ask(api, GROUP, MEMBER, "/subscribe@other_bot") == []
    assert api.calls("getChatMember") == []
    assert api.sent(USER) == []
    assert api.sent(GROUP) == []

    addressed = await say(api, USER, USER, "/help@fake_test_bot")  # addressed to us
    assert addressed.startswith("Commands")


# ------------------------------------------------------------------------------ escaping


@pytest.mark.parametrize("universe", [SCRIPT_UNIVERSE], ids=["script-name"])
async def test_an_instrument_name_with_markup_is_escaped(
    api: FakeBotApi, adapter: TelegramAdapter, universe: Universe
) -> None:
    assert universe.instruments["AAPL"].name == SCRIPT_NAME
    (message,) = await ask(api, USER, USER, "/exposure AAPL")

    title = f"AAPL · {SCRIPT_NAME}"
    assert message.plain_text.startswith(title + "\n")  # the characters, shown literally
    assert "<script>" not in message.text
    assert message.text.startswith("<b>AAPL · &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</b>")
    assert {"type": "bold", "offset": 0, "length": utf16_len(title)} in message.entities
    assert "Apple" not in message.plain_text


async def test_a_headline_with_markup_is_escaped_in_an_alert(
    api: FakeBotApi, adapter: TelegramAdapter, delivery: Delivery
) -> None:
    assert "Subscribed" in await say(api, USER, USER, "/subscribe")
    title = "<script>x</script> & <b>bold</b>"
    link = "https://news.example/story?id=1&src=<rss>"
    headline = Headline(title, "Wire & <Co>", link, NOW - timedelta(hours=1), ("NVDA",))

    await delivery.deliver(make_alert(headlines=(headline,)))

    (message,) = api.sent(USER)[1:]
    assert message.plain_text.startswith(EN_HEADLINE)
    assert message.plain_text.endswith(f"Why it fired:\n• {title} (Wire & <Co>)")
    assert "<script>" not in message.text
    assert "&lt;script&gt;x&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in message.text
    (text_link,) = [e for e in message.entities if e["type"] == "text_link"]
    assert text_link["url"] == link
    plain = message.plain_text
    start = len(plain) - len(f"{title} (Wire & <Co>)")
    assert (text_link["offset"], text_link["length"]) == (start, len(title))
    bold = [e for e in message.entities if e["type"] == "bold"]
    assert bold == [{"type": "bold", "offset": 0, "length": len(EN_HEADLINE)}]


# ------------------------------------------------------------------------------ long replies


@pytest.mark.parametrize("registry", [LONG_REGISTRY], ids=["long-report"])
async def test_long_replies_are_split_on_line_boundaries(
    api: FakeBotApi, adapter: TelegramAdapter, registry: Registry
) -> None:
    messages = await ask(api, USER, USER, "/report")

    assert len(messages) >= 4
    assert all(len(m.text) <= TELEGRAM_LIMIT for m in messages)
    assert all(len(m.plain_text) <= TELEGRAM_LIMIT for m in messages)
    assert sum(len(m.text) for m in messages) > 3 * TELEGRAM_LIMIT  # it needed the split
    lines = [line for m in messages for line in m.plain_text.split("\n")]
    assert lines == LONG_LINES  # every line whole, none lost, in order
    assert [m.message_id for m in messages] == sorted(m.message_id for m in messages)


# ------------------------------------------------------------------------------ alerts


async def test_alerts_reach_subscribed_chats_in_their_language(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store, delivery: Delivery
) -> None:
    assert "Subscribed" in await say(api, USER, USER, "/subscribe")
    assert "Abonniert" in await say(api, DE_USER, DE_USER, "/subscribe", language="de")
    await subscribe_group(api)
    group = store.chat("telegram", str(GROUP))
    assert group.language == "en"  # the admin spoke English
    store.save_chat(replace(group, language="de"), NOW)
    assert "Alerts: on" in await say(api, USER, USER, "/settings")
    replies = {chat: api.sent_count(chat) for chat in (USER, DE_USER, GROUP)}

    await delivery.deliver(make_alert())

    (english,) = api.sent(USER)[replies[USER] :]
    assert english.plain_text.split("\n") == [
        EN_HEADLINE,
        "AI infrastructure -9.2% | market +0.4% | AI software +1.2%",
        "-6.4 sigma beyond its beta 1.35; market 0.3 sigma; 95% of names moved",
        "Top movers: NVDA -17.0%, AVGO -17.4%",
        "Based on 22 AI-infrastructure names with fresh prices",
        "Data as of 2026-08-04 11:40 UTC",
    ]
    for chat in (DE_USER, GROUP):
        (german,) = api.sent(chat)[replies[chat] :]
        assert german.plain_text.startswith(DE_HEADLINE + "\n")
        assert "KI-Infrastruktur -9,2 % | Markt +0,4 % | KI-Software +1,2 %" in german.plain_text
        assert "Größte Bewegungen: NVDA -17,0 %, AVGO -17,4 %" in german.plain_text
        assert german.plain_text.endswith("Daten von 2026-08-04 11:40 UTC")
        assert german.parse_mode == "HTML"
    assert delivery.outbox.counts("telegram") == {"sent": 3}

    await delivery.deliver(make_alert())  # the same alert again: never sent twice
    assert sum(api.sent_count(c) - replies[c] for c in replies) == 3


async def test_a_blocked_chat_is_disabled_and_skipped(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store, delivery: Delivery
) -> None:
    assert "Subscribed" in await say(api, USER, USER, "/subscribe")
    assert "Abonniert" in await say(api, DE_USER, DE_USER, "/subscribe", language="de")
    api.block(USER)

    await delivery.deliver(make_alert("first"))

    reason = store.chat("telegram", str(USER)).disabled_reason
    assert reason is not None
    assert "blocked by the user" in reason
    assert [c.chat_id for c in store.subscribed_chats("telegram")] == [str(DE_USER)]
    assert send_statuses(api, USER) == [200, 403]  # the /subscribe reply, then the alert
    assert api.sent(DE_USER)[-1].plain_text.startswith(DE_HEADLINE)
    assert delivery.outbox.counts("telegram") == {"sent": 1, "dropped": 1}

    await delivery.deliver(make_alert("second"))

    assert send_statuses(api, USER) == [200, 403]  # not even tried
    assert [m.plain_text.split("\n")[0] for m in api.sent(DE_USER)[1:]] == [DE_HEADLINE] * 2

    api.unblock(USER)  # /settings says why nothing came, and how to resume
    settings = await say(api, USER, USER, "/settings")
    day = f"{NOW:%Y-%m-%d}"
    assert f"Alerts: off (the bot was blocked on {day}); /subscribe to resume" in settings
    assert "Subscribed" in await say(api, USER, USER, "/subscribe")
    assert store.chat("telegram", str(USER)).disabled_reason is None
    assert "Alerts: on" in await say(api, USER, USER, "/settings")


async def test_a_group_that_became_a_supergroup_keeps_its_subscription(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store, delivery: Delivery
) -> None:
    await subscribe_group(api, "watch")
    api.migrate(GROUP, SUPERGROUP)

    await delivery.deliver(make_alert("first"))

    (alert,) = api.sent(SUPERGROUP)
    assert alert.plain_text.startswith(EN_HEADLINE)
    assert api.chat(SUPERGROUP).type == "supergroup"
    moved = store.chat("telegram", str(SUPERGROUP))
    assert moved.subscribed
    assert moved.min_severity is Severity.WATCH
    assert moved.language == "en"
    assert not store.chat("telegram", str(GROUP)).subscribed
    assert [c.chat_id for c in store.subscribed_chats("telegram")] == [str(SUPERGROUP)]
    assert send_statuses(api, GROUP) == [200, 400]  # the /subscribe reply, then "upgraded"

    await delivery.deliver(make_alert("second"))

    assert len(api.sent(SUPERGROUP)) == 2
    assert send_statuses(api, GROUP) == [200, 400]  # straight to the new id
    assert delivery.outbox.counts("telegram") == {"sent": 2}


async def test_the_migration_service_message_moves_the_subscription_at_once(
    api: FakeBotApi, services: Services, registry: Registry, store: Store
) -> None:
    def migrate(old: str, new: str) -> None:
        store.migrate_chat("telegram", old, new, NOW)

    tg = TelegramAdapter(
        make_adapter(api, services, registry).config,
        Dispatcher(registry, services, RateLimit(calls=1000)),
        on_migrate=migrate,
    )
    await tg.start()
    try:
        await subscribe_group(api, "watch")
        await say(api, GROUP, ADMIN, "/portfolio set NVDA:100")
        api.migrate(GROUP, SUPERGROUP, announce=True)

        api.set_member_status(SUPERGROUP, ADMIN, "administrator")
        settings = await say(api, SUPERGROUP, ADMIN, "/settings")
    finally:
        await tg.stop()

    assert "Alerts: on" in settings
    assert "Minimum severity: watch" in settings
    assert store.portfolio("telegram", str(SUPERGROUP)) == [("NVDA", 1.0)]
    assert not store.chat("telegram", str(GROUP)).subscribed
    assert store.portfolio("telegram", str(GROUP)) is None


async def test_a_late_migration_never_overwrites_the_supergroups_own_settings(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store, delivery: Delivery
) -> None:
    await subscribe_group(api, "watch")
    api.migrate(GROUP, SUPERGROUP)  # no service message seen: the next alert finds out
    api.set_member_status(SUPERGROUP, ADMIN, "administrator")
    assert "Subscribed" in await say(api, SUPERGROUP, ADMIN, "/subscribe critical")

    await delivery.deliver(make_alert("first"))

    kept = store.chat("telegram", str(SUPERGROUP))
    assert kept.subscribed
    assert kept.min_severity is Severity.CRITICAL
    assert not store.chat("telegram", str(GROUP)).subscribed
    assert len([m for m in api.sent(SUPERGROUP) if EN_HEADLINE in m.plain_text]) == 1


async def test_a_flood_wait_is_waited_out_and_the_alert_arrives_once(
    api: FakeBotApi, adapter: TelegramAdapter, delivery: Delivery
) -> None:
    assert "Subscribed" in await say(api, USER, USER, "/subscribe")
    api.fail_next("sendMessage", 429, retry_after=3)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await delivery.deliver(make_alert())

    assert loop.time() - started < 2.5  # the 3 s were waited on the sender's clock, not really
    assert sum(delivery.slept) >= 3.0
    assert delivery.clock.now - NOW >= timedelta(seconds=3)
    assert send_statuses(api, USER) == [200, 429, 200]
    alerts = api.sent(USER)[1:]
    assert [m.plain_text.split("\n")[0] for m in alerts] == [EN_HEADLINE]
    assert delivery.outbox.counts("telegram") == {"sent": 1}
    assert delivery.sender.pending() == 0


# ------------------------------------------------------------------------------ secrets


async def test_the_token_is_never_logged(
    api: FakeBotApi,
    services: Services,
    registry: Registry,
    store: Store,
    universe: Universe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "telegram"):
        caplog.set_level(logging.DEBUG, logger=name)
    redact = RedactSecrets([TOKEN])  # what install_log_redaction puts on the app's handlers
    caplog.handler.addFilter(redact)
    tg = make_adapter(api, services, registry)
    try:
        await tg.start()
        assert "Subscribed" in await say(api, USER, USER, "/subscribe")
        await make_delivery(tg, store, universe).deliver(make_alert())
        assert api.sent(USER)[-1].plain_text.startswith(EN_HEADLINE)
    finally:
        await tg.stop()
        caplog.handler.removeFilter(redact)  # the handler outlives this test

    assert TOKEN not in caplog.text
    assert SECRET_PART not in caplog.text
    assert all(SECRET_PART not in r.getMessage() for r in caplog.records)
    # httpx logs every request URL, which carries the token: the redaction is what hides it.
    assert re.search(r"HTTP Request: POST http://127\.0\.0\.1:\d+/bot\*\*\*/getMe", caplog.text)
    assert "/bot***/sendMessage" in caplog.text
    assert re.search(r"Set Bot API URL: http://127\.0\.0\.1:\d+/bot\*\*\*$", caplog.text, re.M)
    assert "telegram: connected as @fake_test_bot" in caplog.text


async def test_the_apps_log_redaction_silences_request_urls(
    api: FakeBotApi,
    services: Services,
    registry: Registry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    root = logging.getLogger()
    saved_filters = {handler: list(handler.filters) for handler in root.handlers}
    saved_levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    settings = Settings.model_validate({"telegram": {"token": TOKEN}})
    try:
        install_log_redaction(settings)  # before the adapter exists, as the CLI does
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        # PTB logs its base URLs, token included, at DEBUG when the Bot is built.
        tg = make_adapter(api, services, registry)
        try:
            await tg.start()
            assert "Subscribed" in await say(api, USER, USER, "/subscribe")
        finally:
            await tg.stop()
    finally:
        for handler, filters in saved_filters.items():
            handler.filters = filters
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)

    assert "telegram: connected as @fake_test_bot" in caplog.text  # logging was on
    assert "HTTP Request:" not in caplog.text
    assert SECRET_PART not in caplog.text
    assert re.search(r"Set Bot API URL: http://127\.0\.0\.1:\d+/bot\*\*\*$", caplog.text, re.M)


# ------------------------------------------------------------------------------ replies under load


async def test_a_reply_that_meets_a_flood_limit_goes_after_the_wait(
    api: FakeBotApi, adapter: TelegramAdapter
) -> None:
    api.fail_next("sendMessage", 429, retry_after=1, chat_id=USER)

    text = await say(api, USER, USER, "/help")

    assert text.startswith("Commands")
    assert send_statuses(api, USER) == [429, 200]


async def test_a_reply_that_keeps_failing_is_logged_once_without_a_traceback(
    api: FakeBotApi, adapter: TelegramAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    api.fail_next("sendMessage", 502, times=3, chat_id=USER)

    with caplog.at_level(logging.INFO):
        assert await ask(api, USER, USER, "/help") == []

    assert send_statuses(api, USER) == [502, 502, 502]
    ours = [r for r in caplog.records if r.name == "bot.adapters.telegram" and r.levelno > 20]
    assert len(ours) == 1
    assert f"for chat {USER}" in ours[0].getMessage()
    assert ours[0].exc_info is None
    assert "No error handlers are registered" not in caplog.text
    assert "Traceback" not in caplog.text


async def test_a_slow_command_holds_up_no_other_user(api: FakeBotApi, services: Services) -> None:
    release = asyncio.Event()

    async def slow(ctx: Context) -> Reply:
        await release.wait()
        return Reply((Paragraph(spans("slow done")),))

    registry = Registry(
        [
            Command("slow", slow, "cmd.status.summary", "cmd.status.usage"),
            *build_registry().commands,
        ]
    )
    config = TelegramConfig(
        token=TOKEN, base_url=api.base_url, base_file_url=api.base_file_url, poll_timeout=1
    )  # the default: several updates at once
    tg = TelegramAdapter(config, Dispatcher(registry, services, RateLimit(calls=1000)))
    await tg.start()
    try:
        api.push_command(USER, USER, "/slow", language_code="en")
        api.push_command(DE_USER, DE_USER, "/start", language_code="de")
        await api.wait_for_sent(DE_USER, 1, timeout=10)
        assert api.sent_count(USER) == 0  # still working, and nobody waited for it
        release.set()
        (done,) = await api.wait_for_sent(USER, 1, timeout=10)
        assert done.plain_text == "slow done"
    finally:
        await tg.stop()


async def test_replies_share_the_send_budget_with_alerts_and_go_first(
    services: Services, registry: Registry, store: Store, universe: Universe
) -> None:
    """A fan-out to 90 chats takes over three seconds at 25 messages a second. Eight users asking
    meanwhile get their replies within a second or so, not after the queue, and replies and
    alerts together stay within the budget: this fake enforces Telegram's limits (a 429 past
    them); without a shared budget the replies come on top of the alerts' rate."""
    chats = range(7_000_001, 7_000_091)
    users = range(8_000_001, 8_000_009)
    async with FakeBotApi(token=TOKEN, enforce_limits=True) as api:
        for user in users:
            api.add_chat(user, "private", first_name="Trader", language_code="en")
        for chat in chats:
            api.add_chat(chat, "private")
            store.save_chat(ChatSettings("telegram", str(chat), subscribed=True), NOW)
        # 25 a second for both, against the fake's 30: request timing jitter in one shared event
        # loop cannot reach 31, replies that bypassed the budget would (25 + 8).
        budget = RateLimiter(Limits(overall_per_second=25))
        adapter = make_adapter(api, services, registry, budget)
        await adapter.start()
        outbox = Outbox(store)
        sender = OutboxSender(
            outbox, TelegramTransport(adapter.app.bot), SenderSettings(), limiter=adapter.limiter
        )
        sink = OutboxSink(
            "telegram", outbox, store, universe, render_alert, is_group_chat, utc_now, sender
        )
        await sink.send_alert(make_alert())
        stop = asyncio.Event()
        sending = asyncio.create_task(sender.run(stop))
        try:
            await api.wait_until(lambda: len(api.sent()) >= 20, 5)  # the fan-out is under way
            asked = time.monotonic()  # the fake's clock
            for user in users:
                api.push_command(user, user, "/help", language_code="en")
            await api.wait_until(lambda: all(api.sent_count(u) for u in users), 10)
            await api.wait_until(lambda: len(api.sent()) >= len(chats) + len(users), 10)
        finally:
            stop.set()
            await sending
            await adapter.stop()

        alerts = sorted(m.time for m in api.sent() if m.chat_id in chats)
        replies = [m.time for m in api.sent() if m.chat_id in users]
        assert len(alerts) == len(chats)
        assert len(replies) == len(users)
        assert max(replies) - asked < 1.5  # a few slots, not the 2+ s left of the fan-out
        assert max(replies) < alerts[-1] - 0.5
        assert api.rate_limited == 0


# ------------------------------------------------------------------------------ charts


async def test_chart_answers_with_a_photo_and_its_numbers_as_the_caption(
    api: FakeBotApi, adapter: TelegramAdapter
) -> None:
    (photo,) = await ask(api, USER, USER, "/chart NVDA 1m")
    assert photo.method == "sendPhoto"
    assert photo.parse_mode == "HTML"
    assert photo.plain_text.startswith("NVDA, last month (US session): NVDA ")
    assert "AI infrastructure " in photo.plain_text
    assert "Daily closes up to 2026-08-03" in photo.plain_text
    png = api.photo(photo)
    assert png.startswith(b"\x89PNG")
    assert len(png) < 1_000_000

    (german,) = await ask(api, DE_USER, DE_USER, "/chart basket 1y", language="de")
    assert german.method == "sendPhoto"
    assert german.plain_text.startswith(
        "KI-Infrastruktur, letztes Jahr (US-Handel): KI-Infrastruktur "
    )

    # No scan of today's session yet: the default range falls back to the last month.
    (default,) = await ask(api, USER, USER, "/chart")
    assert default.plain_text.startswith("AI infrastructure, last month (US session)")


async def test_chart_refuses_what_it_cannot_draw_in_words(
    api: FakeBotApi, adapter: TelegramAdapter
) -> None:
    today = await say(api, USER, USER, "/chart NVDA 1d")
    assert today.startswith("The bot has no scans of the US session today yet")
    unknown = await say(api, USER, USER, "/chart NVDX 1m")
    assert "NVDX" in unknown
    assert "Did you mean" in unknown
    two = await say(api, USER, USER, "/chart NVDA MSFT")
    assert "One name (or basket) and one range" in two
    assert all(m.method == "sendMessage" for m in api.sent(USER))


# ------------------------------------------------------------------------------ portfolio


async def test_a_saved_portfolio_serves_exposure_without_arguments(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store
) -> None:
    assert (await say(api, USER, USER, "/portfolio")).startswith("No portfolio is saved")
    assert "Name a ticker or a portfolio" in await say(api, USER, USER, "/exposure")

    saved = await say(api, USER, USER, "/portfolio set NVDA:40 MSFT:30 CRM:30")

    assert saved.startswith("Saved portfolio\n")
    assert re.search(r"NVDA\s+40%", saved)
    assert "Saved. /exposure without arguments uses it" in saved
    assert "Portfolio of 3 positions" in saved
    assert store.portfolio("telegram", str(USER)) == [("NVDA", 0.4), ("MSFT", 0.3), ("CRM", 0.3)]
    assert re.search(r"CRM\s+30%", await say(api, USER, USER, "/portfolio"))
    assert (await say(api, USER, USER, "/exposure")).startswith("Portfolio of 3 positions")

    assert await say(api, USER, USER, "/portfolio clear") == "The saved portfolio is deleted."
    assert store.portfolio("telegram", str(USER)) is None
    assert "Nothing to delete" in await say(api, USER, USER, "/portfolio clear")


async def test_a_portfolio_with_a_wrong_name_is_not_saved(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store
) -> None:
    wrong = await say(api, USER, USER, "/portfolio set NVDX:50 MSFT:50")
    assert "NVDX" in wrong
    assert store.portfolio("telegram", str(USER)) is None
    assert "is not an action of /portfolio" in await say(api, USER, USER, "/portfolio show")
    assert "Usage: /portfolio" in await say(api, USER, USER, "/portfolio set NVDA:abc")


async def test_in_groups_only_administrators_change_the_portfolio(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store
) -> None:
    api.set_member_status(GROUP, MEMBER, "member")
    refused = await say(api, GROUP, MEMBER, "/portfolio set NVDA:100")
    assert refused == "Only administrators of this chat can use /portfolio here."
    assert store.portfolio("telegram", str(GROUP)) is None
    assert (await say(api, GROUP, MEMBER, "/portfolio")).startswith("No portfolio is saved")

    api.set_member_status(GROUP, ADMIN, "administrator")
    assert (await say(api, GROUP, ADMIN, "/portfolio set NVDA:100")).startswith("Saved portfolio")
    assert store.portfolio("telegram", str(GROUP)) == [("NVDA", 1.0)]


# ------------------------------------------------------------------------------ mute


async def test_a_muted_chat_hears_only_critical_alerts_until_it_unmutes(
    api: FakeBotApi, adapter: TelegramAdapter, delivery: Delivery
) -> None:
    assert "Subscribed" in await say(api, USER, USER, "/subscribe watch")
    muted = await say(api, USER, USER, "/mute 2h")
    assert muted.startswith("Muted until ")
    sent = api.sent_count(USER)

    await delivery.deliver(replace(make_alert("quiet-one"), severity=Severity.ALERT))
    assert api.sent_count(USER) == sent  # held by the mute
    await delivery.deliver(make_alert("loud-one"))  # critical breaks through (no quiet hours)
    assert api.sent(USER)[-1].plain_text.startswith(EN_HEADLINE)

    assert await say(api, USER, USER, "/unmute") == "Unmuted: alerts come here again."
    await delivery.deliver(replace(make_alert("after"), severity=Severity.ALERT))
    assert api.sent(USER)[-1].plain_text.startswith("ALERT: AI-infrastructure sell-off")


async def test_log_says_why_each_alert_did_or_did_not_arrive(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store, delivery: Delivery
) -> None:
    assert "No alerts yet." in await say(api, USER, USER, "/log")
    assert "Subscribed" in await say(api, USER, USER, "/subscribe critical")

    async def raise_(alert: Alert) -> None:
        assert store.record_alert(alert)
        await delivery.deliver(alert)

    await raise_(replace(make_alert("small"), severity=Severity.ALERT, fired_at=NOW))
    await raise_(replace(make_alert("big"), fired_at=NOW + timedelta(minutes=1)))
    await say(api, USER, USER, "/mute 1h")
    delivery.clock.now += timedelta(minutes=5)
    muted = replace(make_alert("held"), fired_at=delivery.clock.now, severity=Severity.CRITICAL)
    await say(api, USER, USER, "/settings quiet 00:00-23:59 UTC none")
    await raise_(muted)

    log = (await say(api, USER, USER, "/log")).splitlines()

    assert log[0] == "The last 3 alerts in this chat"
    assert log[1].startswith("• ")
    assert log[1].endswith(": muted (/mute)"), log
    assert (
        "critical · AI-infrastructure sell-off while the market holds (US session): sent at "
        in log[2]
    )
    assert log[3].endswith(": below this chat's minimum severity"), log
    assert log[-1] == "Held-back alerts are judged by this chat's settings now."


# ------------------------------------------------------------------------------ buttons


async def press(
    api: FakeBotApi, chat_id: int, user_id: int, data: str, message_id: int
) -> JSONDict:
    """Press a button; wait for the bot's answer to the callback query."""
    before = len(api.callback_answers)
    api.push_callback_query(chat_id, user_id, data, message_id=message_id)
    await api.wait_until(lambda: len(api.callback_answers) > before, timeout=30)
    return api.callback_answers[-1]


async def test_alert_buttons_work_after_a_restart_and_mute_only_for_admins_in_groups(
    api: FakeBotApi, services: Services, registry: Registry, store: Store, universe: Universe
) -> None:
    first = make_adapter(api, services, registry)
    await first.start()
    try:
        assert "Subscribed" in await say(api, USER, USER, "/subscribe")
        await subscribe_group(api)
        delivery = make_delivery(first, store, universe)
        delivery.sink.buttons = True
        await delivery.deliver(make_alert("buttons"))
    finally:
        await first.stop()

    (alert,) = [m for m in api.sent(USER) if m.plain_text.startswith(EN_HEADLINE)]
    rows = alert.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert [[b["text"] for b in row] for row in rows] == [
        ["📈 Chart", "My exposure"],
        ["🔕 Mute 1 h", "🔕 Mute today"],
    ]
    datas = [b["callback_data"] for row in rows for b in row]
    assert all(len(d.encode()) <= 64 for d in datas)
    (group_alert,) = [m for m in api.sent(GROUP) if m.plain_text.startswith(EN_HEADLINE)]

    second = make_adapter(api, services, registry)  # a new process: nothing kept in memory
    await second.start()
    try:
        answer = await press(api, USER, USER, datas[2], alert.message_id)
        assert answer["text"].startswith("Muted until ")
        assert answer.get("show_alert") is True
        assert store.chat("telegram", str(USER)).muted_until is not None

        before = api.sent_count(USER)
        await press(api, USER, USER, datas[1], alert.message_id)
        await api.wait_for_sent(USER, before + 1, timeout=30)
        assert "Name a ticker or a portfolio" in api.sent(USER)[-1].plain_text

        before = api.sent_count(USER)
        await press(api, USER, USER, datas[0], alert.message_id)  # Chart: today's US session
        await api.wait_for_sent(USER, before + 1, timeout=30)
        assert "The bot has no scans of the US session today yet" in api.sent(USER)[-1].plain_text

        api.set_member_status(GROUP, MEMBER, "member")
        before = api.sent_count(GROUP)
        refused = await press(api, GROUP, MEMBER, datas[3], group_alert.message_id)
        assert refused["text"] == "Only administrators of this chat can use /mute here."
        assert api.sent_count(GROUP) == before  # said to the one who pressed, not the group
        assert store.chat("telegram", str(GROUP)).muted_until is None
        muted = await press(api, GROUP, ADMIN, datas[3], group_alert.message_id)
        assert muted["text"].startswith("Muted until ")
        assert store.chat("telegram", str(GROUP)).muted_until is not None
    finally:
        await second.stop()


# ------------------------------------------------------------------------------ topics

FORUM = -1005550001
TOPIC = 42


async def test_subscribe_in_a_forum_topic_delivers_to_that_topic(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store, universe: Universe
) -> None:
    api.add_chat(FORUM, "supergroup", title="Desk")
    api.add_topic(FORUM, TOPIC)
    api.set_member_status(FORUM, ADMIN, "administrator")
    before = api.sent_count(FORUM)
    api.push_command(FORUM, ADMIN, "/subscribe", chat_type="supergroup", thread_id=TOPIC)
    await api.wait_for_sent(FORUM, before + 1, timeout=30)
    (reply,) = api.sent(FORUM)[before:]
    assert reply.plain_text.startswith("Subscribed")
    assert reply.params.get("message_thread_id") == TOPIC  # answered in the topic

    delivery = make_delivery(adapter, store, universe)
    delivery.sender.transport = TelegramTransport(
        adapter.app.bot, lambda chat: store.thread_of("telegram", chat)
    )
    await delivery.deliver(make_alert("topic"))

    (alert,) = [m for m in api.sent(FORUM) if m.plain_text.startswith(EN_HEADLINE)]
    assert alert.params.get("message_thread_id") == TOPIC
    assert store.chat("telegram", str(FORUM)).thread_id == str(TOPIC)


# ------------------------------------------------------------------------------ one story


def episode_alert(kind: AlertKind, severity: Severity, minutes: int) -> Alert:
    prefix = "us:2026-08-04:ai_infra_divergence_down@114000"
    key = f"{prefix}:{kind.value}" + ("" if kind is AlertKind.RECOVER else f":{severity}")
    return replace(
        make_alert(),
        key=key,
        episode_id="us:2026-08-04:ai_infra_divergence_down",
        kind=kind,
        severity=severity,
        fired_at=NOW + timedelta(minutes=minutes),
    )


async def test_an_episode_reads_as_one_story_replies_and_an_edited_first_message(
    api: FakeBotApi, adapter: TelegramAdapter, delivery: Delivery
) -> None:
    assert "Subscribed" in await say(api, USER, USER, "/subscribe watch")
    delivery.sink.buttons = True

    await delivery.deliver(episode_alert(AlertKind.OPEN, Severity.ALERT, 0))
    (first,) = [m for m in api.sent(USER) if "sell-off" in m.plain_text]
    await delivery.deliver(episode_alert(AlertKind.ESCALATE, Severity.CRITICAL, 50))

    escalation = api.sent(USER)[-1]
    assert escalation.plain_text.startswith("CRITICAL: AI-infrastructure sell-off")
    assert escalation.params["reply_parameters"]["message_id"] == first.message_id
    (edit,) = api.edits(USER)
    assert edit.message_id == first.message_id
    assert edit.plain_text.startswith("ALERT: AI-infrastructure sell-off")
    assert edit.plain_text.endswith("Update: escalated to critical at 12:50 UTC.")
    assert edit.reply_markup is not None  # the buttons stay

    await delivery.deliver(episode_alert(AlertKind.RECOVER, Severity.CRITICAL, 120))

    recovery = api.sent(USER)[-1]
    assert recovery.params["reply_parameters"]["message_id"] == first.message_id
    latest = api.edits(USER)[-1]
    assert latest.plain_text.endswith("Update: recovered at 14:00 UTC.")
    assert "escalated" not in latest.plain_text  # the current state, not a history
    assert delivery.outbox.counts("telegram") == {"sent": 5}  # 3 texts and 2 edits


# ------------------------------------------------------------------------------ keyboards


async def test_settings_are_a_keyboard_that_redraws_itself(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store
) -> None:
    await say(api, USER, USER, "/settings")
    shown = api.sent(USER)[-1]
    rows = [[b["text"] for b in row] for row in shown.reply_markup["inline_keyboard"]]  # type: ignore[index]
    assert rows == [
        ["🔔 Alerts on"],
        ["watch", "✓ alert", "critical"],
        ["✓ English", "Deutsch"],
        ["Quiet 22-07 (critical through)", "Quiet 18-08 (nothing)", "✓ No quiet hours"],
    ]
    datas = {
        b["text"]: b["callback_data"] for row in shown.reply_markup["inline_keyboard"] for b in row
    }  # type: ignore[index]
    assert all(len(d.encode()) <= 64 for d in datas.values())

    await press(api, USER, USER, datas["critical"], shown.message_id)
    await api.wait_until(lambda: len(api.edits(USER)) == 1, timeout=10)
    (edit,) = api.edits(USER)
    assert edit.message_id == shown.message_id
    assert "Minimum severity: critical" in edit.plain_text
    marked = [b["text"] for row in edit.reply_markup["inline_keyboard"] for b in row]  # type: ignore[index]
    assert "✓ critical" in marked
    assert store.chat("telegram", str(USER)).min_severity is Severity.CRITICAL

    await press(api, USER, USER, datas["🔔 Alerts on"], shown.message_id)
    await api.wait_until(lambda: len(api.edits(USER)) == 2, timeout=10)
    assert api.edits(USER)[-1].plain_text.startswith("Subscribed: alerts of severity critical")
    assert store.chat("telegram", str(USER)).subscribed
    await press(api, USER, USER, datas["Quiet 22-07 (critical through)"], shown.message_id)
    await api.wait_until(lambda: len(api.edits(USER)) == 3, timeout=10)
    assert "Quiet hours: 22:00-07:00 UTC" in api.edits(USER)[-1].plain_text


async def test_in_groups_a_settings_button_is_for_administrators(
    api: FakeBotApi, adapter: TelegramAdapter, store: Store
) -> None:
    api.set_member_status(GROUP, ADMIN, "administrator")
    api.set_member_status(GROUP, MEMBER, "member")
    await say(api, GROUP, ADMIN, "/settings")
    shown = api.sent(GROUP)[-1]
    datas = {
        b["text"]: b["callback_data"] for row in shown.reply_markup["inline_keyboard"] for b in row
    }  # type: ignore[index]

    answer = await press(api, GROUP, MEMBER, datas["🔔 Alerts on"], shown.message_id)

    assert answer["text"] == "Only administrators of this chat can use /subscribe here."
    assert answer["show_alert"] is True
    assert api.edits(GROUP) == []
    assert not store.chat("telegram", str(GROUP)).subscribed
