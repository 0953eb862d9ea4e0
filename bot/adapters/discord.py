"""The Discord adapter (discord.py 2.x): slash commands in, embeds out.

The only module that imports ``discord``. Every command of the shared registry becomes a slash
command of the same name; ticker arguments autocomplete from the universe; replies are embeds
coloured by severity. Every message forbids @everyone, @here, roles and users, except the one
role a channel chose to be pinged on critical alerts. Commands are registered per guild on
demand (``python -m bot discord-sync``), never globally at every start.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from bot.alerts import Alert, AlertKind
from bot.config import DiscordWebhookSettings
from bot.delivery.sender import TransportError
from bot.detection.detect import Severity
from bot.render.alerts import alert_reply
from bot.render.buttons import SETTINGS_COMMANDS, button_command, keyboard_from_json
from bot.render.chat import (
    DISCORD_DESCRIPTION,
    DISCORD_EMBED_TOTAL,
    DISCORD_TITLE,
    discord_escape,
    discord_markdown,
    plain_text,
    shorten,
)
from bot.render.i18n import Language, translate
from bot.render.replies import Heading, Keyboard, Reply
from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from bot.universe import Universe
from handlers.registry import Dispatcher, Invocation

log = logging.getLogger(__name__)

PLATFORM = "discord"
WEBHOOK_PLATFORM = "discord-webhook"
NO_MENTIONS = discord.AllowedMentions.none()
COLOURS = {
    None: 0x5865F2,
    "none": 0x5865F2,
    "watch": 0xF1C40F,
    "alert": 0xE67E22,
    "critical": 0xE74C3C,
    "recover": 0x2ECC71,
}
WEBHOOK_URL = re.compile(r"/webhooks/(?P<id>\d+)/(?P<token>[\w.-]+)/?$")
POINTER = {"en": "(full text: /status, /news)", "de": "(alles: /status, /news)"}


@dataclass(frozen=True)
class OptionSpec:
    """The slash-command option of a registry command (its free-text arguments); its
    description is the catalogue's ``option.<command>``, in English and German."""

    name: str
    required: bool = False
    autocomplete: bool = False


class CatalogueTranslator(app_commands.Translator):
    """German descriptions of the slash commands and their options, from the message
    catalogue (Discord shows them to users whose client is set to German)."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext[Any, Any],
    ) -> str | None:
        key = string.extras.get("key")
        if locale is not discord.Locale.german or not isinstance(key, str):
            return None
        return translate("de", key)[:100]


OPTIONS: Mapping[str, OptionSpec] = {
    "exposure": OptionSpec("query", required=True, autocomplete=True),
    "news": OptionSpec("query", autocomplete=True),
    "subscribe": OptionSpec("options"),
    "settings": OptionSpec("change"),
    "portfolio": OptionSpec("change"),
    "chart": OptionSpec("query", autocomplete=True),
    "digest": OptionSpec("change"),
    "mute": OptionSpec("duration", required=True),
}


class DiscordUnavailable(RuntimeError):
    """Discord cannot be used right now (a refused token, no network); the message says why."""


@dataclass(frozen=True)
class DiscordConfig:
    token: str
    manager_role: str | None = None
    guild_ready_timeout: float = 2.0
    api_base_url: str | None = None
    gateway_url: str | None = None


def use_discord_servers(api_base_url: str | None, gateway_url: str | None) -> None:
    """Talk to another Discord REST API and gateway (a proxy such as nirn-proxy, or a test
    server). discord.py keeps both as class attributes; one process runs one Discord bot."""
    if api_base_url:
        discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def language_of(locale: discord.Locale | str | None) -> Language:
    return "de" if str(locale or "").lower().startswith("de") else "en"


def reply_embeds(reply: Reply, language: Language) -> list[discord.Embed]:
    """A reply as embeds (one per page), coloured by its severity."""
    colour = COLOURS.get(reply.severity, COLOURS[None])
    pages = discord_markdown(reply, DISCORD_DESCRIPTION)
    embeds = [discord.Embed(description=page, colour=colour) for page in pages]
    if len(embeds) > 10:
        embeds = embeds[:10]
        last = embeds[-1].description or ""
        embeds[-1].description = shorten(last, DISCORD_DESCRIPTION, POINTER[language])
    return embeds


def alert_payload(alert: Alert, language: Language) -> list[str]:
    """An alert as one outbox message: a JSON embed within Discord's limits, drawn by the
    same markdown renderer as command answers (the heading is its title)."""
    head, *rest = alert_reply(alert, language).blocks
    pointer = POINTER[language]
    pages = discord_markdown(Reply(tuple(rest)), DISCORD_DESCRIPTION - len(pointer) - 1)
    description = pages[0] if len(pages) == 1 else f"{pages[0]}\n{pointer}"
    key = "recover" if alert.kind is AlertKind.RECOVER else str(alert.severity)
    embed: dict[str, Any] = {
        "title": shorten(plain_text(Reply((head,))), DISCORD_TITLE),
        "description": description,
        "color": COLOURS[key],
        "timestamp": alert.data_time.isoformat(),
    }
    payload = {
        "embed": embed,
        "critical": alert.severity is Severity.CRITICAL and alert.kind is not AlertKind.RECOVER,
    }
    return [json.dumps(payload)]


CHART_FILE = "chart.png"


def reply_payload(reply: Reply) -> list[str]:
    """A reply that is not an alert (a digest) as outbox messages: embeds with its heading as
    the first one's title, one message per page."""
    blocks = reply.blocks
    title = None
    if blocks and isinstance(blocks[0], Heading):
        title, blocks = shorten(discord_escape(blocks[0].text), DISCORD_TITLE), blocks[1:]
    pages = discord_markdown(Reply(tuple(blocks)), DISCORD_DESCRIPTION)
    out = []
    for n, page in enumerate(pages):
        embed: dict[str, Any] = {"description": page, "color": COLOURS[reply.severity]}
        if n == 0 and title:
            embed["title"] = title
        out.append(json.dumps({"embed": embed, "critical": False}))
    return out


