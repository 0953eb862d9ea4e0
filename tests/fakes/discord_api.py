"""A fake Discord (REST API v10 and gateway) on 127.0.0.1 that the real discord.py talks to.

Usage::

    async with FakeDiscord(token=TOKEN) as fake:
        fake.add_guild(GUILD, "Guild", channels=[CHANNEL],
                       roles=[{"id": MODS, "name": "Mods", "permissions": Perm.MANAGE_CHANNELS}])
        fake.add_member(GUILD, USER, roles=[MODS])
        fake.patch_discord(monkeypatch)          # or: with fake.patched_discord(): ...
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        await client.login(TOKEN)
        task = asyncio.create_task(client.connect())
        await client.wait_until_ready()
        interaction = fake.push_interaction(GUILD, CHANNEL, USER, "ping")
        callback = await fake.wait_for_response(interaction.id)
        assert callback.type == 4 and callback.content == "pong"
        await client.close()
        await task

Pointing discord.py at it takes two class attributes: ``discord.http.Route.BASE`` (every REST
call, the incoming-webhook and interaction-callback ones included, is built from it) and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (``Client.connect`` never asks
``GET /gateway/bot``; ``AutoShardedClient`` does, and gets :attr:`FakeDiscord.gateway_url`).
``Webhook.from_url`` only accepts ``discord.com`` URLs with 17-20 digit ids and 60+ character
tokens, but only takes the id and token from them: :meth:`FakeDiscord.add_webhook` makes such a
URL, and the request goes to ``Route.BASE``, i.e. here.

REST answers carry ``Content-Type: application/json`` exactly (discord.py parses nothing else)
and ``X-RateLimit-*`` headers; errors use Discord's shapes (``{"code": 50035, "message":
"Invalid Form Body", "errors": {...}}``, ``{"code": 10003, "message": "Unknown Channel"}``...),
so discord.py raises its real ``HTTPException``/``Forbidden``/``NotFound``. A 429 carries
``Via: 1.1 google`` unless told otherwise: discord.py only waits out and retries a 429 with a
``Via`` header (without one it assumes a Cloudflare ban and raises at once).

The gateway (``/gateway``) speaks plain JSON text frames whatever ``compress`` the client asks
for: HELLO, heartbeat ACKs, READY (guilds as unavailable stubs) then a GUILD_CREATE per guild,
RESUME (replays missed events, then RESUMED), member chunk requests, and whatever the test
pushes (:meth:`FakeDiscord.push_interaction`, :meth:`FakeDiscord.push_dispatch`).

Lengths are counted in code points, like ``len(str)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import json
import math
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from aiohttp import BodyPartReader, WSMsgType, web

if TYPE_CHECKING:
    import pytest

JSONDict = dict[str, Any]

API_VERSION = 10
DISCORD_EPOCH_MS = 1_420_070_400_000
HEARTBEAT_INTERVAL_MS = 41_250

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER_TEXT = 2048
MAX_AUTHOR_NAME = 256
MAX_EMBED_TOTAL = 6000
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_CHOICE_VALUE = 100
MAX_CHAT_INPUT_COMMANDS = 100
MAX_CONTEXT_MENU_COMMANDS = 5
MAX_OPTIONS = 25
MAX_WEBHOOK_USERNAME = 80
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # bytes; what an unboosted guild allows

EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Gateway intents that the developer portal must enable: members, presences, message content.
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)

_TOKEN_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_COMMAND_NAME_RE = re.compile(r"^[-_\w]{1,32}$")
_PLACEHOLDER_RE = re.compile(r"(\{[^}]*\}|\*)")


class Perm(enum.IntFlag):
    """Discord permission bits (the ones a bot like ours cares about)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = (1 << 51) - 1
DEFAULT_EVERYONE_PERMISSIONS = int(
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = int(
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
)

# Channel types that hold messages (text, DM, voice, group DM, announcement, threads, stage).
_MESSAGE_CHANNEL_TYPES = frozenset({0, 1, 2, 3, 5, 10, 11, 12, 13})


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


def snowflake_time(snowflake: int) -> datetime:
    """When a snowflake was made."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


class _Snowflakes:
    """Strictly increasing snowflakes based on the current time."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        value = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        value = max(value, self._last + 1)
        self._last = value
        return value


# ---------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answer: ``status`` with Discord's JSON ``body``."""

    def __init__(self, status: int, body: JSONDict, headers: Mapping[str, str] | None = None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})


def _error(status: int, code: int, message: str) -> ApiError:
    return ApiError(status, {"message": message, "code": code})


def _field_error(code: str, message: str) -> JSONDict:
    return {"_errors": [{"code": code, "message": message}]}


def _max_length(limit: int) -> JSONDict:
    return _field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _required() -> JSONDict:
    return _field_error("BASE_TYPE_REQUIRED", "This field is required")


def _put_error(errors: JSONDict, path: Sequence[str | int], error: JSONDict) -> None:
    """Put ``error`` at ``path`` of Discord's nested error dict, keeping what is there."""
    node = errors
    for key in path:
        node = node.setdefault(str(key), {})
    node.setdefault("_errors", []).extend(error["_errors"])


def _form_error(errors: JSONDict) -> ApiError:
    return ApiError(400, {"code": 50035, "message": "Invalid Form Body", "errors": errors})


UNAUTHORIZED = (401, 0, "401: Unauthorized")
MISSING_ACCESS = (403, 50001, "Missing Access")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")
UNKNOWN_APPLICATION = (404, 10002, "Unknown Application")
UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
UNKNOWN_GUILD = (404, 10004, "Unknown Guild")
UNKNOWN_MEMBER = (404, 10007, "Unknown Member")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
UNKNOWN_USER = (404, 10013, "Unknown User")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
EMPTY_MESSAGE = (400, 50006, "Cannot send an empty message")
CANNOT_EDIT_OTHERS = (403, 50005, "Cannot edit a message authored by another user")


def _raise(spec: tuple[int, int, str]) -> ApiError:
    return _error(*spec)


def _default_error_body(status: int, path: str) -> JSONDict:
    """What Discord answers with ``status`` on ``path`` when nothing more specific is known."""
    if status == 400:
        return {"code": 50035, "message": "Invalid Form Body", "errors": {}}
    if status == 401:
        return {"message": UNAUTHORIZED[2], "code": 0}
    if status == 403:
        return {"message": MISSING_PERMISSIONS[2], "code": MISSING_PERMISSIONS[1]}
    if status == 404:
        for prefix, spec in (
            ("/interactions/", UNKNOWN_INTERACTION),
            ("/webhooks/", UNKNOWN_WEBHOOK),
            ("/guilds/", UNKNOWN_GUILD),
            ("/channels/", UNKNOWN_CHANNEL),
            ("/users/", UNKNOWN_USER),
        ):
            if path.startswith(prefix):
                return {"message": spec[2], "code": spec[1]}
        return {"message": "404: Not Found", "code": 0}
    if status >= 500:
        return {"message": f"{status}: Internal Server Error", "code": 0}
    return {"message": f"{status}: Error", "code": 0}


# ---------------------------------------------------------------------------- validation


