"""The Discord adapter end to end: the real discord.py client inside ``DiscordAdapter`` logs in
to the fake Discord on 127.0.0.1, gets slash commands over its gateway and answers on real
prices; alerts travel ``OutboxSink -> OutboxSender -> DiscordTransport`` (or the push-only
``WebhookTransport``) to the same fake.

The fake validates every message like Discord does (2000 content, 4096 description, 25 fields
of 1024, 6000 per message, allowed_mentions, webhook usernames), so a message that arrives
proves it was within the limits. Waiting is on the fake's conditions, never on sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.adapters.discord import (
    COLOURS,
    OPTIONS,
    POINTER,
    WEBHOOK_PLATFORM,
    DiscordAdapter,
    DiscordConfig,
    DiscordTransport,
    WebhookTransport,
    alert_payload,
    subscribe_webhooks,
)
from bot.alerts import Alert, AlertKind, Headline
from bot.config import RedactSecrets, Settings, load_config, secrets_of, webhook_urls
from bot.delivery.outbox import Outbox
from bot.delivery.outbox_sink import OutboxSink
from bot.delivery.sender import OutboxSender, SenderSettings, Transport, utc_now
from bot.detection.detect import Label, Mover, Severity, Stats
from bot.render.i18n import translate
from bot.render.replies import Paragraph, Reply, spans
from bot.runtime.app import DISCORD_LIMITS
from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from bot.universe import Universe
from handlers.commands import build_registry
from handlers.registry import Command, Context, Dispatcher, RateLimit, Registry
from handlers.services import Services
from tests.factories import Clock
from tests.fakes.discord_api import (
    MAX_EMBED_DESCRIPTION,
    MAX_EMBED_TOTAL,
    FakeDiscord,
    FakeInteraction,
    FakeWebhook,
    Perm,
    SentMessage,
)

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GfAkEd.discord-test-token_0123456789abcdef"
GUILD = 910_000_000_000_000_001
CHANNEL = 910_000_000_000_000_101  # the bot may post here
OTHER_CHANNEL = 910_000_000_000_000_102
LOCKED_CHANNEL = 910_000_000_000_000_103  # the bot may not send messages here
HOOK_CHANNEL = 910_000_000_000_000_104  # a channel of a server without the bot (webhook)
DM_CHANNEL = 910_000_000_000_000_105
GRANTED_CHANNEL = 910_000_000_000_000_106  # MEMBER may manage it by an overwrite
DENIED_CHANNEL = 910_000_000_000_000_107  # Mods may not manage it (an overwrite denies it)
MODS = 910_000_000_000_000_201  # a role with Manage Channels
MANAGERS = 910_000_000_000_000_202  # the role named in DiscordConfig.manager_role, no permissions
TRADERS = 910_000_000_000_000_203  # the role a channel asks to be pinged on critical alerts
MOD = 910_000_000_000_000_301
MANAGER = 910_000_000_000_000_302
MEMBER = 910_000_000_000_000_303
MANAGER_ROLE = "Alert Managers"

CONFIG = load_config(None, {})
NOW = datetime(2026, 8, 4, 12, 0, tzinfo=UTC)
COMMAND_NAMES = [c.name for c in build_registry().commands]
REFUSED = "Only administrators of this chat can use /subscribe here."
EN_HEADLINE = "CRITICAL: AI-infrastructure sell-off while the market holds (US session, new)"
DE_HEADLINE = "KRITISCH: KI-Infrastruktur fällt, der Markt hält (US-Handel, neu)"
PINGS_EVERYONE = "@everyone DeepSeek <script>alert(1)</script> <@&123456789> crash"

LONG_LINES = [f"line {n:03d} " + "x" * 60 for n in range(300)]


async def _long_report(ctx: Context) -> Reply:
    return Reply(tuple(Paragraph(spans(line)) for line in LONG_LINES))


LONG_REGISTRY = Registry(
    [Command("status", _long_report, "cmd.status.summary", "cmd.status.usage")]
)


def unescape(text: str) -> str:
    """Discord markdown as the reader sees it: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", text)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as server:
        server.add_guild(
            GUILD,
            "Investors & <Friends>",
            channels=[
                {"id": CHANNEL, "name": "alerts"},
                {"id": OTHER_CHANNEL, "name": "markets"},
                {
                    "id": GRANTED_CHANNEL,
                    "name": "member-desk",
                    "permission_overwrites": [
                        {"id": MEMBER, "type": 1, "allow": Perm.MANAGE_CHANNELS}
                    ],
                },
                {
                    "id": DENIED_CHANNEL,
                    "name": "locked-settings",
                    "permission_overwrites": [
                        {"id": MODS, "type": 0, "deny": Perm.MANAGE_CHANNELS}
                    ],
                },
                {
                    "id": LOCKED_CHANNEL,
                    "name": "read-only",
                    "permission_overwrites": [
                        {"id": server.bot_user.id, "type": 1, "deny": Perm.SEND_MESSAGES}
                    ],
                },
            ],
            roles=[
                {"id": MODS, "name": "Mods", "permissions": Perm.MANAGE_CHANNELS},
                {"id": MANAGERS, "name": MANAGER_ROLE, "permissions": 0},
                {"id": TRADERS, "name": "Traders", "permissions": 0},
            ],
        )
        server.add_guild(GUILD + 1, "No bot here", channels=[HOOK_CHANNEL])
        server.add_member(GUILD, MOD, roles=[MODS], username="mod")
        server.add_member(GUILD, MANAGER, roles=[MANAGERS], username="manager")
        server.add_member(GUILD, MEMBER, roles=[TRADERS], username="member")
        server.patch_discord(monkeypatch)
        yield server
        assert server.errors == []  # the fake never crashed (that would be a 500)