def chart_payload(words: str, _: Language) -> str:
    """A chart's photo message: an embed showing the attached image, its numbers in words as
    the description (what a screen reader and a notification read)."""
    embed = {
        "description": shorten(discord_escape(words), DISCORD_DESCRIPTION),
        "image": {"url": f"attachment://{CHART_FILE}"},
        "color": COLOURS[None],
    }
    return json.dumps({"embed": embed, "critical": False})


def _chart_file(png: bytes, words: str) -> discord.File:
    return discord.File(io.BytesIO(png), filename=CHART_FILE, description=words[:1024])


def _classify(exc: discord.HTTPException) -> TransportError:
    if isinstance(exc, discord.Forbidden | discord.NotFound):
        return TransportError(f"{exc.status} {exc.text}", unreachable=True)
    if exc.status == 429:
        # discord.py waits out a 429 itself unless it lacks a Via header (a Cloudflare ban?);
        # then it raises without the body's retry_after: use the Retry-After header.
        headers = getattr(exc.response, "headers", None) or {}
        try:
            retry = float(headers.get("Retry-After") or 5.0)
        except ValueError:
            retry = 5.0
        return TransportError("429 rate limited", retry_after=retry)
    if 400 <= exc.status < 500:
        return TransportError(f"{exc.status} {exc.text}", permanent=True)
    return TransportError(f"{exc.status} {exc.text}")


