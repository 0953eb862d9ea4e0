"""Alert episodes: open, escalate, inhibit, cool down, recover.

An episode exists per (session, region group, direction). It opens on the first reading at watch
or above, notifies again only when the severity rises (so a divergence of equal or lower severity
stays silent while a broad sell-off is open in the same direction), and after enough calm readings
(below watch by a margin, for the cooldown) sends one "recovered" follow-up. A session and
direction get at most one open, its escalations and one recovery: after the recovery, only a move
beyond the episode's worst is told again, as an escalation. A divergence in a region while
another region has an open divergence in the same direction is raised one level: two markets
agree.

Pure logic: the caller passes the time and persists the episodes it gets back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from bot.alerts import Alert, AlertKind, Direction
from bot.detection.detect import Label, Reading, Reason, Severity


class EpisodeRules(BaseModel):
    """The ``[episodes]`` config section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recover_after_quiet: int = Field(default=2, ge=1, le=100)
    cooldown_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    agreement_hours: float = Field(default=18.0, ge=0, le=72)


@dataclass(frozen=True)
class Episode:
    """One shock as the bot follows it."""

    id: str
    group: str
    session: date
    direction: Direction
    label: Label
    severity: Severity
    opened_at: datetime
    updated_at: datetime
    regions: tuple[str, ...] = ()
    quiet_readings: int = 0
    quiet_since: datetime | None = None
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def alert_prefix(self) -> str:
        """Start of its alerts' keys: the episode and when it opened, so a shock that returns
        after "recovered" on the same session gets new keys (and a restart the same ones)."""
        return f"{self.id}@{self.opened_at:%H%M%S}"

    @property
    def family(self) -> str:
        return "broad" if self.label.is_broad else "divergence"


@dataclass(frozen=True)
class Outcome:
    """What one reading did: alerts to deliver, episodes to persist."""

    alerts: list[Alert] = field(default_factory=list)
    changed: list[Episode] = field(default_factory=list)


def direction_of(label: Label) -> Direction | None:
    if label in (Label.DIVERGENCE_DOWN, Label.BROAD_SELLOFF):
        return "down"
    if label in (Label.DIVERGENCE_UP, Label.BROAD_RALLY):
        return "up"
    return None


def _is_calm(reading: Reading) -> bool:
    """A reading that may speak for recovery: decided, and no divergence or broad move."""
    if reading.label is Label.NO_DECISION:
        return False
    return direction_of(reading.label) is None or reading.severity is Severity.NONE


def _calm_for(episode: Episode, reading: Reading) -> bool:
    """Hysteresis: below watch is not enough; the episode's own numbers must be below their
    watch levels by a margin (a market still at -2.6 sigma does not end a sell-off)."""
    return f"{episode.family}:{episode.direction}" in reading.calm_for


