"""Review findings: webhook secret, traceback redaction, calendar horizon, job health."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)

from bot.config import ConfigError, RedactSecrets, load_config
from bot.detection import calendars
from bot.detection.regions import scan_regions
from bot.universe import load_universe
from jobs.scheduler import JobHealth, ScheduledJob, build_scheduler

TOKEN = "123456:SECRET-token-value"
HOOK = "https://bot.example.com/telegram"


# 1. A Telegram webhook needs a secret and https.


def _problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(None, env)
    return exc.value.problems


def test_a_webhook_without_a_secret_is_refused() -> None:
    found = _problems({"BOT__TELEGRAM__WEBHOOK_URL": HOOK})

    assert found == [
        "telegram.webhook_secret: required with webhook_url (set BOT__TELEGRAM__WEBHOOK_SECRET)"
    ]


def test_a_webhook_that_is_not_https_is_refused() -> None:
    found = _problems(
        {
            "BOT__TELEGRAM__WEBHOOK_URL": "http://bot.example.com/telegram",
            "BOT__TELEGRAM__WEBHOOK_SECRET": "s3cret-value",
        }
    )

    assert found == ["telegram.webhook_url: must be an https:// URL"]


def test_a_webhook_with_https_and_a_secret_loads() -> None:
    loaded = load_config(
        None,
        {"BOT__TELEGRAM__WEBHOOK_URL": HOOK, "BOT__TELEGRAM__WEBHOOK_SECRET": "s3cret-value"},
    )

    assert loaded.settings.telegram.webhook_url == HOOK
    secret = loaded.settings.telegram.webhook_secret
    assert secret is not None
    assert secret.get_secret_value() == "s3cret-value"


# 2. Redaction covers tracebacks and stack info.


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactSecrets([TOKEN]))
    logger = logging.getLogger("tests.review_fixes.redaction")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_token_in_a_traceback_is_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    try:
        raise RuntimeError(f"request to /bot{TOKEN}/getMe failed")
    except RuntimeError:
        logger.exception("polling failed")

    text = out.getvalue()
    assert "polling failed" in text
    assert "RuntimeError: request to /bot***/getMe failed" in text
    assert TOKEN not in text


def test_a_token_in_stack_info_and_existing_exc_text_is_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    record = logger.makeRecord(
        logger.name, logging.ERROR, __file__, 1, "failed", None, None, sinfo=f"Stack: {TOKEN}"
    )
    record.exc_text = f"Traceback: {TOKEN}"
    logger.handle(record)

    text = out.getvalue()
    assert "Traceback: ***" in text
    assert "Stack: ***" in text
    assert TOKEN not in text


# 3. Calendars reach two years ahead and are rebuilt before they run out.


@pytest.fixture
def fresh_calendars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calendars, "_CACHE", {})


@pytest.mark.usefixtures("fresh_calendars")
def test_a_calendar_reaches_two_years_ahead() -> None:
    today = datetime.now(UTC).date()

    cal = calendars.calendar("XNYS")

    assert cal.last_session.date() >= today + timedelta(days=720)


@pytest.mark.usefixtures("fresh_calendars")
def test_a_calendar_near_its_end_is_rebuilt() -> None:
    first = calendars.calendar("XNYS")
    end = first.last_session.date()

    assert calendars.calendar("XNYS", today=end - timedelta(days=300)) is first
    later = calendars.calendar("XNYS", today=end - timedelta(days=100))

    assert later is not first
    assert later.last_session.date() >= end - timedelta(days=100) + timedelta(days=720)
    assert calendars.calendar("XNYS", today=end - timedelta(days=100)) is later


# 4. A successful run clears its job's error.


def _event(code: int, job_id: str, exception: BaseException | None = None) -> JobExecutionEvent:
    when = datetime(2025, 1, 27, 15, 30, tzinfo=UTC)
    return JobExecutionEvent(code, job_id, "default", when, exception=exception)


def test_a_successful_run_clears_the_job_error() -> None:
    health = JobHealth()
    health.listen(_event(EVENT_JOB_ERROR, "scan-us", RuntimeError("boom")))
    health.listen(_event(EVENT_JOB_ERROR, "scan-eu", RuntimeError("bang")))
    assert health.errors["scan-us"] == "RuntimeError: boom"

    health.listen(_event(EVENT_JOB_EXECUTED, "scan-us"))
    health.listen(_event(EVENT_JOB_MISSED, "scan-eu"))

    assert health.errors == {"scan-eu": "RuntimeError: bang"}


def test_the_scheduler_reports_successful_runs_to_job_health() -> None:
    async def run() -> None:
        return None

    health = JobHealth()
    regions = scan_regions(load_universe(), ["us"])
    scheduler = build_scheduler(
        [ScheduledJob(region, run) for region in regions],
        timedelta(minutes=5),
        timedelta(minutes=20),
        timedelta(minutes=2),
        health,
    )

    masks = [mask for callback, mask in scheduler._listeners if callback == health.listen]
    assert masks
    assert all(mask & EVENT_JOB_EXECUTED for mask in masks)
