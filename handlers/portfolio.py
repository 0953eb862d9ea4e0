"""``/portfolio``: a chat's saved portfolio, for ``/exposure`` and the alerts' portfolio line."""

from __future__ import annotations

from bot.render.i18n import share
from bot.render.replies import Heading, Paragraph, Reply, Table, spans
from handlers.exposure import Request, exposure_reply, parse_request, saved_request
from handlers.registry import Context, UsageError


def _shown(ctx: Context, request: Request) -> Reply:
    rows = tuple((p.symbol, share(ctx.language, p.weight)) for p in request.positions)
    return Reply(
        (
            Heading(ctx.t("portfolio.saved_title")),
            Table((ctx.t("table.symbol"), ctx.t("table.share")), rows),
        )
    )


async def _may_change(ctx: Context) -> bool:
    inv = ctx.invocation
    return inv.chat_type == "private" or await inv.check_admin()


async def portfolio(ctx: Context) -> Reply:
    """``/portfolio`` shows it, ``/portfolio set ...`` saves one (the syntax and limits of
    ``/exposure``), ``/portfolio clear`` deletes it. In groups only those who may change the
    chat's settings set or clear it."""
    inv = ctx.invocation
    store = ctx.services.store
    if not ctx.args:
        saved = saved_request(ctx)
        return _shown(ctx, saved) if saved else Reply.text(ctx.t("portfolio.none"))
    action, rest = ctx.args[0].lower(), ctx.args[1:]
    if action not in ("set", "clear"):
        raise UsageError("portfolio.bad_action", action=ctx.args[0][:20])
    if not await _may_change(ctx):
        return Reply.text(ctx.t("error.admin_only", command="portfolio"))
    if action == "clear":
        gone = store.clear_portfolio(inv.platform, inv.chat_id)
        return Reply.text(ctx.t("portfolio.cleared" if gone else "portfolio.not_saved"))
    request = parse_request(rest)
    answer, found = await exposure_reply(ctx, request)
    if not found:
        return answer  # an unknown name or no prices: said, and nothing saved
    positions = [(p.symbol, p.weight) for p in request.positions]
    store.save_portfolio(inv.platform, inv.chat_id, positions, ctx.services.clock())
    done = Paragraph(spans(ctx.t("portfolio.saved")))
    return Reply((*_shown(ctx, request).blocks, done, *answer.blocks), answer.severity)
