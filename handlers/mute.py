"""``/mute`` and ``/unmute``: no alerts in this chat for a while."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.render.replies import Reply
from bot.storage.subscriptions import ChatSettings, SettingsError, parse_clock, parse_timezone
from handlers.registry import Context, UsageError

_DURATION = re.compile(r"^(\d{1,4})\s*(m|min|h|d)$")
_UNIT = {"m": timedelta(minutes=1), "min": timedelta(minutes=1), "h": timedelta(hours=1)}
MAX_MUTE = timedelta(days=30)


def _zone(chat: ChatSettings, given: tuple[str, ...]) -> str:
    if given:
        return parse_timezone(given[0])
    return chat.quiet.timezone if chat.quiet is not None else "UTC"


def mute_until(args: tuple[str, ...], chat: ChatSettings, now: datetime) -> datetime:
    """``1h``, ``30m``, ``2d``, ``today`` (to local midnight) or ``until HH:MM [Area/City]``
    (the next such time); local time is the chat's quiet-hours zone, else UTC.

    Raises:
        UsageError: anything else, or longer than 30 days.
    """
    words = tuple(a.lower() for a in args)
    try:
        if len(words) == 1 and (match := _DURATION.match(words[0])):
            amount, unit = int(match.group(1)), match.group(2)
            until = now + amount * _UNIT.get(unit, timedelta(days=1))
        elif words[:1] in (("today",), ("heute",)) and len(words) <= 2:
            local = now.astimezone(ZoneInfo(_zone(chat, args[1:])))
            midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time())
            until = midnight.replace(tzinfo=local.tzinfo)
        elif words[:1] in (("until",), ("bis",)) and len(words) in (2, 3):
            zone = ZoneInfo(_zone(chat, args[2:]))
            local = now.astimezone(zone)
            until = datetime.combine(local.date(), parse_clock(args[1]), zone)
            if until <= local:
                until += timedelta(days=1)
        else:
            raise UsageError("mute.bad", value=" ".join(args)[:40])
    except SettingsError as exc:
        raise UsageError(exc.key, **exc.values) from None
    if until - now > MAX_MUTE or until <= now:
        raise UsageError("mute.bad", value=" ".join(args)[:40])
    return until


def muted_text(ctx: Context, chat: ChatSettings) -> str:
    """ "until 2026-08-04 13:00 UTC (critical alerts come through)" or "(nothing comes
    through)", as the chat's quiet-hours rule says."""
    until = chat.muted_until
    if until is None:
        return ""
    breaks = chat.quiet.critical_breaks_through if chat.quiet is not None else True
    return ctx.t(
        "mute.until_breaks" if breaks else "mute.until_silent",
        time=f"{until.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC",
    )


async def mute(ctx: Context) -> Reply:
    """``/mute 1h|today|until HH:MM``."""
    inv = ctx.invocation
    store = ctx.services.store
    now = ctx.services.clock()
    if not ctx.args:
        raise UsageError("mute.bad", value="")
    chat = store.chat(inv.platform, inv.chat_id)
    chat = replace(chat, muted_until=mute_until(ctx.args, chat, now))
    store.save_chat(chat, now)
    return Reply.text(ctx.t("mute.done", until=muted_text(ctx, chat)))


async def unmute(ctx: Context) -> Reply:
    inv = ctx.invocation
    store = ctx.services.store
    now = ctx.services.clock()
    chat = store.chat(inv.platform, inv.chat_id)
    if chat.muted_until is None or chat.muted_until <= now:
        return Reply.text(ctx.t("unmute.not_muted"))
    store.save_chat(replace(chat, muted_until=None), now)
    return Reply.text(ctx.t("unmute.done"))
