"""``--version`` names the program as installed, however it was started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot import __version__


def test_module_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"ai-shock-bot {__version__}"


def test_console_script_version_and_usage_name() -> None:
    script = Path(sys.executable).parent / "ai-shock-bot"
    assert script.exists(), "make venv installs the package, and with it this script"
    version = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    usage = subprocess.run([script, "nonsense"], capture_output=True, text=True, check=False)
    assert version.stdout.strip() == f"ai-shock-bot {__version__}"
    assert usage.returncode == 2
    assert usage.stderr.startswith("usage: ai-shock-bot ")
