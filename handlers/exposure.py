"""``/exposure``: a stock's or a portfolio's place in the AI supply chain and its risk."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from bot.detection.exposure import (
    NameExposure,
    Position,
    RegionHistory,
    normalise,
    portfolio_exposure,
)
from bot.render.i18n import number, percent
from bot.render.replies import Bullets, Heading, Paragraph, Reply, Table, bold, spans
from bot.sources.prices import PriceError, UnknownSymbolError
from handlers.registry import Context, UsageError

MAX_POSITIONS = 30
MAX_OUTSIDE = 5
"""Symbols outside the universe are fetched one by one: a few per command."""
_SYMBOL = re.compile(r"^[A-Z0-9^][A-Z0-9.^=-]{0,14}$")
_WEIGHT = re.compile(r"^\d+(?:[.,]\d+)?%?$")


@dataclass(frozen=True)
class Request:
    """A parsed ``/exposure`` argument list: one symbol, or weighted positions."""

    positions: tuple[Position, ...]
    single: bool


def _weight(token: str) -> float:
    if not _WEIGHT.match(token):
        raise UsageError("exposure.bad_weight", token=token[:30])
    value = float(token.rstrip("%").replace(",", "."))
    if not math.isfinite(value) or value <= 0:
        raise UsageError("exposure.bad_weight", token=token[:30])
    return value


def symbol_token(token: str) -> str:
    symbol = token.strip().removeprefix("$").upper()  # a cashtag ($NVDA) is the symbol
    if not _SYMBOL.match(symbol):
        raise UsageError("exposure.bad_token", token=token[:30])
    return symbol


def parse_request(args: tuple[str, ...]) -> Request:
    """``NVDA`` | ``NVDA:40 MSFT:30`` | ``NVDA 40 MSFT 30`` | ``NVDA MSFT`` (equal weights)."""
    if not args:
        raise UsageError("exposure.missing_args")
    raw: list[tuple[str, float | None]] = []
    for token in args:
        for sep in (":", "="):
            if sep in token:
                name, _, weight = token.partition(sep)
                raw.append((symbol_token(name), _weight(weight)))
                break
        else:
            if _WEIGHT.match(token) and raw and raw[-1][1] is None:
                raw[-1] = (raw[-1][0], _weight(token))
            elif _WEIGHT.match(token):
                raise UsageError("exposure.bad_token", token=token[:30])
            else:
                raw.append((symbol_token(token), None))
    if len(raw) > MAX_POSITIONS:
        raise UsageError("exposure.too_many", limit=MAX_POSITIONS, count=len(raw))
    weights = [w for _, w in raw]
    if len(raw) == 1 and weights[0] is None:
        return Request((Position(raw[0][0], 1.0),), single=True)
    if all(w is None for w in weights):
        return Request(normalise([Position(s, 1.0) for s, _ in raw]), single=False)
    missing = [s for s, w in raw if w is None]
    if missing:
        raise UsageError("exposure.bad_weight", token=missing[0])
    return Request(normalise([Position(s, w or 0.0) for s, w in raw]), single=False)


def _suggestions(ctx: Context, symbol: str) -> list[str]:
    universe = ctx.services.universe
    keys: dict[str, str] = {}
    for inst in universe.instruments.values():
        keys.setdefault(inst.symbol, inst.symbol)
        keys.setdefault(inst.symbol.split(".")[0], inst.symbol)
        for alias in inst.aliases:
            keys.setdefault(alias.upper(), inst.symbol)
    found: list[str] = []
    for key in difflib.get_close_matches(symbol, list(keys), n=8, cutoff=0.6):
        if keys[key] not in found:
            found.append(keys[key])
    return found[:3]


def unknown_symbol(ctx: Context, symbol: str) -> Reply:
    if ctx.services.universe.get(symbol) is not None:  # ours, but the source has no prices
        return Reply.text(ctx.t("exposure.no_prices", symbol=symbol))
    lines = [ctx.t("exposure.unknown", symbol=symbol)]
    suggestions = _suggestions(ctx, symbol)
    if suggestions:
        lines.append(ctx.t("exposure.did_you_mean", suggestions=", ".join(suggestions)))
    lines.append(ctx.t("exposure.symbol_hint"))
    return Reply.text(*lines)


async def _exposure_of(ctx: Context, symbol: str) -> tuple[RegionHistory, NameExposure]:
    return await ctx.services.market.exposure(symbol)


def _single(ctx: Context, hist: RegionHistory, exp: NameExposure) -> Reply:
    lang = ctx.language
    universe = ctx.services.universe
    inst = universe.get(exp.symbol)
    title = f"{exp.symbol} · {inst.name}" if inst else exp.symbol
    blocks: list[Paragraph | Heading | Bullets | Table] = [Heading(title)]
    blocks.append(Paragraph(spans(ctx.t("exposure.in_list" if inst else "exposure.not_in_list"))))
    if inst:
        items = []
        for key in inst.segments:
            seg = universe.segments[key]
            role = ctx.t(f"role.{seg.role.value}")
            items.append(spans(bold(seg.title(lang)), f" ({role}): {seg.role_text(lang)}"))
        blocks.append(Paragraph(spans(bold(ctx.t("exposure.segments")))))
        blocks.append(Bullets(tuple(items)))
    if exp.beta_basket is None:
        blocks.append(Paragraph(spans(ctx.t("exposure.no_stats"))))
    else:
        blocks.append(
            Paragraph(
                spans(
                    ctx.t(
                        "exposure.stats",
                        beta_b=number(lang, exp.beta_basket),
                        corr_b=number(lang, exp.corr_basket),
                        beta_m=number(lang, exp.beta_market),
                        corr_m=number(lang, exp.corr_market),
                    )
                )
            )
        )

    def pct(value: float | None) -> str:
        return "-" if value is None else percent(lang, value)

    if exp.deepseek is not None:
        d = exp.deepseek
        blocks.append(
            Paragraph(
                spans(
                    ctx.t(
                        "exposure.deepseek",
                        symbol=exp.symbol,
                        move=pct(d.ret),
                        basket=pct(d.basket),
                        market=pct(d.market),
                    )
                )
            )
        )
    else:
        blocks.append(Paragraph(spans(ctx.t("exposure.no_deepseek"))))
    if exp.divergence_days:
        days = ", ".join(
            f"{d.day.isoformat()} {pct(d.ret)} ({ctx.t(f'label.{d.label}')})"
            for d in exp.divergence_days
        )
        blocks.append(Paragraph(spans(ctx.t("exposure.divergence_days", days=days))))
    else:
        blocks.append(Paragraph(spans(ctx.t("exposure.no_divergence_days"))))
    if exp.latest is not None:
        d = exp.latest
        blocks.append(
            Paragraph(
                spans(
                    ctx.t(
                        "exposure.latest",
                        date=d.day.isoformat(),
                        symbol=exp.symbol,
                        move=pct(d.ret),
                        basket=pct(d.basket),
                        market=pct(d.market),
                    )
                )
            )
        )
    blocks.append(_reading(ctx, hist.region))
    blocks.append(Paragraph(spans(ctx.t("exposure.data_time", date=hist.last_session))))
    return Reply(tuple(blocks))


def _reading(ctx: Context, region: str) -> Paragraph:
    readings = ctx.services.store.latest_readings()
    scan_keys = [k for k in readings if k == region or k.startswith(f"{region}_")]
    name = ctx.t(f"region.{region}")
    if not scan_keys:
        return Paragraph(spans(ctx.t("exposure.no_reading", region=name)))
    latest = max((readings[k] for k in scan_keys), key=lambda r: str(r["as_of"]))
    return Paragraph(
        spans(
            ctx.t(
                "exposure.reading",
                region=name,
                label=ctx.t(f"label.{latest['label']}"),
                severity=ctx.t(f"severity.{latest['severity']}"),
                time=str(latest["as_of"])[:16],
            )
        )
    )


def _portfolio(ctx: Context, request: Request, names: dict[str, NameExposure], last: str) -> Reply:
    lang = ctx.language
    universe = ctx.services.universe
    result = portfolio_exposure(request.positions, names)
    segments: dict[str, float] = {}
    roles: dict[str, float] = {}
    outside = []
    for p in request.positions:
        inst = universe.get(p.symbol)
        if inst is None:
            outside.append(p.symbol)
            segments[ctx.t("role.outside")] = segments.get(ctx.t("role.outside"), 0) + p.weight
            roles[ctx.t("role.outside")] = roles.get(ctx.t("role.outside"), 0) + p.weight
            continue
        for key in inst.segments:
            seg = universe.segments[key]
            share = p.weight / len(inst.segments)
            segments[seg.title(lang)] = segments.get(seg.title(lang), 0) + share
            role = ctx.t(f"role.{seg.role.value}")
            roles[role] = roles.get(role, 0) + share

    def table(head: str, shares: dict[str, float]) -> Table:
        rows = sorted(shares.items(), key=lambda kv: -kv[1])
        return Table(
            (head, ctx.t("table.share")),
            tuple((k, percent(lang, v, 0).lstrip("+")) for k, v in rows),
        )

    blocks: list[Paragraph | Heading | Bullets | Table] = [
        Heading(ctx.t("portfolio.title", count=len(request.positions))),
        Paragraph(spans(bold(ctx.t("portfolio.by_segment")))),
        table(ctx.t("table.segment"), segments),
        Paragraph(spans(bold(ctx.t("portfolio.by_role")))),
        table(ctx.t("table.role"), roles),
        Paragraph(spans(ctx.t("portfolio.beta", beta=number(lang, result.beta_divergence)))),
    ]
    if result.deepseek_move is not None:
        line = ctx.t("portfolio.deepseek", move=percent(lang, result.deepseek_move))
        if result.deepseek_missing:
            line += " " + ctx.t(
                "portfolio.deepseek_missing", symbols=", ".join(result.deepseek_missing)
            )
        blocks.append(Paragraph(spans(line)))
    if result.drivers:
        drivers = ", ".join(f"{s} ({number(lang, v)})" for s, v in result.drivers)
        blocks.append(Paragraph(spans(ctx.t("portfolio.drivers", drivers=drivers))))
    if outside:
        blocks.append(Paragraph(spans(ctx.t("portfolio.outside", symbols=", ".join(outside)))))
    blocks.append(Paragraph(spans(ctx.t("exposure.data_time", date=last))))
    return Reply(tuple(blocks))


def saved_request(ctx: Context) -> Request | None:
    """The chat's saved portfolio (``/portfolio set``) as a request."""
    inv = ctx.invocation
    saved = ctx.services.store.portfolio(inv.platform, inv.chat_id)
    if not saved:
        return None
    return Request(tuple(Position(s, w) for s, w in saved), single=False)