def _embed_size(embed: Mapping[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    for item in embed.get("fields") or []:
        size += len(item.get("name") or "") + len(item.get("value") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    return size


def _check_embed(embed: Any, errors: JSONDict, index: int) -> None:
    base: list[str | int] = ["embeds", index]
    if not isinstance(embed, Mapping):
        _put_error(errors, base, _field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used"))
        return
    for key, limit in (("title", MAX_EMBED_TITLE), ("description", MAX_EMBED_DESCRIPTION)):
        value = embed.get(key)
        if isinstance(value, str) and len(value) > limit:
            _put_error(errors, [*base, key], _max_length(limit))
    fields = embed.get("fields") or []
    if len(fields) > MAX_EMBED_FIELDS:
        _put_error(errors, [*base, "fields"], _max_length(MAX_EMBED_FIELDS))
    for position, item in enumerate(fields):
        for key, limit in (("name", MAX_FIELD_NAME), ("value", MAX_FIELD_VALUE)):
            value = item.get(key) if isinstance(item, Mapping) else None
            if not isinstance(value, str) or not value:
                _put_error(errors, [*base, "fields", position, key], _required())
            elif len(value) > limit:
                _put_error(errors, [*base, "fields", position, key], _max_length(limit))
    footer = embed.get("footer")
    if isinstance(footer, Mapping):
        text = footer.get("text")
        if not isinstance(text, str) or not text:
            _put_error(errors, [*base, "footer", "text"], _required())
        elif len(text) > MAX_FOOTER_TEXT:
            _put_error(errors, [*base, "footer", "text"], _max_length(MAX_FOOTER_TEXT))
    author = embed.get("author")
    if isinstance(author, Mapping):
        name = author.get("name")
        if not isinstance(name, str) or not name:
            _put_error(errors, [*base, "author", "name"], _required())
        elif len(name) > MAX_AUTHOR_NAME:
            _put_error(errors, [*base, "author", "name"], _max_length(MAX_AUTHOR_NAME))
    colour = embed.get("color")
    if colour is not None and (not isinstance(colour, int) or not 0 <= colour <= 0xFFFFFF):
        _put_error(
            errors,
            [*base, "color"],
            _field_error("NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215."),
        )


def _check_allowed_mentions(allowed: Any, errors: JSONDict) -> None:
    if allowed is None:
        return
    if not isinstance(allowed, Mapping):
        _put_error(
            errors,
            ["allowed_mentions"],
            _field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used"),
        )
        return
    parse = allowed.get("parse") or []
    for index, kind in enumerate(parse):
        if kind not in ("roles", "users", "everyone"):
            _put_error(
                errors,
                ["allowed_mentions", "parse", index],
                _field_error("ENUM_TYPE_COERCE", f'Value "{kind}" is not a valid enum value.'),
            )
    for kind in ("users", "roles"):
        ids = allowed.get(kind) or []
        if kind in parse and ids:
            _put_error(
                errors,
                ["allowed_mentions"],
                _field_error(
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                ),
            )
        if len(ids) > 100:
            _put_error(errors, ["allowed_mentions", kind], _max_length(100))


def validate_message(payload: Any, *, has_files: bool = False, edit: bool = False) -> None:
    """Raise the ``ApiError`` Discord answers for this message body, if any.

    Checks content (2000), embeds (10 per message; title 256, description 4096, 25 fields with a
    non-empty name <= 256 and value <= 1024, footer 2048, author 256, 6000 in total across all
    embeds), ``allowed_mentions`` and, unless ``edit``, that the message is not empty.
    """
    if not isinstance(payload, Mapping):
        raise _form_error(_field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used"))
    errors: JSONDict = {}
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        _put_error(errors, ["content"], _field_error("STRING_TYPE_CONVERT", "Must be a string."))
    elif isinstance(content, str) and len(content) > MAX_CONTENT:
        _put_error(errors, ["content"], _max_length(MAX_CONTENT))
    embeds = payload.get("embeds") or []
    if not isinstance(embeds, list):
        _put_error(errors, ["embeds"], _field_error("LIST_TYPE_CONVERT", "Must be an array."))
        embeds = []
    if len(embeds) > MAX_EMBEDS:
        _put_error(errors, ["embeds"], _max_length(MAX_EMBEDS))
    for index, embed in enumerate(embeds):
        _check_embed(embed, errors, index)
    total = sum(_embed_size(embed) for embed in embeds if isinstance(embed, Mapping))
    if total > MAX_EMBED_TOTAL:
        _put_error(
            errors,
            ["embeds"],
            _field_error(
                "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
            ),
        )
    _check_allowed_mentions(payload.get("allowed_mentions"), errors)
    username = payload.get("username")
    if username is not None:
        if not isinstance(username, str) or not 1 <= len(username) <= MAX_WEBHOOK_USERNAME:
            _put_error(
                errors,
                ["username"],
                _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length."),
            )
        else:
            for word in ("discord", "clyde"):
                if word in username.lower():
                    _put_error(
                        errors,
                        ["username"],
                        _field_error(
                            "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"'
                        ),
                    )
    if errors:
        raise _form_error(errors)
    if edit:
        return
    has_body = bool(content) or bool(embeds) or has_files
    has_body = has_body or any(payload.get(key) for key in ("sticker_ids", "components", "poll"))
    if not has_body:
        raise _raise(EMPTY_MESSAGE)


def _check_choices(data: Any) -> None:
    if not isinstance(data, Mapping) or not isinstance(data.get("choices"), list):
        raise _form_error({"data": {"choices": _required()}})
    errors: JSONDict = {}
    choices = data["choices"]
    if len(choices) > MAX_CHOICES:
        _put_error(errors, ["data", "choices"], _max_length(MAX_CHOICES))
    for index, choice in enumerate(choices):
        name = choice.get("name") if isinstance(choice, Mapping) else None
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_CHOICE_NAME:
            _put_error(
                errors,
                ["data", "choices", index, "name"],
                _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."),
            )
        value = choice.get("value") if isinstance(choice, Mapping) else None
        if value is None:
            _put_error(errors, ["data", "choices", index, "value"], _required())
        elif isinstance(value, str) and len(value) > MAX_CHOICE_VALUE:
            _put_error(errors, ["data", "choices", index, "value"], _max_length(MAX_CHOICE_VALUE))
    if errors:
        raise _form_error(errors)


def _check_options(options: Any, errors: JSONDict, path: list[str | int]) -> None:
    if not isinstance(options, list):
        _put_error(errors, path, _field_error("LIST_TYPE_CONVERT", "Must be an array."))
        return
    if len(options) > MAX_OPTIONS:
        _put_error(errors, path, _max_length(MAX_OPTIONS))
    seen_optional = False
    names: set[str] = set()
    for index, option in enumerate(options):
        where = [*path, index]
        if not isinstance(option, Mapping):
            _put_error(errors, where, _field_error("DICT_TYPE_CONVERT", "Must be an object."))
            continue
        name = option.get("name")
        if not isinstance(name, str) or not _COMMAND_NAME_RE.match(name) or name != name.lower():
            _put_error(
                errors,
                [*where, "name"],
                _field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"),
            )
        elif name in names:
            _put_error(
                errors,
                [*where, "name"],
                _field_error(
                    "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS", "Option name already exists"
                ),
            )
        else:
            names.add(name)
        description = option.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= 100:
            _put_error(
                errors,
                [*where, "description"],
                _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."),
            )
        if option.get("type") in (1, 2):
            _check_options(option.get("options") or [], errors, [*where, "options"])
            continue
        if option.get("required"):
            if seen_optional:
                _put_error(
                    errors,
                    path,
                    _field_error(
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    ),
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if len(choices) > MAX_CHOICES:
            _put_error(errors, [*where, "choices"], _max_length(MAX_CHOICES))
        if choices and option.get("autocomplete"):
            _put_error(
                errors,
                [*where, "autocomplete"],
                _field_error(
                    "AUTOCOMPLETE_AND_CHOICES_ERROR",
                    "Autocomplete cannot be set to true if choices are present.",
                ),
            )


def validate_commands(payload: Any) -> None:
    """Raise the ``ApiError`` Discord answers for a bulk overwrite of commands, if any."""
    if not isinstance(payload, list):
        raise _form_error(_field_error("LIST_TYPE_CONVERT", "Must be an array."))
    errors: JSONDict = {}
    counts = {1: 0, 2: 0, 3: 0}
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(payload):
        if not isinstance(command, Mapping):
            _put_error(errors, [index], _field_error("DICT_TYPE_CONVERT", "Must be an object."))
            continue
        kind = command.get("type", 1)
        if kind not in counts:
            _put_error(
                errors,
                [index, "type"],
                _field_error("ENUM_TYPE_COERCE", f'Value "{kind}" is not a valid enum value.'),
            )
            continue
        counts[kind] += 1
        name = command.get("name")
        if not isinstance(name, str):
            name = ""
        bad_name = not 1 <= len(name) <= 32
        if kind == 1 and not bad_name:
            bad_name = not _COMMAND_NAME_RE.match(name) or name != name.lower()
        if bad_name:
            _put_error(
                errors,
                [index, "name"],
                _field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"),
            )
            continue
        if (kind, name) in seen:
            _put_error(
                errors,
                [],
                _field_error(
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique: {name}",
                ),
            )
        seen.add((kind, name))
        description = command.get("description", "")
        if kind == 1 and (not isinstance(description, str) or not 1 <= len(description) <= 100):
            _put_error(
                errors,
                [index, "description"],
                _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."),
            )
        if kind != 1 and description:
            _put_error(
                errors,
                [index, "description"],
                _field_error(
                    "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                    "Context menu commands cannot have description",
                ),
            )
        if kind == 1:
            _check_options(command.get("options") or [], errors, [index, "options"])
    for kind, limit in ((1, MAX_CHAT_INPUT_COMMANDS), (2, 5), (3, MAX_CONTEXT_MENU_COMMANDS)):
        if counts[kind] > limit:
            _put_error(
                errors,
                [],
                _field_error(
                    "APPLICATION_COMMAND_TOO_MANY",
                    f"Maximum number of application commands reached ({limit}).",
                ),
            )
    if errors:
        raise _form_error(errors)


# ---------------------------------------------------------------------------- model


@dataclass(slots=True)
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def to_dict(self) -> JSONDict:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass(slots=True)
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def to_dict(self) -> JSONDict:
        data: JSONDict = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(int(self.permissions)),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass(slots=True)
class FakeChannel:
    """A channel; ``overwrites`` are ``{"id", "type" (0 role, 1 member), "allow", "deny"}``."""

    id: int
    guild_id: int | None
    name: str
    type: int = 0
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    overwrites: list[JSONDict] = field(default_factory=list)

    def to_dict(self) -> JSONDict:
        data: JSONDict = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [
                {
                    "id": str(item["id"]),
                    "type": int(item.get("type", 0)),
                    "allow": str(int(item.get("allow", 0))),
                    "deny": str(int(item.get("deny", 0))),
                }
                for item in self.overwrites
            ],
            "topic": self.topic,
            "nsfw": False,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.type in (2, 13):
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        if self.type in (10, 11, 12):  # a thread: who opened it and its archive state
            data.update(
                owner_id=str(self.guild_id or 0),
                member_count=1,
                message_count=0,
                total_message_sent=0,
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": _now_iso(),
                    "locked": False,
                },
            )
        return data


@dataclass(slots=True)
class FakeMember:
    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=_now_iso)

    @property
    def id(self) -> int:
        return self.user.id

    def to_dict(self, *, with_user: bool = True) -> JSONDict:
        data: JSONDict = {
            "roles": [str(role) for role in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_dict()
        return data


@dataclass(slots=True)
class FakeGuild:
    id: int
    name: str
    owner_id: int
    locale: str = "en-US"
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    joined_at: str = field(default_factory=_now_iso)

    def base_permissions(self, user_id: int) -> int:
        """Guild-wide permissions: @everyone plus the member's roles; owner/admin get all."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        permissions = self.roles[self.id].permissions
        member = self.members.get(user_id)
        for role_id in member.roles if member else ():
            role = self.roles.get(role_id)
            if role is not None:
                permissions |= role.permissions
        if permissions & Perm.ADMINISTRATOR:
            return ALL_PERMISSIONS
        return int(permissions)

    def channel_permissions(self, channel_id: int, user_id: int) -> int:
        """Permissions in a channel, overwrites applied the way Discord documents it."""
        permissions = self.base_permissions(user_id)
        if permissions == ALL_PERMISSIONS:
            return permissions
        channel = self.channels[channel_id]
        overwrites = {(int(o.get("type", 0)), int(o["id"])): o for o in channel.overwrites}
        everyone = overwrites.get((0, self.id))
        if everyone is not None:
            permissions &= ~int(everyone.get("deny", 0))
            permissions |= int(everyone.get("allow", 0))
        member = self.members.get(user_id)
        allow = deny = 0
        for role_id in member.roles if member else ():
            item = overwrites.get((0, role_id))
            if item is not None:
                allow |= int(item.get("allow", 0))
                deny |= int(item.get("deny", 0))
        permissions = (permissions & ~deny) | allow
        item = overwrites.get((1, user_id))
        if item is not None:
            permissions = (permissions & ~int(item.get("deny", 0))) | int(item.get("allow", 0))
        if not permissions & Perm.VIEW_CHANNEL:
            return 0
        return permissions

    def to_dict(self, *, gateway: bool = False) -> JSONDict:
        data: JSONDict = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "roles": [role.to_dict() for role in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "preferred_locale": self.locale,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "application_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
        }
        if gateway:
            data.update(
                channels=[channel.to_dict() for channel in self.channels.values()],
                members=[member.to_dict() for member in self.members.values()],
                member_count=len(self.members),
                large=False,
                unavailable=False,
                joined_at=self.joined_at,
                threads=[],
                voice_states=[],
                presences=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
                lazy=True,
            )
        return data


@dataclass(slots=True)
class FakeWebhook:
    """An incoming webhook. ``url`` is the discord.com form ``Webhook.from_url`` accepts."""

    id: int
    token: str
    channel_id: int
    guild_id: int | None
    name: str
    messages: list[SentMessage] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://discord.com/api/webhooks/{self.id}/{self.token}"

    def to_dict(self) -> JSONDict:
        return {
            "id": str(self.id),
            "type": 1,
            "guild_id": None if self.guild_id is None else str(self.guild_id),
            "channel_id": str(self.channel_id),
            "name": self.name,
            "avatar": None,
            "token": self.token,
            "application_id": None,
        }


_MENTION_USER_RE = re.compile(r"<@!?(\d+)>")
_MENTION_ROLE_RE = re.compile(r"<@&(\d+)>")
_MENTION_EVERYONE_RE = re.compile(r"@(everyone|here)\b")


@dataclass(slots=True)
class SentMessage:
    """A message the bot (or a webhook) posted; ``payload`` is the body as sent, edits merged."""

    id: int
    kind: Literal["channel", "interaction", "followup", "webhook"]
    channel_id: int | None
    payload: JSONDict
    guild_id: int | None = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    interaction_id: int | None = None
    webhook_id: int | None = None
    edits: list[JSONDict] = field(default_factory=list)
    deleted: bool = False
    created: str = field(default_factory=_now_iso)

    @property
    def content(self) -> str:
        return str(self.payload.get("content") or "")

    @property
    def embeds(self) -> list[JSONDict]:
        return list(self.payload.get("embeds") or [])

    @property
    def allowed_mentions(self) -> JSONDict | None:
        """As sent; ``None`` when the request had none (Discord then parses every mention)."""
        value = self.payload.get("allowed_mentions")
        return None if value is None else dict(value)

    @property
    def flags(self) -> int:
        return int(self.payload.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def username(self) -> str | None:
        return self.payload.get("username")

    @property
    def text(self) -> str:
        """Content plus every embed's text, one piece a line (for assertions)."""
        parts = [self.content] if self.content else []
        for embed in self.embeds:
            parts.extend(
                str(value)
                for value in (
                    (embed.get("author") or {}).get("name"),
                    embed.get("title"),
                    embed.get("description"),
                )
                if value
            )
            for item in embed.get("fields") or []:
                parts.extend((str(item.get("name", "")), str(item.get("value", ""))))
            footer = (embed.get("footer") or {}).get("text")
            if footer:
                parts.append(str(footer))
        return "\n".join(parts)

    @property
    def pings(self) -> set[str]:
        """What Discord would notify: ``"everyone"``, ``"user:<id>"``, ``"role:<id>"``.

        Only ``content`` pings (embeds never do) and only what ``allowed_mentions`` permits;
        the sender's Mention Everyone permission is not considered.
        """
        allowed = self.allowed_mentions
        parse = set(allowed.get("parse") or []) if allowed is not None else None
        found: set[str] = set()
        if _MENTION_EVERYONE_RE.search(self.content) and (parse is None or "everyone" in parse):
            found.add("everyone")
        for kind, regex in (("users", _MENTION_USER_RE), ("roles", _MENTION_ROLE_RE)):
            listed = {str(x) for x in (allowed or {}).get(kind) or []}
            for target in regex.findall(self.content):
                if parse is None or kind in parse or target in listed:
                    found.add(f"{kind[:-1]}:{target}")
        return found


@dataclass(slots=True)
class InteractionCallback:
    """What the bot answered to an interaction (POST /interactions/{id}/{token}/callback)."""

    interaction_id: int
    type: int
    data: JSONDict
    files: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    @property
    def embeds(self) -> list[JSONDict]:
        return list(self.data.get("embeds") or [])

    @property
    def choices(self) -> list[JSONDict]:
        return list(self.data.get("choices") or [])

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)


@dataclass(slots=True)
class FakeInteraction:
    """An interaction pushed to the bot and everything it answered."""

    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user_id: int
    command: str
    payload: JSONDict
    created: float
    callbacks: list[InteractionCallback] = field(default_factory=list)
    original: SentMessage | None = None
    followups: list[SentMessage] = field(default_factory=list)

    @property
    def responded(self) -> bool:
        return bool(self.callbacks)


@dataclass(slots=True)
class RecordedRequest:
    """One REST request as the fake saw it (every attempt, retries included)."""

    method: str
    path: str  # below /api/v10, e.g. "/channels/1/messages"
    route: str | None  # the matched template, e.g. "/channels/{channel_id}/messages"
    query: dict[str, str]
    body: Any
    files: list[str]
    authorized: bool
    at: float  # time.monotonic()
    status: int = 0

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class RoutePattern:
    """``"POST /channels/{channel_id}/messages"``, ``"POST /channels/*/messages"``,
    ``"/guilds/1/members/*"`` (any method): ``{...}`` and ``*`` match one path segment."""

    def __init__(self, spec: str) -> None:
        spec = spec.strip()
        if spec.startswith("/"):
            method, path = "*", spec
        else:
            method, _, path = spec.partition(" ")
        self.spec = spec
        self.method = method.upper()
        self.path = path.strip()
        regex = "".join(
            "[^/]+" if _PLACEHOLDER_RE.fullmatch(part) else re.escape(part)
            for part in _PLACEHOLDER_RE.split(self.path)
        )
        self._regex = re.compile(regex + r"/?\Z")

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and self._regex.match(path) is not None

    def __repr__(self) -> str:
        return f"RoutePattern({self.spec!r})"


@dataclass(slots=True)
class _Injected:
    pattern: RoutePattern
    status: int
    body: JSONDict
    headers: dict[str, str]
    times: int


@dataclass(slots=True)
class _Bucket:
    pattern: RoutePattern
    limit: int
    per: float
    hash: str
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)  # path -> (reset, used)


@dataclass(slots=True)
class _Call:
    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    files: list[tuple[str, bytes]]

    def snowflake(self, name: str) -> int:
        value = self.params[name]
        if not value.isdigit():
            raise _form_error(
                {name: _field_error("NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')}
            )
        return int(value)


_Handler = Callable[[_Call], Awaitable[tuple[int, Any]]]


@dataclass(slots=True)
class _Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: _Handler
    auth: bool


@dataclass(slots=True)
class _Close:
    code: int
    message: str


class _Connection:
    """One websocket connection; frames go out in order through ``outbox``."""

    def __init__(self, ws: web.WebSocketResponse, query: Mapping[str, str]) -> None:
        self.ws = ws
        self.query = dict(query)
        self.outbox: asyncio.Queue[str | _Close | None] = asyncio.Queue()
        self.session: _GatewaySession | None = None
        self.closing = False

    def send(self, payload: JSONDict) -> None:
        if not self.closing:
            self.outbox.put_nowait(json.dumps(payload))

    def close(self, code: int, message: str = "") -> None:
        if not self.closing:
            self.closing = True
            self.outbox.put_nowait(_Close(code, message))

    async def write_loop(self) -> None:
        while True:
            item = await self.outbox.get()
            if item is None:
                return
            try:
                if isinstance(item, _Close):
                    await self.ws.close(code=item.code, message=item.message.encode())
                    return
                await self.ws.send_str(item)
            except (ConnectionError, RuntimeError):  # the client went away
                return


@dataclass(slots=True)
class _GatewaySession:
    session_id: str
    intents: int
    shard: tuple[int, int]
    seq: int = 0
    buffer: list[JSONDict] = field(default_factory=list)
    connection: _Connection | None = None

    def wants_guild(self, guild_id: int) -> bool:
        shard_id, count = self.shard
        return (guild_id >> 22) % count == shard_id


# ---------------------------------------------------------------------------- the server


class FakeDiscord:
    """Discord's REST API and gateway on 127.0.0.1:<random port>; see the module docstring.

    ``interaction_deadline`` (seconds, ``None`` for none) is how long an interaction may wait
    for its first callback before the token is "Unknown interaction" (Discord: 3 s).
    ``auto_create_channels`` makes unknown channel ids exist (guild-less text channels) instead
    of answering 404 Unknown Channel. ``privileged_intents`` are the ones the "portal" allows;
    asking for others closes the gateway with 4014.
    """

    def __init__(
        self,
        token: str = "fake-bot-token",  # noqa: S107 - a fake token
        *,
        bot_id: int = 1_100_000_000_000_000_001,
        application_id: int | None = None,
        bot_username: str = "fake-bot",
        owner_id: int = 1_100_000_000_000_000_002,
        interaction_deadline: float | None = 3.0,
        auto_create_channels: bool = False,
        privileged_intents: int = PRIVILEGED_INTENTS,
        heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS,
        default_rate_limit: int = 50,
        log_requests: bool = True,
    ) -> None:
        if not _TOKEN_RE.match(token):
            raise ValueError("malformed bot token")
        self.token = token
        self.bot_user = FakeUser(bot_id, bot_username, bot=True)
        self.application_id = bot_id if application_id is None else application_id
        self.owner = FakeUser(owner_id, "app-owner")
        self.interaction_deadline = interaction_deadline
        self.auto_create_channels = auto_create_channels
        self.privileged_intents = privileged_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.default_rate_limit = default_rate_limit
        self.log_requests = log_requests

        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # bugs of the fake (answered as 500)
        self.rate_limited = 0  # 429s answered (injected and by set_rate_limit buckets)
        self.heartbeats = 0
        self.identifies: list[JSONDict] = []  # IDENTIFY payloads, token removed
        self.resumes = 0
        self.presence_updates: list[JSONDict] = []
        self.gateway_connects: list[dict[str, str]] = []  # query of each websocket connection

        self._new_id = _Snowflakes()
        self._users: dict[int, FakeUser] = {bot_id: self.bot_user, owner_id: self.owner}
        self._guilds: dict[int, FakeGuild] = {}
        self._channels: dict[int, FakeChannel] = {}
        self._webhooks: dict[int, FakeWebhook] = {}
        self._messages: dict[int, SentMessage] = {}
        self._commands: dict[int | None, list[JSONDict]] = {}
        self._synthetic_command_ids: dict[tuple[int | None, str], int] = {}
        self._interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self._injected: list[_Injected] = []
        self._buckets: list[_Bucket] = []
        self._sessions: dict[str, _GatewaySession] = {}
        self._connections: list[_Connection] = []
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._routes = self._build_routes()

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on 127.0.0.1 at a free port."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", self._handle_rest)
        app.router.add_route("*", "/api/{tail:.*}", self._handle_rest)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def close(self) -> None:
        """Close gateway connections (1001, like a Discord restart) and stop the server."""
        for connection in list(self._connections):
            connection.close(1001, "Going away")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def rest_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be."""
        return f"{self.url}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be (also in /gateway/bot and READY)."""
        return f"ws://127.0.0.1:{self._port}/gateway"

    def patch_discord(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point discord.py at this fake for the rest of the test (undone by ``monkeypatch``)."""
        import discord.gateway
        import discord.http
        import yarl

        monkeypatch.setattr(discord.http.Route, "BASE", self.rest_base)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url)
        )

    @contextlib.contextmanager
    def patched_discord(self) -> Iterator[None]:
        """Point discord.py at this fake inside the ``with`` block."""
        import discord.gateway
        import discord.http
        import yarl

        route, socket_class = discord.http.Route, discord.gateway.DiscordWebSocket
        old_base, old_gateway = route.BASE, socket_class.DEFAULT_GATEWAY
        route.BASE = self.rest_base
        socket_class.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            route.BASE = old_base
            socket_class.DEFAULT_GATEWAY = old_gateway

    # ---------------------------------------------------------------- setup helpers

    def add_user(self, user_id: int, username: str | None = None, *, bot: bool = False) -> FakeUser:
        user = self._users.get(user_id)
        if user is None:
            user = FakeUser(user_id, username or f"user{user_id}", bot=bot)
            self._users[user_id] = user
        elif username is not None:
            user.username = username
        return user

    def add_guild(
        self,
        guild_id: int,
        name: str = "",
        *,
        channels: Iterable[int | Mapping[str, Any]] = (),
        roles: Iterable[Mapping[str, Any]] = (),
        owner_id: int | None = None,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        locale: str = "en-US",
    ) -> FakeGuild:
        """A guild the bot is in: @everyone (id = guild id), the bot's managed role with
        ``bot_permissions``, ``roles`` (``{"id", "name", "permissions"}``) and ``channels``
        (ids, or ``{"id", "name", "type", "permission_overwrites"}``). Announced with
        GUILD_CREATE to connected clients."""
        if guild_id in self._guilds:
            raise ValueError(f"guild {guild_id} exists")
        owner = owner_id if owner_id is not None else self.owner.id
        self.add_user(owner)
        guild = FakeGuild(guild_id, name or f"guild-{guild_id}", owner, locale=locale)
        guild.roles[guild_id] = FakeRole(guild_id, "@everyone", int(everyone_permissions), 0)
        bot_role = FakeRole(
            self._new_id(),
            self.bot_user.username,
            int(bot_permissions),
            1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        self._guilds[guild_id] = guild
        guild.members[self.bot_user.id] = FakeMember(self.bot_user, guild_id, [bot_role.id])
        for role in roles:
            self.add_role(
                guild_id,
                int(role["id"]),
                str(role.get("name", f"role-{role['id']}")),
                int(role.get("permissions", 0)),
                position=role.get("position"),
                announce=False,
            )
        for channel in channels:
            if isinstance(channel, int):
                self.add_channel(guild_id, channel, announce=False)
            else:
                self.add_channel(
                    guild_id,
                    int(channel["id"]),
                    str(channel.get("name", f"channel-{channel['id']}")),
                    type=int(channel.get("type", 0)),
                    overwrites=channel.get("permission_overwrites", ()),
                    parent_id=channel.get("parent_id"),
                    topic=channel.get("topic"),
                    announce=False,
                )
        self._broadcast("GUILD_CREATE", guild.to_dict(gateway=True), guild_id=guild_id)
        return guild

    def guild(self, guild_id: int) -> FakeGuild:
        return self._guilds[guild_id]

    def add_role(
        self,
        guild_id: int,
        role_id: int,
        name: str,
        permissions: int = 0,
        *,
        position: int | None = None,
        announce: bool = True,
    ) -> FakeRole:
        guild = self._guilds[guild_id]
        role = FakeRole(
            role_id,
            name,
            int(permissions),
            len(guild.roles) if position is None else position,
        )
        guild.roles[role_id] = role
        if announce:
            self._broadcast(
                "GUILD_ROLE_CREATE",
                {"guild_id": str(guild_id), "role": role.to_dict()},
                guild_id=guild_id,
            )
        return role

    def add_channel(
        self,
        guild_id: int | None,
        channel_id: int,
        name: str | None = None,
        *,
        type: int = 0,
        overwrites: Iterable[Mapping[str, Any]] = (),
        parent_id: int | None = None,
        topic: str | None = None,
        announce: bool = True,
    ) -> FakeChannel:
        """A channel; ``overwrites``: ``{"id", "type": 0 role / 1 member, "allow", "deny"}``."""
        guild = self._guilds[guild_id] if guild_id is not None else None
        channel = FakeChannel(
            channel_id,
            guild_id,
            name or f"channel-{channel_id}",
            type=type,
            position=len(guild.channels) if guild else 0,
            topic=topic,
            parent_id=parent_id,
            overwrites=[dict(item) for item in overwrites],
        )
        self._channels[channel_id] = channel
        if guild is not None:
            guild.channels[channel_id] = channel
            if announce:
                self._broadcast("CHANNEL_CREATE", channel.to_dict(), guild_id=guild_id)
        return channel

    def channel(self, channel_id: int) -> FakeChannel:
        return self._channels[channel_id]

    def add_member(
        self,
        guild_id: int,
        user: int | FakeUser,
        *,
        roles: Iterable[int] = (),
        permissions: int | None = None,
        nick: str | None = None,
        username: str | None = None,
    ) -> FakeMember:
        """Make ``user`` a member with ``roles``; ``permissions`` adds a role of its own with
        exactly those bits (so ``member.guild_permissions`` shows them)."""
        guild = self._guilds[guild_id]
        if isinstance(user, FakeUser):
            self._users.setdefault(user.id, user)
            fake_user = self._users[user.id]
        else:
            fake_user = self.add_user(user, username)
        role_ids = list(roles)
        for role_id in role_ids:
            if role_id not in guild.roles:
                raise ValueError(f"guild {guild_id} has no role {role_id}")
        if permissions is not None:
            role = self.add_role(guild_id, self._new_id(), f"perms-{fake_user.id}", permissions)
            role_ids.append(role.id)
        member = FakeMember(fake_user, guild_id, role_ids, nick=nick)
        announce = fake_user.id not in guild.members
        guild.members[fake_user.id] = member
        event = "GUILD_MEMBER_ADD" if announce else "GUILD_MEMBER_UPDATE"
        self._broadcast(event, {**member.to_dict(), "guild_id": str(guild_id)}, guild_id=guild_id)
        return member

    def add_webhook(
        self,
        channel_id: int,
        *,
        webhook_id: int | None = None,
        token: str | None = None,
        name: str = "Alerts",
    ) -> FakeWebhook:
        """An incoming webhook posting to ``channel_id``; see ``FakeWebhook.url``."""
        channel = self._channel_or_404(channel_id)
        hook = FakeWebhook(
            webhook_id if webhook_id is not None else self._new_id(),
            token if token is not None else secrets.token_urlsafe(51),  # 68 characters
            channel_id,
            channel.guild_id,
            name,
        )
        self._webhooks[hook.id] = hook
        return hook

    def webhook_url(self, webhook_id: int) -> str:
        return self._webhooks[webhook_id].url

    # ---------------------------------------------------------------- failure injection

    def fail_next(
        self,
        route: str,
        status: int,
        *,
        retry_after: float | None = None,
        via: bool = True,
        global_: bool = False,
        times: int = 1,
        code: int | None = None,
        message: str | None = None,
        body: JSONDict | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``route`` (see ``RoutePattern``) with
        ``status``. 429: ``{"message", "retry_after", "global"}`` with ``Retry-After``,
        ``X-RateLimit-*`` (scope user or global) and, if ``via``, ``Via: 1.1 google`` (which
        discord.py needs to retry). Other statuses get Discord's usual body for the route
        (403 50013 Missing Permissions, 404 10003 Unknown Channel...), ``code``/``message``
        or ``body`` override it."""
        pattern = RoutePattern(route)
        headers: dict[str, str] = {}
        if status == 429:
            wait = 1.0 if retry_after is None else float(retry_after)
            payload: JSONDict = {
                "message": "You are being rate limited.",
                "retry_after": wait,
                "global": global_,
            }
            headers.update(self._ratelimit_headers(5, 0, wait, self._bucket_hash(pattern.spec)))
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
            headers["X-RateLimit-Scope"] = "global" if global_ else "user"
            if global_:
                headers["X-RateLimit-Global"] = "true"
            if via:
                headers["Via"] = "1.1 google"
        else:
            payload = _default_error_body(status, pattern.path)
        if code is not None:
            payload["code"] = code
        if message is not None:
            payload["message"] = message
        self._injected.append(
            _Injected(pattern, status, body if body is not None else payload, headers, times)
        )

    def set_rate_limit(self, route: str, limit: int, per: float = 1.0) -> None:
        """Enforce ``limit`` requests per ``per`` seconds on ``route`` (per concrete path, like
        a Discord bucket with its major parameter) and announce it in ``X-RateLimit-*``."""
        pattern = RoutePattern(route)
        self._buckets.append(_Bucket(pattern, limit, per, self._bucket_hash(pattern.spec)))

    # ---------------------------------------------------------------- pushing events

    def push_dispatch(self, event: str, data: JSONDict, *, guild_id: int | None = None) -> int:
        """Send a DISPATCH ``event`` to every identified session (those of the guild's shard);
        returns how many live connections got it."""
        return self._broadcast(event, data, guild_id=guild_id)

    def push_interaction(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        focused: str | None = None,
        locale: str = "en-US",
        scope: Literal["auto", "guild", "global"] = "auto",
    ) -> FakeInteraction:
        """Send an INTERACTION_CREATE for the slash ``command`` (``"alert add"`` for a
        subcommand) with ``options`` (name -> value), as ``user_id`` in ``channel_id``.

        ``focused`` names the option being typed: the interaction is then an autocomplete
        (type 4). ``scope`` "auto" uses the command synced to the guild, else the global one,
        else a guild command (``data.guild_id`` set) for guild interactions. Option types come
        from the synced definition when there is one, else from the Python value (bool 5,
        int 4, float 10, str 3). ``guild_id=None`` is a DM."""
        guild = self._guilds[guild_id] if guild_id is not None else None
        self.add_user(user_id)
        if guild is not None:
            if channel_id not in guild.channels:
                raise ValueError(f"guild {guild_id} has no channel {channel_id}")
            if user_id not in guild.members:
                self.add_member(guild_id, user_id)  # type: ignore[arg-type]
        names = command.split()
        definition, command_guild = self._find_command(names[0], guild_id, scope)
        key = (command_guild, names[0])
        if definition is not None:
            command_id = int(definition["id"])
        else:
            command_id = self._synthetic_command_ids.setdefault(key, self._new_id())
        resolved: JSONDict = {}
        options_payload = self._build_options(
            names[1:], definition, dict(options or {}), focused, guild, resolved
        )
        data: JSONDict = {"id": str(command_id), "name": names[0], "type": 1}
        if options_payload:
            data["options"] = options_payload
        if resolved:
            data["resolved"] = resolved
        if command_guild is not None:
            data["guild_id"] = str(command_guild)
        interaction_type = 4 if focused is not None else 2
        return self._push_interaction(
            interaction_type, data, guild, channel_id, user_id, command, locale
        )

    def push_component(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        message_id: int,
        custom_id: str,
        *,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """A button press (a MESSAGE_COMPONENT interaction, type 3) on message ``message_id``
        the bot posted, whose button has ``custom_id``."""
        guild = self._guilds[guild_id] if guild_id is not None else None
        self.add_user(user_id)
        if guild is not None and user_id not in guild.members:
            self.add_member(guild_id, user_id)  # type: ignore[arg-type]
        message = self._messages[message_id]
        buttons = [
            c.get("custom_id")
            for row in message.payload.get("components") or []
            for c in row.get("components") or []
        ]
        if custom_id not in buttons:
            raise ValueError(f"message {message_id} has no button {custom_id!r}: {buttons}")
        data: JSONDict = {"custom_id": custom_id, "component_type": 2}
        return self._push_interaction(
            3,
            data,
            guild,
            channel_id,
            user_id,
            custom_id,
            locale,
            message=self._message_json(message),
        )

    def _push_interaction(
        self,
        interaction_type: int,
        data: JSONDict,
        guild: FakeGuild | None,
        channel_id: int,
        user_id: int,
        command: str,
        locale: str,
        **extra: Any,
    ) -> FakeInteraction:
        user = self.add_user(user_id)
        guild_id = guild.id if guild is not None else None
        interaction_id = self._new_id()
        token = "fake-interaction-" + secrets.token_urlsafe(48)
        payload: JSONDict = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(channel_id),
            **extra,
        }
        if guild is not None:
            member = guild.members[user_id]
            channel = guild.channels[channel_id]
            user_permissions = guild.channel_permissions(channel_id, user_id)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale,
                member={**member.to_dict(), "permissions": str(user_permissions)},
                channel={**channel.to_dict(), "permissions": str(user_permissions)},
                app_permissions=str(guild.channel_permissions(channel_id, self.bot_user.id)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            channel_obj = self._channels.get(channel_id) or self.add_channel(
                None, channel_id, type=1, announce=False
            )
            payload.update(
                user=user.to_dict(),
                channel={**channel_obj.to_dict(), "recipients": [user.to_dict()]},
                app_permissions=str(DEFAULT_BOT_PERMISSIONS),
                authorizing_integration_owners={"1": str(user_id)},
                context=1,
            )
        record = FakeInteraction(
            interaction_id,
            token,
            interaction_type,
            guild_id,
            channel_id,
            user_id,
            command,
            payload,
            time.monotonic(),
        )
        self._interactions[interaction_id] = record
        self._interactions_by_token[token] = record
        if self._broadcast("INTERACTION_CREATE", payload, guild_id=guild_id) == 0:
            raise RuntimeError("no identified gateway connection to send the interaction to")
        return record

    def push_autocomplete(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        command: str,
        focused: str,
        value: str,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> FakeInteraction:
        """An autocomplete interaction: the user typed ``value`` into option ``focused``."""
        return self.push_interaction(
            guild_id,
            channel_id,
            user_id,
            command,
            {**(options or {}), focused: value},
            focused=focused,
            **kwargs,
        )

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: clients close and RESUME."""
        for connection in list(self._connections):
            connection.send({"op": 7, "d": None, "s": None, "t": None})

    def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; unless ``resumable`` the sessions are forgotten."""
        for connection in list(self._connections):
            connection.send({"op": 9, "d": resumable, "s": None, "t": None})
        if not resumable:
            self._sessions.clear()

    def drop_connections(self, code: int = 4000, message: str = "Unknown error") -> None:
        """Close every gateway connection with ``code`` (4000: the client resumes)."""
        for connection in list(self._connections):
            connection.close(code, message)

    # ---------------------------------------------------------------- inspection

    @property
    def connections(self) -> int:
        """Open gateway connections."""
        return len(self._connections)

    @property
    def identified(self) -> int:
        """Open gateway connections that have a session (IDENTIFY or RESUME done)."""
        return sum(1 for c in self._connections if c.session is not None and not c.closing)

    def calls(self, route: str) -> list[RecordedRequest]:
        """Logged requests matching ``route`` (see ``RoutePattern``), every attempt."""
        pattern = RoutePattern(route)
        return [r for r in self.requests if pattern.matches(r.method, r.path)]

    def messages(self, channel_id: int | None = None) -> list[SentMessage]:
        """Messages the bot posted with POST /channels/{id}/messages (not deleted)."""
        return [
            m
            for m in self._messages.values()
            if m.kind == "channel"
            and not m.deleted
            and (channel_id is None or m.channel_id == channel_id)
        ]

    def message(self, message_id: int) -> SentMessage:
        return self._messages[message_id]

    def interaction(self, interaction_id: int) -> FakeInteraction:
        return self._interactions[interaction_id]

    def interaction_responses(self, interaction_id: int) -> list[InteractionCallback]:
        """Accepted callbacks (normally at most one)."""
        return list(self._interactions[interaction_id].callbacks)

    def original_response(self, interaction_id: int) -> SentMessage | None:
        """The message a type 4/5 callback created, edits applied."""
        return self._interactions[interaction_id].original

    def followups(self, interaction_id: int) -> list[SentMessage]:
        return [m for m in self._interactions[interaction_id].followups if not m.deleted]

    def webhook_messages(self, webhook_id: int) -> list[SentMessage]:
        return [m for m in self._webhooks[webhook_id].messages if not m.deleted]

    def synced_commands(self, guild_id: int | None = None) -> list[JSONDict]:
        """Commands stored by the last bulk overwrite for ``guild_id`` (None: global)."""
        return [dict(command) for command in self._commands.get(guild_id, [])]

    # ---------------------------------------------------------------- waiting

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the waiting is the point
    ) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every answered request and
        every gateway frame received or connection change (no polling)."""
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(predicate), timeout)
            except TimeoutError:
                last = ", ".join(str(r) for r in self.requests[-10:])
                raise TimeoutError(
                    f"condition not met within {timeout}s; last requests: {last}"
                ) from None

    async def wait_for_messages(
        self,
        channel_id: int | None = None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the waiting is the point
    ) -> list[SentMessage]:
        await self.wait_for(lambda: len(self.messages(channel_id)) >= count, timeout)
        return self.messages(channel_id)

    async def wait_for_response(
        self,
        interaction_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - the waiting is the point
    ) -> InteractionCallback:
        """The first callback to the interaction, once there is one."""
        interaction = self._interactions[interaction_id]
        await self.wait_for(lambda: interaction.responded, timeout)
        return interaction.callbacks[0]

    async def _changed(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    # ---------------------------------------------------------------- REST plumbing

    def _build_routes(self) -> list[_Route]:
        table: list[tuple[str, str, _Handler, bool]] = [
            ("GET", "/users/@me", self._get_me, True),
            ("GET", "/users/{user_id}", self._get_user, True),
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("GET", "/applications/{application_id}/commands", self._get_commands, True),
            ("PUT", "/applications/{application_id}/commands", self._put_commands, True),
            (
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self._get_commands,
                True,
            ),
            (
                "PUT",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self._put_commands,
                True,
            ),
            ("GET", "/channels/{channel_id}", self._get_channel, True),
            ("POST", "/channels/{channel_id}/messages", self._post_message, True),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._del_message, True),
            ("POST", "/channels/{channel_id}/typing", self._typing, True),
            ("GET", "/guilds/{guild_id}", self._get_guild, True),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels, True),
            ("GET", "/guilds/{guild_id}/roles", self._get_guild_roles, True),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member, True),
            (
                "POST",
                "/interactions/{interaction_id}/{token}/callback",
                self._interaction_callback,
                False,
            ),
            ("GET", "/webhooks/{webhook_id}/{token}", self._get_webhook, False),
            ("POST", "/webhooks/{webhook_id}/{token}", self._execute_webhook, False),
            (
                "GET",
                "/webhooks/{webhook_id}/{token}/messages/{message_id}",
                self._webhook_message,
                False,
            ),
            (
                "PATCH",
                "/webhooks/{webhook_id}/{token}/messages/{message_id}",
                self._webhook_message,
                False,
            ),
            (
                "DELETE",
                "/webhooks/{webhook_id}/{token}/messages/{message_id}",
                self._webhook_message,
                False,
            ),
        ]
        routes = []
        for method, template, handler, auth in table:
            regex = "".join(
                f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
                for part in re.split(r"(\{[^}]+\})", template)
            )
            routes.append(_Route(method, template, re.compile(regex + r"/?\Z"), handler, auth))
        return routes

    @staticmethod
    def _bucket_hash(spec: str) -> str:
        return hashlib.sha256(spec.encode()).hexdigest()[:16]

    @staticmethod
    def _ratelimit_headers(
        limit: int, remaining: int, reset_after: float, bucket: str
    ) -> dict[str, str]:
        reset_after = math.ceil(max(reset_after, 0.0) * 1000) / 1000  # never announce too early
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    @staticmethod
    def _response(status: int, body: Any, headers: Mapping[str, str]) -> web.Response:
        if body is None:
            return web.Response(status=status, headers=headers)
        # Exactly "application/json": discord.py only parses that (json_response adds a charset).
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers=headers,
        )

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        if not request.can_read_body:
            return None, []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            files: list[tuple[str, bytes]] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                if part.name == "payload_json":
                    body = json.loads(data)
                else:
                    files.append((part.filename or part.name or "file", bytes(data)))
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        return json.loads(raw), []

    async def _handle_rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        method = request.method
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        try:
            body, files = await self._read_body(request)
        except (ValueError, UnicodeDecodeError):
            body, files = None, []
            parse_error: ApiError | None = ApiError(
                400, {"code": 50109, "message": "The request body contains invalid JSON."}
            )
        else:
            parse_error = None
        record = RecordedRequest(
            method,
            path,
            None,
            dict(request.query),
            body,
            [name for name, _ in files],
            authorized,
            time.monotonic(),
        )
        if self.log_requests:
            self.requests.append(record)
        headers: dict[str, str] = {}
        try:
            if parse_error is not None:
                raise parse_error
            status, payload, headers = await self._dispatch_rest(record, files)
        except ApiError as exc:
            status, payload, headers = exc.status, exc.body, {**headers, **exc.headers}
        except Exception as exc:  # a bug of the fake: answer 500 and keep it for the test
            self.errors.append(exc)
            status, payload = 500, {"message": f"500: fake error {exc!r}", "code": 0}
        record.status = status
        if status == 429:
            self.rate_limited += 1
        response = self._response(status, payload, headers)
        await self._changed()
        return response

    def _match_route(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        path_matched = False
        for route in self._routes:
            match = route.regex.match(path)
            if match is None:
                continue
            path_matched = True
            if route.method == method:
                return route, match.groupdict()
        if path_matched:
            raise ApiError(405, {"message": "405: Method Not Allowed", "code": 0})
        raise ApiError(404, {"message": "404: Not Found", "code": 0})

    async def _dispatch_rest(
        self, record: RecordedRequest, files: list[tuple[str, bytes]]
    ) -> tuple[int, Any, dict[str, str]]:
        method, path = record.method, record.path
        for injected in self._injected:
            if injected.times > 0 and injected.pattern.matches(method, path):
                injected.times -= 1
                if injected.times == 0:
                    self._injected.remove(injected)
                raise ApiError(injected.status, dict(injected.body), injected.headers)
        route, params = self._match_route(method, path)
        record.route = route.template
        if route.auth and not record.authorized:
            raise _raise(UNAUTHORIZED)
        headers = self._apply_buckets(method, path, route.template)
        call = _Call(method, path, params, record.query, record.body, files)
        try:
            status, payload = await route.handler(call)
        except ApiError as exc:
            exc.headers = {**headers, **exc.headers}
            raise
        return status, payload, headers

    def _apply_buckets(self, method: str, path: str, template: str) -> dict[str, str]:
        now = time.monotonic()
        for bucket in self._buckets:
            if not bucket.pattern.matches(method, path):
                continue
            reset, used = bucket.windows.get(path, (0.0, 0))
            if now >= reset:
                reset, used = now + bucket.per, 0
            if used >= bucket.limit:
                headers = self._ratelimit_headers(bucket.limit, 0, reset - now, bucket.hash)
                headers.update(
                    {
                        "Retry-After": str(max(1, math.ceil(reset - now))),
                        "X-RateLimit-Scope": "user",
                        "Via": "1.1 google",
                    }
                )
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": round(reset - now, 3),
                    "global": False,
                }
                raise ApiError(429, body, headers)
            bucket.windows[path] = (reset, used + 1)
            return self._ratelimit_headers(
                bucket.limit, bucket.limit - used - 1, reset - now, bucket.hash
            )
        limit = self.default_rate_limit
        return self._ratelimit_headers(
            limit, limit - 1, 1.0, self._bucket_hash(f"{method} {template}")
        )

    # ---------------------------------------------------------------- REST lookups

    def _channel_or_404(self, channel_id: int) -> FakeChannel:
        channel = self._channels.get(channel_id)
        if channel is None:
            if not self.auto_create_channels:
                raise _raise(UNKNOWN_CHANNEL)
            channel = self.add_channel(None, channel_id)
        return channel

    def _guild_or(self, guild_id: int, spec: tuple[int, int, str]) -> FakeGuild:
        guild = self._guilds.get(guild_id)
        if guild is None:
            raise _raise(spec)
        return guild

    def _check_application(self, call: _Call) -> None:
        if call.snowflake("application_id") != self.application_id:
            raise _raise(UNKNOWN_APPLICATION)

    def _bot_can_send(self, channel: FakeChannel) -> None:
        if channel.guild_id is None:
            return
        guild = self._guilds[channel.guild_id]
        permissions = guild.channel_permissions(channel.id, self.bot_user.id)
        if not permissions & Perm.VIEW_CHANNEL:
            raise _raise(MISSING_ACCESS)
        if not permissions & Perm.SEND_MESSAGES:
            raise _raise(MISSING_PERMISSIONS)

    # ---------------------------------------------------------------- messages

    def _new_message(
        self,
        kind: Literal["channel", "interaction", "followup", "webhook"],
        channel_id: int | None,
        payload: JSONDict,
        files: list[tuple[str, bytes]],
        **extra: Any,
    ) -> SentMessage:
        channel = self._channels.get(channel_id) if channel_id is not None else None
        message = SentMessage(
            self._new_id(),
            kind,
            channel_id,
            dict(payload),
            guild_id=channel.guild_id if channel else None,
            files=list(files),
            **extra,
        )
        self._messages[message.id] = message
        return message

    def _message_json(self, message: SentMessage) -> JSONDict:
        payload = message.payload
        if message.webhook_id is not None:
            hook = self._webhooks[message.webhook_id]
            author: JSONDict = {
                "id": str(hook.id),
                "username": message.username or hook.name,
                "discriminator": "0000",
                "avatar": None,
                "bot": True,
            }
        else:
            author = self.bot_user.to_dict()
        pings = message.pings
        mentions = [
            self._users[int(p[5:])].to_dict()
            for p in sorted(pings)
            if p.startswith("user:") and int(p[5:]) in self._users
        ]
        data: JSONDict = {
            "id": str(message.id),
            "type": 20 if message.kind == "interaction" else 0,
            "channel_id": str(message.channel_id),
            "content": message.content,
            "author": author,
            "embeds": [{"type": "rich", **embed} for embed in message.embeds],
            "attachments": [
                {
                    "id": str(self._new_id()),
                    "filename": name,
                    "size": len(content),
                    "url": f"https://cdn.discordapp.com/attachments/{message.channel_id}/{name}",
                    "proxy_url": f"https://media.discordapp.net/attachments/{message.channel_id}/{name}",
                }
                for name, content in message.files
            ],
            "mentions": mentions,
            "mention_roles": [p[5:] for p in sorted(pings) if p.startswith("role:")],
            "mention_everyone": "everyone" in pings,
            "pinned": False,
            "tts": bool(payload.get("tts")),
            "timestamp": message.created,
            "edited_timestamp": _now_iso() if message.edits else None,
            "flags": message.flags,
            "components": payload.get("components") or [],
        }
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        if message.webhook_id is not None:
            data["webhook_id"] = str(message.webhook_id)
        if message.interaction_id is not None:
            data["webhook_id"] = str(self.application_id)
            data["application_id"] = str(self.application_id)
        if payload.get("nonce") is not None:
            data["nonce"] = payload["nonce"]
        return data

    def _edit(self, message: SentMessage, body: Any, files: list[tuple[str, bytes]]) -> JSONDict:
        if not isinstance(body, Mapping):
            body = {}
        merged = {**message.payload, **body}
        if message.flags & LOADING:
            merged["flags"] = message.flags & ~LOADING
            validate_message(merged, has_files=bool(files or message.files))
        else:
            validate_message(merged, has_files=bool(files or message.files), edit=True)
        message.payload = merged
        message.edits.append(dict(body))
        if files:
            message.files = list(files)
        return self._message_json(message)

    # ---------------------------------------------------------------- REST handlers

    async def _get_me(self, call: _Call) -> tuple[int, Any]:
        return 200, {
            **self.bot_user.to_dict(),
            "verified": True,
            "mfa_enabled": False,
            "locale": "en-US",
        }

    async def _get_user(self, call: _Call) -> tuple[int, Any]:
        user = self._users.get(call.snowflake("user_id"))
        if user is None:
            raise _raise(UNKNOWN_USER)
        return 200, user.to_dict()

    async def _get_gateway(self, call: _Call) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    async def _get_gateway_bot(self, call: _Call) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    async def _get_application(self, call: _Call) -> tuple[int, Any]:
        return 200, {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": self.bot_user.to_dict(),
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.owner.to_dict(),
            "team": None,
            "flags": 0,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "install_params": None,
            "integration_types_config": {"0": {}},
            "approximate_guild_count": len(self._guilds),
        }

    def _commands_scope(self, call: _Call) -> int | None:
        self._check_application(call)
        if "guild_id" not in call.params:
            return None
        guild_id = call.snowflake("guild_id")
        self._guild_or(guild_id, MISSING_ACCESS)  # not in the guild / no applications.commands
        return guild_id

    async def _get_commands(self, call: _Call) -> tuple[int, Any]:
        return 200, self.synced_commands(self._commands_scope(call))

    async def _put_commands(self, call: _Call) -> tuple[int, Any]:
        guild_id = self._commands_scope(call)
        validate_commands(call.body)
        old = {(c["type"], c["name"]): c["id"] for c in self._commands.get(guild_id, [])}
        stored = []
        for command in call.body:
            kind = command.get("type", 1)
            permissions = command.get("default_member_permissions")
            item: JSONDict = {
                "id": old.get((kind, command["name"])) or str(self._new_id()),
                "application_id": str(self.application_id),
                "version": str(self._new_id()),
                "type": kind,
                "name": command["name"],
                "name_localizations": command.get("name_localizations"),
                "description": command.get("description", ""),
                "description_localizations": command.get("description_localizations"),
                "default_member_permissions": None if permissions is None else str(permissions),
                "dm_permission": command.get("dm_permission", True),
                "contexts": command.get("contexts"),
                "integration_types": command.get("integration_types") or [0],
                "nsfw": bool(command.get("nsfw", False)),
            }
            if command.get("options"):
                item["options"] = command["options"]
            if guild_id is not None:
                item["guild_id"] = str(guild_id)
            stored.append(item)
        self._commands[guild_id] = stored
        return 200, self.synced_commands(guild_id)

    async def _get_channel(self, call: _Call) -> tuple[int, Any]:
        channel = self._channel_or_404(call.snowflake("channel_id"))
        if channel.guild_id is not None:
            permissions = self._guilds[channel.guild_id].channel_permissions(
                channel.id, self.bot_user.id
            )
            if not permissions & Perm.VIEW_CHANNEL:
                raise _raise(MISSING_ACCESS)
        return 200, channel.to_dict()

    async def _post_message(self, call: _Call) -> tuple[int, Any]:
        channel = self._channel_or_404(call.snowflake("channel_id"))
        if channel.type not in _MESSAGE_CHANNEL_TYPES:
            raise _error(400, 50008, "Cannot send messages in a non-text channel")
        self._bot_can_send(channel)
        validate_message(call.body, has_files=bool(call.files))
        message = self._new_message("channel", channel.id, call.body, call.files)
        return 200, self._message_json(message)

    def _own_message(self, call: _Call) -> SentMessage:
        channel = self._channel_or_404(call.snowflake("channel_id"))
        message = self._messages.get(call.snowflake("message_id"))
        if message is None or message.deleted or message.channel_id != channel.id:
            raise _raise(UNKNOWN_MESSAGE)
        return message

    async def _get_message(self, call: _Call) -> tuple[int, Any]:
        return 200, self._message_json(self._own_message(call))

    async def _edit_message(self, call: _Call) -> tuple[int, Any]:
        message = self._own_message(call)
        if message.kind == "webhook":
            raise _raise(CANNOT_EDIT_OTHERS)
        return 200, self._edit(message, call.body, call.files)

    async def _del_message(self, call: _Call) -> tuple[int, Any]:
        self._own_message(call).deleted = True
        return 204, None

    async def _typing(self, call: _Call) -> tuple[int, Any]:
        self._bot_can_send(self._channel_or_404(call.snowflake("channel_id")))
        return 204, None

    async def _get_guild(self, call: _Call) -> tuple[int, Any]:
        guild = self._guild_or(call.snowflake("guild_id"), UNKNOWN_GUILD)
        data = guild.to_dict()
        if _truthy(call.query.get("with_counts")):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return 200, data

    async def _get_guild_channels(self, call: _Call) -> tuple[int, Any]:
        guild = self._guild_or(call.snowflake("guild_id"), UNKNOWN_GUILD)
        return 200, [channel.to_dict() for channel in guild.channels.values()]

    async def _get_guild_roles(self, call: _Call) -> tuple[int, Any]:
        guild = self._guild_or(call.snowflake("guild_id"), UNKNOWN_GUILD)
        return 200, [role.to_dict() for role in guild.roles.values()]

    async def _get_member(self, call: _Call) -> tuple[int, Any]:
        guild = self._guild_or(call.snowflake("guild_id"), UNKNOWN_GUILD)
        member = guild.members.get(call.snowflake("user_id"))
        if member is None:
            raise _raise(UNKNOWN_MEMBER)
        return 200, member.to_dict()

    # ---------------------------------------------------------------- interactions & webhooks

    async def _interaction_callback(self, call: _Call) -> tuple[int, Any]:
        interaction = self._interactions.get(call.snowflake("interaction_id"))
        if interaction is None or interaction.token != call.params["token"]:
            raise _raise(UNKNOWN_INTERACTION)
        if interaction.callbacks:
            raise _raise(ALREADY_ACKNOWLEDGED)
        late = time.monotonic() - interaction.created
        if self.interaction_deadline is not None and late > self.interaction_deadline:
            raise _raise(UNKNOWN_INTERACTION)
        body = call.body if isinstance(call.body, Mapping) else {}
        kind = body.get("type")
        data = dict(body.get("data") or {})
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[interaction.type]
        if kind not in allowed:
            raise _form_error(
                {
                    "type": _field_error(
                        "INTERACTION_RESPONSE_TYPE_INVALID",
                        f"Interaction response type must be one of {sorted(allowed)}.",
                    )
                }
            )
        if kind in (4, 7):
            validate_message(data, has_files=bool(call.files))
        elif kind == 8:
            _check_choices(data)
        callback = InteractionCallback(interaction.id, kind, data, list(call.files))
        interaction.callbacks.append(callback)
        message = None
        if kind in (4, 5):
            payload = data
            if kind == 5:  # "thinking": an empty message flagged LOADING until edited
                payload = {"content": "", "flags": int(data.get("flags") or 0) | LOADING}
            message = self._new_message(
                "interaction",
                interaction.channel_id,
                payload,
                call.files,
                interaction_id=interaction.id,
            )
            interaction.original = message
        if not _truthy(call.query.get("with_response")):
            return 204, None
        response: JSONDict = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "activity_instance_id": None,
                "response_message_id": None if message is None else str(message.id),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(callback.flags & EPHEMERAL),
            }
        }
        if message is not None:
            response["resource"] = {"type": kind, "message": self._message_json(message)}
        return 200, response

    def _incoming_webhook(self, call: _Call) -> FakeWebhook:
        hook = self._webhooks.get(call.snowflake("webhook_id"))
        if hook is None:
            raise _raise(UNKNOWN_WEBHOOK)
        if hook.token != call.params["token"]:
            raise _raise(INVALID_WEBHOOK_TOKEN)
        return hook

    def _interaction_for_token(self, call: _Call) -> FakeInteraction:
        interaction = self._interactions_by_token.get(call.params["token"])
        if interaction is None or not interaction.responded:
            raise _raise(UNKNOWN_WEBHOOK)  # what Discord says before the first callback
        return interaction

    async def _get_webhook(self, call: _Call) -> tuple[int, Any]:
        return 200, self._incoming_webhook(call).to_dict()

    async def _execute_webhook(self, call: _Call) -> tuple[int, Any]:
        if call.snowflake("webhook_id") == self.application_id:  # an interaction followup
            interaction = self._interaction_for_token(call)
            validate_message(call.body, has_files=bool(call.files))
            message = self._new_message(
                "followup",
                interaction.channel_id,
                call.body,
                call.files,
                interaction_id=interaction.id,
            )
            interaction.followups.append(message)
            return 200, self._message_json(message)
        hook = self._incoming_webhook(call)
        validate_message(call.body, has_files=bool(call.files))
        message = self._new_message(
            "webhook", hook.channel_id, call.body, call.files, webhook_id=hook.id
        )
        hook.messages.append(message)
        if not _truthy(call.query.get("wait")):
            return 204, None
        return 200, self._message_json(message)

    async def _webhook_message(self, call: _Call) -> tuple[int, Any]:
        message_id = call.params["message_id"]
        candidates: list[SentMessage]
        if call.snowflake("webhook_id") == self.application_id:
            interaction = self._interaction_for_token(call)
            if message_id == "@original":
                if interaction.original is None:
                    raise _raise(UNKNOWN_MESSAGE)
                candidates = [interaction.original]
            else:
                originals = [interaction.original] if interaction.original else []
                candidates = [*originals, *interaction.followups]
        else:
            candidates = self._incoming_webhook(call).messages
        if message_id != "@original":
            wanted = call.snowflake("message_id")
            candidates = [m for m in candidates if m.id == wanted]
        if not candidates or candidates[0].deleted:
            raise _raise(UNKNOWN_MESSAGE)
        message = candidates[0]
        if call.method == "DELETE":
            message.deleted = True
            return 204, None
        if call.method == "PATCH":
            return 200, self._edit(message, call.body, call.files)
        return 200, self._message_json(message)

    # ---------------------------------------------------------------- interaction building

    def _find_command(
        self, name: str, guild_id: int | None, scope: Literal["auto", "guild", "global"]
    ) -> tuple[JSONDict | None, int | None]:
        def lookup(key: int | None) -> JSONDict | None:
            for command in self._commands.get(key, []):
                if command["name"] == name and command["type"] == 1:
                    return command
            return None

        if scope in ("auto", "guild") and guild_id is not None:
            found = lookup(guild_id)
            if found is not None or scope == "guild":
                return found, guild_id
        found = lookup(None)
        if found is not None or scope == "global" or guild_id is None:
            return found, None
        return None, guild_id

    def _build_options(
        self,
        path: list[str],
        definition: JSONDict | None,
        values: dict[str, Any],
        focused: str | None,
        guild: FakeGuild | None,
        resolved: JSONDict,
    ) -> list[JSONDict]:
        definitions: list[JSONDict] = list((definition or {}).get("options") or [])
        if path:
            name = path[0]
            sub = next((o for o in definitions if o.get("name") == name), None)
            kind = 1 if len(path) == 1 else 2
            if sub is not None:
                kind = int(sub["type"])
            return [
                {
                    "name": name,
                    "type": kind,
                    "options": self._build_options(path[1:], sub, values, focused, guild, resolved),
                }
            ]
        options = []
        by_name = {o.get("name"): o for o in definitions}
        for name, value in values.items():
            known = by_name.get(name)
            kind = int(known["type"]) if known else self._infer_option_type(value)
            option: JSONDict = {"name": name, "type": kind, "value": value}
            if kind in (6, 7, 8, 9) and name != focused:
                option["value"] = str(value)
                self._resolve(kind, int(value), guild, resolved)
            if name == focused:
                option["focused"] = True
            options.append(option)
        if focused is not None and focused not in values:
            options.append({"name": focused, "type": 3, "value": "", "focused": True})
        return options

    @staticmethod
    def _infer_option_type(value: Any) -> int:
        if isinstance(value, bool):
            return 5
        if isinstance(value, int):
            return 4
        if isinstance(value, float):
            return 10
        return 3

    def _resolve(self, kind: int, target: int, guild: FakeGuild | None, resolved: JSONDict) -> None:
        if kind in (6, 9) and target in self._users:
            resolved.setdefault("users", {})[str(target)] = self._users[target].to_dict()
            if guild is not None and target in guild.members:
                member = guild.members[target].to_dict(with_user=False)
                resolved.setdefault("members", {})[str(target)] = member
            return
        if kind in (8, 9) and guild is not None and target in guild.roles:
            resolved.setdefault("roles", {})[str(target)] = guild.roles[target].to_dict()
            return
        if kind == 7 and target in self._channels:
            channel = self._channels[target].to_dict()
            channel["permissions"] = str(ALL_PERMISSIONS)
            resolved.setdefault("channels", {})[str(target)] = channel

    # ---------------------------------------------------------------- gateway

    def _dispatch(self, session: _GatewaySession, event: str, data: JSONDict) -> bool:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.buffer.append(frame)
        del session.buffer[:-1000]
        if session.connection is not None and not session.connection.closing:
            session.connection.send(frame)
            return True
        return False

    def _broadcast(self, event: str, data: JSONDict, *, guild_id: int | None = None) -> int:
        sent = 0
        for session in list(self._sessions.values()):
            if guild_id is None or session.wants_guild(guild_id):
                sent += self._dispatch(session, event, data)
        return sent

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        connection = _Connection(ws, request.query)
        self._connections.append(connection)
        self.gateway_connects.append(dict(request.query))
        writer = asyncio.create_task(connection.write_loop(), name="fake-discord-gateway-writer")
        connection.send(
            {
                "op": 10,
                "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-gw"]},
                "s": None,
                "t": None,
            }
        )
        if request.query.get("encoding", "json") != "json":
            connection.close(4002, "Error while decoding payload.")
        await self._changed()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        connection.close(4002, "Error while decoding payload.")
                    else:
                        self._gateway_op(connection, payload)
                elif msg.type is WSMsgType.BINARY:
                    connection.close(4002, "Error while decoding payload.")
                await self._changed()
        finally:
            connection.closing = True
            connection.outbox.put_nowait(None)
            await writer
            self._connections.remove(connection)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                if ws.close_code in (1000, 1001):  # a clean close ends the session
                    self._sessions.pop(session.session_id, None)
            await self._changed()
        return ws

    def _gateway_op(self, connection: _Connection, payload: Any) -> None:
        op = payload.get("op") if isinstance(payload, Mapping) else None
        data = payload.get("d") if isinstance(payload, Mapping) else None
        if op == 1:
            self.heartbeats += 1
            connection.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            self._identify(connection, data if isinstance(data, Mapping) else {})
        elif op == 6:
            self._resume(connection, data if isinstance(data, Mapping) else {})
        elif connection.session is None:
            connection.close(4003, "Not authenticated.")
        elif op == 3:
            self.presence_updates.append(dict(data or {}))
        elif op == 4:
            pass  # voice state updates: no voice here
        elif op == 8:
            self._request_members(connection.session, data if isinstance(data, Mapping) else {})
        else:
            connection.close(4001, "Unknown opcode.")

    def _identify(self, connection: _Connection, data: Mapping[str, Any]) -> None:
        if connection.session is not None:
            connection.close(4005, "Already authenticated.")
            return
        if data.get("token") != self.token:
            connection.close(4004, "Authentication failed.")
            return
        intents = int(data.get("intents") or 0)
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            connection.close(4014, "Disallowed intent(s).")
            return
        shard_data = data.get("shard") or [0, 1]
        shard = (int(shard_data[0]), int(shard_data[1]))
        if not 0 <= shard[0] < shard[1]:
            connection.close(4010, "Invalid shard.")
            return
        self.identifies.append({k: v for k, v in data.items() if k != "token"})
        session = _GatewaySession(secrets.token_hex(16), intents, shard, connection=connection)
        self._sessions[session.session_id] = session
        connection.session = session
        guilds = [g for g in self._guilds.values() if session.wants_guild(g.id)]
        ready: JSONDict = {
            "v": API_VERSION,
            "user": {**self.bot_user.to_dict(), "verified": True, "mfa_enabled": False},
            "user_settings": {},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "_trace": ["fake-gw"],
        }
        if data.get("shard"):
            ready["shard"] = list(shard)
        self._dispatch(session, "READY", ready)
        for guild in guilds:
            self._dispatch(session, "GUILD_CREATE", guild.to_dict(gateway=True))

    def _resume(self, connection: _Connection, data: Mapping[str, Any]) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        old = session.connection
        if old is not None and old is not connection:
            old.close(4000, "Session resumed elsewhere.")
        session.connection = connection
        connection.session = session
        since = int(data.get("seq") or 0)
        for frame in session.buffer:
            if frame["s"] > since:
                connection.send(frame)
        self.resumes += 1
        self._dispatch(session, "RESUMED", {"_trace": ["fake-gw"]})

    def _request_members(self, session: _GatewaySession, data: Mapping[str, Any]) -> None:
        guild_ids = data.get("guild_id")
        if not isinstance(guild_ids, list):
            guild_ids = [guild_ids]
        wanted = {int(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        limit = int(data.get("limit") or 0)
        for raw_id in guild_ids:
            guild = self._guilds.get(int(raw_id))
            if guild is None:
                continue
            members = [
                m
                for m in guild.members.values()
                if (not wanted or m.id in wanted) and m.user.username.lower().startswith(query)
            ]
            if limit:
                members = members[:limit]
            found = {m.id for m in members}
            chunk: JSONDict = {
                "guild_id": str(guild.id),
                "members": [m.to_dict() for m in members],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [str(u) for u in wanted - found],
            }
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            self._dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)


__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "ApiError",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "FakeWebhook",
    "InteractionCallback",
    "Perm",
    "RecordedRequest",
    "RoutePattern",
    "SentMessage",
    "validate_commands",
    "validate_message",
]
