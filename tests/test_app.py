"""`python -m bot run` as a real process: starts offline, schedules, stops cleanly on a signal."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import PRICES
from tests.processes import start_bot


async def _read_until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> None:
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError(f"process ended before {marker!r}; output: {''.join(seen)}")
        seen.append(line)
        if marker in line:
            return


def offline_config(tmp_path: Path, extra: str = "") -> Path:
    """A config with CSV prices, a database in ``tmp_path`` and the news watch off."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[prices]\nsource = "csv"\ncsv_dirs = ["{PRICES / "daily_close"}"]\n'
        f'[storage]\npath = "{tmp_path / "bot.sqlite3"}"\n'
        "[news]\nenabled = false\n" + extra
    )
    return config


async def run_until(
    config: Path, markers: list[str], stop_signal: signal.Signals, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run the bot, wait for each log marker in turn, stop it; (exit code, log)."""
    proc = await start_bot("run", "--config", str(config), env=env)
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        for marker in markers:
            await asyncio.wait_for(_read_until(proc.stderr, marker, seen), timeout=60)
        proc.send_signal(stop_signal)
        await asyncio.wait_for(_read_until(proc.stderr, "stopped", seen), timeout=30)
        code = await asyncio.wait_for(proc.wait(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return code, "".join(seen)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_run_starts_offline_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    code, log = await run_until(offline_config(tmp_path), ["bot running"], stop_signal)

    assert code == 0, log
    assert "never awaited" not in log
    assert "scheduled scan-jp" in log
    assert "scheduled scan-us" in log
    assert "prices from csv" in log
    assert "Traceback" not in log
    assert (tmp_path / "bot.sqlite3").is_file()


def test_run_with_an_unusable_database_path_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{blocker / "sub" / "bot.sqlite3"}"\n')

    with pytest.raises(SystemExit) as refused:
        main(["run", "--config", str(config)])
    assert refused.value.code == 2
    assert "config error: storage.path: cannot create" in capsys.readouterr().err


async def test_an_unreachable_chat_platform_does_not_stop_the_bot(tmp_path: Path) -> None:
    config = offline_config(
        tmp_path,
        '[telegram]\napi_base_url = "http://127.0.0.1:9/bot"\n'
        'api_base_file_url = "http://127.0.0.1:9/file/bot"\n',
    )
    env = {**os.environ, "BOT__TELEGRAM__TOKEN": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"}
    code, log = await run_until(
        config, ["bot running", "telegram: cannot connect"], signal.SIGTERM, env
    )

    assert code == 0, log
    assert "alerts to telegram" in log
    assert "ABC-DEF1234ghIkl" not in log
