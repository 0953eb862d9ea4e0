"""``python -m bot discord-sync``: slash commands registered per guild, on demand."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes.discord_api import FakeDiscord

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.synctoken-abcdefghijklmnopqrstu"
GUILD = 880_000_000_000_000_001


async def test_sync_registers_every_command_in_the_named_guild_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeDiscord(token=TOKEN) as fake:
        fake.add_guild(GUILD, "Desk", channels=[{"id": GUILD + 1, "name": "alerts"}])
        fake.patch_discord(monkeypatch)
        monkeypatch.setenv("BOT__DISCORD__TOKEN", TOKEN)
        monkeypatch.setenv("BOT__NEWS__ENABLED", "false")

        code = await asyncio.to_thread(main, ["discord-sync", "--guild", str(GUILD)])

        names = sorted(c["name"] for c in fake.synced_commands(GUILD))
        assert fake.synced_commands(None) == []
    assert code == 0
    assert names == sorted(
        [
            *("start", "help", "exposure", "subscribe", "unsubscribe", "settings", "status"),
            *("news", "chart", "digest", "portfolio", "mute", "unmute", "log"),
        ]
    )
    assert f"synced 14 commands: {GUILD}" in capsys.readouterr().out


def test_sync_needs_a_token_and_a_target(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BOT__DISCORD__TOKEN", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    assert main(["discord-sync", "--guild", "1"]) == 2
    assert "BOT__DISCORD__TOKEN" in capsys.readouterr().err

    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    assert main(["discord-sync"]) == 2
    assert "--guild" in capsys.readouterr().err


def test_sync_without_a_network_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """The real process, pointed at a port where nothing listens."""
    env = {
        **os.environ,
        "BOT__DISCORD__TOKEN": TOKEN,
        "BOT__DISCORD__API_BASE_URL": "http://127.0.0.1:9/api/v10",
        "BOT__NEWS__ENABLED": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "discord-sync", "--guild", str(GUILD)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert "error: cannot reach Discord at http://127.0.0.1:9/api/v10" in done.stderr
    assert "Traceback" not in done.stderr
    assert TOKEN not in done.stderr
