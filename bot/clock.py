"""The bot's sense of time: the wall clock live, a scaled clock in drills, a stepped one in replays.

Everything that asks "what time is it" (scans, episodes, commands, the outbox) reads one
:class:`Clock`. The scheduler keeps running on the wall clock: a drill maps its triggers' times
between drill time and wall time (:meth:`Clock.to_wall`, :meth:`Clock.to_bot`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The time the bot lives in (UTC)."""

    @property
    def drill(self) -> bool:
        """``True`` when this is a rehearsal, not the market of today."""
        ...

    def now(self) -> datetime: ...

    def to_wall(self, at: datetime) -> datetime:
        """The wall-clock instant at which bot time ``at`` comes."""
        ...

    def to_bot(self, wall: datetime) -> datetime:
        """Bot time at wall-clock instant ``wall``."""
        ...


class WallClock:
    """Real time: the live bot."""

    drill = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    def to_wall(self, at: datetime) -> datetime:
        return at

    def to_bot(self, wall: datetime) -> datetime:
        return wall


class DrillClock:
    """Starts at ``start`` and runs ``speed`` times faster than the wall clock."""

    drill = True

    def __init__(self, start: datetime, speed: float = 1.0, wall_start: datetime | None = None):
        if start.tzinfo is None:
            raise ValueError("a drill starts at a UTC time")
        if not speed > 0:
            raise ValueError("the drill speed must be positive")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._wall_start = wall_start or datetime.now(UTC)
        self._mono_start = time.monotonic()

    def restart(self) -> None:
        """Start counting from ``start`` again now (once the process is ready to run)."""
        self._wall_start = datetime.now(UTC)
        self._mono_start = time.monotonic()

    def resume(self, wall_start: datetime) -> None:
        """Run on as a clock started at ``wall_start`` would (a drill another process began)."""
        self._wall_start = wall_start
        self._mono_start = time.monotonic() - (datetime.now(UTC) - wall_start).total_seconds()

    @property
    def wall_start(self) -> datetime:
        """The wall time at which the drill was at its start."""
        return self._wall_start

    def now(self) -> datetime:
        # The monotonic clock: a wall-clock step (NTP) does not move the drill.
        return self.start + timedelta(seconds=(time.monotonic() - self._mono_start) * self.speed)

    def to_wall(self, at: datetime) -> datetime:
        return self._wall_start + (at - self.start) / self.speed

    def to_bot(self, wall: datetime) -> datetime:
        return self.start + (wall - self._wall_start) * self.speed


class SteppedClock:
    """Replays and the demo: time moves only when the driver sets it."""

    def __init__(self, start: datetime, *, drill: bool = False) -> None:
        self._now = start
        self.drill = drill

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at

    def to_wall(self, at: datetime) -> datetime:
        return at

    def to_bot(self, wall: datetime) -> datetime:
        return wall
