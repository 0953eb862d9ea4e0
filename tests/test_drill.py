"""``python -m bot run --drill``: the live process on recorded prices, as a subprocess, against
the fake Bot API and the fake Discord (real python-telegram-bot and discord.py inside)."""

from __future__ import annotations

import asyncio
import io
import os
import re
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from matplotlib.image import imread

from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from tests.conftest import PRICES, PROJECT_ROOT, SHARED_DATA
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeBotApi
from tests.processes import start_bot

TG_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.drilltoken-abcdefghijklmnopqrstu"
CHAT = 4242
GUILD = 880_000_000_000_000_101
CHANNEL = GUILD + 1
START, END = "2025-01-27T14:00:00Z", "2025-01-27T16:30:00Z"
OPEN_US = "AI-infrastructure sell-off while the market holds (US session, new)"


def drill_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        "[prices]\n"
        'source = "csv"\n'
        f'csv_dirs = ["{PRICES / "hourly"}", "{PRICES / "daily_ohlcv"}", '
        f'"{PRICES / "daily_close"}"]\n'
        f'[storage]\npath = "{tmp_path / "bot.sqlite3"}"\n'
        f'[drill]\nfeeds = ["{SHARED_DATA / "feeds" / "deepseek_2025-01"}"]\n' + extra
    )
    return config


