"""The fake Bot API against the real python-telegram-bot over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from tests.fakes.telegram_api import FakeBotApi, parse_html

TOKEN = "123:ABC"
USER = 4242
GROUP = -100
SUPERGROUP = -1001234567890


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it PTB warns (an error here) whenever it builds a RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        fake.add_chat(USER, "private", first_name="Ada", language_code="en")
        fake.add_chat(GROUP, "group", title="Investors")
        yield fake
        assert fake.errors == []  # the fake never crashed (that would be a 500)


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as tg_bot:
        yield tg_bot


class Clock:
    """A hand-moved clock for the rate limiter."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------ basics


async def test_get_me(bot: Bot, api: FakeBotApi) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.id == 123
    assert me.username == "fake_test_bot"
    assert bot.username == "fake_test_bot"  # Bot.initialize called getMe
    assert [request.method for request in api.requests] == ["getMe", "getMe"]


async def test_wrong_token_and_unknown_method(api: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(InvalidToken, match="rejected") as exc_info:
        async with Bot("999:WRONG", base_url=api.base_url):
            pass
    assert str(exc_info.value.__cause__) == "Unauthorized"
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    assert api.requests[-1].status == 404


async def test_send_message_html(bot: Bot, api: FakeBotApi) -> None:
    html = '<b>NVDA</b> &amp; <i>TSM</i> &lt;5%&gt; <a href="https://x.test/?a=1&amp;b=2">news</a>'
    message = await bot.send_message(USER, html, parse_mode="HTML")
    assert message.text == "NVDA & TSM <5%> news"
    assert message.chat.id == USER
    assert message.message_id == 1
    assert message.date.year >= 2025
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 4),
        ("italic", 7, 3),
        ("text_link", 16, 4),
    ]
    assert message.entities[2].url == "https://x.test/?a=1&b=2"
    (sent,) = api.sent(USER)
    assert sent.text == html
    assert sent.plain_text == "NVDA & TSM <5%> news"
    assert sent.parse_mode == "HTML"
    assert sent.method == "sendMessage"
    assert api.requests[-1].params["chat_id"] == USER  # form value decoded from JSON


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag"),
        ("P/E < 30", 'Unsupported start tag ""'),
        ("AT&T", 'Character "&" at byte offset 2 must be escaped'),
        ("&nbsp;", "Unsupported character entity"),
        ("<font>x</font>", 'Unsupported start tag "font"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag"),
    ],
)
async def test_malformed_html_is_bad_request(bot: Bot, text: str, detail: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as exc_info:
        await bot.send_message(USER, text, parse_mode="HTML")
    # PTB drops "Bad Request: " and str.capitalize()s the rest, lower-casing it.
    assert detail.lower() in exc_info.value.message


async def test_plain_text_is_not_parsed(bot: Bot) -> None:
    message = await bot.send_message(USER, "AT&T <b")
    assert message.text == "AT&T <b"


async def test_length_is_counted_after_parsing(bot: Bot, api: FakeBotApi) -> None:
    await bot.send_message(USER, "a" * 4096)
    await bot.send_message(USER, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(USER, "&amp;" * 4096, parse_mode="HTML")
    await bot.send_message(USER, "\n " + "é" * 4096 + " \n")  # trimmed like Telegram
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "<i>" + "&lt;" * 4097 + "</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, "<b> </b>", parse_mode="HTML")
    assert [len(sent.plain_text) for sent in api.sent(USER)] == [4096] * 4


async def test_chat_failures(bot: Bot, api: FakeBotApi) -> None:
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(777, "hi")
    api.block(USER)
    with pytest.raises(Forbidden, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(USER, "hi")
    api.kick(GROUP)
    with pytest.raises(Forbidden, match="Forbidden: bot was kicked from the group chat"):
        await bot.send_message(GROUP, "hi")
    api.unblock(USER)
    await bot.send_message(USER, "back")
    assert [sent.text for sent in api.sent()] == ["back"]


async def test_auto_create_chats() -> None:
    async with (
        FakeBotApi(token=TOKEN, auto_create_chats=True) as api,
        Bot(TOKEN, base_url=api.base_url) as bot,
    ):
        await bot.send_message(55, "hi")
        await bot.send_message(SUPERGROUP, "hi")
        assert api.chat(55).type == "private"
        assert api.chat(SUPERGROUP).type == "supergroup"


async def test_migrated_group(bot: Bot, api: FakeBotApi) -> None:
    api.migrate(GROUP, SUPERGROUP)
    with pytest.raises(ChatMigrated) as exc_info:
        await bot.send_message(GROUP, "hi")
    assert exc_info.value.new_chat_id == SUPERGROUP
    message = await bot.send_message(exc_info.value.new_chat_id, "hi")
    assert message.chat.type == "supergroup"
    assert message.chat.title == "Investors"
    assert api.requests[-2].status == 400


async def test_injected_429_is_retry_after(bot: Bot, api: FakeBotApi) -> None:
    api.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as exc_info:
        await bot.send_message(USER, "hi")
    assert exc_info.value.retry_after == dtm.timedelta(seconds=7)
    await bot.send_message(USER, "hi")  # times=1: the next call goes through
    assert len(api.sent(USER)) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_injected_5xx_is_network_error(bot: Bot, api: FakeBotApi, status: int) -> None:
    api.fail_next("*", status, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError) as exc_info:
            await bot.send_message(USER, "hi")
        assert type(exc_info.value) is NetworkError
    await bot.send_message(USER, "hi")


# ------------------------------------------------------------------------------ commands


async def test_commands_per_scope_and_language(bot: Bot, api: FakeBotApi) -> None:
    english = [BotCommand("subscribe", "Get shock alerts"), BotCommand("status", "Status")]
    german = [BotCommand("subscribe", "Schock-Warnungen abonnieren")]
    assert await bot.set_my_commands(english)
    assert await bot.set_my_commands(german, language_code="de")
    groups = BotCommandScopeAllGroupChats()
    assert await bot.set_my_commands([BotCommand("help", "Help")], scope=groups)

    assert await bot.get_my_commands() == tuple(english)
    assert await bot.get_my_commands(language_code="de") == tuple(german)
    assert await bot.get_my_commands(language_code="fr") == ()
    assert [c.command for c in await bot.get_my_commands(scope=groups)] == ["help"]
    assert api.commands(language_code="de") == [
        {"command": "subscribe", "description": "Schock-Warnungen abonnieren"}
    ]

    chat_scope = BotCommandScopeChat(GROUP)
    await bot.set_my_commands([BotCommand("mute", "Mute")], scope=chat_scope)
    assert len(await bot.get_my_commands(scope=chat_scope)) == 1
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_my_commands(scope=BotCommandScopeChat(999))

    assert await bot.delete_my_commands(language_code="de")
    assert await bot.get_my_commands(language_code="de") == ()
    assert len(await bot.get_my_commands()) == 2


@pytest.mark.parametrize(
    ("command", "detail"),
    [
        (BotCommand("Subscribe", "x"), "BOT_COMMAND_INVALID"),
        (BotCommand("sub-scribe", "x"), "BOT_COMMAND_INVALID"),
        (BotCommand("a" * 33, "x"), "BOT_COMMAND_INVALID"),
        (BotCommand("ok", ""), "BOT_COMMAND_DESCRIPTION_INVALID"),
        (BotCommand("ok", "d" * 257), "BOT_COMMAND_DESCRIPTION_INVALID"),
    ],
)
async def test_invalid_commands(bot: Bot, command: BotCommand, detail: str) -> None:
    with pytest.raises(BadRequest, match=f"(?i){detail}"):
        await bot.set_my_commands([command])


async def test_invalid_language_code(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)language code"):
        await bot.set_my_commands([BotCommand("ok", "ok")], language_code="english")


# ------------------------------------------------------------------------------ chats


async def test_chat_member_statuses(bot: Bot, api: FakeBotApi) -> None:
    api.set_member_status(GROUP, 1, "creator")
    api.set_member_status(GROUP, 2, "administrator")
    api.set_member_status(GROUP, 4, "left")
    api.add_user(2, first_name="Grace", username="grace")
    expected = {1: ChatMemberOwner, 2: ChatMemberAdministrator, 3: ChatMemberMember}
    for user_id, member_class in {**expected, 4: ChatMemberLeft}.items():
        member = await bot.get_chat_member(GROUP, user_id)
        assert type(member) is member_class
        assert member.user.id == user_id
    assert (await bot.get_chat_member(GROUP, 2)).user.username == "grace"
    admins = await bot.get_chat_administrators(GROUP)
    assert sorted(admin.status for admin in admins) == ["administrator", "creator"]
    with pytest.raises(BadRequest, match=r"(?i)no administrators in the private chat"):
        await bot.get_chat_administrators(USER)


async def test_get_chat_and_leave(bot: Bot, api: FakeBotApi) -> None:
    chat = await bot.get_chat(GROUP)
    assert (chat.id, chat.type, chat.title) == (GROUP, "group", "Investors")
    assert (await bot.get_chat(USER)).first_name == "Ada"
    assert await bot.leave_chat(GROUP)
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await bot.send_message(GROUP, "hi")


# ------------------------------------------------------------------------------ other methods


async def test_send_photo_multipart_and_file_download(bot: Bot, api: FakeBotApi) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    message = await bot.send_photo(
        GROUP, png, caption="<b>Chart</b> &amp; more", parse_mode="HTML", filename="c.png"
    )
    assert message.caption == "Chart & more"
    assert message.caption_entities[0].type == "bold"
    (sent,) = api.sent(GROUP)
    assert sent.method == "sendPhoto"
    assert sent.plain_text == "Chart & more"
    photo_param = api.requests[-1].params["photo"]
    assert photo_param.data == png
    assert photo_param.filename == "c.png"

    tg_file = await message.photo[-1].get_file()
    assert tg_file.file_path is not None
    assert tg_file.file_path.startswith(api.base_file_url)
    assert bytes(await tg_file.download_as_bytearray()) == png

    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_photo(GROUP, png, caption="c" * 1025)
    await bot.send_photo(GROUP, message.photo[-1].file_id, caption="c" * 1024)


async def test_reply_markup_edit_and_callback(bot: Bot, api: FakeBotApi) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute:NVDA")]])
    message = await bot.send_message(USER, "Alert", reply_markup=keyboard)
    assert message.reply_markup == keyboard
    assert api.sent(USER)[0].reply_markup == keyboard.to_dict()

    query_id = api.push_callback_query(USER, USER, "mute:NVDA")
    assert api.pending_updates == 1
    assert await bot.answer_callback_query(query_id, text="Muted")
    assert api.callback_answers[0]["text"] == "Muted"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)

    edited = await bot.edit_message_text(
        "<i>Muted</i>", USER, message.message_id, parse_mode="HTML"
    )
    assert not isinstance(edited, bool)
    assert edited.text == "Muted"
    assert api.edits(USER)[0].plain_text == "Muted"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<i>Muted</i>", USER, message.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", USER, 999)

    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "x", reply_markup=too_long)


