"""The Telegram adapter (python-telegram-bot 22): commands in, replies and alerts out.

The only module that imports ``telegram``. It turns updates into neutral invocations, renders
neutral replies and alerts as HTML (every dynamic field escaped, split at 4096 characters on
line boundaries) and classifies Telegram's failures for the outbox sender: a blocked bot or a
vanished chat is unreachable (its subscription is disabled); a group that became a supergroup
moves (its subscription follows); a 429 says how long to wait.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.alerts import Alert
from bot.delivery.ratelimit import Limits, RateLimiter
from bot.delivery.sender import TransportError, utc_now
from bot.render.alerts import alert_reply
from bot.render.buttons import SETTINGS_COMMANDS, button_command, keyboard_from_json
from bot.render.chat import (
    TELEGRAM_CAPTION_LIMIT,
    TELEGRAM_LIMIT,
    plain_text,
    telegram_caption,
    telegram_html,
    utf16_len,
)
from bot.render.i18n import LANGUAGES, Language, translate
from bot.render.replies import Keyboard, Reply
from handlers.registry import ChatType as NeutralChatType
from handlers.registry import Dispatcher, Invocation

os.environ.setdefault("PTB_TIMEDELTA", "true")  # retry_after as timedelta, no warning

log = logging.getLogger(__name__)

CHART_FILE = "chart.png"
EDIT_GONE = ("message is not modified", "message to edit not found", "message can't be edited")
"""An edit that finds nothing to change: the state is shown, or the message is gone."""
_T = TypeVar("_T")
CALLBACK_ANSWER_LIMIT = 200
"""Telegram shows at most 200 characters in a button's answer."""

PLATFORM = "telegram"
ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
PERMANENT_BAD_REQUESTS = ("chat not found", "user not found", "chat_id is empty")
READ_TIMEOUT_SECONDS = 30.0
"""How long a send waits for Telegram's answer. PTB's default of 5 s gave up on messages that
Telegram then delivered, and they were sent again."""
REPLY_ATTEMPTS = 3
"""A command reply that meets a 429 or a server error is tried this often in all."""


@dataclass(frozen=True)
class TelegramConfig:
    """Connection settings; the token comes from the environment only."""

    token: str
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    poll_timeout: float = 30.0
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = None
    concurrent_updates: int = 32
    """Updates handled at once: one slow command (a cold /exposure) holds up no other user."""


def _chat_type(kind: str) -> NeutralChatType:
    if kind == ChatType.PRIVATE:
        return "private"
    if kind == ChatType.CHANNEL:
        return "channel"
    return "group"


def parse_command(text: str, bot_username: str | None) -> tuple[str, str] | None:
    """``/cmd@bot args`` -> (``cmd``, ``args``); ``None`` when addressed to another bot."""
    head, _, rest = text.strip().partition(" ")
    if not head.startswith("/") or len(head) < 2:
        return None
    name, _, target = head[1:].partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return None
    return name.lower(), rest.strip()