class DiscordTransport:
    """Sends outbox messages to channels; pings a channel's chosen role on critical alerts."""

    platform = PLATFORM

    def __init__(self, client: discord.Client, store: Store) -> None:
        self.client = client
        self.store = store

    async def send(
        self, chat_id: str, text: str, buttons: str | None = None, reply_to: str | None = None
    ) -> str:
        """``reply_to``: the episode's first message (escalations and the recovery reply to
        it, so one shock reads as one story in the channel)."""
        return await self._post(chat_id, text, None, buttons, reply_to)

    async def send_photo(self, chat_id: str, png: bytes, caption: str) -> str:
        return await self._post(chat_id, caption, png)

    async def edit(
        self, chat_id: str, message_id: str, original: str, status: str, buttons: str | None
    ) -> None:
        """The episode's first message with its current state at the end of its embed (the
        buttons stay: an edit without components keeps them)."""
        embed = discord.Embed.from_dict(json.loads(original)["embed"])
        line = f"\n\n*{discord_escape(status)}*"
        description = embed.description or ""
        if len(description) + len(line) <= DISCORD_DESCRIPTION:
            embed.description = description + line
        message = self.client.get_partial_messageable(int(chat_id)).get_partial_message(
            int(message_id)
        )
        try:
            await message.edit(embed=embed, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            return  # deleted by someone: nothing to show the state on
        except discord.HTTPException as exc:
            raise _classify(exc) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None

    async def _post(
        self,
        chat_id: str,
        text: str,
        png: bytes | None,
        buttons: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        payload = json.loads(text)
        embed = discord.Embed.from_dict(payload["embed"])
        files = [] if png is None else [_chart_file(png, embed.description or "")]
        view = button_view(buttons) if buttons else discord.utils.MISSING
        content = None
        mentions = NO_MENTIONS
        role = self.store.chat(PLATFORM, chat_id).mention_role
        if payload.get("critical") and role:
            content = f"<@&{role}>"
            mentions = discord.AllowedMentions(
                everyone=False, users=False, roles=[discord.Object(int(role))]
            )
        channel = self.client.get_partial_messageable(int(chat_id))
        reply: dict[str, Any] = {}  # discord.py's default means "no reply"; None is refused
        if reply_to:
            reply["reference"] = discord.MessageReference(
                message_id=int(reply_to), channel_id=int(chat_id), fail_if_not_exists=False
            )
        try:
            sent = await channel.send(
                content=content,
                embed=embed,
                allowed_mentions=mentions,
                files=files,
                view=view,
                **reply,
            )
        except discord.HTTPException as exc:
            raise _classify(exc) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        finally:
            if view is not discord.utils.MISSING:
                view.stop()  # presses go to the adapter's listener, not to a view in memory
        return str(sent.id)


def button_view(buttons: str) -> discord.ui.View:
    """A stored keyboard (:mod:`bot.render.buttons`) as Discord buttons that never time out;
    the custom id is the button's data, answered by :meth:`DiscordAdapter.on_button`."""
    return keyboard_view(keyboard_from_json(buttons))


def keyboard_view(keyboard: Keyboard) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for row, line in enumerate(keyboard[:5]):
        for button in line:
            view.add_item(
                discord.ui.Button(
                    label=button.label,
                    custom_id=button.data,
                    style=discord.ButtonStyle.secondary,
                    row=row,
                )
            )
    return view


class WebhookTransport:
    """Push-only delivery through incoming webhooks (no bot in the server)."""

    platform = WEBHOOK_PLATFORM

    def __init__(self, urls: Mapping[str, str], session: aiohttp.ClientSession) -> None:
        self.session = session
        self.hooks: dict[str, discord.Webhook] = {}
        for name, url in urls.items():
            match = WEBHOOK_URL.search(url)
            if match is None:
                raise ValueError(f"discord webhook {name!r}: not a webhook URL")
            self.hooks[name] = discord.Webhook.partial(
                int(match.group("id")), match.group("token"), session=session
            )

    async def send(self, chat_id: str, text: str) -> None:
        await self._post(chat_id, text, None)

    async def send_photo(self, chat_id: str, png: bytes, caption: str) -> None:
        await self._post(chat_id, caption, png)

    async def _post(self, chat_id: str, text: str, png: bytes | None) -> None:
        hook = self.hooks.get(chat_id)
        if hook is None:
            raise TransportError(f"webhook {chat_id} is not configured", unreachable=True)
        embed = discord.Embed.from_dict(json.loads(text)["embed"])
        files = [] if png is None else [_chart_file(png, embed.description or "")]
        try:
            await hook.send(
                embed=embed,
                files=files,
                allowed_mentions=NO_MENTIONS,
                username="AI supply-chain watch",
                wait=True,
            )
        except discord.HTTPException as exc:
            raise _classify(exc) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None


def channel_type(channel: object) -> str:
    return "private" if isinstance(channel, discord.DMChannel) else "group"


class DiscordAdapter:
    """Runs the slash commands of the shared registry on Discord."""

    name = PLATFORM

    def __init__(self, config: DiscordConfig, dispatcher: Dispatcher, universe: Universe):
        use_discord_servers(config.api_base_url, config.gateway_url)
        self.config = config
        self.dispatcher = dispatcher
        self.universe = universe
        intents = discord.Intents.none()
        intents.guilds = True
        self.client = discord.Client(
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=config.guild_ready_timeout,
        )
        self.tree = app_commands.CommandTree(self.client)
        self.client.on_interaction = self.on_button  # type: ignore[attr-defined]
        self._task: asyncio.Task[None] | None = None
        for command in dispatcher.registry.commands:
            self.tree.add_command(self._slash(command.name, command.summary))

    def _can_manage(self, interaction: discord.Interaction) -> bool:
        """Manage Channels in this channel as Discord resolved it for the interaction (the
        member's roles and the channel's overwrites), or the configured manager role."""
        if interaction.guild_id is None:
            return True  # a DM: the user manages their own chat
        if interaction.permissions.manage_channels:
            return True
        role = self.config.manager_role
        user = interaction.user
        return (
            role is not None
            and isinstance(user, discord.Member)
            and any(r.name == role for r in user.roles)
        )

    def _invocation(self, interaction: discord.Interaction, name: str, args: str) -> Invocation:
        async def check_admin() -> bool:
            return self._can_manage(interaction)

        return Invocation(
            platform=PLATFORM,
            command=name,
            raw_args=args,
            chat_id=str(interaction.channel_id),
            chat_type="private" if interaction.guild_id is None else "group",
            user_id=str(interaction.user.id),
            user_language=str(interaction.locale),
            check_admin=check_admin,
        )

    async def on_button(self, interaction: discord.Interaction) -> None:
        """A button under an alert (any interaction event; others are left alone): Chart and
        My exposure answer in the channel; a mute only to the one who pressed it."""
        if interaction.type is not discord.InteractionType.component:
            return
        data: Mapping[str, object] = interaction.data or {}
        found = button_command(str(data.get("custom_id", "")))
        if found is None:
            return
        name, args = found
        if name != "mute" and name not in SETTINGS_COMMANDS:
            await self._run(interaction, name, args)
            return
        reply = await self.dispatcher.dispatch(self._invocation(interaction, name, args))
        language = language_of(interaction.locale)
        if reply is not None and name in SETTINGS_COMMANDS and reply.buttons:
            # The settings message redrawn in place, with the buttons of the new state.
            view = keyboard_view(reply.buttons)
            await interaction.response.edit_message(
                embeds=reply_embeds(reply, language)[:1], view=view
            )
            view.stop()
            return
        text = plain_text(reply) if reply else translate(language, "error.rate_limited")
        await interaction.response.send_message(
            shorten(text, 2000), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    async def _run(self, interaction: discord.Interaction, name: str, args: str) -> None:
        invocation = self._invocation(interaction, name, args)
        # Discord wants an answer within 3 s; commands that fetch prices can take longer.
        await interaction.response.defer(thinking=True)
        reply = await self.dispatcher.dispatch(invocation)
        if reply is None:
            reply = Reply.text(translate(language_of(interaction.locale), "error.rate_limited"))
        embeds = reply_embeds(reply, language_of(interaction.locale))
        if reply.image is not None:
            embeds[0].set_image(url=f"attachment://{CHART_FILE}")
            await interaction.followup.send(
                embeds=embeds[:1],
                files=[_chart_file(reply.image.png, reply.image.alt)],
                allowed_mentions=NO_MENTIONS,
            )
            embeds = embeds[1:]
            if not embeds:
                return
        # A message holds at most 6,000 characters over all its embeds: as many as needed.
        batch: list[discord.Embed] = []
        for embed in embeds:
            if batch and sum(map(len, batch)) + len(embed) > DISCORD_EMBED_TOTAL:
                await interaction.followup.send(embeds=batch, allowed_mentions=NO_MENTIONS)
                batch = []
            batch.append(embed)
        if reply.buttons:
            view = keyboard_view(reply.buttons)
            await interaction.followup.send(embeds=batch, allowed_mentions=NO_MENTIONS, view=view)
            view.stop()
            return
        await interaction.followup.send(embeds=batch, allowed_mentions=NO_MENTIONS)

    async def _autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        text = current.strip().upper()
        head, _, _ = text.rpartition(" ")
        last = text.split()[-1] if text.split() else ""
        symbol, colon, weight = last.partition(":")
        choices = []
        for inst in self.universe.instruments.values():
            if inst.symbol.startswith(symbol) or inst.name.upper().startswith(symbol):
                value = f"{head} {inst.symbol}{colon}{weight}".strip()
                choices.append(
                    app_commands.Choice(name=f"{value} · {inst.name}"[:100], value=value[:100])
                )
            if len(choices) == 25:
                break
        return choices

    def _slash(self, name: str, summary_key: str) -> app_commands.Command[Any, ..., None]:
        description = app_commands.locale_str(translate("en", summary_key)[:100], key=summary_key)
        spec = OPTIONS.get(name)
        run = self._run

        if spec is None:

            async def no_option(interaction: discord.Interaction) -> None:
                await run(interaction, name, "")

            callback: Callable[..., Coroutine[Any, Any, None]] = no_option
        elif spec.required:

            async def required(interaction: discord.Interaction, query: str) -> None:
                await run(interaction, name, query)

            callback = required
        else:

            async def optional(interaction: discord.Interaction, query: str | None = None) -> None:
                await run(interaction, name, query or "")

            callback = optional
        if spec is not None:
            callback = app_commands.rename(query=spec.name)(callback)
            key = f"option.{name}"
            described = app_commands.locale_str(translate("en", key)[:100], key=key)
            callback = app_commands.describe(query=described)(callback)
            if spec.autocomplete:
                callback = app_commands.autocomplete(query=self._autocomplete)(callback)
        return app_commands.Command(name=name, description=description, callback=callback)

    def connected(self) -> bool:
        """Logged in with the gateway ready (for ``/readyz``)."""
        return self.client.is_ready() and not self.client.is_closed()

    async def start(self, ready_timeout: float = 60.0) -> None:
        """Log in and connect; the gateway task reconnects by itself from then on."""
        await self.client.login(self.config.token)
        self._task = asyncio.create_task(self.client.connect(), name="discord-gateway")
        self._task.add_done_callback(self._gateway_ended)
        try:
            await asyncio.wait_for(self.client.wait_until_ready(), ready_timeout)
        except TimeoutError:
            log.warning("discord: not ready after %.0f s; the gateway keeps trying", ready_timeout)
            return
        log.info("discord: connected as %s in %d guilds", self.client.user, len(self.client.guilds))

    @staticmethod
    def _gateway_ended(task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("discord: the gateway stopped: %s: %s", type(error).__name__, error)

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def login_and_sync(
        self, token: str, guild_ids: list[int], global_: bool = False
    ) -> dict[str, int]:
        """Log in, register the slash commands (:meth:`sync`) and log out again.

        Raises:
            DiscordUnavailable: Discord refused the token or could not be reached; one line.
        """
        try:
            await self.client.login(token)
            await self.client.application_info()
            return await self.sync(guild_ids, global_)
        except discord.LoginFailure:
            raise DiscordUnavailable("Discord refused the bot token") from None
        except discord.Forbidden as exc:
            raise DiscordUnavailable(
                f"Discord refused the command registration ({exc.status} {exc.text[:200]}); is "
                "the bot in that server, with the applications.commands scope?"
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError, discord.HTTPException) as exc:
            where = discord.http.Route.BASE
            raise DiscordUnavailable(
                f"cannot reach Discord at {where}: {type(exc).__name__}: {exc}"[:300]
            ) from None
        finally:
            await self.client.close()

    async def sync(self, guild_ids: list[int], global_: bool = False) -> dict[str, int]:
        """Register the slash commands in the given guilds (or globally), with German
        descriptions; returns counts."""
        if self.tree.translator is None:
            await self.tree.set_translator(CatalogueTranslator())
        done: dict[str, int] = {}
        for guild_id in guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            done[str(guild_id)] = len(await self.tree.sync(guild=guild))
        if global_:
            done["global"] = len(await self.tree.sync())
        return done


def subscribe_webhooks(
    store: Store, webhooks: Sequence[DiscordWebhookSettings], now: datetime
) -> None:
    """Webhook subscriptions from the config, stored like chats so filters and the outbox apply."""
    for hook in webhooks:
        store.save_chat(
            ChatSettings(
                WEBHOOK_PLATFORM,
                hook.name,
                language=hook.language,
                subscribed=True,
                min_severity=Severity.parse(hook.min_severity),
                segments=hook.segments,
            ),
            now,
        )
