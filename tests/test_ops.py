"""Operating the bot: /healthz, /readyz and /metrics of the running process, JSON log lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import load_config
from bot.delivery.outbox import NewMessage, Outbox
from bot.detection.regions import scan_regions
from bot.runtime.ops import ReadinessInputs, readiness
from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from tests.conftest import PRICES, PROJECT_ROOT
from tests.fakes.telegram_api import FakeBotApi
from tests.processes import start_bot

FAMILIES = {
    "bot_readings",
    "bot_scan_duration_seconds",
    "bot_scan_failures",
    "bot_scan_data_age_seconds",
    "bot_alerts",
    "bot_alerts_suppressed",
    "bot_messages",
    "bot_rate_limited",
    "bot_command_duration_seconds",
    "bot_feed_fetch_failures",
    "bot_outbox_depth",
    "bot_outbox_oldest_age_seconds",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


@pytest.mark.timeout(200)
async def test_the_running_bot_answers_health_readiness_and_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "BOT__HTTP__PORT": str(port),
        "BOT__PRICES__SOURCE": "csv",
        "BOT__PRICES__CSV_DIRS": json.dumps(
            [str(PRICES / d) for d in ("hourly", "daily_ohlcv", "daily_close")]
        ),
        "BOT__STORAGE__PATH": str(tmp_path / "bot.sqlite3"),
    }
    proc = await start_bot(
        "run", "--drill", "2025-01-27T14:20:00Z", "--speed", "120", "--until",
        "2025-01-27T15:10:00Z", env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            health = None
            for _ in range(900):  # the process imports and loads prices first
                try:
                    health = await get(session, f"{base}/healthz")
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            assert health == (200, '{"status": "ok"}')
            ready: tuple[int, str] = (0, "")
            text = ""
            for _ in range(600):  # until a US scan has read the open (14:35 simulated)
                ready = await get(session, f"{base}/readyz")
                status, text = await get(session, f"{base}/metrics")
                if ready[0] == 200 and 'region="us",severity="critical"' in text:
                    break
                await asyncio.sleep(0.1)
            assert ready[0] == 200, ready
            assert json.loads(ready[1])["parts"]["scan:us"] == "ok"
            probe = await healthcheck(port)
    finally:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) >= FAMILIES
    readings = {
        (s.labels["region"], s.labels["label"], s.labels["severity"])
        for s in families["bot_readings"].samples
        if s.name == "bot_readings_total"
    }
    assert ("us", "ai_infra_divergence_down", "critical") in readings
    assert not any(
        "chat" in label for f in families.values() for s in f.samples for label in s.labels
    )
    assert proc.returncode == 0, err.decode()
    assert probe == 0  # the image's HEALTHCHECK command, against the live process
    assert await healthcheck(port) != 0  # and once it has stopped


async def healthcheck(port: int) -> int:
    """Run the Dockerfile's HEALTHCHECK command; its exit code."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    line = dockerfile.split("HEALTHCHECK", 1)[1].split("CMD", 1)[1].split("\n", 1)[0].strip()
    command = json.loads(line)
    proc = await asyncio.create_subprocess_exec(
        sys.executable if command[0] == "python" else command[0],
        *command[1:],
        env={**os.environ, "BOT__HTTP__PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait()


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(
    not docker_answers(),
    reason="no Docker daemon here: build and run the image by hand (README, Docker)",
)
def test_the_image_builds_runs_and_reports_healthy() -> None:
    tag = "ai-shock-bot:test"
    subprocess.run(["docker", "build", "-t", tag, str(PROJECT_ROOT)], check=True)
    started = subprocess.run(
        ["docker", "run", "-d", "--rm", tag], capture_output=True, text=True, check=True
    )
    container = started.stdout.strip()
    try:
        for _ in range(90):
            state = subprocess.run(
                ["docker", "inspect", "-f", "{{.State.Health.Status}}", container],
                capture_output=True, text=True, check=False,
            ).stdout.strip()  # fmt: skip
            if state in ("healthy", "unhealthy"):
                break
            time.sleep(2)
        assert state == "healthy"
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


async def poll(session: aiohttp.ClientSession, url: str, want: int) -> tuple[int, str]:
    """GET ``url`` until it answers ``want`` (60 s at most); the last answer."""
    answer = (0, "")
    for _ in range(600):
        answer = await get(session, url)
        if answer[0] == want:
            break
        await asyncio.sleep(0.1)
    return answer


@pytest.mark.timeout(300)
async def test_readiness_fails_while_the_price_files_are_gone_and_recovers(
    tmp_path: Path,
) -> None:
    dirs = {}
    for name in ("hourly", "daily_ohlcv", "daily_close"):
        dirs[name] = tmp_path / name
        dirs[name].symlink_to(PRICES / name, target_is_directory=True)
    port = free_port()
    env = {
        **os.environ,
        "BOT__HTTP__PORT": str(port),
        "BOT__PRICES__SOURCE": "csv",
        "BOT__PRICES__CSV_DIRS": json.dumps([str(d) for d in dirs.values()]),
        "BOT__STORAGE__PATH": str(tmp_path / "bot.sqlite3"),
        "BOT__SCHEDULER__REGIONS": '["us"]',
        "BOT__SCHEDULER__BACKOFF_SECONDS": "0.1",
    }
    proc = await start_bot(
        "run", "--drill", "2025-01-27T14:40:00Z", "--speed", "120", "--until",
        "2025-01-27T15:40:00Z", env=env,
    )  # fmt: skip
    ready = f"http://127.0.0.1:{port}/readyz"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(900):
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    await get(session, ready)
                    break
                await asyncio.sleep(0.1)
            first = await poll(session, ready, 200)
            dirs["daily_close"].rename(tmp_path / "moved")  # the prices go away
            failing = await poll(session, ready, 503)
            (tmp_path / "moved").rename(dirs["daily_close"])  # and come back
            recovered = await poll(session, ready, 200)
    finally:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=180)

    assert first[0] == 200, first
    assert failing[0] == 503, failing
    assert json.loads(failing[1])["parts"]["scan:us"].startswith("scan due at 2025-01-27")
    assert recovered[0] == 200, recovered
    assert "price directory" in err.decode()
    assert "is gone" in err.decode()
    assert proc.returncode == 0


def inputs(store: Store, now: datetime, started: datetime) -> ReadinessInputs:
    config = load_config(None, {})
    return ReadinessInputs(
        store=store,
        regions=scan_regions(config.universe, ["us"]),
        interval=timedelta(minutes=5),
        settle_delay=timedelta(minutes=20),
        grace=timedelta(minutes=2),
        clock=lambda: now,
        started=started,
        platforms={"telegram": lambda: False},
        outbox_bound=timedelta(minutes=5),
    )


def test_readiness_names_a_stale_scan_a_lost_platform_and_a_late_outbox() -> None:
    store = Store(":memory:")
    now = datetime(2025, 1, 27, 15, 0, tzinfo=UTC)  # New York is open: a scan every 5 minutes
    started = now - timedelta(hours=1)
    store.record_scan("us", "csv", now - timedelta(minutes=40))  # then prices failed
    store.record_scan("us", "csv", now - timedelta(minutes=3), "prices unavailable")
    Outbox(store).enqueue(
        [NewMessage("k1", "telegram", "1", False, "a", 3, "text")], now - timedelta(minutes=9)
    )

    parts = readiness(inputs(store, now, started))

    assert parts["scan:us"].startswith("scan due at 2025-01-27 14:55 UTC; last success")
    assert parts["platform:telegram"] == "not connected"
    assert parts["outbox"] == "telegram: oldest due message waits 540 s"

    store.record_scan("us", "csv", now - timedelta(minutes=1))  # the source recovers
    assert readiness(inputs(store, now, started))["scan:us"] == "ok"


def test_no_scan_is_due_before_the_first_one_after_start() -> None:
    store = Store(":memory:")
    now = datetime(2025, 1, 25, 12, 0, tzinfo=UTC)  # a Saturday: nothing scheduled

    assert readiness(inputs(store, now, now - timedelta(minutes=1)))["scan:us"] == "ok"


async def test_json_logs_are_one_object_a_line(tmp_path: Path) -> None:
    env = {**os.environ, "BOT__LOGGING__FORMAT": "json"}
    proc = await start_bot(
        "replay", "--prices", str(PRICES / "daily_close"), "--from", "2025-01-27", "--to",
        "2025-01-28", "--interval", "1d", env=env,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=120)

    lines = [json.loads(line) for line in err.decode().splitlines()]
    assert proc.returncode == 0
    assert lines
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    scans = [line for line in lines if line["message"].startswith("scan us")]
    assert scans
    assert {"region": "us", "source": "recorded"}.items() <= scans[0].items()
    alerts = [line for line in lines if line["message"].startswith("alert ")]
    assert alerts
    assert alerts[0]["region"] == "us"
    assert alerts[0]["alert_key"].startswith("2025-01-27:us:down")


TG_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"


async def _read_until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> None:
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError(f"process ended before {marker!r}: {''.join(seen)}")
        seen.append(line)
        if marker in line:
            return


@pytest.mark.timeout(300)
async def test_sigterm_mid_send_exits_0_within_10_s_and_the_message_waits_in_the_outbox(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.sqlite3"
    store = Store(db)
    store.save_chat(ChatSettings("telegram", "4242", subscribed=True), datetime.now(UTC))
    store.close()
    async with FakeBotApi(token=TG_TOKEN) as telegram:
        telegram.add_chat(4242, "private", first_name="Ada", language_code="en")
        env = {
            **os.environ,
            "BOT__HTTP__ENABLED": "false",
            "BOT__TELEGRAM__TOKEN": TG_TOKEN,
            "BOT__TELEGRAM__API_BASE_URL": telegram.base_url,
            "BOT__TELEGRAM__API_BASE_FILE_URL": telegram.base_file_url,
            "BOT__PRICES__SOURCE": "csv",
            "BOT__PRICES__CSV_DIRS": json.dumps(
                [str(PRICES / d) for d in ("hourly", "daily_ohlcv", "daily_close")]
            ),
            "BOT__STORAGE__PATH": str(db),
            "BOT__SCHEDULER__REGIONS": '["us"]',
            "PTB_TIMEDELTA": "true",
        }
        args = ["run", "--drill", "2025-01-27T14:25:00Z", "--speed", "120"]
        telegram.slow_down("sendMessage", 120)  # the alert's send hangs in flight
        proc = await start_bot(*args, env=env)
        assert proc.stderr is not None
        seen: list[str] = []
        await asyncio.wait_for(_read_until(proc.stderr, "alert ", seen), timeout=120)
        await asyncio.sleep(2)  # the sender has picked it up
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        code = await asyncio.wait_for(proc.wait(), timeout=60)
        took = time.monotonic() - stopped
        log = "".join(seen) + (await proc.stderr.read()).decode()

        assert code == 0, log
        assert took < 12, f"{took:.1f} s"
        assert "Traceback" not in log
        store = Store(db, scope="drill")
        counts = Outbox(store).counts("telegram")
        store.close()
        assert counts.get("sent", 0) == 0
        # The alert's text (in flight) and its chart (waiting behind it: one chat's messages
        # go in order).
        assert counts.get("pending", 0) + counts.get("sending", 0) == 2, counts

        telegram.slow_down("sendMessage", 0)  # a later start sends them, once
        proc = await start_bot(*args, "--until", "2025-01-27T14:45:00Z", env=env)
        code = await asyncio.wait_for(proc.wait(), timeout=120)
        assert code == 0
        assert [m.method for m in telegram.sent(4242)] == ["sendMessage", "sendPhoto"]