def make_adapter(services: Services, registry: Registry) -> DiscordAdapter:
    config = DiscordConfig(token=TOKEN, manager_role=MANAGER_ROLE)
    adapter = DiscordAdapter(
        config, Dispatcher(registry, services, RateLimit(calls=1000)), services.universe
    )
    # discord.py waits guild_ready_timeout (2 s) after the last GUILD_CREATE before READY.
    adapter.client._connection.guild_ready_timeout = 0.05
    return adapter


@pytest.fixture
async def adapter(
    fake: FakeDiscord, services: Services, registry: Registry
) -> AsyncIterator[DiscordAdapter]:
    bot = make_adapter(services, registry)
    try:
        await asyncio.wait_for(bot.start(), 10)
        yield bot
    finally:
        await bot.stop()
    await fake.wait_for(lambda: fake.connections == 0)


@dataclass
class Delivery:
    """The alert path of the app: sink -> outbox -> sender -> a Discord transport."""

    sink: OutboxSink
    sender: OutboxSender
    outbox: Outbox
    clock: Clock
    slept: list[float]

    async def deliver(self, alert: Alert) -> None:
        await self.sink.send_alert(alert)
        await asyncio.wait_for(self.sender.drain(), 30)


def make_delivery(transport: Transport, store: Store, universe: Universe) -> Delivery:
    clock = Clock(NOW)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # time passes without waiting
        slept.append(seconds)
        clock.now += timedelta(seconds=seconds)

    platform = transport.platform
    outbox = Outbox(store)
    sender = OutboxSender(
        outbox,
        transport,
        SenderSettings(limits=DISCORD_LIMITS),
        on_unreachable=lambda chat, why: store.disable_chat(platform, chat, why, clock()),
        clock=clock,
        sleep=sleep,
        rng=random.Random(7),
    )
    sink = OutboxSink(
        platform, outbox, store, universe, alert_payload, lambda _: True, clock, sender
    )
    return Delivery(sink, sender, outbox, clock, slept)


@pytest.fixture
def delivery(adapter: DiscordAdapter, store: Store, universe: Universe) -> Delivery:
    return make_delivery(DiscordTransport(adapter.client, store), store, universe)


# ------------------------------------------------------------------------------ helpers


async def run(
    fake: FakeDiscord,
    user: int,
    command: str,
    value: str | None = None,
    *,
    channel: int = CHANNEL,
    guild: int | None = GUILD,
    locale: str = "en-US",
) -> SentMessage:
    """Run a slash command; the bot defers at once, then answers in one followup."""
    options = None if value is None else {OPTIONS[command].name: value}
    interaction = fake.push_interaction(guild, channel, user, command, options, locale=locale)
    callback = await fake.wait_for_response(interaction.id, timeout=10)
    assert callback.type == 5  # deferred, "thinking" (Discord wants an answer within 3 s)
    await fake.wait_for(lambda: fake.followups(interaction.id) != [], timeout=30)
    (reply,) = fake.followups(interaction.id)
    check_reply(reply)
    return reply


def check_reply(reply: SentMessage) -> None:
    assert reply.allowed_mentions == {"parse": []}
    assert reply.pings == set()
    assert 1 <= len(reply.embeds) <= 10
    for embed in reply.embeds:
        assert embed["color"] == COLOURS[None]
        assert 0 < len(embed["description"]) <= MAX_EMBED_DESCRIPTION
    assert sum(len(e.get("description") or "") for e in reply.embeds) <= MAX_EMBED_TOTAL


async def say(
    fake: FakeDiscord, user: int, command: str, value: str | None = None, **kw: Any
) -> str:
    """The text of a command's reply as the reader sees it."""
    return unescape((await run(fake, user, command, value, **kw)).text)


async def autocomplete(fake: FakeDiscord, command: str, typed: str) -> list[dict[str, Any]]:
    interaction = fake.push_autocomplete(GUILD, CHANNEL, MEMBER, command, "query", typed)
    callback = await fake.wait_for_response(interaction.id, timeout=10)
    assert callback.type == 8
    assert fake.original_response(interaction.id) is None
    return callback.choices


def make_alert(
    episode: str = "us-2026-08-04-down",
    *,
    severity: Severity = Severity.CRITICAL,
    headlines: tuple[Headline, ...] = (),
    reasons: tuple[str, ...] = (),
) -> Alert:
    return Alert(
        key=f"{episode}|open",
        episode_id=episode,
        kind=AlertKind.OPEN,
        label=Label.DIVERGENCE_DOWN,
        severity=severity,
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
        reasons=reasons,
        headlines=headlines,
    )


async def subscribe(fake: FakeDiscord, channel: int, value: str | None = None) -> None:
    assert (await say(fake, MOD, "subscribe", value, channel=channel)).startswith("Subscribed")


def post_statuses(fake: FakeDiscord, channel: int) -> list[int]:
    return [r.status for r in fake.calls(f"POST /channels/{channel}/messages")]


# ------------------------------------------------------------------------------ sync


