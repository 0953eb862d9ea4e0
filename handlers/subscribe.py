"""``/subscribe``, ``/unsubscribe`` and ``/settings``: which alerts reach this chat."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.detection.detect import Severity
from bot.render.buttons import command_button
from bot.render.i18n import LANGUAGES
from bot.render.replies import Block, Heading, Keyboard, Paragraph, Reply, spans
from bot.storage.subscriptions import (
    ChatSettings,
    QuietHours,
    SettingsError,
    parse_clock,
    parse_timezone,
)
from handlers.mute import muted_text
from handlers.registry import Context, UsageError

SUBSCRIBABLE = (Severity.WATCH, Severity.ALERT, Severity.CRITICAL)
MAX_ZONE_IN_BUTTON = 24


def _severity(value: str) -> Severity:
    try:
        severity = Severity.parse(value)
    except ValueError:
        raise UsageError("subscribe.bad_severity", value=value[:20]) from None
    if severity not in SUBSCRIBABLE:
        raise UsageError("subscribe.bad_severity", value=value[:20])
    return severity


def _segments(ctx: Context, values: tuple[str, ...]) -> tuple[str, ...]:
    known = ctx.services.universe.segments
    if len(values) == 1 and values[0].lower() in ("all", "alle"):
        return ()
    chosen = []
    for value in values:
        key = value.lower().strip(",")
        if key not in known:
            raise UsageError("subscribe.bad_segment", segment=value[:30], known=", ".join(known))
        if key not in chosen:
            chosen.append(key)
    return tuple(chosen)


def _chat(ctx: Context) -> ChatSettings:
    inv = ctx.invocation
    return ctx.services.store.chat(inv.platform, inv.chat_id)


def _save(ctx: Context, chat: ChatSettings) -> None:
    ctx.services.store.save_chat(chat, ctx.services.clock())


def _alerts_state(ctx: Context, chat: ChatSettings) -> str:
    """ "on", "off", or why the bot stopped delivering here and how to resume."""
    if chat.subscribed and chat.disabled_reason is not None:
        day = f"{chat.disabled_at:%Y-%m-%d}" if chat.disabled_at else "?"
        key = (
            "settings.blocked"
            if "blocked" in chat.disabled_reason.lower()
            else "settings.unreachable"
        )
        return ctx.t(key, date=day, reason=chat.disabled_reason[:120])
    return ctx.t("settings.yes" if chat.subscribed else "settings.no")


def _describe(ctx: Context, chat: ChatSettings) -> Reply:
    t = ctx.t
    segments = ", ".join(chat.segments) if chat.segments else t("settings.all")
    if chat.quiet is None:
        quiet = t("settings.none")
    else:
        through = (
            "settings.breaks_through" if chat.quiet.critical_breaks_through else ("settings.silent")
        )
        quiet = f"{chat.quiet.describe()} ({t(through)})"
    lines = [
        t("settings.subscribed", value=_alerts_state(ctx, chat)),
        t("settings.severity", value=t(f"severity.{chat.min_severity}")),
        t("settings.segments", value=segments),
        t("settings.quiet", value=quiet),
        t("settings.language", value=ctx.language),
    ]
    if chat.muted_until is not None and chat.muted_until > ctx.services.clock():
        lines.insert(1, t("settings.muted", value=muted_text(ctx, chat)))
    if chat.mention_role:
        lines.append(t("settings.mention", value=f"<@&{chat.mention_role}>"))
    if chat.thread_id:
        lines.append(t("settings.topic", topic=chat.thread_id))
    blocks: list[Block] = [Heading(t("settings.title"))]
    blocks += [Paragraph(spans(line)) for line in lines]
    return Reply(tuple(blocks), buttons=settings_keyboard(ctx, chat))


def _mark(label: str, chosen: bool) -> str:
    return f"✓ {label}" if chosen else label


def settings_keyboard(ctx: Context, chat: ChatSettings) -> Keyboard:
    """The settings as buttons: alerts on or off, the minimum severity, the language and
    quiet-hour presets (the typed ``/settings KEY VALUE`` syntax stays for the rest)."""
    t = ctx.t
    zone = chat.quiet.timezone if chat.quiet is not None else "UTC"
    if len(zone) > MAX_ZONE_IN_BUTTON:  # Telegram keeps at most 64 bytes of button data
        zone = "UTC"
    alerts = (
        command_button(t("keys.unsubscribe"), "unsubscribe")
        if chat.subscribed and not chat.disabled_reason
        else command_button(t("keys.subscribe"), "subscribe")
    )
    severities = tuple(
        command_button(
            _mark(t(f"severity.{level}"), chat.min_severity is level),
            "settings",
            f"severity {level}",
        )
        for level in SUBSCRIBABLE
    )
    languages = (
        command_button(_mark("English", ctx.language == "en"), "settings", "language en"),
        command_button(_mark("Deutsch", ctx.language == "de"), "settings", "language de"),
    )
    quiet = (
        command_button(t("keys.quiet_night"), "settings", f"quiet 22:00-07:00 {zone} critical"),
        command_button(t("keys.quiet_weekend"), "settings", f"quiet 18:00-08:00 {zone} none"),
        command_button(_mark(t("keys.quiet_off"), chat.quiet is None), "settings", "quiet off"),
    )
    return ((alerts,), severities, languages, quiet)


async def subscribe(ctx: Context) -> Reply:
    """``/subscribe [watch|alert|critical] [segment ...]``."""
    args = ctx.args
    chat = _chat(ctx)
    severity = chat.min_severity  # what the chat chose, even before it subscribed
    if args and args[0].lower() in ("watch", "alert", "critical", "none"):
        severity = _severity(args[0])
        args = args[1:]
    segments = _segments(ctx, args) if args else chat.segments
    chat = replace(
        chat,
        subscribed=True,
        min_severity=severity,
        segments=segments,
        language=chat.language or ctx.language,
        disabled_reason=None,
        thread_id=ctx.invocation.thread_id,
    )
    _save(ctx, chat)
    done = ctx.t(
        "subscribe.done",
        severity=ctx.t(f"severity.{severity}"),
        segments=", ".join(segments) if segments else ctx.t("settings.all"),
    )
    return Reply((Paragraph(spans(done)),), buttons=settings_keyboard(ctx, chat))


async def unsubscribe(ctx: Context) -> Reply:
    chat = _chat(ctx)
    if not chat.subscribed:
        return Reply.text(ctx.t("unsubscribe.not_subscribed"))
    chat = replace(chat, subscribed=False)
    _save(ctx, chat)
    return Reply(
        (Paragraph(spans(ctx.t("unsubscribe.done"))),), buttons=settings_keyboard(ctx, chat)
    )


def _quiet(args: tuple[str, ...]) -> QuietHours | None:
    if len(args) == 1 and args[0].lower() in ("off", "aus", "none"):
        return None
    if len(args) not in (2, 3) or "-" not in args[0]:
        raise UsageError("settings.bad_time", value=" ".join(args)[:30])
    start, _, end = args[0].partition("-")
    breaks = True
    if len(args) == 3:
        if args[2].lower() not in ("critical", "none"):
            raise UsageError("settings.bad_key", value=args[2][:20])
        breaks = args[2].lower() == "critical"
    try:
        return QuietHours(parse_clock(start), parse_clock(end), parse_timezone(args[1]), breaks)
    except SettingsError as exc:
        raise UsageError(exc.key, **exc.values) from None


_ROLE = re.compile(r"^<@&(\d{5,25})>$|^(\d{5,25})$")


def _role(value: str) -> str | None:
    """A role mention (``<@&123>``) or id to ping on critical alerts; ``off`` clears it."""
    if value.lower() in ("off", "aus", "none"):
        return None
    match = _ROLE.match(value.strip())
    if match is None:
        raise UsageError("settings.bad_role", value=value[:40])
    return match.group(1) or match.group(2)


async def settings(ctx: Context) -> Reply:
    """``/settings`` shows; ``/settings KEY VALUE...`` changes (admins only in groups)."""
    chat = _chat(ctx)
    if not ctx.args:
        return _describe(ctx, chat)
    inv = ctx.invocation
    if inv.chat_type != "private" and not await inv.check_admin():
        return Reply.text(ctx.t("error.admin_only", command="settings"))
    key, values = ctx.args[0].lower(), ctx.args[1:]
    if key == "severity" and len(values) == 1:
        chat = replace(chat, min_severity=_severity(values[0]))
    elif key == "segments" and values:
        chat = replace(chat, segments=_segments(ctx, values))
    elif key == "quiet" and values:
        chat = replace(chat, quiet=_quiet(values))
    elif key == "mention" and len(values) == 1:
        chat = replace(chat, mention_role=_role(values[0]))
    elif key == "language" and len(values) == 1:
        language = values[0].lower()
        if language not in LANGUAGES:
            raise UsageError("settings.bad_language")
        chat = replace(chat, language="de" if language == "de" else "en")
    else:
        raise UsageError("settings.bad_key", value=" ".join(ctx.args)[:40])
    _save(ctx, chat)
    updated = Context(ctx.invocation, ctx.args, chat.language or ctx.language, ctx.services)
    described = _describe(updated, chat)
    updated_line = Paragraph(spans(updated.t("settings.updated")))
    return Reply((updated_line, *described.blocks), buttons=described.buttons)
