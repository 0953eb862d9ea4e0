"""A fake Telegram Bot API server on 127.0.0.1 that the real python-telegram-bot talks to.

Usage::

    async with FakeBotApi(token="123:ABC") as api:
        api.add_chat(42)
        async with Bot("123:ABC", base_url=api.base_url, base_file_url=api.base_file_url) as bot:
            await bot.send_message(42, "<b>hi</b>", parse_mode="HTML")
        assert api.sent(42)[0].plain_text == "hi"

It answers like the Bot API: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
"description": "...", "parameters": {...}}`` with the same HTTP status, so PTB raises its real
exceptions (``BadRequest``, ``Forbidden``, ``ChatMigrated``, ``RetryAfter``, ``NetworkError``).
Set ``PTB_TIMEDELTA=true`` in tests that can see a 429: PTB warns while building ``RetryAfter``
otherwise. Methods it does not implement answer 404 "Not Found", which PTB reports as
``InvalidToken`` (``EndPointNotFound`` through ``Bot.do_api_request``), as the real API does.

Bodies are read as PTB sends them: form-encoded with nested values as JSON strings, multipart
when a file is uploaded, or a JSON object. Text length is counted in characters after parsing
entities; only ``parse_mode=HTML`` is parsed (other modes are counted raw).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import math
import re
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from aiohttp.web_request import FileField

JSONDict = dict[str, Any]

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_CALLBACK_DATA_BYTES = 64
MAX_COMMANDS = 100
MAX_POLL_WAIT = 50.0  # seconds; the real server caps long polling at 50 s too

CHAT_TYPES = ("private", "group", "supergroup", "channel")
MEMBER_STATUSES = ("creator", "administrator", "member", "left", "kicked")
SCOPE_TYPES = (
    "default",
    "all_private_chats",
    "all_group_chats",
    "all_chat_administrators",
    "chat",
    "chat_administrators",
    "chat_member",
)
# Every update type but chat_member, message_reaction and message_reaction_count.
DEFAULT_ALLOWED_UPDATES = frozenset(
    [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    ]
)
# Form values that are plain strings; every other form value is JSON (numbers, bools, objects).
_STRING_PARAMS = frozenset(
    [
        "text",
        "caption",
        "parse_mode",
        "language_code",
        "callback_query_id",
        "inline_message_id",
        "url",
        "photo",
        "document",
        "file_id",
        "description",
        "short_description",
        "name",
        "title",
        "secret_token",
        "ip_address",
        "action",
        "emoji",
        "business_connection_id",
        "message_effect_id",
    ]
)
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE_CODE_RE = re.compile(r"^[a-z]{2}$")
_INT_RE = re.compile(r"^-?\d+$")


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        """The JSON body the real API sends for this error."""
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(detail: str, parameters: JSONDict | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}", parameters)


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake answered: method as sent, decoded parameters, HTTP status."""

    method: str
    params: JSONDict
    status: int


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the bot sent (or an edit it made), as the fake accepted it."""

    chat_id: int
    message_id: int
    method: str
    text: str  # text or caption as sent, markup included
    plain_text: str  # after entity parsing and trimming: what a user would read
    entities: list[JSONDict]
    parse_mode: str | None
    reply_markup: JSONDict | None
    time: float  # the fake's clock (time.monotonic unless injected) when it was accepted
    params: JSONDict


@dataclass(slots=True)
class FakeChat:
    """A chat the fake knows about."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    language_code: str | None = None
    next_message_id: int = 1
    messages: dict[int, JSONDict] = field(default_factory=dict)
    topics: set[int] = field(default_factory=set)
    """Forum topics (thread ids) of a supergroup with topics on; empty: not a forum."""

    def to_dict(self) -> JSONDict:
        """The Chat object as the Bot API returns it."""
        chat: JSONDict = {"id": self.id, "type": self.type}
        if self.topics:
            chat["is_forum"] = True
        if self.type == "private":
            chat["first_name"] = self.first_name or f"User {self.id}"
        else:
            chat["title"] = self.title or f"Chat {self.id}"
        if self.username:
            chat["username"] = self.username
        return chat

    def take_message_id(self) -> int:
        """Allocate the next message id in this chat."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


# --------------------------------------------------------------------------------------------
# HTML entity parsing (Telegram's subset)
# --------------------------------------------------------------------------------------------

_HTML_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPECIAL_RE = re.compile(r"[<&]")
_HTML_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[a-zA-Z][a-zA-Z0-9]{0,30});")
_HTML_TAG_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_HTML_ATTR_RE = re.compile(
    r"""\s*([a-zA-Z_][a-zA-Z0-9_:-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"""
)


class EntityParseError(ValueError):
    """Telegram would refuse the text with "can't parse entities"."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _decode_entity(text: str, index: int) -> tuple[str, int]:
    """Decode the character entity at ``text[index] == "&"``; return it and the next index."""
    match = _HTML_ENTITY_RE.match(text, index)
    if match is None:
        raise EntityParseError(
            f'Character "&" at byte offset {_byte_offset(text, index)} must be escaped as "&amp;"'
        )
    name = match.group(1)
    if name.startswith("#"):
        code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise EntityParseError(
                f'Invalid character entity "&{name};" at byte offset {_byte_offset(text, index)}'
            )
        return chr(code), match.end()
    decoded = _HTML_NAMED_ENTITIES.get(name)
    if decoded is None:
        raise EntityParseError(
            f'Unsupported character entity "&{name};" at byte offset {_byte_offset(text, index)}'
        )
    return decoded, match.end()


def _unescape_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while (j := value.find("&", i)) != -1:
        out.append(value[i:j])
        char, i = _decode_entity(value, j)
        out.append(char)
    out.append(value[i:])
    return "".join(out)


@dataclass(slots=True)
class _OpenTag:
    name: str
    offset: int
    attrs: dict[str, str]


def _entity_for(tag: _OpenTag, end: int, parent: _OpenTag | None) -> JSONDict | None:
    length = end - tag.offset
    if length <= 0:
        return None
    entity: JSONDict = {"type": _HTML_TAG_ENTITY[tag.name], "offset": tag.offset, "length": length}
    if tag.name == "a":
        entity["url"] = tag.attrs.get("href", "")
        if not entity["url"]:
            return None
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs.get("emoji-id", "")
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "code" and parent is not None and parent.name == "pre":
        language = tag.attrs.get("class", "")
        if language.startswith("language-"):
            parent.attrs["language"] = language.removeprefix("language-")
            return None
    elif tag.name == "pre" and tag.attrs.get("language"):
        entity["language"] = tag.attrs["language"]
    return entity


def _parse_start_tag(text: str, index: int) -> tuple[_OpenTag, int]:
    """Parse ``<name attr=...>`` at ``text[index] == "<"``; return it (offset unset) and the end."""
    name_match = _HTML_TAG_NAME_RE.match(text, index + 1)
    name = name_match.group(0).lower() if name_match else ""
    if name_match is None or name not in _HTML_TAG_ENTITY:
        offset = _byte_offset(text, index)
        raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
    attrs: dict[str, str] = {}
    i = name_match.end()
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            offset = _byte_offset(text, index)
            raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
        if text[i] == ">":
            break
        attr = _HTML_ATTR_RE.match(text, i)
        if attr is None or attr.end() == i:
            raise EntityParseError(
                f'Invalid attribute in tag "{name}" at byte offset {_byte_offset(text, i)}'
            )
        value = next((group for group in attr.groups()[1:] if group is not None), "")
        attrs[attr.group(1).lower()] = _unescape_attribute(value)
        i = attr.end()
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError('Tag "span" must have class "tg-spoiler"')
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
    return _OpenTag(name, 0, attrs), i + 1


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram HTML into plain text and entities (offsets in UTF-16 code units).

    Raises EntityParseError for unsupported tags, mismatched or unclosed tags and a ``<`` or
    ``&`` that is neither markup nor an entity. A bare ``>`` is accepted, as Telegram does.
    """
    out: list[str] = []
    position = 0  # UTF-16 length of the output so far
    stack: list[_OpenTag] = []
    entities: list[JSONDict] = []
    i = 0
    while True:
        special = _HTML_SPECIAL_RE.search(text, i)
        end = special.start() if special else len(text)
        if end > i:
            chunk = text[i:end]
            out.append(chunk)
            position += utf16_len(chunk)
        if special is None:
            break
        i = end
        if text[i] == "&":
            char, i = _decode_entity(text, i)
            out.append(char)
            position += utf16_len(char)
        elif text.startswith("</", i):
            close = text.find(">", i)
            name = text[i + 2 : close].strip().lower()
            if close == -1 or not stack or name != stack[-1].name:
                offset = _byte_offset(text, i)
                if close == -1:
                    raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
                if not stack:
                    raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1].name}>", '
                    f'found "</{name}>"'
                )
            tag = stack.pop()
            entity = _entity_for(tag, position, stack[-1] if stack else None)
            if entity is not None:
                entities.append(entity)
            i = close + 1
        else:
            tag, i = _parse_start_tag(text, i)
            tag.offset = position
            stack.append(tag)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(out), entities


def _trim(plain: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip surrounding whitespace like Telegram does and shift entities to match."""
    stripped = plain.strip()
    if stripped == plain:
        return plain, entities
    shift = utf16_len(plain[: len(plain) - len(plain.lstrip())])
    limit = utf16_len(stripped)
    trimmed: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        stop = min(entity["offset"] + entity["length"] - shift, limit)
        if stop > start:
            trimmed.append({**entity, "offset": start, "length": stop - start})
    return stripped, trimmed


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[JSONDict]]:
    """Plain text and entities of a text or caption, or an ApiError like the real API."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            plain, entities = parse_html(text)
        except EntityParseError as exc:
            raise _bad_request(f"can't parse entities: {exc}") from None
    elif mode in ("", "markdown", "markdownv2"):
        plain, entities = text, []
    else:
        raise _bad_request("unsupported parse_mode")
    return _trim(plain, entities)


# --------------------------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------------------------


class _RateLimiter:
    """Telegram's documented send limits as sliding windows; no sleeping, just bookkeeping."""

    def __init__(
        self, clock: Callable[[], float], *, per_private: float, per_group: int, overall: int
    ) -> None:
        self._clock = clock
        self._private_interval = per_private
        self._group_limit = per_group
        self._overall_limit = overall
        self._private_last: dict[int, float] = {}
        self._group_sends: dict[int, collections.deque[float]] = {}
        self._overall_sends: collections.deque[float] = collections.deque()

    def acquire(self, chat_id: int) -> int | None:
        """Record a send and return None, or return the retry_after (>= 1 s) if over a limit."""
        now = self._clock()
        wait = 0.0
        overall = self._overall_sends
        while overall and overall[0] <= now - 1.0:
            overall.popleft()
        if len(overall) >= self._overall_limit:
            wait = overall[0] + 1.0 - now
        group: collections.deque[float] | None = None
        if chat_id > 0:
            last = self._private_last.get(chat_id)
            if last is not None and now - last < self._private_interval:
                wait = max(wait, last + self._private_interval - now)
        else:
            group = self._group_sends.setdefault(chat_id, collections.deque())
            while group and group[0] <= now - 60.0:
                group.popleft()
            if len(group) >= self._group_limit:
                wait = max(wait, group[0] + 60.0 - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        overall.append(now)
        if group is not None:
            group.append(now)
        else:
            self._private_last[chat_id] = now
        return None


# --------------------------------------------------------------------------------------------
# Parameter decoding
# --------------------------------------------------------------------------------------------


def _decode_form_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _int_param(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value)
    raise _bad_request(f"invalid {name} specified")


def _float_param(params: Mapping[str, Any], name: str) -> float:
    value = params.get(name)
    if value is None or value == "":
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad_request(f"invalid {name} specified") from None


def _required_int(params: Mapping[str, Any], name: str) -> int:
    value = _int_param(params, name)
    if value is None:
        raise _bad_request(f"{name} is empty")
    return value


def _json_param(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {name} JSON object") from None
    return value


def _str_param(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _bool_param(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


_Handler = Callable[[JSONDict], Awaitable[Any]]


@dataclass(slots=True)
class _Waiter:
    predicate: Callable[[], bool]
    future: asyncio.Future[None]


class FakeBotApi:
    """The Bot API on 127.0.0.1:<random port>; see the module docstring.

    ``auto_create_chats`` makes unknown numeric chat ids exist (positive: private, below
    -1000000000000: supergroup, other negatives: group). ``enforce_limits`` answers 429 past
    1 message/s per private chat, ``group_limit_per_minute`` per group/supergroup/channel and
    ``overall_limit_per_second`` overall; ``clock`` (default ``time.monotonic``) drives those
    windows, so tests and benchmarks can move time without sleeping.
    """

    def __init__(
        self,
        token: str = "123:ABC",  # noqa: S107 - a fake token
        *,
        bot_username: str = "fake_test_bot",
        bot_first_name: str = "Fake Bot",
        auto_create_chats: bool = False,
        enforce_limits: bool = False,
        group_limit_per_minute: int = 20,
        overall_limit_per_second: int = 30,
        clock: Callable[[], float] = time.monotonic,
        log_requests: bool = True,
    ) -> None:
        if not _TOKEN_RE.match(token):
            raise ValueError(f"malformed bot token {token!r}")
        self.token = token
        self.auto_create_chats = auto_create_chats
        self.log_requests = log_requests
        self.bot_user: JSONDict = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._clock = clock
        self._limiter: _RateLimiter | None = (
            _RateLimiter(
                clock,
                per_private=1.0,
                per_group=group_limit_per_minute,
                overall=overall_limit_per_second,
            )
            if enforce_limits
            else None
        )

        self.requests: list[RecordedRequest] = []
        self.callback_answers: list[JSONDict] = []
        self.rate_limited: int = 0  # 429s sent by the limiter (injected ones not counted)
        self.superseded_polls: int = 0
        """getUpdates calls that arrived while another one waited: two pollers of one token
        (the real server answers one of them 409 Conflict)."""
        self.rate_limited_by_chat: collections.Counter[int] = collections.Counter()
        self.webhook_url: str = ""

        self._chats: dict[int, FakeChat] = {}
        self._users: dict[int, JSONDict] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._forbidden: dict[int, str] = {}
        self._migrated: dict[int, int] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._sent: list[SentMessage] = []
        self._sent_by_chat: dict[int, list[SentMessage]] = collections.defaultdict(list)
        self._call_counts: collections.Counter[str] = collections.Counter()  # lower-case names
        self.errors: list[BaseException] = []  # bugs of the fake (answered as 500)
        self._edits: list[SentMessage] = []
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._open_callback_queries: set[str] = set()
        self._injected: dict[str, collections.deque[tuple[int | None, ApiError]]] = {}
        self._latency: dict[str, float] = {}

        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._poll_wakeup = asyncio.Event()
        self._active_poll: asyncio.Event | None = None  # set when a newer getUpdates arrives
        self._waiting_polls = 0
        self._waiters: list[_Waiter] = []
        self._closing = False

        self._runner: web.AppRunner | None = None
        self._port = 0
        self._methods: dict[str, _Handler] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "sendChatAction": self._send_chat_action,
                "editMessageText": self._edit_message_text,
                "answerCallbackQuery": self._answer_callback_query,
                "getChat": self._get_chat,
                "getChatMember": self._get_chat_member,
                "getChatAdministrators": self._get_chat_administrators,
                "leaveChat": self._leave_chat,
                "getFile": self._get_file,
            }.items()
        }

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
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self._closing = False

    async def close(self) -> None:
        """Answer pending long polls with no updates and stop the server."""
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return self._port

    @property
    def url(self) -> str:
        """Root URL of the server."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url`` wants: the token is appended to it."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """What PTB's ``base_file_url`` wants: the token is appended to it."""
        return f"{self.url}/file/bot"

    # ---------------------------------------------------------------- state set-up

    def add_topic(self, chat_id: int, thread_id: int) -> None:
        """Turn a supergroup into a forum (if it is not) and give it the topic ``thread_id``."""
        chat = self._chats[chat_id]
        if chat.type != "supergroup":
            raise ValueError("only supergroups have topics")
        chat.topics.add(thread_id)

    def add_chat(
        self,
        chat_id: int,
        type: str = "private",
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> FakeChat:
        """Make a chat exist (replacing an existing one's details)."""
        if type not in CHAT_TYPES:
            raise ValueError(f"unknown chat type {type!r}")
        if (type == "private") != (chat_id > 0):
            raise ValueError(f"chat id {chat_id} does not fit a {type} chat")
        chat = FakeChat(chat_id, type, title, username, first_name, language_code)
        old = self._chats.get(chat_id)
        if old is not None:
            chat.next_message_id, chat.messages = old.next_message_id, old.messages
            chat.topics = old.topics
        self._chats[chat_id] = chat
        if type == "private":
            self.add_user(
                chat_id,
                first_name=first_name,
                username=username,
                language_code=language_code,
            )
        return chat

    def chat(self, chat_id: int) -> FakeChat:
        """A known chat (KeyError if unknown)."""
        return self._chats[chat_id]

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JSONDict:
        """Register or update a user (the User object of updates and chat members).

        Details left as None keep their earlier value.
        """
        user = dict(self._users.get(user_id) or {})
        user.setdefault("id", user_id)
        user.setdefault("is_bot", False)
        user.setdefault("first_name", f"User {user_id}")
        details = {"first_name": first_name, "username": username, "language_code": language_code}
        user.update({key: value for key, value in details.items() if value})
        self._users[user_id] = user
        return user

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """getChatMember's status for (chat, user); the default is "member"."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unsupported status {status!r}; use one of {MEMBER_STATUSES}")
        self._members[(chat_id, user_id)] = status

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: 403 on every request to this private chat."""
        self._forbidden[chat_id] = "Forbidden: bot was blocked by the user"

    def deactivate(self, chat_id: int) -> None:
        """The user deleted their account: 403 "user is deactivated"."""
        self._forbidden[chat_id] = "Forbidden: user is deactivated"

    def kick(self, chat_id: int) -> None:
        """The bot was removed from a group/supergroup/channel: 403 from then on."""
        self._forbidden[chat_id] = f"Forbidden: bot was kicked from the {self._kind(chat_id)} chat"

    def unblock(self, chat_id: int) -> None:
        """Undo block/kick/deactivate/leaveChat."""
        self._forbidden.pop(chat_id, None)

    def migrate(self, chat_id: int, new_chat_id: int, *, announce: bool = False) -> None:
        """The group became a supergroup: the old id answers 400 with migrate_to_chat_id.
        ``announce``: the bot also gets the two service messages Telegram sends, one in the
        old group (``migrate_to_chat_id``) and one in the new supergroup
        (``migrate_from_chat_id``)."""
        old = self._chats.get(chat_id)
        if new_chat_id not in self._chats:
            self.add_chat(new_chat_id, "supergroup", title=old.title if old else None)
        self._migrated[chat_id] = new_chat_id
        if not announce or old is None:
            return
        new = self._chats[new_chat_id]
        for chat, field_name, other in (
            (old, "migrate_to_chat_id", new_chat_id),
            (new, "migrate_from_chat_id", chat_id),
        ):
            message: JSONDict = {
                "message_id": chat.take_message_id(),
                "chat": chat.to_dict(),
                "date": int(time.time()),
                field_name: other,
            }
            chat.messages[message["message_id"]] = message
            self.push_update({"message": message})

    def slow_down(self, method: str, seconds: float) -> None:
        """Answer ``method`` only after ``seconds`` (0: at once again), like a slow network."""
        self._latency[method.lower()] = seconds

    def fail_next(
        self,
        method: str,
        status: int,
        times: int = 1,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` ("*" for any) with an error; with
        ``chat_id``, only calls for that chat (whatever order concurrent calls arrive in).

        A 429 always carries ``parameters.retry_after`` (default 1), as the real one does.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        error = ApiError(
            status, description or _default_description(status, retry_after), parameters
        )
        queue = self._injected.setdefault(method.lower(), collections.deque())
        queue.extend((chat_id, error) for _ in range(times))

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue an update for getUpdates (update_id assigned unless given); return its id."""
        data = dict(update)
        update_id = int(data.get("update_id") or self._next_update_id)
        data["update_id"] = update_id
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._updates.append(data)
        self._wake_pollers()
        self._wake()
        return update_id

    def push_command(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "private",
        language_code: str | None = "en",
        username: str | None = None,
        first_name: str | None = None,
        thread_id: int | None = None,
    ) -> int:
        """Queue a user's message (a /command gets its bot_command entity); return update_id.
        ``thread_id``: written in that forum topic."""
        chat = self._chats.get(chat_id)
        if chat is None:
            private = chat_type == "private"
            chat = self.add_chat(
                chat_id,
                chat_type,
                first_name=first_name if private else None,
                username=username if private else None,
                language_code=language_code if private else None,
            )
        user = self.add_user(
            user_id, first_name=first_name, username=username, language_code=language_code
        )
        message: JSONDict = {
            "message_id": chat.take_message_id(),
            "from": user,
            "chat": chat.to_dict(),
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        if thread_id is not None:
            if thread_id not in chat.topics:
                raise ValueError(f"chat {chat_id} has no topic {thread_id}")
            message.update(message_thread_id=thread_id, is_topic_message=True)
        chat.messages[message["message_id"]] = message
        return self.push_update({"message": message})

    def push_callback_query(
        self,
        chat_id: int,
        user_id: int,
        data: str,
        *,
        message_id: int | None = None,
    ) -> str:
        """Queue a button press on a message the bot sent (default: its latest in the chat).

        Returns the callback query id to answer.
        """
        chat = self._chats[chat_id]
        if message_id is None:
            message_id = max(chat.messages, default=0)
        message = chat.messages.get(message_id) or {
            "message_id": message_id,
            "chat": chat.to_dict(),
            "date": 0,
        }
        query_id = str(next(self._callback_ids))
        self._open_callback_queries.add(query_id)
        user = self.add_user(user_id)
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": message,
                    "chat_instance": str(chat_id),
                    "data": data,
                }
            }
        )
        return query_id

    # ---------------------------------------------------------------- inspection

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages the bot sent (sendMessage, sendPhoto), optionally for one chat."""
        if chat_id is None:
            return list(self._sent)
        return list(self._sent_by_chat.get(chat_id, ()))

    def photo(self, message: SentMessage) -> bytes:
        """The uploaded bytes of a sendPhoto message (empty for a photo sent by id or URL)."""
        photo = message.params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = message.params.get(photo.removeprefix("attach://"))
        if isinstance(photo, UploadedFile):
            return photo.data
        return self._files.get(str(photo), ("", b""))[1]

    def sent_count(self, chat_id: int | None = None) -> int:
        """How many messages were sent (to one chat), in O(1)."""
        return len(self._sent) if chat_id is None else len(self._sent_by_chat.get(chat_id, ()))

    def edits(self, chat_id: int | None = None) -> list[SentMessage]:
        """Successful editMessageText calls, optionally for one chat."""
        return [edit for edit in self._edits if chat_id is None or edit.chat_id == chat_id]

    def calls(self, method: str) -> list[RecordedRequest]:
        """Logged requests of one method (case-insensitive)."""
        wanted = method.lower()
        return [request for request in self.requests if request.method.lower() == wanted]

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        """The command list stored for a scope (default scope) and language."""
        return list(self._commands.get((self._scope_key(scope), language_code), []))

    @property
    def polling(self) -> bool:
        """Whether a getUpdates long poll is waiting for updates right now."""
        return self._waiting_polls > 0

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by a getUpdates offset."""
        return len(self._updates)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the waiting is the point
    ) -> None:
        """Wait until ``predicate()`` holds; it is checked (no polling) after each answered
        request, pushed update and long poll that starts waiting."""
        if predicate():
            return
        waiter = _Waiter(predicate, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter.future, timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def wait_for_sent(
        self,
        chat_id: int | None = None,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the waiting is the point
    ) -> list[SentMessage]:
        """Wait until ``count`` messages were sent to ``chat_id`` (any chat if None)."""
        try:
            await self.wait_until(lambda: self.sent_count(chat_id) >= count, timeout)
        except TimeoutError:
            seen = [(message.chat_id, message.text) for message in self.sent()]
            methods = [request.method for request in self.requests[-20:]]
            raise TimeoutError(
                f"{count} message(s) to chat {chat_id} not sent within {timeout}s; "
                f"sent: {seen}; last requests: {methods}"
            ) from None
        return self.sent(chat_id)

    async def wait_for_request(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the waiting is the point
    ) -> list[RecordedRequest]:
        """Wait until ``method`` was answered ``count`` times (logged or not)."""
        wanted = method.lower()
        await self.wait_until(lambda: self._call_counts[wanted] >= count, timeout)
        return self.calls(method)

    def _wake(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.future.done() and waiter.predicate():
                waiter.future.set_result(None)

    def _wake_pollers(self) -> None:
        self._poll_wakeup.set()
        self._poll_wakeup = asyncio.Event()

    # ---------------------------------------------------------------- HTTP plumbing

    @staticmethod
    def _response(status: int, body: JSONDict) -> web.Response:
        return web.Response(
            status=status, body=json.dumps(body).encode(), content_type="application/json"
        )

    async def _read_params(self, request: web.Request) -> JSONDict:
        params: JSONDict = {
            key: _decode_form_value(key, value) for key, value in request.query.items()
        }
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad_request("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise _bad_request("JSON request body must be an object")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, FileField):
                    params[key] = UploadedFile(
                        key, value.filename, value.content_type, value.file.read()
                    )
                elif isinstance(value, str):
                    params[key] = _decode_form_value(key, value)
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        params: JSONDict = {}
        try:
            if token != self.token:
                if _TOKEN_RE.match(token):
                    raise ApiError(401, "Unauthorized")
                raise ApiError(404, "Not Found")
            params = await self._read_params(request)
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            self._raise_injected(method.lower(), params)
            if self._latency.get(method.lower()):
                await asyncio.sleep(self._latency[method.lower()])
            result = await handler(params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, body = error.status, error.body()
        except ConnectionResetError:  # the client hung up (a bot stopping mid-request)
            raise
        except Exception as exc:  # a bug of the fake or a body it cannot handle
            self.errors.append(exc)
            status, body = 500, ApiError(500, f"Internal Server Error: {exc!r}").body()
        self._call_counts[method.lower()] += 1
        if self.log_requests:
            self.requests.append(RecordedRequest(method, params, status))
        self._wake()
        return self._response(status, body)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._response(401, ApiError(401, "Unauthorized").body())
        path = request.match_info["path"]
        for file_path, content in self._files.values():
            if file_path == path:
                return web.Response(body=content, content_type="application/octet-stream")
        return self._response(404, ApiError(404, "Not Found").body())

    def _raise_injected(self, method: str, params: Mapping[str, Any]) -> None:
        chat = params.get("chat_id")
        for key in (method, "*"):
            queue = self._injected.get(key)
            for entry in queue or ():
                target, error = entry
                if target is None or str(target) == str(chat):
                    queue.remove(entry)  # type: ignore[union-attr]
                    raise error

    # ---------------------------------------------------------------- chats

    def _kind(self, chat_id: int) -> str:
        chat = self._chats.get(chat_id)
        if chat is None:
            return "group" if chat_id > -1_000_000_000_000 else "supergroup"
        return chat.type

    def _resolve_chat(self, params: Mapping[str, Any], *, check_access: bool = True) -> FakeChat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad_request("chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self._chats.values() if c.username == raw[1:]), None)
            if chat is None:
                raise _bad_request("chat not found")
            chat_id = chat.id
        else:
            chat_id = _required_int(params, "chat_id")
        if chat_id in self._migrated:
            raise _bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[chat_id]},
            )
        chat = self._chats.get(chat_id)
        if chat is None:
            if not self.auto_create_chats or chat_id == 0:
                raise _bad_request("chat not found")
            kind = "private" if chat_id > 0 else self._kind(chat_id)
            chat = self.add_chat(chat_id, kind)
        if check_access and chat_id in self._forbidden:
            raise ApiError(403, self._forbidden[chat_id])
        return chat

    def _user(self, user_id: int) -> JSONDict:
        if user_id == self.bot_user["id"]:
            return {key: self.bot_user[key] for key in ("id", "is_bot", "first_name", "username")}
        return self._users.get(user_id) or {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User {user_id}",
        }

    def _member(self, user_id: int, status: str) -> JSONDict:
        member: JSONDict = {"status": status, "user": self._user(user_id)}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    # ---------------------------------------------------------------- methods

    async def _true(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return dict(self.bot_user)

    def _scope_key(self, scope: Mapping[str, Any] | None) -> str:
        scope = dict(scope or {"type": "default"})
        if scope.get("type") not in SCOPE_TYPES:
            raise _bad_request("unsupported bot command scope type")
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            scope["chat_id"] = self._resolve_chat(scope, check_access=False).id
            if scope["type"] == "chat_member":
                scope["user_id"] = _required_int(scope, "user_id")
        return json.dumps(scope, sort_keys=True)

    def _commands_key(self, params: JSONDict) -> tuple[str, str]:
        scope = _json_param(params, "scope")
        if scope is not None and not isinstance(scope, dict):
            raise _bad_request("can't parse BotCommandScope JSON object")
        language_code = _str_param(params, "language_code") or ""
        if language_code and not _LANGUAGE_CODE_RE.match(language_code):
            raise _bad_request("invalid language code specified")
        return self._scope_key(scope), language_code

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = _json_param(params, "commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        stored: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.match(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name, "description": description})
        key = self._commands_key(params)
        if stored:
            self._commands[key] = stored
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return [dict(command) for command in self._commands.get(self._commands_key(params), [])]

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = _str_param(params, "url") or ""
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        if _bool_param(params, "drop_pending_updates"):
            self._updates.clear()
        return True

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook_url = ""
        if _bool_param(params, "drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _confirm_and_filter(self, offset: int | None) -> None:
        if offset is not None:
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._updates = [u for u in self._updates if _update_type(u) in self._allowed_updates]

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int_param(params, "offset")
        limit = _int_param(params, "limit") or 100
        limit = min(max(limit, 1), 100)
        timeout = _float_param(params, "timeout")
        allowed = _json_param(params, "allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or DEFAULT_ALLOWED_UPDATES
        # A newer getUpdates ends an older one still waiting, like the real server.
        if self._active_poll is not None:
            if not self._active_poll.is_set():
                self.superseded_polls += 1
            self._active_poll.set()
            self._wake_pollers()
        superseded = asyncio.Event()
        self._active_poll = superseded
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + min(max(timeout, 0.0), MAX_POLL_WAIT)
            while True:
                self._confirm_and_filter(offset)
                if self._updates or self._closing:
                    return [dict(update) for update in self._updates[:limit]]
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                wakeup = self._poll_wakeup
                self._waiting_polls += 1
                self._wake()
                try:
                    await asyncio.wait_for(wakeup.wait(), remaining)
                except TimeoutError:
                    return []
                finally:
                    self._waiting_polls -= 1
                if superseded.is_set():
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
        finally:
            if self._active_poll is superseded:
                self._active_poll = None

    def _check_reply_markup(self, params: JSONDict) -> JSONDict | None:
        markup = _json_param(params, "reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")
                if len(button) < 2:
                    raise _bad_request(
                        "can't parse inline keyboard button: text buttons are unallowed in the "
                        "inline keyboard"
                    )
        return markup

    def _acquire_send(self, chat_id: int) -> None:
        if self._limiter is None:
            return
        retry_after = self._limiter.acquire(chat_id)
        if retry_after is not None:
            self.rate_limited += 1
            self.rate_limited_by_chat[chat_id] += 1
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )

    def _new_message(
        self, chat: FakeChat, markup: JSONDict | None, params: JSONDict | None = None
    ) -> JSONDict:
        thread = (params or {}).get("message_thread_id")
        if thread is not None and int(thread) not in chat.topics:
            raise _bad_request("message thread not found")
        reply = _json_param(params or {}, "reply_parameters")
        replied: JSONDict | None = None
        if isinstance(reply, dict):
            replied = chat.messages.get(int(reply.get("message_id", 0)))
            if replied is None and not reply.get("allow_sending_without_reply"):
                raise _bad_request("message to be replied not found")
        message: JSONDict = {"message_id": chat.take_message_id()}
        if thread is not None:
            message.update(message_thread_id=int(thread), is_topic_message=True)
        if replied is not None:
            message["reply_to_message"] = replied
        if chat.type == "channel":
            message["sender_chat"] = chat.to_dict()
        else:
            message["from"] = self._user(self.bot_user["id"])
        message["chat"] = chat.to_dict()
        message["date"] = int(time.time())
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    def _record(
        self,
        store: list[SentMessage],
        method: str,
        chat: FakeChat,
        message: JSONDict,
        raw_text: str,
        plain: str,
        entities: list[JSONDict],
        params: JSONDict,
    ) -> None:
        markup = _json_param(params, "reply_markup")
        sent = SentMessage(
            chat_id=chat.id,
            message_id=message["message_id"],
            method=method,
            text=raw_text,
            plain_text=plain,
            entities=entities,
            parse_mode=_str_param(params, "parse_mode"),
            reply_markup=markup if isinstance(markup, dict) else None,
            time=self._clock(),
            params=params,
        )
        store.append(sent)
        if store is self._sent:
            self._sent_by_chat[chat.id].append(sent)

    def _message_text(self, params: JSONDict) -> tuple[str, str, list[JSONDict]]:
        text = _str_param(params, "text") or ""
        plain, entities = parse_text(text, _str_param(params, "parse_mode"))
        if not plain:
            raise _bad_request("message text is empty")
        if len(plain) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")
        return text, plain, entities

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._resolve_chat(params)
        text, plain, entities = self._message_text(params)
        markup = self._check_reply_markup(params)
        self._acquire_send(chat.id)
        message = self._new_message(chat, markup, params)
        message["text"] = plain
        if entities:
            message["entities"] = entities
        chat.messages[message["message_id"]] = message
        self._record(self._sent, "sendMessage", chat, message, text, plain, entities, params)
        return message

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        chat = self._resolve_chat(params)
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
        if isinstance(photo, UploadedFile):
            if not photo.data:
                raise _bad_request("file must be non-empty")
            file_id = f"photo-{next(self._file_ids)}"
            self._files[file_id] = (f"photos/{file_id}.jpg", photo.data)
        elif isinstance(photo, str) and (
            photo in self._files or photo.startswith(("http://", "https://"))
        ):
            file_id = photo if photo in self._files else f"photo-{next(self._file_ids)}"
            self._files.setdefault(file_id, (f"photos/{file_id}.jpg", b""))
        elif photo is None:
            raise _bad_request("there is no photo in the request")
        else:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        caption = _str_param(params, "caption") or ""
        plain, entities = parse_text(caption, _str_param(params, "parse_mode"))
        if len(plain) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        markup = self._check_reply_markup(params)
        self._acquire_send(chat.id)
        message = self._new_message(chat, markup, params)
        size = len(self._files[file_id][1])
        message["photo"] = [
            {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "width": 1280,
                "height": 720,
                "file_size": size,
            }
        ]
        if plain:
            message["caption"] = plain
        if entities:
            message["caption_entities"] = entities
        chat.messages[message["message_id"]] = message
        self._record(self._sent, "sendPhoto", chat, message, caption, plain, entities, params)
        return message

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._resolve_chat(params)
        if not _str_param(params, "action"):
            raise _bad_request("action is empty")
        return True

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        if params.get("inline_message_id"):
            self._message_text(params)
            self._check_reply_markup(params)
            return True
        chat = self._resolve_chat(params)
        message_id = _int_param(params, "message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad_request("message to edit not found")
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        text, plain, entities = self._message_text(params)
        markup = self._check_reply_markup(params)
        new_markup = markup if markup and "inline_keyboard" in markup else None
        if (
            message["text"] == plain
            and message.get("entities", []) == entities
            and message.get("reply_markup") == new_markup
        ):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a content and reply markup of the current message"
            )
        message["text"] = plain
        message["edit_date"] = int(time.time())
        message.pop("entities", None)
        message.pop("reply_markup", None)
        if entities:
            message["entities"] = entities
        if new_markup:
            message["reply_markup"] = new_markup
        self._record(self._edits, "editMessageText", chat, message, text, plain, entities, params)
        return dict(message)

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = _str_param(params, "callback_query_id") or ""
        if query_id not in self._open_callback_queries:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = _str_param(params, "text") or ""
        if len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._open_callback_queries.discard(query_id)
        self.callback_answers.append(dict(params))
        return True

    async def _get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._resolve_chat(params, check_access=False)
        if chat.type != "private" and chat.id in self._forbidden:
            raise ApiError(403, self._forbidden[chat.id])
        info = chat.to_dict()
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    async def _get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._resolve_chat(params)
        user_id = _required_int(params, "user_id")
        status = self._members.get((chat.id, user_id), "member")
        return self._member(user_id, status)

    async def _get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        chat = self._resolve_chat(params)
        if chat.type == "private":
            raise _bad_request("there are no administrators in the private chat")
        return [
            self._member(user_id, status)
            for (chat_id, user_id), status in self._members.items()
            if chat_id == chat.id and status in ("creator", "administrator")
        ]

    async def _leave_chat(self, params: JSONDict) -> bool:
        chat = self._resolve_chat(params)
        if chat.type == "private":
            raise _bad_request("chat member status can't be changed in private chats")
        self._forbidden[chat.id] = f"Forbidden: bot is not a member of the {chat.type} chat"
        return True

    async def _get_file(self, params: JSONDict) -> JSONDict:
        file_id = _str_param(params, "file_id") or ""
        if file_id not in self._files:
            raise _bad_request("invalid file_id")
        file_path, content = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "file_path": file_path,
        }


__all__: Sequence[str] = [
    "ApiError",
    "EntityParseError",
    "FakeBotApi",
    "FakeChat",
    "RecordedRequest",
    "SentMessage",
    "UploadedFile",
    "parse_html",
    "parse_text",
    "utf16_len",
]
