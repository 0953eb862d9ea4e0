"""``/chart``: a stock's or the AI-infrastructure basket's path, as a picture."""

from __future__ import annotations

from bot.charting import (
    CHART_RANGES,
    ChartContext,
    ChartRequest,
    NoScansError,
    build_chart,
    draw_cached,
)
from bot.render.charts import ChartError
from bot.render.replies import Image, Paragraph, Reply, spans
from bot.sources.prices import PriceError, UnknownSymbolError
from handlers.exposure import symbol_token, unknown_symbol
from handlers.registry import Context, UsageError

BASKET_WORDS = frozenset({"BASKET", "KORB", "AI", "KI"})
REGIONS = frozenset({"US", "EU", "JP"})


def parse_chart(args: tuple[str, ...]) -> ChartRequest:
    """``[TICKER|basket] [1d|5d|1m|3m|1y]`` in any order; for the basket also ``us|eu|jp``."""
    symbol: str | None = None
    range_: str | None = None
    region: str | None = None
    for token in args:
        upper = token.strip().upper()
        if token.strip().lower() in CHART_RANGES and range_ is None:
            range_ = token.strip().lower()
        elif upper in BASKET_WORDS and symbol is None:
            continue
        elif upper in REGIONS and region is None:
            region = upper.lower()
        elif symbol is None:
            symbol = symbol_token(token)
        else:
            raise UsageError("chart.bad_args", args=" ".join(args)[:60])
    return ChartRequest(symbol, range_, None if symbol else region)


async def chart(ctx: Context) -> Reply:
    """``/chart NVDA 5d``: the picture, with its numbers in words as the caption."""
    request = parse_chart(ctx.args)
    services = ctx.services
    context = ChartContext(
        services.universe, services.market, services.store, services.clock(), services.drill
    )
    try:
        data = await build_chart(context, request, ctx.language)
        image = await draw_cached(services.store, data, ctx.language, services.clock())
    except UnknownSymbolError:
        return unknown_symbol(ctx, request.symbol or "")
    except PriceError as exc:
        return Reply.text(ctx.t("error.prices_unavailable", reason=exc.message[:200]))
    except NoScansError as exc:
        return Reply.text(str(exc))
    except ChartError:
        return Reply.text(ctx.t("chart.no_data"))
    return Reply((Paragraph(spans(image.words)),), image=Image(image.png, image.words))
