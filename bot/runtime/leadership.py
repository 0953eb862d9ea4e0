"""One leader among the instances that share a PostgreSQL database.

Only the leader polls Telegram, connects the Discord gateway, runs the scans and sends from
the outbox; the others stand by and try to take over every :data:`CHECK_EVERY`.

The leader is whoever holds a session advisory lock, taken on its store connection: the lock
and every write of the leader travel on one database session. When the leader dies, its
connection closes and PostgreSQL frees the lock at once; a standby takes it at its next try.
When the leader is cut off (the network, a database restart), its writes fail with the same
lost connection, so a leader that lost its lock can no longer mark or claim a message; it
notices at its next heartbeat and steps down. A leader that hangs with its connection open (a
stopped process, a frozen machine) stops writing its heartbeat: after :data:`STALE_AFTER` a
standby ends the session that holds the lock (``pg_terminate_backend``) and takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.storage.engine import PostgresConnection, lock_key
from bot.storage.store import INSTANCE_SEEN_WITHIN as SEEN_WITHIN
from bot.storage.store import Instance, Store

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(seconds=2)
"""How often a standby tries the lock and every instance writes its heartbeat."""
STALE_AFTER = timedelta(seconds=30)
"""A leader whose heartbeat is this old is taken to hang; a standby ends its session."""
FORGET_AFTER = timedelta(days=1)
"""Rows of instances unseen this long are deleted by the next leader."""


class Leadership:
    """This process's part in the election, on its store's PostgreSQL connection."""

    def __init__(
        self,
        store: Store,
        owner: str,
        drill: str | None = None,
        clock: Callable[[], datetime] | None = None,
        started: datetime | None = None,
    ) -> None:
        """Args:
        store: the store on PostgreSQL; its connection holds the lock.
        owner: this process, as the others see it (host and pid).
        drill: the drill this process runs (its start and speed), ``None`` when live.
        clock: the time heartbeats are written and judged by (default: the database
            server's, so a machine whose clock is off never takes a live leader for hung).
        started: when this process started (default: now, by ``clock``).
        """
        pg = store.postgres
        if pg is None:
            raise ValueError("leader election needs the store on PostgreSQL")
        self.store = store
        self.pg: PostgresConnection = pg
        self.owner = owner
        self.drill = drill
        self.clock = clock or store.database_now
        self.key = lock_key(pg.namespace(), "leader")
        self.role = "standby"
        self.started = started or self.clock()
        self.drill_epoch: datetime | None = None
        """In a drill: when its drill clock started (a new leader's may continue an old one's)."""
        self._said_standby = False
        self.previous: Instance | None = None
        """The last leader's row when this process took the lock (``None``: the first
        leader): scans may have fallen due in between, stopped cleanly or not."""

    def _me(self, role: str, now: datetime) -> Instance:
        return Instance(
            self.owner,
            role,
            self.started,
            now,
            self.pg.backend_pid,
            self.drill,
            self.drill_epoch,
        )

    def try_lead(self) -> bool:
        """Take the lock if it is free; ``True``: this process leads from now on."""
        now = self.clock()
        (got,) = self.pg.execute("SELECT pg_try_advisory_lock(?)", (self.key,)).fetchone()
        if not got:
            self.store.note_instance(self._me("standby", now))
            leader = self.leader()
            if not self._said_standby:
                log.info(
                    "standing by: %s leads; trying to take over every %.0f s",
                    leader.owner if leader else "another instance",
                    CHECK_EVERY.total_seconds(),
                )
                self._said_standby = True
            self._unseat_hung(leader, now)
            return False
        previous = self.store.take_over(self._me("leader", now), now - FORGET_AFTER)
        self.role = "leader"
        self.previous = previous
        self.drill_epoch = self._drill_to_continue(previous)
        log.info(
            "leading: this instance (%s) now polls, scans and sends%s",
            self.owner,
            f"; it takes over from {previous.owner}"
            if previous and previous.role == "leader" and previous.owner != self.owner
            else "",
        )
        return True

    def _drill_to_continue(self, previous: Instance | None) -> datetime | None:
        """A drill continues on the last leader's clock when this process stood by while that
        leader ran the same drill; a drill started afresh starts its own clock."""
        if (
            self.drill is None
            or previous is None
            or previous.drill != self.drill
            or previous.drill_epoch is None
            or previous.heartbeat < self.started
        ):
            return None
        return previous.drill_epoch

    def note_drill_epoch(self, epoch: datetime) -> None:
        self.drill_epoch = epoch
        self.beat()

    def beat(self) -> None:
        """Write the heartbeat; raises when the connection (and with it the lock) is lost."""
        self.store.note_instance(self._me(self.role, self.clock()))

    def resign(self) -> None:
        """A clean stop: free the lock at once and say so."""
        self.store.note_instance(self._me("stopped", self.clock()))
        self.pg.execute("SELECT pg_advisory_unlock(?)", (self.key,))
        self.role = "stopped"

    def leader(self) -> Instance | None:
        """The row of the instance that says it leads (seen in the last few minutes)."""
        for instance in self.store.instances(self.clock() - SEEN_WITHIN * 10):
            if instance.role == "leader":
                return instance
        return None

    def _unseat_hung(self, leader: Instance | None, now: datetime) -> None:
        """End the session that holds the lock when no instance wrote a heartbeat from it for
        :data:`STALE_AFTER` (a hung leader, or a session the server keeps for a client that
        is gone), unless the session itself is younger than that (a leader just elected)."""
        holders = self.pg.execute(
            "SELECT l.pid, a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid::bigint = ? AND l.objid::bigint = ? AND l.objsubid = 1",
            ((self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF),
        ).fetchall()
        for pid, began in holders:
            if now - began < STALE_AFTER:
                continue
            rows = [i for i in self.store.instances() if i.backend_pid == pid]
            last = max((i.heartbeat for i in rows), default=None)
            if last is not None and now - last < STALE_AFTER:
                continue
            owner = rows[0].owner if rows else (leader.owner if leader else "an unknown process")
            log.warning(
                "the leader %s has not written its heartbeat since %s; ending its database "
                "session (pid %s) to take over",
                owner,
                f"{last:%H:%M:%S} UTC" if last else "its session began",
                pid,
            )
            self.pg.execute("SELECT pg_terminate_backend(?)", (pid,))

    def describe(self) -> dict[str, object]:
        """This instance's role and the others seen lately, for ``/readyz``."""
        try:
            seen = self.store.instances(self.clock() - SEEN_WITHIN)
        except Exception as exc:
            return {"role": self.role, "instances": f"unreadable: {exc}"}
        leader = next((i.owner for i in seen if i.role == "leader"), None)
        return {
            "role": self.role,
            "instance": self.owner,
            "leader": leader,
            "standby": [i.owner for i in seen if i.role == "standby"],
        }
