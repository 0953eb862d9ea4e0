"""The platform-neutral command layer on real prices: parsing, dispatch, handlers, rendering."""

from __future__ import annotations

import re
import string
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import load_config
from bot.detection.detect import Severity
from bot.render.chat import TELEGRAM_LIMIT, plain_text, telegram_html
from bot.render.i18n import CATALOGUE, number, percent, resolve_language
from bot.render.replies import Bullets, Heading, Paragraph, Reply, Span, Table
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.marketdata import MarketData
from bot.storage.store import Store
from handlers.commands import build_registry
from handlers.exposure import MAX_POSITIONS, parse_request
from handlers.registry import Dispatcher, Invocation, RateLimit, UsageError
from handlers.services import Services
from tests.conftest import PRICES
from tests.factories import Clock, command_services

CONFIG = load_config(None, {})
NOW = datetime(2026, 8, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def services() -> Services:
    return command_services(Store(":memory:"), Clock(NOW))


def admin(answer: bool) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return answer

    return check


def call(
    command: str,
    args: str = "",
    *,
    chat_type: str = "private",
    language: str | None = "en",
    is_admin: bool = False,
    user: str = "7",
    chat: str = "7",
) -> Invocation:
    assert chat_type in ("private", "group", "channel")
    return Invocation(
        platform="test",
        command=command,
        raw_args=args,
        chat_id=chat,
        chat_type=chat_type,  # type: ignore[arg-type]
        user_id=user,
        user_language=language,
        check_admin=admin(is_admin),
    )


async def say(services: Services, invocation: Invocation) -> str:
    reply = await Dispatcher(build_registry(), services).dispatch(invocation)
    assert reply is not None
    return plain_text(reply)


# --- catalogue ----------------------------------------------------------------------------


def test_every_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    fields = string.Formatter()
    for key, texts in CATALOGUE.items():
        assert set(texts) == {"en", "de"}, key
        names = [{f for _, f, _, _ in fields.parse(texts[lang]) if f} for lang in ("en", "de")]
        assert names[0] == names[1], key
        assert all(texts[lang].strip() for lang in ("en", "de")), key


def test_languages_and_numbers() -> None:
    assert resolve_language("de-AT") == "de"
    assert resolve_language("fr") == "en"
    assert resolve_language(None) == "en"
    assert percent("en", -0.1697) == "-17.0%"
    assert percent("de", -0.1697) == "-17,0 %"
    assert number("de", 1.234) == "1,23"
    assert number("en", None) == "-"


# --- rendering ----------------------------------------------------------------------------


def test_html_escapes_every_dynamic_field() -> None:
    reply = Reply(
        (
            Heading("<script>alert(1)</script> & Co"),
            Paragraph((Span("AT&T <b>", bold=True), Span("x<y", code=True))),
            Bullets(((Span("a & b"),),)),
            Table(("name", "move"), (("<NVDA>", "-17%"),)),
        )
    )
    html = "\n".join(telegram_html(reply))

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "<b>AT&amp;T &lt;b&gt;</b><code>x&lt;y</code>" in html
    assert "• a &amp; b" in html
    assert "<pre>" in html
    assert "&lt;NVDA&gt;" in html
    assert not re.search(r"&(?!amp;|lt;|gt;|quot;)", html)


def test_long_replies_split_on_line_boundaries_within_the_limit() -> None:
    lines = tuple(Paragraph((Span(f"line {n:04d} " + "x" * 90),)) for n in range(200))
    chunks = telegram_html(Reply(lines))

    assert len(chunks) > 1
    assert all(len(c) <= TELEGRAM_LIMIT for c in chunks)
    assert "\n".join(chunks).count("line ") == 200
    assert all(c.split("\n")[0].startswith("line ") for c in chunks)


def test_a_single_overlong_line_is_cut_not_dropped() -> None:
    chunks = telegram_html(Reply((Paragraph((Span("<&>" * 3000),)),)))

    assert len(chunks) == 1
    assert len(chunks[0]) <= TELEGRAM_LIMIT
    assert chunks[0].endswith("…")
    assert chunks[0].startswith("&lt;&amp;&gt;")


def test_a_big_table_splits_into_several_pre_blocks() -> None:
    rows = tuple((f"row {n}", "x" * 60) for n in range(200))
    chunks = telegram_html(Reply((Table(("a", "b"), rows),)))

    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk) <= TELEGRAM_LIMIT
        assert chunk.count("<pre>") == chunk.count("</pre>")


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("NVDA:40", "MSFT:30", "CRM:30"), {"NVDA": 0.4, "MSFT": 0.3, "CRM": 0.3}),
        (("NVDA", "40", "MSFT", "30", "CRM", "30"), {"NVDA": 0.4, "MSFT": 0.3, "CRM": 0.3}),
        (("nvda=1", "NVDA:1", "msft:2"), {"NVDA": 0.5, "MSFT": 0.5}),
        (("NVDA", "MSFT"), {"NVDA": 0.5, "MSFT": 0.5}),
        (("NVDA:40%", "ASML.AS:60,0"), {"NVDA": 0.4, "ASML.AS": 0.6}),
    ],
)
def test_portfolios_parse_and_normalise(args: tuple[str, ...], expected: dict[str, float]) -> None:
    request = parse_request(args)

    assert not request.single
    assert {p.symbol: round(p.weight, 6) for p in request.positions} == expected