async def test_json_and_query_bodies(api: FakeBotApi) -> None:
    url = f"{api.base_url}{TOKEN}"
    async with aiohttp.ClientSession() as session:
        payload = {"chat_id": USER, "text": "1234", "reply_markup": {"inline_keyboard": []}}
        async with session.post(f"{url}/sendMessage", json=payload) as response:
            body = await response.json()
        assert body["ok"] is True
        assert body["result"]["text"] == "1234"
        async with session.get(f"{url}/sendMessage", params={"chat_id": "777", "text": "x"}) as r:
            assert r.status == 400
            assert await r.json() == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat not found",
            }
    assert api.sent(USER)[0].text == "1234"  # a numeric text stays a string


def test_parse_html_utf16_offsets() -> None:
    plain, entities = parse_html('😀 <b>bold</b> <pre><code class="language-py">x</code></pre>')
    assert plain == "😀 bold x"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "pre", "offset": 8, "length": 1, "language": "py"},
    ]


# ------------------------------------------------------------------------------ getUpdates


async def test_get_updates_offset_limit_and_wakeup(bot: Bot, api: FakeBotApi) -> None:
    first = api.push_command(USER, USER, "/start")
    api.push_command(USER, USER, "/status")
    api.push_command(USER, USER, "hello")
    updates = await bot.get_updates(limit=2)
    assert [u.update_id for u in updates] == [first, first + 1]
    assert updates[0].message is not None
    assert updates[0].message.text == "/start"
    assert updates[0].message.entities[0].length == len("/start")
    assert updates[2:] == ()
    updates = await bot.get_updates(offset=first + 2)
    assert [u.message.text for u in updates if u.message] == ["hello"]
    assert api.pending_updates == 1

    waiting = asyncio.create_task(bot.get_updates(offset=first + 3, timeout=30))
    await api.wait_for_request("getUpdates", count=2)  # first two calls answered
    assert not waiting.done()
    pushed = api.push_command(GROUP, USER, "/ping@fake_test_bot now", chat_type="group")
    (update,) = await asyncio.wait_for(waiting, 5)
    assert update.update_id == pushed
    assert update.message is not None
    assert update.message.chat.type == "group"
    assert update.message.entities[0].length == len("/ping@fake_test_bot")


