"""The bot as a real process (``python -m bot ...``), for the tests of what production runs."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


async def start_bot(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """``python -m bot ARGS`` from the project's root, stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def run_bot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` to its end (at most a minute), output as text."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def stop_bot(proc: asyncio.subprocess.Process, seconds: float = 60) -> tuple[int, str]:
    """SIGTERM a running bot and wait for it; (exit code, stderr). Killed if it hangs."""
    try:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=seconds)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, err.decode()
