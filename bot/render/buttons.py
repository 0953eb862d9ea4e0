"""Buttons under an alert (Chart, My exposure, Mute 1 h, Mute today), platform-neutral.

A button's data names a command and its arguments in a few bytes (Telegram allows 64), so a
button keeps working after a restart: nothing about it lives in memory.
"""

from __future__ import annotations

import json

from bot.alerts import Alert, AlertKind
from bot.detection.detect import Label
from bot.render.i18n import Language, translate
from bot.render.replies import Button, Keyboard

PREFIX = "asb:"
_COMMANDS = {"chart", "exposure", "mute", "settings", "subscribe", "unsubscribe"}
SETTINGS_COMMANDS = frozenset({"settings", "subscribe", "unsubscribe"})
"""Presses that change a chat's settings: answered by redrawing the settings in place."""


def command_button(label: str, command: str, args: str = "") -> Button:
    """A button that runs ``/command args`` when pressed."""
    return Button(label, f"{PREFIX}{command}:{args}")


def alert_buttons(alert: Alert, language: Language) -> Keyboard:
    """Chart and My exposure for price alerts, Mute 1 h and Mute today for every alert."""
    region = "us" if alert.region == "us_pre" else alert.region
    mute = (
        Button(translate(language, "button.mute_hour"), f"{PREFIX}mute:1h"),
        Button(translate(language, "button.mute_today"), f"{PREFIX}mute:today"),
    )
    if alert.label is Label.NEWS_BURST or alert.kind is AlertKind.RECOVER:
        return (mute,)
    first = (
        Button(translate(language, "button.chart"), f"{PREFIX}chart:basket 1d {region}"),
        Button(translate(language, "button.exposure"), f"{PREFIX}exposure:"),
    )
    return (first, mute)


def keyboard_json(keyboard: Keyboard) -> str:
    return json.dumps([[[b.label, b.data] for b in row] for row in keyboard])


def keyboard_from_json(text: str) -> Keyboard:
    return tuple(
        tuple(Button(str(label), str(data)) for label, data in row) for row in json.loads(text)
    )


def button_command(data: str) -> tuple[str, str] | None:
    """The command and arguments a button's data stands for; ``None`` for anything else
    (an old or foreign button)."""
    if not data.startswith(PREFIX):
        return None
    command, _, args = data.removeprefix(PREFIX).partition(":")
    return (command, args) if command in _COMMANDS else None