async def run_drill(
    config: Path, speed: float, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run the drill to its end; (exit code, stdout, stderr)."""
    proc = await start_bot(
        "run",
        "--config",
        str(config),
        "--drill",
        START,
        "--speed",
        str(speed),
        "--until",
        END,
        env={
            **{k: v for k, v in os.environ.items() if "TOKEN" not in k},
            "PTB_TIMEDELTA": "true",
            **(env or {}),
        },
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=200)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def assert_clean(log: str) -> None:
    assert "Traceback" not in log, log
    assert "never awaited" not in log, log
    assert " ERROR " not in log, log


def assert_drill_chart(png: bytes) -> None:
    assert png.startswith(b"\x89PNG")
    assert len(png) < 1_000_000
    height, width, _ = imread(io.BytesIO(png)).shape
    assert (width, height) == (1200, 675)


def subscribe(db: Path) -> None:
    store = Store(db)
    now = datetime.now(UTC)
    store.save_chat(ChatSettings("telegram", str(CHAT), subscribed=True), now)
    store.save_chat(ChatSettings("discord", str(CHANNEL), subscribed=True), now)
    store.save_portfolio("telegram", str(CHAT), [("NVDA", 0.4), ("MSFT", 0.3), ("CRM", 0.3)], now)
    store.set_digest("telegram", str(CHAT), time(16, 0), "UTC", now)
    store.close()


@pytest.mark.timeout(420)
async def test_drill_of_deepseek_monday_reaches_telegram_and_discord_once(
    tmp_path: Path,
) -> None:
    async with FakeBotApi(token=TG_TOKEN) as telegram, FakeDiscord(token=DISCORD_TOKEN) as disc:
        telegram.add_chat(CHAT, "private", first_name="Ada", language_code="en")
        disc.add_guild(GUILD, "Desk", channels=[{"id": CHANNEL, "name": "alerts"}])
        config = drill_config(
            tmp_path,
            f'[telegram]\napi_base_url = "{telegram.base_url}"\n'
            f'api_base_file_url = "{telegram.base_file_url}"\n'
            f'[discord]\napi_base_url = "{disc.rest_base}"\ngateway_url = "{disc.gateway_url}"\n',
        )
        subscribe(tmp_path / "bot.sqlite3")
        env = {"BOT__TELEGRAM__TOKEN": TG_TOKEN, "BOT__DISCORD__TOKEN": DISCORD_TOKEN}

        code, _, log = await run_drill(config, speed=120, env=env)

        assert code == 0, log
        assert_clean(log)
        assert "drill reached its end" in log
        tg_opens = [m for m in telegram.sent(CHAT) if OPEN_US in m.plain_text]
        assert len(tg_opens) == 1, [m.plain_text for m in telegram.sent(CHAT)]
        first_line = tg_opens[0].plain_text.splitlines()[0]
        assert first_line.startswith("DRILL"), first_line
        assert "CRITICAL" in first_line or "ALERT" in first_line
        # The first scan after New York's open, on its opening prints.
        assert "Data as of 2025-01-27 14:30 UTC" in tg_opens[0].plain_text
        # Buttons under it, as the live process sends them.
        keyboard = tg_opens[0].reply_markup["inline_keyboard"]  # type: ignore[index]
        assert [b["text"] for row in keyboard for b in row][-2:] == ["🔕 Mute 1 h", "🔕 Mute today"]
        # The chat's saved portfolio, estimated from its names' moves so far.
        assert re.search(
            r"Your portfolio: -\d+\.\d% est\., \d+% in the AI chain\.", tg_opens[0].plain_text
        ), tg_opens[0].plain_text
        dc_opens = [m for m in disc.messages(CHANNEL) if OPEN_US in m.text]
        assert len(dc_opens) == 1, [m.text for m in disc.messages(CHANNEL)]
        assert "portfolio" not in dc_opens[0].text  # the channel saved none
        assert len(dc_opens[0].payload["components"]) == 2  # the same buttons on Discord
        assert dc_opens[0].embeds[0]["title"].startswith("DRILL")
        assert dc_opens[0].embeds[0]["timestamp"].startswith("2025-01-27T14:30:00")
        # Its chart follows it: a photo on Telegram, an attachment shown in the embed on Discord.
        tg_charts = [
            m
            for m in telegram.sent(CHAT)
            if m.method == "sendPhoto" and "before the alert" in m.plain_text
        ]
        assert len(tg_charts) == 1, [m.plain_text for m in telegram.sent(CHAT)]
        chart = tg_charts[0]
        assert chart.message_id == tg_opens[0].message_id + 1
        assert chart.plain_text.startswith(
            "AI-infrastructure sell-off while the market holds (US session): AI infrastructure -"
        ), chart.plain_text
        assert "Top movers: " in chart.plain_text
        assert_drill_chart(telegram.photo(chart))
        # The chat's daily digest at 16:00 (drill time): the day so far, then its chart.
        digests = [m for m in telegram.sent(CHAT) if "The AI supply chain on 2025-01-27" in m.text]
        assert len(digests) == 1, [m.plain_text for m in telegram.sent(CHAT)]
        digest = digests[0].plain_text
        assert digest.startswith("DRILL (recorded prices): The AI supply chain on 2025-01-27")
        assert "US session: AI infrastructure -" in digest
        assert "(so far, " in digest, digest
        assert "In the news: DeepSeek and cheap AI models (" in digest
        after = telegram.sent(CHAT)[telegram.sent(CHAT).index(digests[0]) + 1]
        assert after.method == "sendPhoto"
        assert "The bot's price scans up to 2025-01-27 " in after.plain_text
        assert_drill_chart(telegram.photo(after))
        dc_charts = [m for m in disc.messages(CHANNEL) if m.files]
        assert len(dc_charts) == 1
        (name, png), embed = dc_charts[0].files[0], dc_charts[0].embeds[0]
        assert name == "chart.png"
        assert embed["image"]["url"] == "attachment://chart.png"
        assert "AI infrastructure \\-" in embed["description"]
        assert_drill_chart(png)
        sent = (telegram.sent_count(CHAT), len(disc.messages(CHANNEL)))

        again, _, log = await run_drill(config, speed=600, env=env)

        assert again == 0, log
        assert_clean(log)
        assert (telegram.sent_count(CHAT), len(disc.messages(CHANNEL))) == sent
        assert "open ai_infra_divergence_down" not in log  # the drill's episode is known
        assert disc.errors == []


@pytest.mark.timeout(200)
async def test_drill_without_chat_tokens_prints_the_alert_and_keeps_live_state_apart(
    tmp_path: Path,
) -> None:
    config = drill_config(tmp_path)

    code, out, log = await run_drill(config, speed=600)

    assert code == 0, log
    assert_clean(log)
    lines = out.splitlines()
    alert = next(i for i, line in enumerate(lines) if OPEN_US in line)
    assert lines[alert].startswith("2025-01-27 14:35 UTC  DRILL (recorded prices): ")
    assert "Based on 11 AI-infrastructure names" in out
    live = Store(tmp_path / "bot.sqlite3")
    drill = Store(tmp_path / "bot.sqlite3", scope="drill")
    assert live.episodes(open_only=False) == []
    assert live.alerts() == []
    assert live.latest_readings() == {}
    assert [e.id for e in drill.episodes(open_only=False)] == ["drill:2025-01-27:us:down"]
    assert all(a["drill"] for a in drill.alerts())
    live.close()
    drill.close()


def run_cli(args: list[str]) -> int:
    from bot.cli import main

    try:
        return main(args)
    except SystemExit as exc:  # argparse refuses a malformed value itself
        return int(str(exc.code))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "10"], "belong to a --drill"),
        (["--drill", "2025-01-27T14:00Z"], 'source = "csv"'),
        (["--drill", "yesterday"], "not a time"),
        (["--drill", "2025-01-27T14:00Z", "--speed", "0"], "a speed is a number above 0"),
        (["--drill", "2025-01-27T14:00Z", "--speed", "5000"], "at most 1000"),
    ],
)
def test_drill_arguments_are_checked(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["run", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_drill_after_the_end_of_the_recording_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = drill_config(tmp_path)

    assert run_cli(["run", "--config", str(config), "--drill", "2030-01-01T14:00:00Z"]) == 1
    err = capsys.readouterr().err
    assert "end on 2026-" in err
    assert "a drill from 2030-01-01 would have nothing to read" in err


def test_a_drill_that_ends_before_it_starts_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = drill_config(tmp_path)
    args = ["run", "--config", str(config), "--drill", END, "--until", START]

    assert run_cli(args) == 2
    assert "--until is not after" in capsys.readouterr().err


async def test_the_readme_drill_config_is_accepted_and_names_the_opening_prints(
    tmp_path: Path,
) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("# drill.toml\n", 1)[1].split("```", 1)[0]
    config = tmp_path / "drill.toml"
    config.write_text(block.replace('"data/bot.sqlite3"', f'"{tmp_path / "bot.sqlite3"}"'))

    proc = await start_bot("check-config", "--config", str(config))
    out, err = await proc.communicate()

    assert proc.returncode == 0, err.decode()
    assert out.decode().startswith(f"config OK: {config}")
    assert "daily_ohlcv" in block.split("daily_close")[0]  # the opening prints come first