async def test_get_updates_allowed_updates_and_webhook_conflict(bot: Bot, api: FakeBotApi) -> None:
    api.push_command(USER, USER, "/start")
    query_id = api.push_callback_query(USER, USER, "x")
    (update,) = await bot.get_updates(allowed_updates=[Update.CALLBACK_QUERY])
    assert update.callback_query is not None
    assert update.callback_query.id == query_id
    await bot.set_webhook("https://bot.example/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_newer_poll_terminates_older(bot: Bot, api: FakeBotApi) -> None:
    # A second bot instance: PTB's getUpdates connection pool has a single connection.
    older = asyncio.create_task(bot.get_updates(timeout=30))
    await api.wait_until(lambda: api.polling)
    async with Bot(TOKEN, base_url=api.base_url) as second:
        assert await second.get_updates() == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await older


async def test_close_answers_pending_long_poll() -> None:
    api = FakeBotApi(token=TOKEN)
    await api.start()
    url = f"{api.base_url}{TOKEN}/getUpdates"
    async with aiohttp.ClientSession() as session:
        poll = asyncio.create_task(session.post(url, data={"timeout": "50"}))
        await api.wait_until(lambda: api.polling)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await api.close()
        async with await poll as response:
            assert await response.json() == {"ok": True, "result": []}
        assert loop.time() - started < 2


# ------------------------------------------------------------------------------ Application


async def test_application_polling_replies_to_ping(caplog: pytest.LogCaptureFixture) -> None:
    seen_users: list[tuple[str, str | None, str | None]] = []

    async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        user = update.effective_user
        if user is not None and update.effective_chat and update.effective_chat.type == "private":
            seen_users.append((user.first_name, user.username, user.language_code))
        await update.effective_message.reply_text("<b>pong</b>", parse_mode="HTML")

    async with FakeBotApi(token=TOKEN) as api:
        app = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .build()
        )
        app.add_handler(CommandHandler("ping", ping))
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)

        api.add_chat(USER, first_name="Ada")
        api.push_command(USER, USER, "/ping", username="ada")
        (reply,) = await api.wait_for_sent(USER)
        assert reply.plain_text == "pong"
        assert seen_users == [("Ada", "ada", "en")]
        api.push_command(GROUP, USER, "/ping@fake_test_bot", chat_type="group")
        api.push_command(GROUP, USER, "/ping@other_bot", chat_type="group")  # not for us
        api.push_command(GROUP, USER, "/ping", chat_type="group")
        await api.wait_for_sent(GROUP, count=2)

        await app.updater.stop()
        await app.stop()
        await app.shutdown()

        methods = [request.method for request in api.requests]
        assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
        assert api.pending_updates == 0  # the final getUpdates confirmed everything
        assert len(api.sent(GROUP)) == 2
        assert api.errors == []
    current = asyncio.current_task()
    assert [task for task in asyncio.all_tasks() if task is not current] == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# ------------------------------------------------------------------------------ rate limits


