"""Chat settings: language, subscription, minimum severity, segments, quiet hours."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.alerts import Alert, AlertKind
from bot.detection.detect import Severity
from bot.render.i18n import Language
from bot.universe import Universe

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SettingsError(ValueError):
    """A setting the user typed does not parse; ``key`` is a message-catalogue key."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class QuietHours:
    """A daily window (local time of ``timezone``) without alerts; may wrap past midnight."""

    start: time
    end: time
    timezone: str
    critical_breaks_through: bool = True

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone)).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"


def parse_clock(text: str) -> time:
    match = _CLOCK.match(text.strip())
    if not match:
        raise SettingsError("settings.bad_time", value=text[:20])
    return time(int(match.group(1)), int(match.group(2)))


def parse_timezone(text: str) -> str:
    try:
        ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError("settings.bad_timezone", value=text[:40]) from None
    return text.strip()


@dataclass(frozen=True)
class ChatSettings:
    """Everything the bot remembers about one chat on one platform."""

    platform: str
    chat_id: str
    language: Language | None = None
    subscribed: bool = False
    min_severity: Severity = Severity.ALERT
    segments: tuple[str, ...] = ()
    quiet: QuietHours | None = None
    disabled_reason: str | None = None
    mention_role: str | None = None
    muted_until: datetime | None = None
    """``/mute``: no alerts until then (critical ones break through as in quiet hours)."""
    thread_id: str | None = None
    """Alerts go to this forum topic of the chat (Telegram): where ``/subscribe`` was sent."""
    disabled_at: datetime | None = field(default=None, compare=False)
    """When delivery stopped (``disabled_reason``): read for ``/settings``, not by fan-outs."""

    def wants(self, alert: Alert, universe: Universe, now: datetime) -> bool:
        """Whether this chat should get ``alert`` now."""
        return self.accepts(Audience.of(alert, universe, now))

    def accepts(self, audience: Audience) -> bool:
        """Whether this chat is in an alert's audience (see :meth:`refusal`)."""
        return self.refusal(audience) is None

    def refusal(self, audience: Audience) -> str | None:
        """Why this chat is not in an alert's audience (``None``: it is): ``unsubscribed``
        (or disabled), ``below_severity``, ``segments``, ``muted`` or ``quiet_hours``.

        Segments filter price alerts by the names that moved (a news burst or a recovery has
        none to filter by); a recovery never breaks through quiet hours or a mute. Critical
        alerts break through a mute when they break through the chat's quiet hours (and do
        when it has none).
        """
        if not self.subscribed or self.disabled_reason:
            return "unsubscribed"
        if audience.severity < self.min_severity:
            return "below_severity"
        if (
            self.segments
            and audience.segments is not None
            and not set(audience.segments) & set(self.segments)
        ):
            return "segments"
        critical = audience.severity is Severity.CRITICAL and not audience.recovery
        if self.muted_until is not None and audience.at < self.muted_until:
            breaks = self.quiet.critical_breaks_through if self.quiet is not None else True
            return None if breaks and critical else "muted"
        if self.quiet is not None and self.quiet.contains(audience.at):
            breaks = (
                self.quiet.critical_breaks_through
                and audience.severity is Severity.CRITICAL
                and not audience.recovery
            )
            return None if breaks else "quiet_hours"
        return None


@dataclass(frozen=True)
class Audience:
    """What a chat's settings are matched against: the alert reduced to what
    :meth:`ChatSettings.accepts` reads, so that a stored fan-out can match chats later.

    Attributes:
        severity: the alert's severity.
        recovery: the alert says a shock is over.
        segments: the segments of the names that moved (``None``: the alert does not filter
            by segment: a news burst, a recovery).
        at: when the alert was raised (quiet hours are judged at that time).
    """

    severity: Severity
    recovery: bool
    segments: tuple[str, ...] | None
    at: datetime

    @classmethod
    def of(cls, alert: Alert, universe: Universe, now: datetime) -> Audience:
        recovery = alert.kind is AlertKind.RECOVER
        segments = None
        if not recovery and alert.stats is not None:
            segments = tuple(
                sorted(
                    {
                        seg
                        for mover in alert.top_movers
                        if (inst := universe.get(mover.symbol)) is not None
                        for seg in inst.segments
                    }
                )
            )
        return cls(alert.severity, recovery, segments, now)

    def to_json(self) -> str:
        return json.dumps(
            {
                "severity": str(self.severity),
                "recovery": self.recovery,
                "segments": None if self.segments is None else list(self.segments),
                "at": self.at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Audience:
        data = json.loads(text)
        segments = data["segments"]
        return cls(
            Severity.parse(data["severity"]),
            bool(data["recovery"]),
            None if segments is None else tuple(segments),
            datetime.fromisoformat(data["at"]),
        )
