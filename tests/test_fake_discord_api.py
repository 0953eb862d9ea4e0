"""The fake Discord drives the real discord.py: login, gateway, slash commands, REST limits."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakes.discord_api import FakeDiscord, Perm

TOKEN = "fake-bot-token"
GUILD = 900_000_000_000_000_001
CHANNEL = 900_000_000_000_000_101
LOCKED_CHANNEL = 900_000_000_000_000_102
DM_CHANNEL = 900_000_000_000_000_103
MODS = 900_000_000_000_000_201
MOD_USER = 900_000_000_000_000_301
PLAIN_USER = 900_000_000_000_000_302
PERM_USER = 900_000_000_000_000_303
NONE = discord.AllowedMentions.none()


@dataclass
class Bot:
    client: discord.Client
    tree: app_commands.CommandTree[discord.Client]
    seen: dict[str, Any] = field(default_factory=dict)
    late_handled: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as server:
        server.add_guild(
            GUILD,
            "Investors",
            channels=[
                {"id": CHANNEL, "name": "alerts"},
                {
                    "id": LOCKED_CHANNEL,
                    "name": "read-only",
                    "permission_overwrites": [
                        {"id": server.bot_user.id, "type": 1, "deny": Perm.SEND_MESSAGES}
                    ],
                },
            ],
            roles=[{"id": MODS, "name": "Mods", "permissions": Perm.MANAGE_CHANNELS}],
        )
        server.add_member(GUILD, MOD_USER, roles=[MODS], username="mod")
        server.add_member(GUILD, PLAIN_USER, username="plain")
        server.patch_discord(monkeypatch)
        yield server
        assert server.errors == []


def _build_tree(bot: Bot) -> None:
    tree, seen = bot.tree, bot.seen
    guild = discord.Object(GUILD)

    @tree.command(name="ping", description="Answers pong", guild=guild)
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    @tree.command(name="whoami", description="Shows what the bot sees", guild=guild)
    async def whoami(interaction: discord.Interaction) -> None:
        user = interaction.user
        assert isinstance(user, discord.Member)
        seen[f"manage:{user.id}"] = user.guild_permissions.manage_channels
        seen[f"channel-manage:{user.id}"] = interaction.permissions.manage_channels
        seen["app_permissions"] = interaction.app_permissions
        seen["locale"] = interaction.locale
        await interaction.response.send_message(user.name, ephemeral=True)

    @tree.command(name="quote", description="Quotes a ticker", guild=guild)
    async def quote(interaction: discord.Interaction, ticker: str, days: int = 1) -> None:
        await interaction.response.send_message(f"{ticker} over {days}d")

    @quote.autocomplete("ticker")
    async def ticker_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        symbols = ("NVDA", "NVMI", "TSM")
        return [
            app_commands.Choice(name=s, value=s) for s in symbols if s.startswith(current.upper())
        ]

    @tree.command(name="slow", description="Defers, follows up, edits", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("part two", allowed_mentions=NONE)
        await interaction.edit_original_response(content="done")

    @tree.command(name="late", description="Answers after the deadline", guild=guild)
    async def late(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as exc:
            seen["late"] = exc.code
            bot.late_handled.set()

    alert = app_commands.Group(name="alert", description="Alerts", guild_ids=[GUILD])

    @alert.command(name="add", description="Adds an alert")
    async def alert_add(interaction: discord.Interaction, ticker: str) -> None:
        await interaction.response.send_message(f"added {ticker}")

    tree.add_command(alert)

    @tree.command(name="echo", description="A global command")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        seen["echo_user_type"] = type(interaction.user).__name__
        await interaction.response.send_message(text, allowed_mentions=NONE)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[Bot]:
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)
    bot = Bot(client, app_commands.CommandTree(client))
    _build_tree(bot)
    await client.login(TOKEN)
    task = asyncio.create_task(client.connect(), name="test-discord-gateway")
    await asyncio.wait_for(client.wait_until_ready(), 5)
    yield bot
    await client.close()
    await asyncio.wait_for(task, 5)
    await fake.wait_for(lambda: fake.connections == 0)


async def test_login_ready_and_guild_cache(fake: FakeDiscord, bot: Bot) -> None:
    client = bot.client
    assert client.user is not None
    assert client.user.id == fake.bot_user.id
    assert client.application_id == fake.application_id
    guild = client.get_guild(GUILD)
    assert guild is not None
    assert guild.name == "Investors"
    assert {c.id for c in guild.text_channels} == {CHANNEL, LOCKED_CHANNEL}
    assert guild.get_role(MODS) is not None
    assert guild.me.guild_permissions.send_messages
    assert [r.route for r in fake.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    [identify] = fake.identifies
    assert identify["intents"] == 1  # guilds only
    assert fake.gateway_connects[0]["v"] == "10"
    await fake.wait_for(lambda: fake.heartbeats >= 1)  # discord.py beats at once after HELLO


async def test_slash_command_answers_pong(fake: FakeDiscord, bot: Bot) -> None:
    interaction = fake.push_interaction(GUILD, CHANNEL, PLAIN_USER, "ping")
    callback = await fake.wait_for_response(interaction.id)
    assert callback.type == 4
    assert callback.content == "pong"
    original = fake.original_response(interaction.id)
    assert original is not None
    assert original.content == "pong"
    assert original.channel_id == CHANNEL


async def test_member_permissions_follow_roles(fake: FakeDiscord, bot: Bot) -> None:
    fake.add_member(GUILD, PERM_USER, permissions=Perm.MANAGE_CHANNELS | Perm.VIEW_CHANNEL)
    for user in (MOD_USER, PLAIN_USER, PERM_USER):
        interaction = fake.push_interaction(GUILD, CHANNEL, user, "whoami", locale="de")
        callback = await fake.wait_for_response(interaction.id)
        assert callback.ephemeral
    assert bot.seen[f"manage:{MOD_USER}"] is True
    assert bot.seen[f"channel-manage:{MOD_USER}"] is True
    assert bot.seen[f"manage:{PLAIN_USER}"] is False
    assert bot.seen[f"channel-manage:{PLAIN_USER}"] is False
    assert bot.seen[f"manage:{PERM_USER}"] is True  # its role arrived by GUILD_ROLE_CREATE
    assert bot.seen["app_permissions"].send_messages
    assert bot.seen["locale"] is discord.Locale.german


async def test_autocomplete_answers_choices(fake: FakeDiscord, bot: Bot) -> None:
    interaction = fake.push_autocomplete(GUILD, CHANNEL, PLAIN_USER, "quote", "ticker", "nv")
    callback = await fake.wait_for_response(interaction.id)
    assert callback.type == 8
    assert callback.choices == [
        {"name": "NVDA", "value": "NVDA"},
        {"name": "NVMI", "value": "NVMI"},
    ]
    assert fake.original_response(interaction.id) is None

    interaction = fake.push_interaction(GUILD, CHANNEL, PLAIN_USER, "quote", {"ticker": "TSM"})
    assert (await fake.wait_for_response(interaction.id)).content == "TSM over 1d"


async def test_options_subcommands_and_dms(fake: FakeDiscord, bot: Bot) -> None:
    await bot.tree.sync(guild=discord.Object(GUILD))
    interaction = fake.push_interaction(
        GUILD, CHANNEL, PLAIN_USER, "quote", {"ticker": "NVDA", "days": 5}
    )
    assert (await fake.wait_for_response(interaction.id)).content == "NVDA over 5d"
    options = interaction.payload["data"]["options"]
    assert [(o["name"], o["type"]) for o in options] == [("ticker", 3), ("days", 4)]

    interaction = fake.push_interaction(GUILD, CHANNEL, MOD_USER, "alert add", {"ticker": "TSM"})
    assert (await fake.wait_for_response(interaction.id)).content == "added TSM"
    [group] = interaction.payload["data"]["options"]
    assert (group["name"], group["type"]) == ("add", 1)

    interaction = fake.push_interaction(None, DM_CHANNEL, PLAIN_USER, "echo", {"text": "hi"})
    assert (await fake.wait_for_response(interaction.id)).content == "hi"
    assert bot.seen["echo_user_type"] == "User"


async def test_defer_followup_and_edit_original(fake: FakeDiscord, bot: Bot) -> None:
    interaction = fake.push_interaction(GUILD, CHANNEL, PLAIN_USER, "slow")
    await fake.wait_for(lambda: fake.calls("PATCH /webhooks/*/*/messages/@original") != [])
    [callback] = fake.interaction_responses(interaction.id)
    assert callback.type == 5
    [followup] = fake.followups(interaction.id)
    assert followup.content == "part two"
    assert followup.allowed_mentions == {"parse": []}
    original = fake.original_response(interaction.id)
    assert original is not None
    assert original.content == "done"
    assert original.flags == 0  # no longer "thinking"


async def test_late_answer_is_unknown_interaction(fake: FakeDiscord, bot: Bot) -> None:
    fake.interaction_deadline = 0.0
    interaction = fake.push_interaction(GUILD, CHANNEL, PLAIN_USER, "late")
    await asyncio.wait_for(bot.late_handled.wait(), 5)
    assert bot.seen["late"] == 10062
    assert fake.interaction_responses(interaction.id) == []


async def test_tree_sync_stores_commands(fake: FakeDiscord, bot: Bot) -> None:
    synced = await bot.tree.sync(guild=discord.Object(GUILD))
    names = {"ping", "whoami", "quote", "slow", "late", "alert"}
    assert {c.name for c in synced} == names
    assert {c["name"] for c in fake.synced_commands(GUILD)} == names
    ids = {c.name: c.id for c in synced}

    again = await bot.tree.sync(guild=discord.Object(GUILD))
    assert {c.name: c.id for c in again} == ids  # Discord keeps ids across overwrites
    assert len(fake.calls("PUT /applications/{app}/guilds/{guild}/commands")) == 2
    fetched = await bot.tree.fetch_commands(guild=discord.Object(GUILD))
    assert {c.id for c in fetched} == set(ids.values())

    await bot.tree.sync()
    assert [c["name"] for c in fake.synced_commands()] == ["echo"]

    interaction = fake.push_interaction(GUILD, CHANNEL, PLAIN_USER, "ping")
    assert interaction.payload["data"]["id"] == str(ids["ping"])
    assert interaction.payload["data"]["guild_id"] == str(GUILD)
    assert (await fake.wait_for_response(interaction.id)).content == "pong"


async def test_channel_send_records_allowed_mentions(fake: FakeDiscord, bot: Bot) -> None:
    channel = bot.client.get_partial_messageable(CHANNEL)
    embed = discord.Embed(title="NVDA -8%", description="@everyone sell", colour=0xFF0000)
    embed.add_field(name="Peers", value="AMD -1%")
    sent = await channel.send("<@123> @everyone news", embed=embed, allowed_mentions=NONE)
    [message] = fake.messages(CHANNEL)
    assert sent.id == message.id
    assert sent.embeds[0].title == "NVDA -8%"
    assert message.allowed_mentions == {"parse": []}
    assert message.pings == set()
    assert message.embeds[0]["fields"] == [{"name": "Peers", "value": "AMD -1%", "inline": True}]
    assert "AMD -1%" in message.text

    await channel.send("@everyone look")  # no allowed_mentions: Discord parses everything
    assert fake.messages(CHANNEL)[-1].pings == {"everyone"}

    edited = await sent.edit(content="corrected", allowed_mentions=NONE)
    assert edited.content == "corrected"
    assert fake.message(sent.id).content == "corrected"
    assert fake.message(sent.id).embeds[0]["title"] == "NVDA -8%"  # kept: not in the edit

    chart = discord.File(io.BytesIO(b"PNG..."), filename="chart.png")
    with_file = await channel.send("chart", file=chart, allowed_mentions=NONE)  # multipart
    assert with_file.attachments[0].filename == "chart.png"
    assert fake.message(with_file.id).files == [("chart.png", b"PNG...")]


@pytest.mark.parametrize("global_", [False, True])
async def test_429_with_via_is_waited_out(fake: FakeDiscord, bot: Bot, global_: bool) -> None:
    fake.fail_next("POST /channels/{channel_id}/messages", 429, retry_after=0.3, global_=global_)
    channel = bot.client.get_partial_messageable(CHANNEL)
    await channel.send("after the limit", allowed_mentions=NONE)
    attempts = fake.calls("POST /channels/{channel_id}/messages")
    assert [a.status for a in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.29
    assert [m.content for m in fake.messages(CHANNEL)] == ["after the limit"]
    assert fake.rate_limited == 1


async def test_429_without_via_raises(fake: FakeDiscord, bot: Bot) -> None:
    fake.fail_next("POST /channels/*/messages", 429, retry_after=0.3, via=False)
    channel = bot.client.get_partial_messageable(CHANNEL)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("blocked", allowed_mentions=NONE)
    assert info.value.status == 429
    assert fake.messages(CHANNEL) == []
    assert len(fake.calls("POST /channels/*/messages")) == 1


async def test_rate_limit_headers_are_obeyed(fake: FakeDiscord, bot: Bot) -> None:
    fake.set_rate_limit("POST /channels/{channel_id}/messages", limit=2, per=0.3)
    channel = bot.client.get_partial_messageable(CHANNEL)
    for index in range(5):
        await channel.send(f"message {index}", allowed_mentions=NONE)
    assert len(fake.messages(CHANNEL)) == 5
    assert fake.rate_limited == 0  # discord.py waited for the bucket instead of hitting 429s
    attempts = fake.calls("POST /channels/*/messages")
    assert attempts[2].at - attempts[0].at >= 0.29


def _embeds(*descriptions: str) -> list[discord.Embed]:
    return [discord.Embed(description=d) for d in descriptions]


def _fields(count: int, value: str = "v") -> list[discord.Embed]:
    embed = discord.Embed(title="t")
    for index in range(count):
        embed.add_field(name=f"f{index}", value=value)
    return [embed]


@pytest.mark.parametrize(
    ("content", "embeds", "where"),
    [
        ("x" * 2001, [], "content"),
        (None, _embeds("d" * 4097), "embeds.0.description"),
        (None, _fields(26), "embeds.0.fields"),
        (None, _fields(1, "v" * 1025), "embeds.0.fields.0.value"),
        (None, _fields(1, ""), "embeds.0.fields.0.value"),
        (None, _embeds("a" * 3500, "b" * 3500), "embeds"),
    ],
    ids=["content", "description", "fields", "field-value", "empty-field", "total"],
)
async def test_limits_answer_invalid_form_body(
    fake: FakeDiscord, bot: Bot, content: str | None, embeds: list[discord.Embed], where: str
) -> None:
    channel = bot.client.get_partial_messageable(CHANNEL)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send(content, embeds=embeds, allowed_mentions=NONE)
    assert info.value.status == 400
    assert info.value.code == 50035
    assert f"In {where}:" in info.value.text
    assert fake.messages(CHANNEL) == []


async def test_limits_allow_the_maximum(fake: FakeDiscord, bot: Bot) -> None:
    channel = bot.client.get_partial_messageable(CHANNEL)
    await channel.send("x" * 2000, embeds=_embeds("d" * 4096), allowed_mentions=NONE)
    await channel.send(embeds=_fields(25, "v" * 200), allowed_mentions=NONE)
    assert len(fake.messages(CHANNEL)) == 2
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("", allowed_mentions=NONE)
    assert info.value.code == 50006  # empty message


async def test_forbidden_and_not_found(fake: FakeDiscord, bot: Bot) -> None:
    fake.fail_next("POST /channels/*/messages", 403)
    with pytest.raises(discord.Forbidden) as forbidden:
        await bot.client.get_partial_messageable(CHANNEL).send("x", allowed_mentions=NONE)
    assert forbidden.value.code == 50013

    with pytest.raises(discord.Forbidden) as locked:  # the channel overwrite denies sending
        await bot.client.get_partial_messageable(LOCKED_CHANNEL).send("x", allowed_mentions=NONE)
    assert locked.value.code == 50013

    with pytest.raises(discord.NotFound) as missing:
        await bot.client.get_partial_messageable(123_456).send("x", allowed_mentions=NONE)
    assert missing.value.code == 10003
    assert fake.messages() == []


async def test_incoming_webhook(fake: FakeDiscord) -> None:
    hook = fake.add_webhook(CHANNEL, name="Watch")
    async with aiohttp.ClientSession() as session:
        webhook = discord.Webhook.from_url(hook.url, session=session)
        embed = discord.Embed(title="TSM -6%", description="sector shock")
        sent = await webhook.send(
            embed=embed, username="AI watch", allowed_mentions=NONE, wait=True
        )
        await webhook.send("no wait", allowed_mentions=NONE)
        with pytest.raises(discord.HTTPException) as info:
            await webhook.send(embed=embed, username="discord bot", wait=True)
        assert info.value.code == 50035
        stranger = discord.Webhook.partial(hook.id, "x" * 68, session=session)
        with pytest.raises(discord.HTTPException) as bad_token:
            await stranger.send("x")
        assert bad_token.value.code == 50027
    first, second = fake.webhook_messages(hook.id)
    assert sent.id == first.id
    assert sent.author.name == "AI watch"
    assert first.embeds[0]["title"] == "TSM -6%"
    assert first.allowed_mentions == {"parse": []}
    assert second.content == "no wait"
    assert fake.calls("POST /webhooks/*/*")[0].query == {"wait": "1", "with_components": "0"}


async def test_reconnect_resumes_the_session(fake: FakeDiscord, bot: Bot) -> None:
    resumed = asyncio.Event()
    bot.client.event(_setter(resumed, "on_resumed"))
    fake.request_reconnect()
    await asyncio.wait_for(resumed.wait(), 5)
    assert fake.resumes == 1
    assert len(fake.identifies) == 1  # resumed, not identified again
    interaction = fake.push_interaction(GUILD, CHANNEL, PLAIN_USER, "ping")
    assert (await fake.wait_for_response(interaction.id)).content == "pong"


def _setter(event: asyncio.Event, name: str) -> Any:
    async def handler() -> None:
        event.set()

    handler.__name__ = name
    return handler


async def test_wrong_token_fails_login(fake: FakeDiscord) -> None:
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(intents=intents)
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fake.calls("GET /users/@me")[0].status == 401


async def test_patched_discord_restores_the_urls(fake: FakeDiscord) -> None:
    async with FakeDiscord(token="other-token") as other:
        with other.patched_discord():
            assert other.rest_base == discord.http.Route.BASE
            client = discord.Client(intents=discord.Intents.default())
            await client.login("other-token")
            assert client.user is not None
            assert client.user.id == other.bot_user.id
            await client.close()
        assert fake.rest_base == discord.http.Route.BASE
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
    assert fake.requests == []