async def test_rate_limit_private_chat() -> None:
    async with (
        FakeBotApi(token=TOKEN, enforce_limits=True) as api,
        Bot(TOKEN, base_url=api.base_url) as bot,
    ):
        api.add_chat(USER)
        await bot.send_message(USER, "one")
        with pytest.raises(RetryAfter) as exc_info:
            await bot.send_message(USER, "two")
        assert isinstance(exc_info.value.retry_after, dtm.timedelta)
        assert exc_info.value.retry_after >= dtm.timedelta(seconds=1)
        assert api.rate_limited == 1
        assert api.rate_limited_by_chat[USER] == 1
        assert len(api.sent(USER)) == 1


async def test_rate_limits_with_a_moved_clock() -> None:
    clock = Clock()
    async with (
        FakeBotApi(token=TOKEN, enforce_limits=True, clock=clock) as api,
        Bot(TOKEN, base_url=api.base_url) as bot,
    ):
        api.add_chat(USER)
        api.add_chat(GROUP, "group")
        await bot.send_message(USER, "one")
        clock.now += 0.999
        with pytest.raises(RetryAfter):
            await bot.send_message(USER, "two")
        clock.now += 0.001
        await bot.send_message(USER, "two")

        for _ in range(20):  # 20 per minute per group
            await bot.send_message(GROUP, "g")
            clock.now += 1.0
        with pytest.raises(RetryAfter) as exc_info:
            await bot.send_message(GROUP, "g")
        assert exc_info.value.retry_after == dtm.timedelta(seconds=40)
        clock.now += 40
        await bot.send_message(GROUP, "g")

        for user in range(1, 31):  # 30 per second overall
            api.add_chat(user)
        clock.now += 100
        for user in range(1, 31):
            await bot.send_message(user, "x")
        with pytest.raises(RetryAfter) as exc_info:
            await bot.send_message(USER, "x")
        assert exc_info.value.retry_after == dtm.timedelta(seconds=1)
        assert api.rate_limited == 3