async def test_sync_registers_every_command_per_guild_and_globally_on_demand(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    assert fake.calls("PUT /applications/*/commands") == []  # start() syncs nothing
    assert fake.calls("PUT /applications/*/guilds/*/commands") == []

    assert await adapter.sync([GUILD]) == {str(GUILD): len(COMMAND_NAMES)}

    synced = {c["name"]: c for c in fake.synced_commands(GUILD)}
    assert sorted(synced) == sorted(COMMAND_NAMES)
    assert fake.synced_commands() == []  # nothing global
    assert fake.calls("PUT /applications/*/commands") == []
    assert [r.status for r in fake.calls("PUT /applications/*/guilds/*/commands")] == [200]
    assert synced["exposure"]["description"] == "AI supply-chain exposure of a stock or a portfolio"
    assert synced["exposure"]["description_localizations"] == {
        "de": "KI-Lieferketten-Risiko einer Aktie oder eines Depots"
    }
    for name in COMMAND_NAMES:  # every command has its German description
        assert synced[name]["description_localizations"]["de"], name
    options = {name: synced[name].get("options") or [] for name in COMMAND_NAMES}
    for name in COMMAND_NAMES:
        spec = OPTIONS.get(name)
        if spec is None:
            assert options[name] == [], name
            continue
        (option,) = options[name]
        assert option["name"] == spec.name
        assert option["type"] == 3  # a string
        assert option["description"] == translate("en", f"option.{name}")
        assert option["description_localizations"]["de"] == translate("de", f"option.{name}")
        assert bool(option.get("required")) is spec.required
        assert bool(option.get("autocomplete")) is spec.autocomplete
    assert options["exposure"][0]["required"] is True
    assert options["exposure"][0]["autocomplete"] is True
    assert options["news"][0]["name"] == "query"
    assert not options["news"][0].get("required")
    assert options["subscribe"][0]["name"] == "options"
    assert options["settings"][0]["name"] == "change"

    # a synced command is answered with the options of its definition
    interaction = fake.push_interaction(GUILD, CHANNEL, MEMBER, "help")
    assert interaction.payload["data"]["guild_id"] == str(GUILD)
    assert (await fake.wait_for_response(interaction.id)).type == 5

    assert await adapter.sync([], global_=True) == {"global": len(COMMAND_NAMES)}
    assert sorted(c["name"] for c in fake.synced_commands()) == sorted(COMMAND_NAMES)
    assert len(fake.calls("PUT /applications/*/commands")) == 1
    assert len(fake.calls("PUT /applications/*/guilds/*/commands")) == 1  # not again


# ------------------------------------------------------------------------------ commands


async def test_exposure_is_deferred_then_answered_with_an_embed(
    fake: FakeDiscord, adapter: DiscordAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    await adapter.sync([GUILD])
    interaction = fake.push_interaction(GUILD, CHANNEL, MEMBER, "exposure", {"query": "NVDA"})
    callbacks = await _answered(fake, interaction)

    assert [c.type for c in callbacks] == [5]
    original = fake.original_response(interaction.id)
    assert original is not None  # the "thinking" message
    (reply,) = fake.followups(interaction.id)
    check_reply(reply)
    text = unescape(reply.text)
    assert text.startswith("**NVDA · Nvidia**")
    assert "in the AI supply-chain list" in text
    assert "DeepSeek Monday (2025-01-27): NVDA -17.0%" in text
    assert "Prices up to 2026-08-03." in text
    assert "-17.0%" in reply.embeds[0]["description"].replace("\\", "")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    portfolio = await say(fake, MEMBER, "exposure", "NVDA:40 MSFT:30 CRM:30")
    assert portfolio.startswith("**Portfolio of 3 positions")
    assert "What drives the exposure: NVDA" in portfolio
    assert "```" in portfolio  # tables in code blocks


async def _answered(fake: FakeDiscord, interaction: FakeInteraction) -> list[Any]:
    await fake.wait_for_response(interaction.id, timeout=10)
    await fake.wait_for(lambda: fake.followups(interaction.id) != [], timeout=30)
    return fake.interaction_responses(interaction.id)


async def test_a_german_locale_gets_german_text(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    exposure = await say(fake, MEMBER, "exposure", "NVDA", locale="de")
    assert exposure.startswith("**NVDA · Nvidia**")
    assert "in der KI-Lieferkettenliste" in exposure
    assert "DeepSeek-Montag (27.01.2025): NVDA -17,0 %" in exposure
    assert "Kurse bis 2026-08-03." in exposure

    help_text = await say(fake, MEMBER, "help", locale="de")
    assert help_text.startswith("**Befehle**")
    assert "`/subscribe` Warnungen in diesem Chat (in Gruppen nur für Admins)" in help_text

    english = await say(fake, MEMBER, "help", locale="en-GB")
    assert english.startswith("**Commands**")


async def test_help_lists_every_command(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    help_text = await say(fake, MEMBER, "help")

    assert help_text.startswith("**Commands**")
    for name in COMMAND_NAMES:
        assert f"`/{name}` " in help_text
    assert "`/subscribe` Alerts in this chat (admins only in groups)" in help_text
    assert "Segments for /subscribe and /settings: compute, foundry" in help_text

    start = await say(fake, MEMBER, "start", channel=DM_CHANNEL, guild=None)
    assert "I watch the AI supply chain" in start


async def test_bad_input_gets_a_helpful_reply(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    unknown = await say(fake, MEMBER, "exposure", "NVDAA")
    assert "I don't know the symbol NVDAA." in unknown
    assert "Did you mean: NVDA" in unknown

    weights = await say(fake, MEMBER, "exposure", "NVDA:abc MSFT:30")
    assert "Weights must be positive numbers ('abc')." in weights
    assert "Usage: /exposure NVDA" in weights


@pytest.mark.parametrize("registry", [LONG_REGISTRY], ids=["long-report"])
async def test_a_long_reply_is_split_within_discords_limits(
    fake: FakeDiscord, adapter: DiscordAdapter, registry: Registry
) -> None:
    interaction = fake.push_interaction(GUILD, CHANNEL, MEMBER, "status")
    assert (await fake.wait_for_response(interaction.id, timeout=10)).type == 5
    expected = "\n".join(LONG_LINES)
    await fake.wait_for(
        lambda: "\n".join(m.text for m in fake.followups(interaction.id)) == expected, timeout=10
    )

    followups = fake.followups(interaction.id)
    assert len(followups) > 1  # 19,000 characters do not fit one message (6,000)
    for message in followups:
        check_reply(message)
    assert [r.status for r in fake.calls("POST /webhooks/*/*")] == [200] * len(followups)


# ------------------------------------------------------------------------------ autocomplete


async def test_autocomplete_suggests_symbols_and_completes_the_last_one(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    choices = await autocomplete(fake, "exposure", "NV")
    values = [c["value"] for c in choices]
    assert "NVDA" in values
    assert {"name": "NVDA · Nvidia", "value": "NVDA"} in choices
    for choice in choices:  # by symbol or by name
        symbol, name = choice["name"].split(" · ", 1)
        assert symbol == choice["value"]
        assert symbol.startswith("NV") or name.upper().startswith("NV")

    portfolio = await autocomplete(fake, "exposure", "NVDA:40 MS")
    values = [c["value"] for c in portfolio]
    assert "NVDA:40 MSFT" in values
    assert all(v.startswith("NVDA:40 ") for v in values)

    everything = await autocomplete(fake, "exposure", "")
    assert len(everything) == 25  # Discord's maximum

    news = await autocomplete(fake, "news", "tsm")
    assert "TSM" in [c["value"] for c in news]


# ------------------------------------------------------------------------------ subscribe


async def test_subscribe_in_a_guild_needs_manage_channels_or_the_manager_role(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    assert await say(fake, MEMBER, "subscribe") == REFUSED
    assert not store.chat("discord", str(CHANNEL)).subscribed
    assert await say(fake, MEMBER, "settings", "severity watch") == (
        "Only administrators of this chat can use /settings here."
    )

    done = await say(fake, MOD, "subscribe", "watch compute")
    assert done == "Subscribed: alerts of severity watch and above, segments: compute."
    chat = store.chat("discord", str(CHANNEL))
    assert chat.subscribed
    assert chat.min_severity is Severity.WATCH
    assert chat.segments == ("compute",)
    assert chat.language == "en"

    assert await say(fake, MANAGER, "subscribe", channel=OTHER_CHANNEL) == (
        "Subscribed: alerts of severity alert and above, segments: all."
    )
    assert store.chat("discord", str(OTHER_CHANNEL)).subscribed

    assert await say(fake, MEMBER, "unsubscribe") == (
        "Only administrators of this chat can use /unsubscribe here."
    )
    assert await say(fake, MANAGER, "unsubscribe") == "Unsubscribed: no more alerts in this chat."
    assert not store.chat("discord", str(CHANNEL)).subscribed

    # a DM: the user manages their own chat
    assert (await say(fake, MEMBER, "subscribe", channel=DM_CHANNEL, guild=None)).startswith(
        "Subscribed"
    )
    assert store.chat("discord", str(DM_CHANNEL)).subscribed


async def test_channel_overwrites_decide_who_manages_a_channel(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    """Discord's own answer (the interaction's resolved permissions, overwrites applied)."""
    granted = await say(fake, MEMBER, "subscribe", channel=GRANTED_CHANNEL)
    assert granted.startswith("Subscribed")
    assert store.chat("discord", str(GRANTED_CHANNEL)).subscribed

    assert await say(fake, MOD, "subscribe", channel=DENIED_CHANNEL) == REFUSED
    assert not store.chat("discord", str(DENIED_CHANNEL)).subscribed
    # The configured manager role still works where no permission does.
    assert (await say(fake, MANAGER, "subscribe", channel=DENIED_CHANNEL)).startswith("Subscribed")


# ------------------------------------------------------------------------------ alerts


async def test_an_alert_becomes_one_embed_that_pings_nobody(
    fake: FakeDiscord, adapter: DiscordAdapter, delivery: Delivery
) -> None:
    await subscribe(fake, CHANNEL)
    await say(fake, MEMBER, "subscribe", channel=DM_CHANNEL, guild=None, locale="de")
    headline = Headline(
        PINGS_EVERYONE, "Wire @here", "https://news.example/a?b=1", NOW - timedelta(hours=1)
    )

    await delivery.deliver(make_alert(headlines=(headline,)))

    (message,) = fake.messages(CHANNEL)
    assert message.content == ""
    assert message.allowed_mentions == {"parse": []}
    assert message.pings == set()
    (embed,) = message.embeds
    assert embed["title"] == EN_HEADLINE
    assert embed["color"] == COLOURS["critical"]
    assert embed["timestamp"].startswith("2026-08-04T11:40:00")
    description = unescape(embed["description"])
    assert description.split("\n") == [
        "AI infrastructure -9.2% | market +0.4% | AI software +1.2%",
        "-6.4 sigma beyond its beta 1.35; market 0.3 sigma; 95% of names moved",
        "Top movers: NVDA -17.0%, AVGO -17.4%",
        "Based on 22 AI-infrastructure names with fresh prices",
        "Data as of 2026-08-04 11:40 UTC",
        "*Why it fired:*",
        "• [@\u200beveryone DeepSeek <script>alert(1)</script> <\u200b@&123456789> crash]"
        "(https://news.example/a?b=1) (Wire @\u200bhere)",
    ]
    assert "@everyone" not in message.text
    assert "@here" not in message.text
    assert "<@&" not in message.text

    (german,) = fake.messages(DM_CHANNEL)
    assert german.embeds[0]["title"] == DE_HEADLINE
    assert german.pings == set()
    assert delivery.outbox.counts("discord") == {"sent": 2}

    await delivery.deliver(make_alert(headlines=(headline,)))  # never sent twice
    assert len(fake.messages()) == 2


async def test_a_chosen_role_is_pinged_on_critical_alerts_only(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store, delivery: Delivery
) -> None:
    await subscribe(fake, CHANNEL)
    await subscribe(fake, OTHER_CHANNEL)
    assert await say(fake, MEMBER, "settings", f"mention <@&{TRADERS}>") == (
        "Only administrators of this chat can use /settings here."
    )
    reply = await run(fake, MOD, "settings", f"mention <@&{TRADERS}>")
    assert reply.pings == set()  # the settings reply shows the role without pinging it
    assert f"<\u200b@&{TRADERS}>" in unescape(reply.text)
    assert store.chat("discord", str(CHANNEL)).mention_role == str(TRADERS)

    await delivery.deliver(make_alert("critical"))

    (critical,) = fake.messages(CHANNEL)
    assert critical.content == f"<@&{TRADERS}>"
    allowed = critical.allowed_mentions
    assert allowed is not None
    assert allowed["parse"] == []
    assert [str(r) for r in allowed["roles"]] == [str(TRADERS)]
    assert "users" not in allowed
    assert critical.pings == {f"role:{TRADERS}"}
    (other,) = fake.messages(OTHER_CHANNEL)  # no role chosen there
    assert other.content == ""
    assert other.pings == set()

    await delivery.deliver(make_alert("alert", severity=Severity.ALERT))

    alert = fake.messages(CHANNEL)[-1]
    assert alert.embeds[0]["color"] == COLOURS["alert"]
    assert alert.content == ""
    assert alert.allowed_mentions == {"parse": []}
    assert alert.pings == set()

    assert (await say(fake, MOD, "settings", "mention off")).startswith("Saved.")
    assert store.chat("discord", str(CHANNEL)).mention_role is None
    await delivery.deliver(make_alert("critical-again"))
    assert fake.messages(CHANNEL)[-1].pings == set()


async def test_a_429_with_via_is_waited_out_by_discord_py(
    fake: FakeDiscord, adapter: DiscordAdapter, delivery: Delivery
) -> None:
    await subscribe(fake, CHANNEL)
    fake.fail_next("POST /channels/{channel_id}/messages", 429, retry_after=0.1)

    await delivery.deliver(make_alert())

    assert post_statuses(fake, CHANNEL) == [429, 200]
    (message,) = fake.messages(CHANNEL)
    assert message.embeds[0]["title"] == EN_HEADLINE
    assert delivery.outbox.counts("discord") == {"sent": 1}
    attempts = delivery.outbox.db.execute("SELECT attempts, last_error FROM outbox").fetchall()
    assert attempts == [(0, None)]  # the sender never saw it: no retry of its own


async def test_a_429_on_one_channel_holds_up_no_other_channel(
    fake: FakeDiscord, adapter: DiscordAdapter, delivery: Delivery
) -> None:
    await subscribe(fake, CHANNEL)
    await subscribe(fake, OTHER_CHANNEL)
    fake.fail_next(f"POST /channels/{CHANNEL}/messages", 429, retry_after=1.0)

    await delivery.deliver(make_alert())

    assert post_statuses(fake, CHANNEL) == [429, 200]  # discord.py waited the second out...
    assert post_statuses(fake, OTHER_CHANNEL) == [200]
    posts = [r.path for r in fake.calls("POST /channels/*/messages")]
    # ...while the other channel's message went on, within that second.
    assert posts.index(f"/channels/{OTHER_CHANNEL}/messages") < len(posts) - 1
    assert posts[-1] == f"/channels/{CHANNEL}/messages"
    assert delivery.outbox.counts("discord") == {"sent": 2}


async def test_a_fan_out_to_many_channels_stays_under_the_global_limit(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store, universe: Universe
) -> None:
    """Discord allows 50 requests a second per bot; the sender keeps alerts to 40 (room for
    command responses), measured on real time at the fake."""
    channels = [GUILD + 1_000 + n for n in range(100)]
    for channel in channels:
        fake.add_channel(GUILD, channel, announce=False)
        store.save_chat(ChatSettings("discord", str(channel), subscribed=True), NOW)
    outbox = Outbox(store)
    transport = DiscordTransport(adapter.client, store)
    sender = OutboxSender(outbox, transport, SenderSettings(limits=DISCORD_LIMITS))
    sink = OutboxSink("discord", outbox, store, universe, alert_payload, lambda _: True, utc_now)
    await sink.send_alert(make_alert())
    await asyncio.wait_for(sender.drain(), 30)

    posts = fake.calls("POST /channels/*/messages")
    assert [r.status for r in posts] == [200] * len(channels)
    every = sorted(r.at for r in fake.requests)
    busiest = max(sum(1 for t in every if start <= t < start + 1.0) for start in every)
    assert busiest <= DISCORD_LIMITS.overall_per_second < 50
    assert outbox.counts("discord") == {"sent": len(channels)}


async def test_a_429_without_via_is_retried_by_the_sender_later(
    fake: FakeDiscord, adapter: DiscordAdapter, delivery: Delivery
) -> None:
    await subscribe(fake, CHANNEL)
    await subscribe(fake, OTHER_CHANNEL)
    fake.fail_next(f"POST /channels/{CHANNEL}/messages", 429, retry_after=12, via=False)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await delivery.deliver(make_alert())

    assert loop.time() - started < 5  # the 12 s passed on the sender's clock, not really
    assert post_statuses(fake, CHANNEL) == [429, 200]
    assert post_statuses(fake, OTHER_CHANNEL) == [200]  # the other channel did not wait
    posts = [r.path for r in fake.calls("POST /channels/*/messages")]
    assert posts == [f"/channels/{c}/messages" for c in (CHANNEL, OTHER_CHANNEL, CHANNEL)]
    assert sum(delivery.slept) >= 12
    assert delivery.clock.now - NOW >= timedelta(seconds=12)  # retry_after was obeyed
    assert [m.embeds[0]["title"] for m in fake.messages(CHANNEL)] == [EN_HEADLINE]
    assert delivery.outbox.counts("discord") == {"sent": 2}
    assert delivery.sender.pending() == 0


async def test_a_channel_the_bot_may_not_post_in_is_disabled(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store, delivery: Delivery
) -> None:
    await subscribe(fake, LOCKED_CHANNEL)  # the interaction works; posting there does not
    await subscribe(fake, CHANNEL)

    await delivery.deliver(make_alert("first"))

    reason = store.chat("discord", str(LOCKED_CHANNEL)).disabled_reason
    assert reason is not None
    assert "403" in reason
    assert "Missing Permissions" in reason
    assert post_statuses(fake, LOCKED_CHANNEL) == [403]
    assert [c.chat_id for c in store.subscribed_chats("discord")] == [str(CHANNEL)]
    assert len(fake.messages(CHANNEL)) == 1
    assert delivery.outbox.counts("discord") == {"sent": 1, "dropped": 1}

    await delivery.deliver(make_alert("second"))

    assert post_statuses(fake, LOCKED_CHANNEL) == [403]  # not even tried
    assert len(fake.messages(CHANNEL)) == 2

    await subscribe(fake, LOCKED_CHANNEL)  # subscribing again re-enables it
    assert store.chat("discord", str(LOCKED_CHANNEL)).disabled_reason is None


async def test_content_limits_hold_for_a_huge_alert(
    fake: FakeDiscord, adapter: DiscordAdapter, delivery: Delivery
) -> None:
    await subscribe(fake, CHANNEL)
    reasons = tuple(
        f"reason {n}: " + "the basket fell much more than its beta implies " * 8 for n in range(40)
    )
    headlines = tuple(
        Headline(
            f"headline {n}: " + "Nvidia's (NVDA) [supply] chain * _ ` #1 " * 8,
            f"feed {n} " + "x" * 300,
            f"https://news.example/{n}/story",
            NOW - timedelta(minutes=n),
        )
        for n in range(40)
    )

    await delivery.deliver(make_alert(headlines=headlines, reasons=reasons))

    assert post_statuses(fake, CHANNEL) == [200]  # the fake validates every limit
    (message,) = fake.messages(CHANNEL)
    (embed,) = message.embeds
    assert embed["title"] == EN_HEADLINE
    assert len(embed["description"]) <= MAX_EMBED_DESCRIPTION
    assert embed["description"].endswith(POINTER["en"])  # cut, with a pointer to the rest
    assert unescape(embed["description"]).startswith("AI infrastructure -9.2%")
    assert "fields" not in embed
    assert len(embed["title"]) + len(embed["description"]) <= MAX_EMBED_TOTAL
    assert delivery.outbox.counts("discord") == {"sent": 1}


# ------------------------------------------------------------------------------ webhooks


@dataclass
class Hooked:
    hook: FakeWebhook
    settings: Settings
    env: dict[str, str]


@pytest.fixture
def hooked(fake: FakeDiscord) -> Hooked:
    hook = fake.add_webhook(HOOK_CHANNEL, name="Partner alerts")
    settings = Settings.model_validate(
        {
            "discord": {
                "token": TOKEN,
                "webhooks": [
                    {"name": "partners", "url_env": "PARTNERS_WEBHOOK_URL", "language": "de"},
                    {"name": "chips", "url_env": "CHIPS_WEBHOOK_URL", "min_severity": "critical"},
                ],
            }
        }
    )
    return Hooked(hook, settings, {"PARTNERS_WEBHOOK_URL": hook.url})


async def test_a_webhook_subscription_gets_alerts_as_embeds(
    fake: FakeDiscord, hooked: Hooked, store: Store, universe: Universe
) -> None:
    urls = {n: u for n, u in webhook_urls(hooked.settings, hooked.env).items() if u}
    assert urls == {"partners": hooked.hook.url}
    subscribe_webhooks(store, [w for w in hooked.settings.discord.webhooks if w.name in urls], NOW)
    chat = store.chat(WEBHOOK_PLATFORM, "partners")
    assert chat.subscribed
    assert chat.language == "de"

    async with aiohttp.ClientSession() as session:
        delivery = make_delivery(WebhookTransport(urls, session), store, universe)
        headline = Headline(PINGS_EVERYONE, "Wire", None, NOW - timedelta(hours=1))
        await delivery.deliver(make_alert(headlines=(headline,)))

    (message,) = fake.webhook_messages(hooked.hook.id)
    assert message.channel_id == HOOK_CHANNEL
    assert message.allowed_mentions == {"parse": []}
    assert message.pings == set()
    assert message.username is not None
    assert "discord" not in message.username.lower()
    (embed,) = message.embeds
    assert embed["title"] == DE_HEADLINE
    assert embed["color"] == COLOURS["critical"]
    assert "@everyone" not in message.text
    assert fake.messages() == []  # no bot involved
    assert delivery.outbox.counts(WEBHOOK_PLATFORM) == {"sent": 1}


async def test_an_unconfigured_or_deleted_webhook_is_disabled(
    fake: FakeDiscord, hooked: Hooked, store: Store, universe: Universe
) -> None:
    subscribe_webhooks(store, hooked.settings.discord.webhooks, NOW)  # "chips" has no URL
    stale = fake.add_webhook(HOOK_CHANNEL, name="Deleted")
    urls = {"partners": hooked.hook.url, "stale": stale.url.replace(str(stale.id), str(GUILD))}
    subscribe_webhooks(
        store, [hooked.settings.discord.webhooks[0].model_copy(update={"name": "stale"})], NOW
    )

    async with aiohttp.ClientSession() as session:
        delivery = make_delivery(WebhookTransport(urls, session), store, universe)
        await delivery.deliver(make_alert())

    assert len(fake.webhook_messages(hooked.hook.id)) == 1
    assert fake.webhook_messages(stale.id) == []
    chips = store.chat(WEBHOOK_PLATFORM, "chips").disabled_reason
    assert chips is not None
    assert "not configured" in chips
    assert store.chat(WEBHOOK_PLATFORM, "stale").disabled_reason is not None
    assert delivery.outbox.counts(WEBHOOK_PLATFORM) == {"sent": 1, "dropped": 2}


def test_a_malformed_webhook_url_is_refused() -> None:
    with pytest.raises(ValueError, match="'bad': not a webhook URL"):
        WebhookTransport({"bad": "https://example.com/hook"}, session=None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ secrets


async def test_the_token_is_never_logged(
    fake: FakeDiscord,
    services: Services,
    registry: Registry,
    store: Store,
    universe: Universe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="discord")
    redact = RedactSecrets([TOKEN])  # what install_log_redaction puts on the app's handlers
    caplog.handler.addFilter(redact)
    bot = make_adapter(services, registry)
    try:
        await bot.start()
        await bot.sync([GUILD])
        await subscribe(fake, CHANNEL)
        delivery = make_delivery(DiscordTransport(bot.client, store), store, universe)
        await delivery.deliver(make_alert())
        assert len(fake.messages(CHANNEL)) == 1
    finally:
        await bot.stop()
        caplog.handler.removeFilter(redact)  # the handler outlives this test

    bot_routes = [r for r in fake.requests if r.route and not r.route.startswith(("/int", "/web"))]
    assert bot_routes
    assert all(r.authorized for r in bot_routes)  # the token was used on every bot request
    assert TOKEN not in caplog.text
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert "***" not in caplog.text  # discord.py never logged it: nothing had to be redacted
    assert "discord: connected as fake-bot" in caplog.text  # logging was on
    assert "POST http" in caplog.text  # discord.py's request log was captured


async def test_a_webhook_url_is_never_logged(
    fake: FakeDiscord,
    hooked: Hooked,
    store: Store,
    universe: Universe,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in hooked.env.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="discord")
    redact = RedactSecrets(secrets_of(hooked.settings))  # the app's redaction
    caplog.handler.addFilter(redact)
    try:
        urls = {n: u for n, u in webhook_urls(hooked.settings).items() if u}
        subscribe_webhooks(store, hooked.settings.discord.webhooks[:1], NOW)
        async with aiohttp.ClientSession() as session:
            delivery = make_delivery(WebhookTransport(urls, session), store, universe)
            await delivery.deliver(make_alert())
    finally:
        caplog.handler.removeFilter(redact)

    assert len(fake.webhook_messages(hooked.hook.id)) == 1
    assert "has returned status code 200" in caplog.text  # discord.py logged the request
    assert hooked.hook.token not in caplog.text


# ------------------------------------------------------------------------------ charts


async def test_chart_answers_with_the_image_attached_and_shown_in_the_embed(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    reply = await run(fake, MEMBER, "chart", "NVDA 1m")

    (embed,) = reply.embeds
    assert embed["image"]["url"] == "attachment://chart.png"
    assert unescape(embed["description"]).startswith("NVDA, last month (US session): NVDA ")
    ((name, png),) = reply.files
    assert name == "chart.png"
    assert png.startswith(b"\x89PNG")

    german = await run(fake, MEMBER, "chart", "basket 5d", locale="de")
    assert unescape(german.embeds[0]["description"]).startswith(
        "KI-Infrastruktur, letzte 5 Handelstage"
    )
    assert german.files


# ------------------------------------------------------------------------------ buttons


async def test_alert_buttons_answer_presses_even_after_a_restart(
    fake: FakeDiscord, services: Services, registry: Registry, store: Store, universe: Universe
) -> None:
    first = make_adapter(services, registry)
    await asyncio.wait_for(first.start(), 10)
    try:
        await subscribe(fake, CHANNEL)
        delivery = make_delivery(DiscordTransport(first.client, store), store, universe)
        delivery.sink.buttons = True
        await delivery.deliver(make_alert())
    finally:
        await first.stop()

    (message,) = fake.messages(CHANNEL)
    rows = message.payload["components"]
    labels = [[c["label"] for c in row["components"]] for row in rows]
    assert labels == [["📈 Chart", "My exposure"], ["🔕 Mute 1 h", "🔕 Mute today"]]
    ids = [c["custom_id"] for row in rows for c in row["components"]]

    second = make_adapter(services, registry)  # a new process: no view kept in memory
    await asyncio.wait_for(second.start(), 10)
    try:
        refused = fake.push_component(GUILD, CHANNEL, MEMBER, message.id, ids[2])
        (answer,) = [await fake.wait_for_response(refused.id, timeout=10)]
        assert answer.type == 4
        assert answer.data["flags"] & 64  # ephemeral: only the one who pressed sees it
        assert answer.content == "Only administrators of this chat can use /mute here."
        assert store.chat("discord", str(CHANNEL)).muted_until is None

        muted = fake.push_component(GUILD, CHANNEL, MOD, message.id, ids[3])
        answer = await fake.wait_for_response(muted.id, timeout=10)
        assert answer.content.startswith("Muted until ")
        assert store.chat("discord", str(CHANNEL)).muted_until is not None

        exposure = fake.push_component(GUILD, CHANNEL, MEMBER, message.id, ids[1])
        assert (await fake.wait_for_response(exposure.id, timeout=10)).type == 5
        await fake.wait_for(lambda: fake.followups(exposure.id) != [], timeout=30)
        (reply,) = fake.followups(exposure.id)
        assert "Name a ticker or a portfolio" in unescape(reply.text)
    finally:
        await second.stop()
    assert len(fake.messages(CHANNEL)) == 1  # no button posted anything to the channel itself


async def test_subscribe_inside_a_thread_delivers_to_that_thread(
    fake: FakeDiscord, adapter: DiscordAdapter, delivery: Delivery, store: Store
) -> None:
    thread = CHANNEL + 900
    fake.add_channel(GUILD, thread, "deepseek-desk", type=11, parent_id=CHANNEL, announce=False)

    assert (await say(fake, MOD, "subscribe", channel=thread)).startswith("Subscribed")
    await delivery.deliver(make_alert())

    (message,) = fake.messages(thread)
    assert message.embeds[0]["title"] == EN_HEADLINE
    assert fake.messages(CHANNEL) == []
    assert store.chat("discord", str(thread)).subscribed


async def test_an_episode_reads_as_one_story_in_a_channel(
    fake: FakeDiscord, adapter: DiscordAdapter, delivery: Delivery
) -> None:
    """Escalations and the recovery reply to the episode's first message (replies, not a
    thread per episode: see the README), and that message shows the current state."""
    await subscribe(fake, CHANNEL, "watch")
    prefix = "us:2026-08-04:ai_infra_divergence_down@114000"
    base = make_alert(severity=Severity.ALERT)

    await delivery.deliver(replace(base, key=f"{prefix}:open:alert"))
    (first,) = fake.messages(CHANNEL)
    escalation = replace(
        base,
        key=f"{prefix}:escalate:critical",
        kind=AlertKind.ESCALATE,
        severity=Severity.CRITICAL,
        fired_at=NOW + timedelta(minutes=50),
    )
    await delivery.deliver(escalation)

    second = fake.messages(CHANNEL)[-1]
    assert second.payload["message_reference"]["message_id"] == first.id
    edited = fake.message(first.id)
    assert len(edited.edits) == 1
    description = unescape(edited.embeds[0]["description"])
    assert description.endswith("*Update: escalated to critical at 12:50 UTC.*")
    assert edited.embeds[0]["title"] == first.embeds[0]["title"]

    recovery = replace(
        base, key=f"{prefix}:recover", kind=AlertKind.RECOVER, fired_at=NOW + timedelta(hours=2)
    )
    await delivery.deliver(recovery)

    assert fake.messages(CHANNEL)[-1].payload["message_reference"]["message_id"] == first.id
    final = unescape(fake.message(first.id).embeds[0]["description"])
    assert final.endswith("*Update: recovered at 14:00 UTC.*")
    assert "escalated" not in final


async def test_settings_buttons_redraw_the_settings_in_place(
    fake: FakeDiscord, adapter: DiscordAdapter, store: Store
) -> None:
    reply = await run(fake, MOD, "settings")
    ids = {
        c["label"]: c["custom_id"] for row in reply.payload["components"] for c in row["components"]
    }
    assert "✓ alert" in ids
    assert "🔔 Alerts on" in ids

    refused = fake.push_component(GUILD, CHANNEL, MEMBER, reply.id, ids["critical"])
    answer = await fake.wait_for_response(refused.id, timeout=10)
    assert answer.type == 4
    assert answer.data["flags"] & 64
    assert answer.content == "Only administrators of this chat can use /settings here."

    pressed = fake.push_component(GUILD, CHANNEL, MOD, reply.id, ids["critical"])
    update = await fake.wait_for_response(pressed.id, timeout=10)
    assert update.type == 7  # the message redrawn in place
    assert "Minimum severity: critical" in unescape(update.embeds[0]["description"])
    labels = [c["label"] for row in update.data["components"] for c in row["components"]]
    assert "✓ critical" in labels
    assert store.chat("discord", str(CHANNEL)).min_severity is Severity.CRITICAL
