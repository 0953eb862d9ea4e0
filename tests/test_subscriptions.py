"""Which chat gets which alert, and what the store remembers about chats."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

import pytest

from bot.alerts import Alert, AlertKind
from bot.delivery.outbox import Outbox
from bot.delivery.outbox_sink import OutboxSink
from bot.detection.detect import Label, Mover, Severity, Stats
from bot.storage.store import Store
from bot.storage.subscriptions import (
    Audience,
    ChatSettings,
    QuietHours,
    SettingsError,
    parse_clock,
    parse_timezone,
)
from bot.universe import load_universe

UNIVERSE = load_universe()
NOON = datetime(2025, 1, 27, 12, 0, tzinfo=UTC)


def alert(
    severity: Severity, movers: tuple[str, ...] = ("VST", "NVDA"), kind: AlertKind = AlertKind.OPEN
) -> Alert:
    stats = Stats(
        basket_ret=-0.13,
        control_ret=-0.004,
        software_ret=0.01,
        beta=1.7,
        z_div=-9.2,
        z_sw=-11.0,
        z_mkt=-0.4,
        z_div_loo=-8.9,
        breadth=0.9,
        broad_index_ret=-0.015,
        top_movers=tuple(Mover(s, -0.2, -7.0) for s in movers),
        basket_names=16,
    )
    return Alert("k", "e", kind, Label.DIVERGENCE_DOWN, severity, "us", "down", NOON, NOON, stats)


SUBSCRIBED = ChatSettings("telegram", "1", subscribed=True, min_severity=Severity.ALERT)


@pytest.mark.parametrize(
    ("severity", "wanted"),
    [(Severity.WATCH, False), (Severity.ALERT, True), (Severity.CRITICAL, True)],
)
def test_minimum_severity(severity: Severity, wanted: bool) -> None:
    assert SUBSCRIBED.wants(alert(severity), UNIVERSE, NOON) is wanted


def test_unsubscribed_and_disabled_chats_get_nothing() -> None:
    assert not replace(SUBSCRIBED, subscribed=False).wants(alert(Severity.CRITICAL), UNIVERSE, NOON)
    disabled = replace(SUBSCRIBED, disabled_reason="Forbidden: bot was blocked by the user")
    assert not disabled.wants(alert(Severity.CRITICAL), UNIVERSE, NOON)


def test_segments_filter_by_the_names_that_moved() -> None:
    power = replace(SUBSCRIBED, segments=("power_producers",))
    memory = replace(SUBSCRIBED, segments=("memory",))

    assert power.wants(alert(Severity.ALERT, ("VST",)), UNIVERSE, NOON)
    assert not memory.wants(alert(Severity.ALERT, ("VST", "NVDA")), UNIVERSE, NOON)
    recovery = alert(Severity.ALERT, ("AAPL",), AlertKind.RECOVER)
    assert memory.wants(recovery, UNIVERSE, NOON)  # a recovery is never filtered by segment


def test_quiet_hours_wrap_midnight_and_critical_breaks_through() -> None:
    quiet = replace(SUBSCRIBED, quiet=QuietHours(time(22), time(7), "Europe/Berlin", True))
    night = datetime(2025, 1, 27, 23, 30, tzinfo=UTC)  # 00:30 in Berlin
    morning = datetime(2025, 1, 27, 6, 30, tzinfo=UTC)  # 07:30 in Berlin

    assert not quiet.wants(alert(Severity.ALERT), UNIVERSE, night)
    assert quiet.wants(alert(Severity.CRITICAL), UNIVERSE, night)
    assert quiet.wants(alert(Severity.ALERT), UNIVERSE, morning)
    silent = replace(quiet, quiet=QuietHours(time(22), time(7), "Europe/Berlin", False))
    assert not silent.wants(alert(Severity.CRITICAL), UNIVERSE, night)


def test_a_refusal_says_why() -> None:
    night = datetime(2025, 1, 27, 23, 30, tzinfo=UTC)
    quiet = replace(SUBSCRIBED, quiet=QuietHours(time(22), time(7), "Europe/Berlin", False))
    picky = replace(SUBSCRIBED, min_severity=Severity.CRITICAL)

    def why(chat: ChatSettings, severity: Severity) -> str | None:
        return chat.refusal(Audience.of(alert(severity), UNIVERSE, night))

    assert why(SUBSCRIBED, Severity.ALERT) is None
    assert why(picky, Severity.ALERT) == "below_severity"
    assert why(quiet, Severity.CRITICAL) == "quiet_hours"
    assert why(replace(SUBSCRIBED, subscribed=False), Severity.CRITICAL) == "unsubscribed"


def test_daytime_quiet_hours() -> None:
    lunch = QuietHours(time(12), time(13), "UTC")
    assert lunch.contains(NOON)
    assert not lunch.contains(datetime(2025, 1, 27, 13, 0, tzinfo=UTC))


def test_clock_and_zone_parsing() -> None:
    assert parse_clock("7:05") == time(7, 5)
    assert parse_timezone("America/New_York") == "America/New_York"
    for bad in ("24:00", "7", "12:60", "noon"):
        with pytest.raises(SettingsError):
            parse_clock(bad)
    with pytest.raises(SettingsError):
        parse_timezone("Mars/Olympus")


def test_store_round_trips_chat_settings_and_lists_active_subscriptions() -> None:
    store = Store(":memory:")
    chat = ChatSettings(
        "telegram",
        "-100",
        language="de",
        subscribed=True,
        min_severity=Severity.WATCH,
        segments=("compute",),
        quiet=QuietHours(time(22), time(7), "Europe/Berlin", False),
    )
    store.save_chat(chat, NOON)
    store.save_chat(ChatSettings("telegram", "5", subscribed=False), NOON)
    store.save_chat(ChatSettings("discord", "9", subscribed=True), NOON)

    assert store.chat("telegram", "-100") == chat
    assert store.chat("telegram", "404") == ChatSettings("telegram", "404")
    assert [c.chat_id for c in store.subscribed_chats("telegram")] == ["-100"]
    assert store.chat_language("telegram", "-100") == "de"


def test_disable_and_migrate() -> None:
    store = Store(":memory:")
    store.save_chat(replace(SUBSCRIBED, chat_id="-1"), NOON)
    store.save_chat(replace(SUBSCRIBED, chat_id="2"), NOON)

    store.migrate_chat("telegram", "-1", "-1001", NOON)
    store.disable_chat("telegram", "2", "Forbidden: bot was blocked by the user", NOON)

    assert [c.chat_id for c in store.subscribed_chats("telegram")] == ["-1001"]
    assert store.chat("telegram", "2").disabled_reason == "Forbidden: bot was blocked by the user"
    assert not store.chat("telegram", "-1").subscribed


def test_news_bursts_pass_segment_filters_and_recoveries_respect_quiet_hours() -> None:
    burst = Alert(
        "news:deepseek:x",
        "e",
        AlertKind.OPEN,
        Label.NEWS_BURST,
        Severity.WATCH,
        "news",
        None,
        NOON,
        NOON,
    )
    power = replace(SUBSCRIBED, min_severity=Severity.WATCH, segments=("power_producers",))
    assert power.wants(burst, UNIVERSE, NOON)

    quiet = replace(SUBSCRIBED, quiet=QuietHours(time(22), time(7), "UTC", True))
    night = datetime(2025, 1, 27, 23, 0, tzinfo=UTC)
    recovery = alert(Severity.CRITICAL, kind=AlertKind.RECOVER)
    assert not quiet.wants(recovery, UNIVERSE, night)
    assert quiet.wants(alert(Severity.CRITICAL), UNIVERSE, night)


async def test_a_recovery_reaches_only_chats_that_got_the_shock() -> None:
    store = Store(":memory:")
    outbox = Outbox(store)
    sink = OutboxSink(
        "telegram", outbox, store, UNIVERSE, lambda a, lang: [a.key], lambda _: False, lambda: NOON
    )
    store.save_chat(replace(SUBSCRIBED, chat_id="early"), NOON)
    opened = replace(alert(Severity.ALERT), key="2025-01-27:us:down@143000:open:alert")
    await sink.send_alert(opened)
    store.save_chat(replace(SUBSCRIBED, chat_id="late"), NOON)  # subscribed after the shock

    recovery = replace(
        alert(Severity.ALERT, kind=AlertKind.RECOVER), key="2025-01-27:us:down@143000:recover"
    )
    await sink.send_alert(recovery)

    rows = outbox.open_messages("telegram")
    assert [(m.chat_id, outbox.text(m.body_id)) for m in rows] == [
        ("early", "2025-01-27:us:down@143000:open:alert"),
        ("early", "2025-01-27:us:down@143000:recover"),
        ("early", "Update: recovered at 12:00 UTC."),  # the edit of the shock's first message
    ]


# --- /mute ---------------------------------------------------------------------------------


def test_a_muted_chat_gets_only_what_breaks_through() -> None:
    muted = replace(SUBSCRIBED, muted_until=datetime(2025, 1, 27, 13, 0, tzinfo=UTC))

    def why(chat: ChatSettings, severity: Severity, kind: AlertKind = AlertKind.OPEN) -> str | None:
        return chat.refusal(Audience.of(alert(severity, kind=kind), UNIVERSE, NOON))

    assert why(muted, Severity.ALERT) == "muted"
    assert why(muted, Severity.CRITICAL) is None  # no quiet hours: critical breaks through
    assert why(muted, Severity.CRITICAL, AlertKind.RECOVER) == "muted"
    silent = replace(
        muted, quiet=QuietHours(time(22), time(7), "UTC", critical_breaks_through=False)
    )
    assert why(silent, Severity.CRITICAL) == "muted"  # the chat's quiet-hours rule: nothing
    over = replace(SUBSCRIBED, muted_until=datetime(2025, 1, 27, 11, 59, tzinfo=UTC))
    assert why(over, Severity.ALERT) is None


def test_the_mute_is_stored_with_the_chat(store: Store) -> None:
    until = datetime(2025, 1, 27, 13, 0, tzinfo=UTC)
    store.save_chat(replace(SUBSCRIBED, muted_until=until), NOON)

    assert store.chat("telegram", "1").muted_until == until
    ((_, row),) = store.subscription_rows_after("telegram", "", 10)
    assert row[-1] is not None  # a fan-out judges the mute from the row it reads
