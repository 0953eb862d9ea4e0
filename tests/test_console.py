"""The console and JSON-lines adapters, the neutral alert text, and the fan-out dispatcher."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.console import ConsoleAdapter, JsonLinesAdapter
from bot.alerts import Alert, AlertKind
from bot.delivery.sinks import Dispatcher
from bot.detection.detect import Label, Severity
from bot.render.alerts import alert_reply
from bot.render.chat import plain_text
from tests.factories import sample_stats

FIRED = datetime(2025, 1, 27, 15, 30, tzinfo=UTC)
DATA = datetime(2025, 1, 27, 15, 25, tzinfo=UTC)
STATS = sample_stats(z_mkt=-1.44)
ALERT = Alert(
    key="2025-01-27:us:down:open:critical",
    episode_id="2025-01-27:us:down",
    kind=AlertKind.OPEN,
    label=Label.DIVERGENCE_DOWN,
    severity=Severity.CRITICAL,
    region="us",
    direction="down",
    fired_at=FIRED,
    data_time=DATA,
    stats=STATS,
    agreeing_regions=("jp",),
    reasons=("NVDA and TSM lead the fall", "raised one level: jp moved the same way"),
)
RECOVERY = replace(
    ALERT,
    key="2025-01-27:us:down:recover",
    kind=AlertKind.RECOVER,
    fired_at=FIRED + timedelta(hours=3),
    data_time=DATA + timedelta(hours=3),
    stats=None,
    agreeing_regions=(),
    reasons=("calm for 2 readings since 2025-01-27 17:30 UTC",),
)

EXPECTED_TEXT = (
    "2025-01-27 15:30 UTC  CRITICAL: AI-infrastructure sell-off while the market holds "
    "(US session, new)\n"
    "  AI infrastructure -17.3% | market -1.2% | AI software +0.5%\n"
    "  -7.8 sigma beyond its beta 1.23; market -1.4 sigma; 85% of names moved\n"
    "  Top movers: NVDA -16.9%, TSM -13.2%\n"
    "  Based on 14 AI-infrastructure names with fresh prices\n"
    "  NVDA and TSM lead the fall\n"
    "  raised one level: jp moved the same way\n"
    "  Same move in Tokyo.\n"
    "  Data as of 2025-01-27 15:25 UTC\n"
    "\n"
)


async def console_text(alert: Alert, colour: bool | None = False) -> str:
    stream = io.StringIO()
    await ConsoleAdapter(stream, colour=colour).send_alert(alert)
    return stream.getvalue()


# --- console ----------------------------------------------------------------------------------


async def test_console_shows_the_whole_alert() -> None:
    text = await console_text(ALERT)

    assert text == EXPECTED_TEXT
    assert "CRITICAL" in text
    assert "US session" in text
    assert "-17.3%" in text
    assert "-1.2%" in text
    assert "NVDA -16.9%, TSM -13.2%" in text
    assert "Data as of 2025-01-27 15:25 UTC" in text


async def test_console_without_stats_shows_headline_reasons_and_data_time() -> None:
    alert = replace(
        ALERT,
        kind=AlertKind.ESCALATE,
        label=Label.BROAD_RALLY,
        severity=Severity.WATCH,
        region="eu",
        direction="up",
        stats=None,
        agreeing_regions=(),
        reasons=("broad market +2.10% (+3.2 sigma)",),
    )

    assert await console_text(alert) == (
        "2025-01-27 15:30 UTC  WATCH: broad rally (Europe, escalated)\n"
        "  broad market +2.10% (+3.2 sigma)\n"
        "  Data as of 2025-01-27 15:25 UTC\n"
        "\n"
    )


async def test_positive_moves_carry_a_plus_sign() -> None:
    stats = replace(STATS, basket_ret=0.0812, control_ret=0.004, software_ret=None)
    alert = replace(ALERT, label=Label.DIVERGENCE_UP, direction="up", stats=stats)

    text = await console_text(alert)

    assert "  AI infrastructure +8.1% | market +0.4%\n" in text
    assert "AI software" not in text


async def test_a_plain_string_stream_gets_no_colour() -> None:
    stream = io.StringIO()
    adapter = ConsoleAdapter(stream)
    assert stream.isatty() is False
    assert adapter.colour is False

    await adapter.send_alert(ALERT)

    assert "\x1b" not in stream.getvalue()
    assert stream.getvalue() == EXPECTED_TEXT


@pytest.mark.parametrize(
    ("severity", "code"),
    [
        (Severity.WATCH, "\x1b[33m"),
        (Severity.ALERT, "\x1b[1;31m"),
        (Severity.CRITICAL, "\x1b[1;97;41m"),
    ],
)
async def test_forced_colour_wraps_only_the_headline(severity: Severity, code: str) -> None:
    alert = replace(ALERT, severity=severity)

    text = await console_text(alert, colour=True)

    first, *rest = text.split("\n")
    title = "AI-infrastructure sell-off while the market holds (US session, new)"
    assert first == f"2025-01-27 15:30 UTC  {code}{str(severity).upper()}: {title}\x1b[0m"
    assert "\x1b" not in "\n".join(rest)


async def test_recovery_renders_as_recovered() -> None:
    text = await console_text(RECOVERY)

    lines = text.split("\n")
    assert lines[0] == (
        "2025-01-27 18:30 UTC  RECOVERED: AI-infrastructure sell-off while the market holds "
        "(US session)"
    )
    assert lines[1].startswith("  Back to normal as of ")
    assert lines[2] == "  Data as of 2025-01-27 18:25 UTC"
    assert lines[3:] == ["", ""]
    assert "CRITICAL" not in text


async def test_recovery_is_green_when_coloured() -> None:
    text = await console_text(RECOVERY, colour=True)

    assert text.startswith("2025-01-27 18:30 UTC  \x1b[32mRECOVERED: ")
    assert text.split("\n")[0].endswith("(US session)\x1b[0m")


def test_alert_text_in_german_keeps_numbers_and_drops_english_reasons() -> None:
    reply = alert_reply(ALERT, "de")
    lines = plain_text(reply).splitlines()

    assert reply.severity == "critical"
    assert lines[0] == "KRITISCH: KI-Infrastruktur fällt, der Markt hält (US-Handel, neu)"
    assert lines[1] == "KI-Infrastruktur -17,3 % | Markt -1,2 % | KI-Software +0,5 %"
    assert "NVDA and TSM lead the fall" not in lines
    assert lines[-1] == "Daten von 2025-01-27 15:25 UTC"


# --- JSON lines -----------------------------------------------------------------------------


async def test_json_lines_writes_one_parseable_object_per_alert() -> None:
    stream = io.StringIO()
    adapter = JsonLinesAdapter(stream)
    non_ascii = replace(ALERT, reasons=("fällt stärker als die Börse",))

    await adapter.send_alert(non_ascii)
    await adapter.send_alert(RECOVERY)

    raw = stream.getvalue()
    assert raw.endswith("\n")
    lines = raw.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first == non_ascii.as_dict()
    assert first["time"] == "2025-01-27T15:30:00+00:00"
    assert first["data_time"] == "2025-01-27T15:25:00+00:00"
    assert first["kind"] == "open"
    assert first["label"] == "ai_infra_divergence_down"
    assert first["severity"] == "critical"
    assert first["region"] == "us"
    assert first["basket_ret"] == -0.1734
    assert first["reasons"] == ["fällt stärker als die Börse"]
    assert "fällt stärker" in lines[0]
    assert second["kind"] == "recover"
    assert second["time"] == "2025-01-27T18:30:00+00:00"
    assert second["basket_ret"] is None
    for parsed in (first, second):
        for field in ("time", "data_time"):
            moment = datetime.fromisoformat(str(parsed[field]))
            assert moment.utcoffset() == timedelta(0)


# --- dispatcher -------------------------------------------------------------------------------


class RecordingSink:
    def __init__(self, name: str) -> None:
        self.name = name
        self.received: list[Alert] = []

    async def send_alert(self, alert: Alert) -> None:
        self.received.append(alert)


class FailingSink:
    def __init__(self, name: str = "broken") -> None:
        self.name = name
        self.calls = 0

    async def send_alert(self, alert: Alert) -> None:
        self.calls += 1
        raise RuntimeError("chat platform is down")


async def test_one_failing_sink_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    before, broken, after = RecordingSink("before"), FailingSink(), RecordingSink("after")
    dispatcher = Dispatcher([before, broken, after])

    with caplog.at_level(logging.ERROR, logger="bot.delivery.sinks"):
        delivered = await dispatcher.deliver(ALERT)

    assert delivered == 2
    assert before.received == [ALERT]
    assert after.received == [ALERT]
    assert broken.calls == 1
    failures = [r for r in caplog.records if r.name == "bot.delivery.sinks"]
    assert len(failures) == 1
    record = failures[0]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "alert 2025-01-27:us:down:open:critical: sink broken failed"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "chat platform is down" in caplog.text


async def test_deliver_counts_only_the_sinks_that_took_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.delivery.sinks"):
        assert await Dispatcher([FailingSink("a"), FailingSink("b")]).deliver(ALERT) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "alert 2025-01-27:us:down:open:critical: sink a failed",
        "alert 2025-01-27:us:down:open:critical: sink b failed",
    ]
    assert await Dispatcher([]).deliver(ALERT) == 0


async def test_console_and_json_sinks_through_the_dispatcher() -> None:
    console, lines = io.StringIO(), io.StringIO()
    dispatcher = Dispatcher([ConsoleAdapter(console), FailingSink(), JsonLinesAdapter(lines)])

    assert await dispatcher.deliver(ALERT) == 2

    assert console.getvalue() == EXPECTED_TEXT
    assert json.loads(lines.getvalue()) == ALERT.as_dict()
