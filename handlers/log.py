"""``/log``: the last alerts and what became of each in this chat (why it was silent)."""

from __future__ import annotations

from datetime import datetime

from bot.delivery.outbox import Outbox
from bot.render.replies import Bullets, Heading, Paragraph, Reply, Span
from bot.storage.subscriptions import Audience, ChatSettings
from handlers.registry import Context

ALERTS_SHOWN = 10
_REFUSALS = {
    "below_severity": "log.below_severity",
    "segments": "log.segments",
    "quiet_hours": "log.quiet_hours",
    "muted": "log.muted",
    "unsubscribed": "log.unsubscribed",
}


def _title(ctx: Context, body: dict[str, object]) -> str:
    fired = datetime.fromisoformat(str(body["time"]))
    label = ctx.t(f"label.{body['label']}")
    region = ctx.t(f"region.{body['region']}")
    severity = ctx.t(f"severity.{body['severity']}")
    kind = ctx.t("log.recovery") if body.get("kind") == "recover" else severity
    return f"{fired:%Y-%m-%d %H:%M} UTC · {kind} · {label} ({region})"


def _outcome(
    ctx: Context,
    key: str,
    chat: ChatSettings,
    sent: dict[str, tuple[str, datetime | None, str | None]],
) -> str:
    inv = ctx.invocation
    if key in sent:
        status, at, error = sent[key]
        if status == "sent" and at is not None:
            return ctx.t("log.sent", time=f"{at:%Y-%m-%d %H:%M} UTC")
        if status in ("pending", "sending"):
            return ctx.t("log.queued")
        return ctx.t("log.failed", reason=(error or status)[:160])
    plan = ctx.services.store.fanout_plan(key, inv.platform)
    if plan is None:
        return ctx.t("log.not_planned")
    audience_json, state = plan
    refusal = chat.refusal(Audience.from_json(audience_json))
    if refusal is not None:
        return ctx.t(_REFUSALS.get(refusal, "log.unsubscribed"))
    if state == "staging":
        return ctx.t("log.queued")
    return ctx.t("log.not_heard" if key.endswith(":recover") else "log.later")


async def log_command(ctx: Context) -> Reply:
    """The last 10 alerts, each with what happened to it here: sent at, queued, held by quiet
    hours, below the chat's severity, outside its segments, muted, or failed and why."""
    inv = ctx.invocation
    store = ctx.services.store
    bodies = store.recent_alerts(ALERTS_SHOWN)
    if not bodies:
        return Reply.text(ctx.t("log.none"))
    chat = store.chat(inv.platform, inv.chat_id)
    keys = [str(b["key"]) for b in bodies]
    sent = Outbox(store).chat_outcomes(inv.platform, inv.chat_id, keys)
    items = tuple(
        (Span(_title(ctx, body), bold=True), Span(": " + _outcome(ctx, key, chat, sent)))
        for body, key in zip(bodies, keys, strict=True)
    )
    return Reply(
        (
            Heading(ctx.t("log.title", count=len(bodies))),
            Bullets(items),
            Paragraph((Span(ctx.t("log.settings_now"), italic=True),)),
        )
    )
