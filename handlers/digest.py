"""``/digest``: a daily summary of the AI supply chain in this chat."""

from __future__ import annotations

from bot.render.replies import Reply
from bot.storage.subscriptions import SettingsError, parse_clock, parse_timezone
from handlers.registry import Context, UsageError


def _state(ctx: Context) -> Reply:
    inv = ctx.invocation
    setting = ctx.services.store.digest(inv.platform, inv.chat_id)
    if setting is None:
        return Reply.text(ctx.t("digest.off_state"))
    if setting.at is None:
        return Reply.text(ctx.t("digest.on_close"))
    return Reply.text(
        ctx.t("digest.on_time", time=setting.at.strftime("%H:%M"), timezone=setting.timezone)
    )


async def digest(ctx: Context) -> Reply:
    """``/digest on`` (after the US close), ``/digest on 18:00 Europe/Berlin``, ``/digest off``;
    ``/digest`` says what is set. In groups only those who may change the chat's settings
    turn it on or off."""
    inv = ctx.invocation
    store = ctx.services.store
    if not ctx.args:
        return _state(ctx)
    action, rest = ctx.args[0].lower(), ctx.args[1:]
    if action not in ("on", "off"):
        raise UsageError("digest.bad_action", action=ctx.args[0][:20])
    if inv.chat_type != "private" and not await inv.check_admin():
        return Reply.text(ctx.t("error.admin_only", command="digest"))
    if action == "off":
        store.clear_digest(inv.platform, inv.chat_id)
        return Reply.text(ctx.t("digest.stopped"))
    if len(rest) > 2:
        raise UsageError("digest.bad_action", action=" ".join(rest)[:20])
    try:
        at = parse_clock(rest[0]) if rest else None
        timezone = parse_timezone(rest[1]) if len(rest) > 1 else "UTC"
    except SettingsError as exc:
        raise UsageError(exc.key, **exc.values) from None
    store.set_digest(inv.platform, inv.chat_id, at, timezone, ctx.services.clock())
    return _state(ctx)