class EpisodeBook:
    """The open episodes and the rules that move them."""

    def __init__(
        self, rules: EpisodeRules, episodes: Iterable[Episode] = (), id_prefix: str = ""
    ) -> None:
        """Args:
        rules: the ``[episodes]`` settings.
        episodes: stored episodes (the open ones are taken up again).
        id_prefix: put before every new episode id (drills: ``drill:``).
        """
        self.rules = rules
        self.id_prefix = id_prefix
        self._episodes: dict[str, Episode] = {}
        self._closed: dict[str, Episode] = {}
        self.reload(episodes)

    def reload(self, episodes: Iterable[Episode]) -> None:
        """Forget what was not stored: take up the stored episodes again (the open ones, and
        the closed ones that keep a session's shock from opening twice)."""
        stored = list(episodes)
        self._episodes = {e.id: e for e in stored if e.is_open}
        self._closed = {e.id: e for e in stored if not e.is_open}

    @property
    def open_episodes(self) -> list[Episode]:
        return sorted(self._episodes.values(), key=lambda e: e.opened_at)

    def _agreeing(self, group: str, direction: Direction, family: str, now: datetime) -> list[str]:
        window = timedelta(hours=self.rules.agreement_hours)
        return sorted(
            {
                region
                for e in self._episodes.values()
                if e.group != group
                and e.direction == direction
                and e.family == family
                and now - e.opened_at <= window
                for region in e.regions
            }
        )

    def observe(
        self, reading: Reading, *, region: str, group: str, session: date, now: datetime
    ) -> Outcome:
        """Move the episodes of ``group`` by one reading taken at ``now``."""
        direction = direction_of(reading.label)
        if direction is not None and reading.severity >= Severity.WATCH:
            event = self._event(reading, direction, region, group, session, now)
            # A move the other way (a rally) may end the opposite episode (a sell-off).
            other = self._calm(reading, group, now, skip=direction)
            return Outcome(event.alerts + other.alerts, event.changed + other.changed)
        if _is_calm(reading):
            return self._calm(reading, group, now)
        return Outcome()

    def _event(
        self,
        reading: Reading,
        direction: Direction,
        region: str,
        group: str,
        session: date,
        now: datetime,
    ) -> Outcome:
        outcome = Outcome()
        family = "broad" if reading.label.is_broad else "divergence"
        agreeing = self._agreeing(group, direction, family, now)
        severity = reading.severity.raised() if agreeing else reading.severity
        episode_id = f"{self.id_prefix}{session.isoformat()}:{group}:{direction}"

        for old in list(self._episodes.values()):
            if old.group == group and old.direction == direction and old.id != episode_id:
                closed = replace(old, closed_at=now, updated_at=now)
                del self._episodes[old.id]
                self._closed[closed.id] = closed
                outcome.changed.append(closed)

        self._forget_closed_before(session)
        current = self._episodes.get(episode_id)
        recovered = self._closed.get(episode_id) if current is None else None
        if recovered is not None:
            # One open, its escalations and one recovery per session and direction: after the
            # recovery only a move beyond the episode's worst is told (as an escalation).
            if severity <= recovered.severity:
                return outcome
            del self._closed[episode_id]
            current = replace(recovered, closed_at=None)
        if current is None:
            kind = AlertKind.OPEN
            episode = Episode(
                id=episode_id,
                group=group,
                session=session,
                direction=direction,
                label=reading.label,
                severity=severity,
                opened_at=now,
                updated_at=now,
                regions=(region,),
            )
        elif severity > current.severity:
            kind = AlertKind.ESCALATE
            episode = replace(
                current,
                label=reading.label,
                severity=severity,
                updated_at=now,
                regions=tuple(dict.fromkeys((*current.regions, region))),
                quiet_readings=0,
                quiet_since=None,
            )
        else:
            if current.quiet_readings:
                current = replace(current, quiet_readings=0, quiet_since=None, updated_at=now)
                self._episodes[episode_id] = current
                outcome.changed.append(current)
            return outcome

        self._episodes[episode_id] = episode
        outcome.changed.append(episode)
        reasons = list(reading.reasons)
        if severity > reading.severity:
            reasons.append(
                Reason(
                    "raised",
                    f"raised one level: {', '.join(agreeing)} moved the same way "
                    f"({reading.severity} on its own)",
                    regions=",".join(agreeing),
                    alone=str(reading.severity),
                )
            )
        outcome.alerts.append(
            Alert(
                key=f"{episode.alert_prefix}:{kind.value}:{severity}",
                episode_id=episode_id,
                kind=kind,
                label=reading.label,
                severity=severity,
                region=region,
                direction=direction,
                fired_at=now,
                data_time=reading.as_of,
                stats=reading.stats,
                agreeing_regions=tuple(agreeing),
                reasons=tuple(reasons),
            )
        )
        return outcome

    def _forget_closed_before(self, session: date) -> None:
        """Closed episodes matter for their own session only (ids carry the session)."""
        for episode_id, episode in list(self._closed.items()):
            if episode.session < session - timedelta(days=1):
                del self._closed[episode_id]

    def _calm(
        self, reading: Reading, group: str, now: datetime, skip: Direction | None = None
    ) -> Outcome:
        """Count ``reading`` towards the recovery of the group's episodes (not those of the
        direction ``skip``)."""
        outcome = Outcome()
        cooldown = timedelta(minutes=self.rules.cooldown_minutes)
        for episode in [
            e for e in self._episodes.values() if e.group == group and e.direction != skip
        ]:
            if not _calm_for(episode, reading):
                if episode.quiet_readings:  # not calm enough: the count starts again
                    restarted = replace(episode, quiet_readings=0, quiet_since=None, updated_at=now)
                    self._episodes[episode.id] = restarted
                    outcome.changed.append(restarted)
                continue
            since = episode.quiet_since or now
            quiet = replace(
                episode,
                quiet_readings=episode.quiet_readings + 1,
                quiet_since=since,
                updated_at=now,
            )
            if quiet.quiet_readings >= self.rules.recover_after_quiet and now - since >= cooldown:
                closed = replace(quiet, closed_at=now)
                del self._episodes[episode.id]
                self._closed[closed.id] = closed
                outcome.changed.append(closed)
                outcome.alerts.append(
                    Alert(
                        key=f"{episode.alert_prefix}:{AlertKind.RECOVER.value}",
                        episode_id=episode.id,
                        kind=AlertKind.RECOVER,
                        label=episode.label,
                        severity=episode.severity,
                        region=reading.region,
                        direction=episode.direction,
                        fired_at=now,
                        data_time=reading.as_of,
                        stats=reading.stats,
                        reasons=(
                            f"calm for {quiet.quiet_readings} readings since "
                            f"{since:%Y-%m-%d %H:%M} UTC",
                        ),
                    )
                )
            else:
                self._episodes[episode.id] = quiet
                outcome.changed.append(quiet)
        return outcome
