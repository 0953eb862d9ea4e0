"""The daily digest: when it is due, what it says, the /digest command, ``python -m bot digest``.

Its delivery through the live process (a drill's digest with its chart on the fake Bot API)
is in tests/test_drill.py."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time

import pytest

from bot.config import load_config
from bot.detection.regions import scan_regions
from bot.storage.store import DigestSetting, Store
from handlers.services import Services
from jobs.digest import due_day
from tests.conftest import PRICES, PROJECT_ROOT, SHARED_DATA
from tests.factories import Clock, command_services
from tests.test_commands import call, say

CONFIG = load_config(None, {})
REGIONS = scan_regions(CONFIG.universe, ("jp", "eu", "us"))
US = REGIONS[-1]
MONDAY = date(2025, 1, 27)


def _setting(at: time | None = None, tz: str = "UTC", last: date | None = None) -> DigestSetting:
    return DigestSetting("telegram", "1", at, tz, last)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_default_digest_is_due_half_an_hour_after_the_us_close() -> None:
    assert due_day(_setting(), utc(2025, 1, 27, 21, 29), US, REGIONS) is None
    assert due_day(_setting(), utc(2025, 1, 27, 21, 30), US, REGIONS) == MONDAY
    assert due_day(_setting(last=MONDAY), utc(2025, 1, 27, 22, 0), US, REGIONS) is None
    assert due_day(_setting(), utc(2025, 1, 25, 23, 0), US, REGIONS) is None  # a Saturday
    # Black Friday closes at 13:00 New York: the digest follows the early close.
    assert due_day(_setting(), utc(2025, 11, 28, 18, 30), US, REGIONS) == date(2025, 11, 28)


def test_a_chosen_time_follows_the_chats_time_zone() -> None:
    berlin = _setting(time(18, 0), "Europe/Berlin")
    assert due_day(berlin, utc(2025, 1, 27, 16, 59), US, REGIONS) is None
    assert due_day(berlin, utc(2025, 1, 27, 17, 0), US, REGIONS) == MONDAY
    tokyo = _setting(time(7, 30), "Asia/Tokyo")  # the next morning in Tokyo, still Monday in NY
    assert due_day(tokyo, utc(2025, 1, 27, 22, 30), US, REGIONS) == date(2025, 1, 28)
    assert due_day(_setting(time(9, 0)), utc(2025, 1, 26, 9, 0), US, REGIONS) is None  # Sunday


@pytest.fixture
def services() -> Services:
    return command_services(Store(":memory:"), Clock(utc(2026, 8, 4, 12)))


async def test_digest_is_turned_on_and_off_and_says_its_state(services: Services) -> None:
    assert (await say(services, call("digest"))).startswith("No daily digest in this chat.")
    on = await say(services, call("digest", "on"))
    assert on == "Daily digest: on, 30 minutes after the US close on trading days."
    timed = await say(services, call("digest", "on 18:00 Europe/Berlin"))
    assert timed == "Daily digest: on, at 18:00 (Europe/Berlin) on days a market traded."
    assert "Daily digest: on, at 18:00" in await say(services, call("digest"))
    assert await say(services, call("digest", "off")) == "The daily digest is off."
    assert services.store.digest("test", "7") is None


async def test_digest_refuses_bad_input_and_non_admins_in_groups(services: Services) -> None:
    bad_zone = await say(services, call("digest", "on 18:00 Mars/Olympus"))
    assert "Mars/Olympus" in bad_zone
    assert "Usage: /digest on" in bad_zone
    assert "25:00" in await say(services, call("digest", "on 25:00"))
    assert "is not an action of /digest" in await say(services, call("digest", "weekly"))
    member = call("digest", "on", chat_type="group", chat="-5", is_admin=False)
    assert await say(services, member) == "Only administrators of this chat can use /digest here."
    assert services.store.digest("test", "-5") is None


def _digest_cli(*args: str) -> subprocess.CompletedProcess[str]:
    prices = [
        a for f in ("hourly", "daily_ohlcv", "daily_close") for a in ("--prices", str(PRICES / f))
    ]
    return subprocess.run(
        [sys.executable, "-m", "bot", "digest", *prices, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_digest_command_sums_up_deepseek_monday() -> None:
    feeds = str(SHARED_DATA / "feeds" / "deepseek_2025-01")

    done = _digest_cli("--feeds", feeds, "--date", "2025-01-27")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "The AI supply chain on 2025-01-27"
    assert any(
        line.startswith("US session: AI infrastructure -")
        and line.endswith("AI-infrastructure sell-off while the market holds (critical).")
        for line in lines
    ), lines
    assert any(line.startswith("Top movers: ") for line in lines)
    assert any(line.startswith("Opened: AI-infrastructure sell-off") for line in lines)
    assert any(line.startswith("News bursts: DeepSeek and cheap AI models (") for line in lines)
    assert any(line.startswith("In the news: DeepSeek and cheap AI models (") for line in lines)
    assert sum(line.startswith("• ") for line in lines) == 3


def test_the_digest_command_in_german_and_on_a_quiet_day() -> None:
    german = _digest_cli("--date", "2025-01-27", "--language", "de")
    assert german.returncode == 0, german.stderr
    assert german.stdout.startswith("Die KI-Lieferkette am 2025-01-27\n")
    assert "US-Handel: KI-Infrastruktur -" in german.stdout

    quiet = _digest_cli("--date", "2025-01-21")
    assert quiet.returncode == 0, quiet.stderr
    assert "A quiet day: no divergence and no broad move." in quiet.stdout
    assert "Top movers" not in quiet.stdout

    weekend = _digest_cli("--date", "2025-01-25")
    assert weekend.returncode == 0, weekend.stderr
    assert "The bot has no scans of this day" in weekend.stdout
