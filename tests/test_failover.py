"""Two ``python -m bot run --drill`` processes on one PostgreSQL database and the fake Bot API:
one leads, the other stands by; the leader is SIGKILLed in the middle of a fan-out and the
standby takes over and finishes it. Needs PostgreSQL (tests/postgres.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from tests.conftest import PRICES
from tests.fakes.telegram_api import FakeBotApi
from tests.processes import run_bot, start_bot, stop_bot

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
CHATS = [10_000 + i for i in range(150)]
OPEN_US = "AI-infrastructure sell-off while the market holds (US session, new)"
MAX_IN_FLIGHT = 8
"""The sender's bound on messages in flight: at most these may go twice after a kill."""
TAKEOVER_LIMIT_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readyz(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return dict(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:  # 503: standby or not ready, with a body
        return dict(json.loads(exc.read()))
    except OSError:
        return None


async def role_of(port: int) -> str | None:
    body = await asyncio.to_thread(readyz, port)
    return None if body is None else str(body.get("role"))


def config(tmp_path: Path, url: str, telegram: FakeBotApi) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "[prices]\n"
        'source = "csv"\n'
        f'csv_dirs = ["{PRICES / "hourly"}", "{PRICES / "daily_ohlcv"}", '
        f'"{PRICES / "daily_close"}"]\n'
        f'[storage]\nurl = "{url}"\n'
        "[charts]\nenabled = false\n"
        f'[telegram]\napi_base_url = "{telegram.base_url}"\n'
        f'api_base_file_url = "{telegram.base_file_url}"\n'
    )
    return path


async def start(config: Path, port: int) -> asyncio.subprocess.Process:
    env = {
        **{k: v for k, v in os.environ.items() if "TOKEN" not in k},
        "PTB_TIMEDELTA": "true",
        "BOT__TELEGRAM__TOKEN": TOKEN,
        "BOT__HTTP__PORT": str(port),
    }
    args = ["--drill", "2025-01-27T14:20:00Z", "--speed", "120", "--until", "2025-01-27T15:00:00Z"]
    return await start_bot("run", "--config", str(config), *args, env=env)


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def opens(telegram: FakeBotApi) -> Counter[int]:
    return Counter(m.chat_id for m in telegram.sent() if OPEN_US in m.plain_text)


@pytest.mark.timeout(300)
async def test_the_standby_takes_over_a_killed_leader_mid_fanout(
    tmp_path: Path, postgres_url: str
) -> None:
    store = Store(postgres_url)
    now = datetime.now(UTC)
    for chat in CHATS:
        store.save_chat(ChatSettings("telegram", str(chat), subscribed=True), now)
    store.close()
    async with FakeBotApi(token=TOKEN, auto_create_chats=True) as telegram:
        path = config(tmp_path, postgres_url, telegram)
        ports = [free_port(), free_port()]
        procs = [await start(path, ports[0])]
        await wait_for(lambda: _is(ports[0], "leader"), 60, "the first instance to lead")
        procs.append(await start(path, ports[1]))
        await wait_for(lambda: _is(ports[1], "standby"), 60, "the second instance to stand by")
        leader, standby = procs
        try:
            # The leader is in the middle of the fan-out: some chats have the alert, most not.
            await wait_for(lambda: _sent_at_least(telegram, 30), 90, "the fan-out to begin")
            assert telegram.superseded_polls == 0  # only the leader polled Telegram
            leader.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            before = sum(opens(telegram).values())
            assert before < len(CHATS), "the fan-out ended before the kill"
            await wait_for(lambda: _is(ports[1], "leader"), 30, "the standby to lead")
            took = time.monotonic() - killed_at
            assert took <= TAKEOVER_LIMIT_SECONDS, f"took over after {took:.1f} s"
            print(f"took over {took:.1f} s after the kill; {before} of {len(CHATS)} sent before")

            _, err = await asyncio.wait_for(standby.communicate(), timeout=120)
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        log = err.decode()
        assert standby.returncode == 0, log
        assert "Traceback" not in log, log
        assert "standing by: " in log
        assert "leading: this instance" in log
        assert "takes over from" in log, log
        assert "the drill continues on the last leader's clock" in log, log

        got = opens(telegram)
        assert set(got) == set(CHATS), sorted(set(CHATS) - set(got))
        twice = [chat for chat, count in got.items() if count > 1]
        assert all(count <= 2 for count in got.values()), got
        assert len(twice) <= MAX_IN_FLIGHT, twice  # only messages in flight at the kill
        print(f"chats that got the alert twice: {len(twice)}")
        assert before > 0


async def _is(port: int, role: str) -> bool:
    return await role_of(port) == role


async def _sent_at_least(telegram: FakeBotApi, count: int) -> bool:
    return sum(opens(telegram).values()) >= count


def drill_args(until: str | None) -> list[str]:
    args = ["--drill", "2025-01-27T14:20:00Z", "--speed", "10"]
    return args if until is None else [*args, "--until", until]


@pytest.mark.timeout(120)
async def test_a_leader_that_loses_its_database_session_steps_down_and_leads_again(
    tmp_path: Path, postgres_url: str
) -> None:
    import psycopg

    path = tmp_path / "config.toml"
    path.write_text(
        "[prices]\n"
        'source = "csv"\n'
        f'csv_dirs = ["{PRICES / "hourly"}", "{PRICES / "daily_ohlcv"}", '
        f'"{PRICES / "daily_close"}"]\n'
        f'[storage]\nurl = "{postgres_url}"\n'
    )
    port = free_port()
    env = {**os.environ, "BOT__HTTP__PORT": str(port)}
    proc = await start_bot("run", "--config", str(path), *drill_args(None), env=env)
    try:
        await wait_for(lambda: _is(port, "leader"), 60, "the instance to lead")
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            row = conn.execute("SELECT backend_pid FROM instances WHERE role = 'leader'").fetchone()
            assert row is not None
            # What a database restart or a cut network does to the leader's session.
            conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
            await wait_for(lambda: _answers_with(port, "database"), 10, "readiness to see it")
            await wait_for(lambda: _leads_again(conn, row[0]), 30, "a new session to lead")
        assert await role_of(port) == "leader"
    finally:
        code, log = await stop_bot(proc)
    assert code == 0, log
    assert "Traceback" not in log, log
    assert "lost the database connection, and with it the leader's lock" in log, log
    assert log.count("leading: this instance") == 2, log
    # The drill goes on where it was, not from its start again.
    assert "the drill continues on the last leader's clock" in log, log


@pytest.mark.timeout(60)
async def test_run_waits_for_a_database_that_does_not_answer(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[prices]\n"
        'source = "csv"\n'
        f'csv_dirs = ["{PRICES / "daily_close"}"]\n'
        '[storage]\nurl = "postgresql://bot@127.0.0.1:1/bot"\n'
    )
    port = free_port()
    env = {**os.environ, "BOT__HTTP__PORT": str(port), "PGPASSWORD": "hunter2secret"}
    proc = await start_bot("run", "--config", str(path), *drill_args(None), env=env)
    try:
        await wait_for(lambda: _is(port, "connecting"), 30, "readiness to say connecting")
        body = await asyncio.to_thread(readyz, port)
        assert body is not None
        assert body["status"] == "connecting"
    finally:
        code, log = await stop_bot(proc, seconds=30)
    assert code == 0, log
    assert "Traceback" not in log, log
    assert "cannot reach the PostgreSQL database postgresql://bot@127.0.0.1:1/bot" in log, log
    assert "trying again every 1 s" in log, log
    assert "hunter2secret" not in log


async def _answers_with(port: int, part: str) -> bool:
    body = await asyncio.to_thread(readyz, port)
    parts = body.get("parts") if body else None
    return isinstance(parts, dict) and part in parts


async def _leads_again(conn: object, old_pid: int) -> bool:
    row = conn.execute(  # type: ignore[attr-defined]
        "SELECT backend_pid FROM instances WHERE role = 'leader'"
    ).fetchone()
    return row is not None and row[0] != old_pid


def test_run_stops_at_once_when_the_server_refuses_its_database(tmp_path: Path) -> None:
    """A wrong database, role or password does not mend by waiting: one line, exit 2."""

    from tests.postgres import require_server, server_url

    require_server()
    missing = server_url().rsplit("/", 1)[0] + "/no_such_database_for_the_bot"
    path = tmp_path / "config.toml"
    path.write_text(f'[prices]\nsource = "csv"\ncsv_dirs = ["{PRICES / "daily_close"}"]\n')
    env = {**os.environ, "BOT__STORAGE__URL": missing, "BOT__HTTP__ENABLED": "false"}
    done = run_bot("run", "--config", str(path), *drill_args(None), env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.endswith('database "no_such_database_for_the_bot" does not exist\n'), (
        done.stderr
    )
    assert "error: cannot reach the PostgreSQL database " in done.stderr
    assert "Traceback" not in done.stderr
