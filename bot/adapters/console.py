"""The console adapter: alerts as readable, coloured text on a terminal."""

from __future__ import annotations

import json
from typing import TextIO

from bot.alerts import Alert, AlertKind
from bot.detection.detect import Severity
from bot.render.alerts import alert_reply
from bot.render.chat import plain_text
from bot.render.replies import Reply

RESET = "\x1b[0m"
COLOURS = {
    Severity.WATCH: "\x1b[33m",
    Severity.ALERT: "\x1b[1;31m",
    Severity.CRITICAL: "\x1b[1;97;41m",
}
GREEN = "\x1b[32m"


class ConsoleAdapter:
    """Writes alerts to a stream; colours only when the stream is a terminal (or forced)."""

    name = "console"

    def __init__(self, stream: TextIO, colour: bool | None = None) -> None:
        self.stream = stream
        self.colour = stream.isatty() if colour is None else colour

    async def send_alert(self, alert: Alert) -> None:
        head, *rest = alert_reply(alert, "en").blocks
        headline = plain_text(Reply((head,)))
        if self.colour:
            code = GREEN if alert.kind is AlertKind.RECOVER else COLOURS.get(alert.severity, "")
            headline = f"{code}{headline}{RESET}"
        body = "\n".join(f"  {line}" for line in plain_text(Reply(tuple(rest))).splitlines())
        self.stream.write(f"{alert.fired_at:%Y-%m-%d %H:%M} UTC  {headline}\n{body}\n\n")
        self.stream.flush()


class JsonLinesAdapter:
    """One JSON object per alert and line (``replay --json``)."""

    name = "json"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    async def send_alert(self, alert: Alert) -> None:
        self.stream.write(json.dumps(alert.as_dict(), ensure_ascii=False) + "\n")
        self.stream.flush()
