"""Alerts as text. Platform adapters take these lines and apply their own markup and escaping."""

from __future__ import annotations

from dataclasses import dataclass

from bot.alerts import Alert, AlertKind
from bot.detect import Label

LABEL_TITLES = {
    Label.DIVERGENCE_DOWN: "AI-infrastructure sell-off while the market holds",
    Label.DIVERGENCE_UP: "AI-infrastructure rally ahead of the market",
    Label.BROAD_SELLOFF: "Broad market sell-off",
    Label.BROAD_RALLY: "Broad market rally",
    Label.SINGLE_STOCK: "Single-stock move",
    Label.QUIET: "Quiet",
    Label.NO_DECISION: "No decision",
}

REGION_NAMES = {
    "jp": "Tokyo",
    "eu": "Europe",
    "us_pre": "US pre-market",
    "us": "US session",
}

KIND_WORDS = {
    AlertKind.OPEN: "new",
    AlertKind.ESCALATE: "escalated",
    AlertKind.RECOVER: "recovered",
}


@dataclass(frozen=True)
class AlertText:
    """An alert broken into parts an adapter can style: a headline and body lines."""

    headline: str
    lines: tuple[str, ...]


def region_name(key: str) -> str:
    return REGION_NAMES.get(key, key)


def alert_text(alert: Alert) -> AlertText:
    """The neutral text of an alert: what fired, the numbers behind it, the data time."""
    title = LABEL_TITLES[alert.label]
    where = region_name(alert.region)
    if alert.kind is AlertKind.RECOVER:
        headline = f"RECOVERED: {title} ({where})"
        closing = (*alert.reasons, f"Data as of {alert.data_time:%Y-%m-%d %H:%M} UTC")
        return AlertText(headline, closing)
    severity = str(alert.severity).upper()
    headline = f"{severity}: {title} ({where}, {KIND_WORDS[alert.kind]})"
    lines: list[str] = []
    s = alert.stats
    if s is not None:
        moves = f"AI infrastructure {s.basket_ret:+.1%} | market {s.control_ret:+.1%}"
        if s.software_ret is not None:
            moves += f" | AI software {s.software_ret:+.1%}"
        lines.append(moves)
        detail = (
            f"z {s.z_div:+.1f} beyond beta {s.beta:.2f}, market z {s.z_mkt:+.1f}, "
            f"breadth {s.breadth:.0%}"
        )
        lines.append(detail)
        if s.top_movers:
            lines.append(
                "Top movers: " + ", ".join(f"{m.symbol} {m.ret:+.1%}" for m in s.top_movers)
            )
    lines.extend(alert.reasons)
    if alert.agreeing_regions:
        lines.append("Same move in: " + ", ".join(region_name(r) for r in alert.agreeing_regions))
    lines.append(f"Data as of {alert.data_time:%Y-%m-%d %H:%M} UTC")
    return AlertText(headline, tuple(lines))
