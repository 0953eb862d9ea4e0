"""``/start`` and ``/help``; the help text is generated from the registry."""

from __future__ import annotations

from bot.render.replies import Bullets, Heading, Paragraph, Reply, code, spans
from handlers.registry import Context, Handler, Registry


def make_help(registry: Registry) -> Handler:
    async def help_command(ctx: Context) -> Reply:
        items = []
        for command in registry.commands:
            note = f" ({ctx.t('help.admin')})" if command.admin_in_groups else ""
            items.append(spans(code(f"/{command.name}"), f" {ctx.t(command.summary)}{note}"))
        usages = tuple(spans(code(ctx.t(c.usage))) for c in registry.commands)
        segments = ", ".join(ctx.services.universe.segments)
        return Reply(
            (
                Heading(ctx.t("help.title")),
                Bullets(tuple(items)),
                Bullets(usages),
                Paragraph(spans(ctx.t("help.segments", segments=segments))),
            )
        )

    return help_command


async def start(ctx: Context) -> Reply:
    return Reply.text(ctx.t("start.welcome"), ctx.t("start.next"))
