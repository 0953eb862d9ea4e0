"""Alerts as neutral replies in a chat's language: the same model as command answers, drawn by
the same Telegram, Discord and console renderers (``bot/render/chat.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.alerts import Alert, AlertKind, Headline
from bot.detection.detect import Reason
from bot.detection.portfolio import PortfolioMove
from bot.render.i18n import Language, number, percent, share, signed, translate
from bot.render.replies import Block, Bullets, Heading, Paragraph, Reply, Span


@dataclass(frozen=True)
class _AlertParts:
    headline: str
    lines: tuple[str, ...]
    why: str = ""
    news: tuple[Headline, ...] = ()


def alert_reply(alert: Alert, language: Language = "en") -> Reply:
    """What fired, the numbers behind it, the data time and the news that explains it, in
    ``language``: a heading (a drill's says so first), one paragraph per fact, and the news as
    linked bullets. ``severity`` is the alert's, or ``"recover"``."""
    parts = _alert_text(alert, language)
    headline = parts.headline
    if alert.drill:
        headline = f"{translate(language, 'alert.drill')} {headline}"
    blocks: list[Block] = [Heading(headline)]
    blocks += [Paragraph((Span(line),)) for line in parts.lines]
    if parts.news:
        blocks.append(Paragraph((Span(parts.why, italic=True),)))
        blocks.append(
            Bullets(
                tuple(
                    (Span(item.title, link=item.link or None), Span(f" ({item.feed})"))
                    for item in parts.news
                )
            )
        )
    severity = "recover" if alert.kind is AlertKind.RECOVER else str(alert.severity)
    return Reply(tuple(blocks), severity)


def _alert_text(alert: Alert, language: Language) -> _AlertParts:
    def t(key: str, **values: object) -> str:
        return translate(language, key, **values)

    title = t(f"label.{alert.label.value}")
    region = t(f"region.{alert.region}")
    data_time = t("alert.data_time", time=f"{alert.data_time:%Y-%m-%d %H:%M}")
    if alert.burst is not None:
        b = alert.burst
        headline = t(
            "alert.burst_headline",
            severity=t(f"severity.{alert.severity}").upper(),
            title=title,
            theme=b.name(language),
        )
        line = t(
            "alert.burst_line",
            count=b.count,
            sources=len(b.sources),
            names=", ".join(b.sources),
            minutes=b.window_minutes,
            usual=number(language, b.usual_per_window, 1),
        )
        time = t("alert.data_time", time=f"{alert.fired_at:%Y-%m-%d %H:%M}")
        return _AlertParts(headline, (line, time), t("alert.news"), alert.headlines)
    if alert.kind is AlertKind.RECOVER:
        calm = t("alert.calm", since=f"{alert.fired_at:%Y-%m-%d %H:%M}")
        return _AlertParts(t("alert.recovered", title=title, region=region), (calm, data_time))
    headline = t(
        "alert.headline",
        severity=t(f"severity.{alert.severity}").upper(),
        title=title,
        region=region,
        kind=t(f"alert.kind.{alert.kind.value}"),
    )
    lines: list[str] = []
    s = alert.stats
    if s is not None:
        moves = t(
            "alert.moves",
            basket=percent(language, s.basket_ret),
            market=percent(language, s.control_ret),
        )
        if s.software_ret is not None:
            moves += t("alert.software", software=percent(language, s.software_ret))
        lines.append(moves)
        lines.append(
            t(
                "alert.detail",
                z=number(language, s.z_div, 1),
                beta=number(language, s.beta),
                zm=number(language, s.z_mkt, 1),
                breadth=percent(language, s.breadth, 0).lstrip("+"),
            )
        )
        if s.top_movers:
            movers = ", ".join(f"{m.symbol} {percent(language, m.ret)}" for m in s.top_movers)
            lines.append(t("alert.movers", movers=movers))
        lines.append(t("alert.basis", names=s.basket_names))
    # A plain reason is English text: German chats get the structured ones only.
    lines.extend(
        reason_text(language, r) for r in alert.reasons if language == "en" or isinstance(r, Reason)
    )
    if alert.agreeing_regions:
        regions = ", ".join(t(f"region.{r}") for r in alert.agreeing_regions)
        lines.append(t("alert.agree", regions=regions))
    if alert.portfolio is not None:
        lines.append(portfolio_line(language, alert.portfolio))
    lines.append(data_time)
    why = t("alert.why") if alert.headlines else ""
    return _AlertParts(headline, tuple(lines), why, alert.headlines)


def status_line(alert: Alert, language: Language) -> str:
    """What an escalation or recovery adds to its episode's first message: "Escalated to
    critical at 15:30 UTC", "Recovered at 16:05 UTC"."""
    at = f"{alert.fired_at:%H:%M} UTC"
    if alert.kind is AlertKind.RECOVER:
        return translate(language, "story.recovered", time=at)
    severity = translate(language, f"severity.{alert.severity}")
    return translate(language, "story.escalated", severity=severity, time=at)


def portfolio_line(language: Language, move: PortfolioMove) -> str:
    """ "Your portfolio: -6.8% est., 72% in the AI chain" (and how much of it had prices)."""
    line = translate(
        language,
        "alert.portfolio",
        move=percent(language, move.estimate),
        chain=share(language, move.chain),
    )
    if move.priced < 0.995:
        line += " " + translate(
            language, "alert.portfolio_priced", priced=share(language, move.priced)
        )
    return line


def reason_text(language: Language, reason: str) -> str:
    """One line of an alert's "why" in ``language``: a structured reason from its kind and
    numbers; a plain one (English text) as it is."""
    if not isinstance(reason, Reason):
        return reason
    values: dict[str, str] = {}
    for key, value in reason.values.items():
        values[key] = _reason_value(language, reason.kind, key, value)
    return translate(language, f"reason.{reason.kind}", **values)


def _reason_value(language: Language, kind: str, key: str, value: float | str) -> str:
    if isinstance(value, str):
        if key in ("severity", "level", "together", "alone"):
            return translate(language, f"severity.{value}")
        if key == "regions" and language != "en":
            return ", ".join(translate(language, f"region.{r}") for r in value.split(","))
        return value.replace(",", ", ") if key == "regions" else value
    if key in ("ret", "residual") or (key == "basket" and kind == "raw_floor"):
        return percent(language, value, 1)
    if key in ("basket", "market"):
        return percent(language, value, 2)
    if key in ("breadth", "moving"):
        return share(language, value)
    if key in ("z", "z_sw"):
        return signed(language, value, 1)
    if key == "beta":
        return number(language, value, 2)
    text = f"{value:g}"
    return text.replace(".", ",") if language == "de" else text