def test_one_bare_symbol_is_a_single_name() -> None:
    request = parse_request(("nvda",))
    assert request.single
    assert request.positions[0].symbol == "NVDA"


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ((), "exposure.missing_args"),
        (("NVDA:abc",), "exposure.bad_weight"),
        (("NVDA:-5",), "exposure.bad_weight"),
        (("NVDA:0",), "exposure.bad_weight"),
        (("40",), "exposure.bad_token"),
        (("NVDA:40", "MSFT"), "exposure.bad_weight"),
        (("<script>",), "exposure.bad_token"),
        (tuple(f"S{n}:1" for n in range(MAX_POSITIONS + 1)), "exposure.too_many"),
    ],
)
def test_malformed_exposure_input(args: tuple[str, ...], key: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_request(args)
    assert exc.value.key == key


# --- dispatcher ---------------------------------------------------------------------------


async def test_unknown_and_empty_commands_get_helpful_replies(services: Services) -> None:
    assert "Unknown command /frobnicate" in await say(services, call("frobnicate"))
    text = await say(services, call("exposure"))
    assert "Name a ticker or a portfolio (or save one with /portfolio set" in text
    assert "Usage: /exposure NVDA" in text


async def test_junk_input_is_answered_with_the_syntax(services: Services) -> None:
    junk = "§$%&/()=?`+#*'~<>|" * 10 + "end!"
    text = await say(services, call("exposure", junk))
    assert "could not read" in text
    assert "Usage:" in text


async def test_overlong_arguments_are_refused(services: Services) -> None:
    text = await say(services, call("exposure", "NVDA " * 200))
    assert "too long" in text


async def test_replies_follow_the_users_language(services: Services) -> None:
    text = await say(services, call("exposure", "NVDA:abc", language="de-DE"))
    assert "Gewichte müssen positive Zahlen sein" in text
    assert "So geht es:" in text


async def test_rate_limit_answers_once_then_stays_silent(services: Services) -> None:
    dispatcher = Dispatcher(build_registry(), services, RateLimit(calls=2))
    replies = [await dispatcher.dispatch(call("help")) for _ in range(4)]

    assert replies[0] is not None
    assert replies[1] is not None
    assert replies[2] is not None
    assert "too fast" in plain_text(replies[2])
    assert replies[3] is None
    assert isinstance(services.clock, Clock)
    services.clock.now += timedelta(minutes=1)
    assert await dispatcher.dispatch(call("help")) is not None


async def test_unexpected_errors_become_an_apology_with_an_error_id(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    services.store.close()  # every store access now fails inside the handler
    text = await say(services, call("status"))

    match = re.search(r"error ([0-9a-f]{8})", text)
    assert match, text
    assert "Traceback" not in text
    assert "ProgrammingError" not in text
    assert match.group(1) in caplog.text


async def test_help_is_generated_from_the_registry(services: Services) -> None:
    text = await say(services, call("help"))
    for name in ("start", "help", "exposure", "subscribe", "unsubscribe", "settings", "status"):
        assert f"/{name}" in text
    assert "admins only in groups" in text
    german = await say(services, call("help", language="de"))
    assert "Befehle" in german
    assert "in Gruppen nur für Admins" in german


# --- subscriptions ------------------------------------------------------------------------


async def test_subscribe_in_private_chat(services: Services) -> None:
    text = await say(services, call("subscribe", "watch compute power_producers"))

    assert "Subscribed" in text
    chat = services.store.chat("test", "7")
    assert chat.subscribed
    assert chat.min_severity is Severity.WATCH
    assert chat.segments == ("compute", "power_producers")


async def test_in_groups_only_admins_subscribe(services: Services) -> None:
    refused = await say(services, call("subscribe", chat_type="group", chat="-100"))
    assert "Only administrators" in refused
    assert not services.store.chat("test", "-100").subscribed

    done = await say(services, call("subscribe", chat_type="group", chat="-100", is_admin=True))
    assert "Subscribed" in done
    assert services.store.chat("test", "-100").subscribed

    refused = await say(services, call("unsubscribe", chat_type="group", chat="-100"))
    assert "Only administrators" in refused
    assert services.store.chat("test", "-100").subscribed


async def test_bad_subscription_arguments(services: Services) -> None:
    text = await say(services, call("subscribe", "alert gpus"))
    assert "Unknown segment 'gpus'" in text
    assert "compute" in text
    assert not services.store.chat("test", "7").subscribed


async def test_settings_show_and_change(services: Services) -> None:
    await say(services, call("subscribe"))
    shown = await say(services, call("settings"))
    assert "Minimum severity: alert" in shown
    assert "Quiet hours: none" in shown

    changed = await say(services, call("settings", "quiet 22:00-07:00 Europe/Berlin critical"))
    assert "22:00-07:00 Europe/Berlin (critical alerts break through)" in changed
    await say(services, call("settings", "severity critical"))
    german = await say(services, call("settings", "language de"))
    assert "Gespeichert." in german
    assert "Mindeststufe: kritisch" in german
    chat = services.store.chat("test", "7")
    assert chat.language == "de"
    assert chat.min_severity is Severity.CRITICAL
    assert chat.quiet is not None

    assert "keine Uhrzeit" in await say(services, call("settings", "quiet 25:00-07:00 UTC"))
    assert "keine Zeitzone" in await say(services, call("settings", "quiet 22:00-07:00 Mars/Base"))
    assert "Unbekannte Einstellung" in await say(services, call("settings", "colour blue"))


async def test_unsubscribe(services: Services) -> None:
    assert "was not subscribed" in await say(services, call("unsubscribe"))
    await say(services, call("subscribe"))
    assert "Unsubscribed" in await say(services, call("unsubscribe"))
    assert not services.store.chat("test", "7").subscribed


# --- exposure on real prices --------------------------------------------------------------


async def test_exposure_of_nvidia(services: Services) -> None:
    text = await say(services, call("exposure", "NVDA"))

    assert "NVDA · Nvidia" in text
    assert "in the AI supply-chain list" in text
    assert "Compute (GPUs and custom silicon) (AI infrastructure)" in text
    assert "DeepSeek Monday (2025-01-27): NVDA -17.0%" in text
    assert re.search(r"beta \d\.\d\d and correlation 0\.\d\d to the AI-infrastructure basket", text)
    assert "Other divergence days the detector finds: " in text
    assert "Prices up to 2026-08-03." in text
    assert "No live reading for United States yet." not in text


async def test_exposure_in_german(services: Services) -> None:
    text = await say(services, call("exposure", "NVDA", language="de"))

    assert "in der KI-Lieferkettenliste" in text
    assert "DeepSeek-Montag (27.01.2025): NVDA -17,0 %" in text
    assert "Rechenchips" in text


async def test_exposure_of_a_name_outside_the_universe(services: Services) -> None:
    text = await say(services, call("exposure", "QQQ"))
    assert "QQQ" in text

    # DIA is in the universe as a control; a symbol the source does not have is unknown:
    text = await say(services, call("exposure", "NVDAA"))
    assert "I don't know the symbol NVDAA." in text
    assert "Did you mean: NVDA" in text


async def test_a_cashtag_is_the_symbol(services: Services) -> None:
    text = await say(services, call("exposure", "$NVDA"))
    assert "NVDA · Nvidia" in text


async def test_a_listed_name_without_prices_is_not_called_unknown(services: Services) -> None:
    """GFS is in the universe; the test data has no prices for it."""
    text = await say(services, call("exposure", "GFS"))
    assert "GFS is on the AI supply-chain list, but the price source has no prices" in text
    assert "I don't know" not in text
    assert "Did you mean" not in text


async def test_portfolio_exposure(services: Services) -> None:
    text = await say(services, call("exposure", "NVDA:40 MSFT:30 CRM:30"))

    assert "Portfolio of 3 positions" in text
    assert re.search(r"Compute \(GPUs and custom silicon\)\s+40%", text)
    assert re.search(r"AI infrastructure\s+40%", text)
    assert "Beta to the AI-infrastructure divergence:" in text
    # 0.4 * -17.0 % + 0.3 * MSFT (-2.1 %) + 0.3 * CRM (+4.0 %) is about -6.2 %
    match = re.search(r"it would have moved ([+-]\d+\.\d)%", text)
    assert match
    assert -7.0 < float(match.group(1)) < -5.5
    assert "What drives the exposure: NVDA" in text


async def test_portfolio_with_an_unknown_name_names_it(services: Services) -> None:
    text = await say(services, call("exposure", "NVDA:50 QQQQZ:50"))
    assert "I don't know the symbol QQQQZ." in text


def test_history_stops_at_the_last_closed_session() -> None:
    source = CsvPriceSource([PRICES / "daily_close"])
    clock = Clock(datetime(2026, 8, 3, 15, 0, tzinfo=UTC))  # Monday, New York open
    market = MarketData(source, CONFIG.universe, CONFIG.settings.detector, clock)

    assert market.last_closed_session("us").isoformat() == "2026-07-31"
    clock.now = datetime(2026, 8, 3, 20, 30, tzinfo=UTC)  # after the close
    assert market.last_closed_session("us").isoformat() == "2026-08-03"


async def test_few_symbols_outside_the_list_per_request(services: Services) -> None:
    text = await say(services, call("exposure", "A:1 B:1 C:1 D:1 E:1 F:1 NVDA:1"))
    assert "At most 5 symbols outside the AI supply-chain list per request, you sent 6." in text


async def test_status_shows_a_failing_job_even_before_any_scan(services: Services) -> None:
    errors = {"scan-us": "returned an awaitable that was never awaited (the job did nothing)"}
    failing = replace(services, job_errors=errors)

    text = await say(failing, call("status"))

    assert "Failing jobs" in text
    assert "scan-us: returned an awaitable that was never awaited" in text
    assert "No price scans yet" in text


async def test_status_names_a_failing_price_source_and_its_last_good_prices(
    services: Services,
) -> None:
    good = datetime(2026, 8, 4, 11, 0, tzinfo=UTC)
    services.store.record_scan("us", "yahoo", good)
    services.store.record_scan("us", "yahoo", NOW, "Yahoo unreachable for all 59 symbols")

    text = await say(services, call("status"))

    assert "FAILING, last good prices 2026-08-04 11:00 UTC" in text
    assert "Yahoo unreachable for all 59 symbols" in text


async def test_status_in_a_drill_says_so_with_the_drill_clock(services: Services) -> None:
    text = await say(replace(services, drill=True), call("status"))

    assert "DRILL: recorded prices, drill clock at 2026-08-04 12:00 UTC" in text


async def test_control_and_bidi_characters_in_arguments_are_dropped(services: Services) -> None:
    text = await say(services, call("exposure", "\u202eNVDA\x1b"))
    assert "NVDA · Nvidia" in text

    text = await say(services, call("exposure", "N\x07V\x00D\u2066A:40 \x1b[31m"))
    assert not any(ch in text for ch in "\x1b\x07\x00\u2066\u202e")


# --- /mute, /unmute --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "until"),
    [
        ("1h", "2026-08-04 13:00 UTC"),
        ("30m", "2026-08-04 12:30 UTC"),
        ("2d", "2026-08-06 12:00 UTC"),
        ("today", "2026-08-05 00:00 UTC"),
        ("today Europe/Berlin", "2026-08-04 22:00 UTC"),
        ("until 09:00", "2026-08-05 09:00 UTC"),
        ("until 15:00 Europe/Berlin", "2026-08-04 13:00 UTC"),
        ("until 14:00 Europe/Berlin", "2026-08-05 12:00 UTC"),  # 14:00 there is now: tomorrow
    ],
)
async def test_mute_for_a_while(services: Services, args: str, until: str) -> None:
    done = await say(services, call("mute", args))
    assert done == f"Muted until {until} (critical alerts still come through). /unmute ends it."
    settings = await say(services, call("settings"))
    assert f"Muted: until {until}" in settings


@pytest.mark.parametrize("args", ["forever", "31d", "0m", "until 25:00", "today Mars/Base", ""])
async def test_a_mute_that_cannot_be_read_says_how(services: Services, args: str) -> None:
    text = await say(services, call("mute", args))
    assert "Usage: /mute 1h" in text
    assert services.store.chat("test", "7").muted_until is None


async def test_unmute_and_who_may_mute(services: Services) -> None:
    assert await say(services, call("unmute")) == "This chat is not muted."
    await say(services, call("mute", "1h"))
    assert await say(services, call("unmute")) == "Unmuted: alerts come here again."
    assert "Muted:" not in await say(services, call("settings"))
    member = call("mute", "1h", chat_type="group", chat="-9", is_admin=False)
    assert await say(services, member) == "Only administrators of this chat can use /mute here."
    quiet = await say(services, call("settings", "quiet 22:00-07:00 UTC none"))
    assert "22:00" in quiet
    silent = await say(services, call("mute", "1h"))
    assert silent == "Muted until 2026-08-04 13:00 UTC (nothing comes through). /unmute ends it."