class TelegramAdapter:
    """Runs the bot on Telegram: commands in, replies out. Alerts go through the outbox."""

    name = PLATFORM

    def __init__(
        self,
        config: TelegramConfig,
        dispatcher: Dispatcher,
        limiter: RateLimiter | None = None,
        on_migrate: Callable[[str, str], None] | None = None,
    ) -> None:
        """``limiter``: the bot's send budget, shared with the alert sender so that replies
        and alerts together stay within Telegram's limits (replies go first). ``on_migrate``:
        a group became a supergroup (old id, new id), from Telegram's service message."""
        self.config = config
        self.dispatcher = dispatcher
        self.on_migrate = on_migrate
        self.limiter = limiter or RateLimiter(Limits())
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.base_url)
            .base_file_url(config.base_file_url)
            .read_timeout(READ_TIMEOUT_SECONDS)
            .concurrent_updates(config.concurrent_updates)
            .build()
        )
        self.app.add_handler(
            MessageHandler(filters.COMMAND & ~filters.UpdateType.EDITED, self._on_command)
        )
        self.app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_error_handler(self._on_error)

    async def start(self) -> None:
        """Connect, register the command menu and start receiving updates."""
        await self.app.initialize()
        await self.register_commands()
        await self.app.start()
        updater = self.app.updater
        if updater is None:  # pragma: no cover - ApplicationBuilder always builds one here
            raise RuntimeError("no updater")
        if self.config.webhook_url:
            await updater.start_webhook(
                listen=self.config.webhook_listen,
                port=self.config.webhook_port,
                url_path="telegram",
                webhook_url=self.config.webhook_url,
                secret_token=self.config.webhook_secret,
            )
        else:
            await updater.start_polling(
                poll_interval=0.0, timeout=int(self.config.poll_timeout), drop_pending_updates=False
            )
        log.info("telegram: connected as @%s", self.app.bot.username)

    def connected(self) -> bool:
        """Started and receiving updates (for ``/readyz``)."""
        updater = self.app.updater
        return self.app.running and updater is not None and updater.running

    async def stop(self) -> None:
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def register_commands(self) -> None:
        """The command menu in every language (the default scope is English)."""
        for language in LANGUAGES:
            commands = [
                BotCommand(c.name, translate(language, c.summary)[:256])
                for c in self.dispatcher.registry.commands
            ]
            await self.app.bot.set_my_commands(
                commands,
                scope=BotCommandScopeDefault(),
                language_code=None if language == "en" else language,
            )

    async def _on_command(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or not message.text:
            return
        parsed = parse_command(message.text, self.app.bot.username)
        if parsed is None:
            return
        invocation = self._invocation(update, *parsed)
        reply = await self.dispatcher.dispatch(invocation)
        if reply is not None:
            await self._reply(chat.id, invocation.chat_type != "private", reply, _topic(update))

    def _invocation(self, update: Update, name: str, raw_args: str) -> Invocation:
        chat = update.effective_chat
        if chat is None:
            raise ValueError("an update without a chat")
        user = update.effective_user
        chat_type = _chat_type(chat.type)

        async def check_admin() -> bool:
            if chat_type == "channel":
                return True  # only administrators can post in a channel
            if user is None:
                return False
            member = await self.app.bot.get_chat_member(chat.id, user.id)
            return member.status in ADMIN_STATUSES

        return Invocation(
            platform=PLATFORM,
            command=name,
            raw_args=raw_args,
            chat_id=str(chat.id),
            chat_type=chat_type,
            user_id=str(user.id if user else chat.id),
            user_language=user.language_code if user else None,
            check_admin=check_admin,
            thread_id=_topic(update),
        )

    async def _reply(
        self, chat_id: int, is_group: bool, reply: Reply, topic: str | None = None
    ) -> None:
        """A command's answer, in the forum topic it was asked in (its buttons under the
        last message)."""
        if reply.image is not None:
            caption, *rest = telegram_html(reply, TELEGRAM_CAPTION_LIMIT)
            await self._send(
                chat_id, caption, is_group=is_group, photo=reply.image.png, topic=topic
            )
            for chunk in rest:
                await self._send(chat_id, chunk, is_group=is_group, topic=topic)
            return
        chunks = telegram_html(reply)
        for n, chunk in enumerate(chunks, 1):
            markup = inline_markup(reply.buttons) if reply.buttons and n == len(chunks) else None
            await self._send(chat_id, chunk, is_group=is_group, topic=topic, markup=markup)

    async def _on_button(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """A button under an alert: Chart and My exposure answer in the chat; a mute is
        answered to the one who pressed it (in a group, only administrators may mute)."""
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None:
            return
        found = button_command(query.data or "")
        if found is None:
            await query.answer()
            return
        reply = await self.dispatcher.dispatch(self._invocation(update, *found))
        if reply is None:  # rate-limited
            await query.answer()
            return
        if found[0] == "mute" or (found[0] in SETTINGS_COMMANDS and not reply.buttons):
            text = plain_text(reply)[:CALLBACK_ANSWER_LIMIT]
            await query.answer(text, show_alert=True)
            return
        await query.answer()
        if found[0] in SETTINGS_COMMANDS and query.message is not None:
            # The settings message redrawn in place, with the buttons of the new state.
            await query.edit_message_text(
                telegram_html(reply)[0],
                parse_mode=ParseMode.HTML,
                reply_markup=inline_markup(reply.buttons),
            )
            return
        await self._reply(chat.id, _chat_type(chat.type) != "private", reply, _topic(update))

    async def _on_migrate(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        """Telegram says in both chats that a group became a supergroup: its settings move at
        once (both messages lead to the same move; the second finds nothing left to move)."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat_id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat_id
        else:
            return
        log.info("telegram: group %s became supergroup %s; its settings move with it", old, new)
        if self.on_migrate is not None:
            self.on_migrate(str(old), str(new))

    async def _paced(self, chat_id: str, is_group: bool) -> None:
        """Wait for this reply's place in the send budget: the chat's own limits, then the
        next overall slot, ahead of queued alerts."""
        while True:
            now = utc_now()
            at = self.limiter.book_next(chat_id, is_group, now)
            if at is None:
                at = self.limiter.ready_at(chat_id, is_group, now)
                await asyncio.sleep(max((at - now).total_seconds(), 0.001))
                continue
            if at > now:
                await asyncio.sleep((at - now).total_seconds())
            return

    async def _send(
        self,
        chat_id: int | str,
        html_text: str,
        *,
        is_group: bool,
        photo: bytes | None = None,
        topic: str | None = None,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """A reply (``photo``: a picture with ``html_text`` as its caption); a 429 is waited
        out and a server or network error tried again."""
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            await self._paced(str(chat_id), is_group)
            try:
                if photo is not None:
                    await self.app.bot.send_photo(
                        chat_id,
                        photo,
                        caption=html_text,
                        parse_mode=ParseMode.HTML,
                        filename=CHART_FILE,
                        message_thread_id=int(topic) if topic else None,
                    )
                    return
                await self.app.bot.send_message(
                    chat_id,
                    html_text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    message_thread_id=int(topic) if topic else None,
                    reply_markup=markup,
                )
                return
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
                self.limiter.pause(str(chat_id), utc_now() + timedelta(seconds=wait))
                if attempt == REPLY_ATTEMPTS:
                    raise
            except (TimedOut, NetworkError) as exc:
                if attempt == REPLY_ATTEMPTS or isinstance(exc, BadRequest):
                    raise
                await asyncio.sleep(float(attempt))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every failure once in the log: a network blip in one line, anything else with its
        traceback (PTB otherwise logs "No error handlers are registered" with a traceback)."""
        error = context.error
        chat = getattr(getattr(update, "effective_chat", None), "id", None)
        if isinstance(error, NetworkError | RetryAfter):
            log.warning("telegram: %s (%s) for chat %s", type(error).__name__, error, chat or "-")
            return
        log.error(
            "telegram: update for chat %s failed: %s",
            chat or "-",
            error,
            exc_info=error if isinstance(error, BaseException) else None,
        )


def _topic(update: Update) -> str | None:
    """The forum topic a message (or a pressed button's message) belongs to."""
    message = update.effective_message
    if message is None or not message.is_topic_message or message.message_thread_id is None:
        return None
    return str(message.message_thread_id)


def _seconds(wait: timedelta | float) -> float:
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def render_alert(alert: Alert, language: Language) -> list[str]:
    """An alert as Telegram HTML messages in a chat's language."""
    return telegram_html(alert_reply(alert, language))


def inline_keyboard(buttons: str) -> InlineKeyboardMarkup:
    """A stored keyboard (:mod:`bot.render.buttons`) as Telegram inline buttons."""
    return inline_markup(keyboard_from_json(buttons))


def inline_markup(keyboard: Keyboard) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in keyboard]
    )


def chart_caption(words: str, _: Language) -> str:
    """A chart's words as the caption of its photo."""
    return telegram_caption(words)


def is_group_chat(chat_id: str) -> bool:
    """Groups, supergroups and channels have negative ids on Telegram."""
    return chat_id.startswith("-")


class TelegramTransport:
    """Sends outbox messages through the Bot API and classifies Telegram's answers."""

    platform = PLATFORM

    def __init__(self, bot: Bot, topic_of: Callable[[str], str | None] | None = None) -> None:
        """``topic_of``: the forum topic a chat's alerts go to (where it subscribed)."""
        self.bot = bot
        self.topic_of = topic_of

    def _thread(self, chat_id: str) -> int | None:
        topic = self.topic_of(chat_id) if self.topic_of is not None else None
        return int(topic) if topic else None

    async def send(
        self, chat_id: str, text: str, buttons: str | None = None, reply_to: str | None = None
    ) -> str:
        """``reply_to``: the episode's first message (an escalation or recovery replies to
        it, so one shock reads as one thread)."""
        sent = await self._classified(
            self.bot.send_message(
                int(chat_id),
                text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=inline_keyboard(buttons) if buttons else None,
                message_thread_id=self._thread(chat_id),
                reply_parameters=(
                    ReplyParameters(int(reply_to), allow_sending_without_reply=True)
                    if reply_to
                    else None
                ),
            )
        )
        return str(sent.message_id)

    async def send_photo(self, chat_id: str, png: bytes, caption: str) -> str:
        sent = await self._classified(
            self.bot.send_photo(
                int(chat_id),
                png,
                caption=caption,
                parse_mode=ParseMode.HTML,
                filename=CHART_FILE,
                message_thread_id=self._thread(chat_id),
            )
        )
        return str(sent.message_id)

    async def edit(
        self, chat_id: str, message_id: str, original: str, status: str, buttons: str | None
    ) -> None:
        """The episode's first message with its current state under it (the first text as
        sent, then the status line; the buttons stay)."""
        line = f"\n\n<i>{html.escape(status, quote=False)}</i>"
        text = original + line if utf16_len(original + line) <= TELEGRAM_LIMIT else original
        try:
            await self._classified(
                self.bot.edit_message_text(
                    text,
                    chat_id=int(chat_id),
                    message_id=int(message_id),
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    reply_markup=inline_keyboard(buttons) if buttons else None,
                )
            )
        except TransportError as exc:
            if not any(p in exc.message.lower() for p in EDIT_GONE):
                raise

    @staticmethod
    async def _classified(request: Awaitable[_T]) -> _T:
        try:
            return await request
        except RetryAfter as exc:
            raise TransportError(exc.message, retry_after=_seconds(exc.retry_after)) from None
        except ChatMigrated as exc:
            raise TransportError(exc.message, migrate_to=str(exc.new_chat_id)) from None
        except Forbidden as exc:
            raise TransportError(exc.message, unreachable=True) from None
        except BadRequest as exc:
            gone = any(p in exc.message.lower() for p in PERMANENT_BAD_REQUESTS)
            raise TransportError(exc.message, unreachable=gone, permanent=not gone) from None
        except TelegramError as exc:  # TimedOut, NetworkError, server errors: try again later
            raise TransportError(exc.message) from None