async def exposure(ctx: Context) -> Reply:
    """``/exposure TICKER`` or ``/exposure NVDA:40 MSFT:30 CRM:30``; without arguments, the
    chat's saved portfolio."""
    request = saved_request(ctx) if not ctx.args else None
    reply, _ = await exposure_reply(ctx, request or parse_request(ctx.args))
    return reply


async def exposure_reply(ctx: Context, request: Request) -> tuple[Reply, bool]:
    """The answer to a parsed request (a saved portfolio's too), and whether every name was
    found and priced (else the reply says what was not)."""
    outside = [p.symbol for p in request.positions if ctx.services.universe.get(p.symbol) is None]
    if len(outside) > MAX_OUTSIDE:
        raise UsageError("exposure.too_many_outside", limit=MAX_OUTSIDE, count=len(outside))
    names: dict[str, NameExposure] = {}
    last = ""
    for position in request.positions:
        try:
            hist, exp = await _exposure_of(ctx, position.symbol)
        except UnknownSymbolError:
            return unknown_symbol(ctx, position.symbol), False
        except PriceError as exc:
            return Reply.text(ctx.t("error.prices_unavailable", reason=exc.message[:200])), False
        names[position.symbol] = exp
        last = max(last, hist.last_session.isoformat())
        if request.single:
            return _single(ctx, hist, exp), True
    return _portfolio(ctx, request, names, last), True
