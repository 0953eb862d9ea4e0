"""The bot as a real process (``python -m bot ...``), for the tests of what production runs."""

from __future__ import annotations

import asyncio
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
