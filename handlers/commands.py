"""The bot's commands, registered once for every platform."""

from __future__ import annotations

from handlers.chart import chart
from handlers.digest import digest
from handlers.exposure import exposure
from handlers.help import make_help, start
from handlers.log import log_command
from handlers.mute import mute, unmute
from handlers.news import news
from handlers.portfolio import portfolio
from handlers.registry import Command, Registry
from handlers.status import status
from handlers.subscribe import settings, subscribe, unsubscribe


def build_registry() -> Registry:
    registry = Registry()
    registry.add(Command("start", start, "cmd.start.summary", "cmd.start.usage"))
    registry.add(Command("help", make_help(registry), "cmd.help.summary", "cmd.help.usage"))
    registry.add(Command("exposure", exposure, "cmd.exposure.summary", "cmd.exposure.usage"))
    registry.add(
        Command(
            "subscribe",
            subscribe,
            "cmd.subscribe.summary",
            "cmd.subscribe.usage",
            admin_in_groups=True,
        )
    )
    registry.add(
        Command(
            "unsubscribe",
            unsubscribe,
            "cmd.unsubscribe.summary",
            "cmd.unsubscribe.usage",
            admin_in_groups=True,
        )
    )
    registry.add(Command("settings", settings, "cmd.settings.summary", "cmd.settings.usage"))
    registry.add(Command("status", status, "cmd.status.summary", "cmd.status.usage"))
    registry.add(Command("log", log_command, "cmd.log.summary", "cmd.log.usage"))
    registry.add(Command("news", news, "cmd.news.summary", "cmd.news.usage"))
    registry.add(Command("chart", chart, "cmd.chart.summary", "cmd.chart.usage"))
    registry.add(Command("digest", digest, "cmd.digest.summary", "cmd.digest.usage"))
    registry.add(Command("mute", mute, "cmd.mute.summary", "cmd.mute.usage", admin_in_groups=True))
    registry.add(
        Command("unmute", unmute, "cmd.unmute.summary", "cmd.unmute.usage", admin_in_groups=True)
    )
    registry.add(Command("portfolio", portfolio, "cmd.portfolio.summary", "cmd.portfolio.usage"))
    return registry
