"""The command registry and dispatcher, shared by every chat platform.

An adapter turns an incoming message or interaction into an :class:`Invocation`; the dispatcher
finds the command, checks permission and the user's rate, runs the handler and turns every
error into a reply in the chat's language. Handlers are plain async functions from a
:class:`Context` to a neutral :class:`~bot.render.replies.Reply`.
"""

from __future__ import annotations

import logging
import shlex
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from bot.metrics import COMMAND_SECONDS
from bot.render.i18n import Language, resolve_language, translate
from bot.render.replies import Reply
from bot.storage.store import database_fault
from bot.text import visible_text
from handlers.services import Services

log = logging.getLogger(__name__)

ChatType = Literal["private", "group", "channel"]


@dataclass(frozen=True)
class Invocation:
    """A command as the adapter received it, free of any platform object."""

    platform: str
    command: str
    raw_args: str
    chat_id: str
    chat_type: ChatType
    user_id: str
    user_language: str | None
    check_admin: Callable[[], Awaitable[bool]]
    thread_id: str | None = None
    """The forum topic the command was sent in (Telegram); ``None`` elsewhere."""

    @property
    def chat_key(self) -> tuple[str, str]:
        return self.platform, self.chat_id


@dataclass(frozen=True)
class Context:
    """What a handler gets: the invocation, parsed arguments, language and services."""

    invocation: Invocation
    args: tuple[str, ...]
    language: Language
    services: Services

    def t(self, key: str, **values: object) -> str:
        return translate(self.language, key, **values)


Handler = Callable[[Context], Awaitable[Reply]]


class UsageError(Exception):
    """The user's input does not fit the command; the reply names the accepted syntax."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Command:
    """A registered command. Texts are message-catalogue keys."""

    name: str
    handler: Handler
    summary: str
    usage: str
    admin_in_groups: bool = False
    max_args_chars: int = 500


class Registry:
    """Commands by name, in registration order (the order of /help)."""

    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self._commands: dict[str, Command] = {}
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"command /{command.name} registered twice")
        self._commands[command.name] = command

    def get(self, name: str) -> Command | None:
        return self._commands.get(name.lower())

    @property
    def commands(self) -> list[Command]:
        return list(self._commands.values())


@dataclass
class RateLimit:
    """At most ``calls`` commands per user in ``per``; the first refusal is answered."""

    calls: int = 10
    per: timedelta = timedelta(minutes=1)
    _seen: dict[tuple[str, str], deque[datetime]] = field(default_factory=dict)
    _warned: set[tuple[str, str]] = field(default_factory=set)

    def allow(self, who: tuple[str, str], now: datetime) -> bool | None:
        """True: go ahead; False: refuse with a message; None: refuse silently."""
        times = self._seen.setdefault(who, deque())
        while times and now - times[0] >= self.per:
            times.popleft()
        if len(times) < self.calls:
            times.append(now)
            self._warned.discard(who)
            return True
        if who in self._warned:
            return None
        self._warned.add(who)
        return False


def split_args(raw: str) -> tuple[str, ...]:
    """Arguments split like a shell would, tolerating unbalanced quotes."""
    try:
        return tuple(shlex.split(raw))
    except ValueError:
        return tuple(raw.split())


class Dispatcher:
    """Runs commands: permission, rate, errors, language."""

    def __init__(self, registry: Registry, services: Services, rate: RateLimit | None = None):
        self.registry = registry
        self.services = services
        self.rate = rate or RateLimit()

    def language_for(self, invocation: Invocation) -> Language:
        """The chat's chosen language, else the user's; never fails a command."""
        try:
            stored = self.services.store.chat_language(invocation.platform, invocation.chat_id)
        except Exception:
            log.exception("chat language of %s unavailable", invocation.chat_id)
            stored = None
        return stored or resolve_language(invocation.user_language)

    async def dispatch(self, invocation: Invocation) -> Reply | None:
        """The reply to send, or ``None`` when the user is being silently rate limited."""
        invocation = replace(invocation, raw_args=visible_text(invocation.raw_args))
        language = self.language_for(invocation)
        now = self.services.clock()
        allowed = self.rate.allow((invocation.platform, invocation.user_id), now)
        if allowed is None:
            return None
        if allowed is False:
            return Reply.text(translate(language, "error.rate_limited"))
        command = self.registry.get(invocation.command)
        if command is None:
            return Reply.text(
                translate(language, "error.unknown_command", command=invocation.command[:40])
            )
        if len(invocation.raw_args) > command.max_args_chars:
            return Reply.text(
                translate(language, "error.too_long", limit=command.max_args_chars),
                translate(language, "error.usage", usage=translate(language, command.usage)),
            )
        context = Context(invocation, split_args(invocation.raw_args), language, self.services)
        with COMMAND_SECONDS.labels(command.name).time():
            return await self._answer(command, context, invocation, language)

    async def _answer(
        self, command: Command, context: Context, invocation: Invocation, language: Language
    ) -> Reply | None:
        try:
            if (
                command.admin_in_groups
                and invocation.chat_type != "private"
                and not await invocation.check_admin()
            ):
                return Reply.text(translate(language, "error.admin_only", command=command.name))
            return await command.handler(context)
        except UsageError as exc:
            return Reply.text(
                translate(language, exc.key, **exc.values),
                translate(language, "error.usage", usage=translate(language, command.usage)),
            )
        except Exception as exc:
            error_id = uuid.uuid4().hex[:8]
            fault = database_fault(exc, self.services.store.path)
            log.error(
                "command /%s failed (error %s, platform %s, chat %s)%s",
                command.name,
                error_id,
                invocation.platform,
                invocation.chat_id,
                f": {fault}" if fault else "",
                exc_info=None if fault else exc,
            )
            return Reply.text(translate(language, "error.unexpected", error_id=error_id))
