"""``run`` on PostgreSQL: stand by until this instance leads, then run the bot.

One process loops through three states: connecting to the database, standing by (trying the
leader's lock every few seconds, with ``/healthz`` up and ``/readyz`` saying ``standby``), and
leading (the whole :class:`~bot.runtime.app.App`). A leader that loses its connection steps
down: the app stops, and the process connects again and stands by. A drill ends every
instance when it reaches its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from bot.config import LoadedConfig
from bot.runtime.app import App, Drill
from bot.runtime.leadership import CHECK_EVERY, Leadership
from bot.runtime.ops import OpsServer
from bot.storage.engine import is_database_error
from bot.storage.store import Scope, Store, StoreError

log = logging.getLogger(__name__)

RECONNECT_AFTER = (1.0, 2.0, 5.0, 10.0)
"""Seconds between tries to reach the database, the last one repeated."""


def drill_key(drill: Drill | None) -> str | None:
    """Which drill a process runs: instances running the same one share its clock."""
    if drill is None:
        return None
    return f"{drill.start.isoformat()} x{drill.speed:g}"


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep unless ``stop`` is set first; ``True`` when it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _connect(
    location: str, scope: Scope, stop: asyncio.Event, *, first: bool
) -> Store | None:
    """The store, once the database answers (``None``: stopped while waiting). ``first``: the
    process has not reached the database yet, and a lasting refusal (a wrong password, role
    or database) ends it instead of waiting."""
    failures = 0
    while not stop.is_set():
        try:
            return Store(location, scope=scope)
        except StoreError as exc:
            if first and exc.lasting:
                raise
            delay = RECONNECT_AFTER[min(failures, len(RECONNECT_AFTER) - 1)]
            if failures == 0 or (delay == RECONNECT_AFTER[-1] and failures % 30 == 0):
                log.error("%s; trying again every %.0f s", exc, delay)
            failures += 1
            if await _wait(stop, delay):
                return None
    return None


async def _keep_leading(
    leadership: Leadership, stop: asyncio.Event, app_stop: asyncio.Event
) -> None:
    """Write the leader's heartbeat; stop the app when the process stops or the lock is lost."""
    try:
        while not await _wait(stop, CHECK_EVERY.total_seconds()):
            try:
                leadership.beat()
            except Exception as exc:
                if not is_database_error(exc):
                    raise
                log.error(
                    "lost the database connection, and with it the leader's lock (%s); "
                    "stepping down",
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                )
                leadership.role = "standby"
                return
    finally:
        app_stop.set()


async def _lead_or_wait(leadership: Leadership, stop: asyncio.Event) -> bool:
    """Stand by until the lock is ours (``True``) or the process stops (``False``)."""
    while not stop.is_set():
        if leadership.try_lead():
            return True
        await _wait(stop, CHECK_EVERY.total_seconds())
    return False


async def _lead(
    loaded: LoadedConfig,
    drill: Drill | None,
    store: Store,
    ops: OpsServer | None,
    leadership: Leadership,
    stop: asyncio.Event,
) -> None:
    """Run the bot until the process stops, a drill ends, or the leader's lock is lost."""
    app_stop = asyncio.Event()
    keeper = asyncio.create_task(_keep_leading(leadership, stop, app_stop))
    app = App(loaded, drill=drill, store=store, ops=ops, leadership=leadership)
    try:
        await app.run(app_stop)
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper


def _drill_ended_under(leadership: Leadership, drill: Drill | None) -> bool:
    """The last leader ran this drill to its end and stopped cleanly: nothing is left to do
    (its messages went out before it let go)."""
    previous, epoch = leadership.previous, leadership.drill_epoch
    if drill is None or drill.until is None or epoch is None or previous is None:
        return False
    if previous.role != "stopped":
        return False
    at = drill.start + (datetime.now(UTC) - epoch) * drill.speed
    if at < drill.until:
        return False
    log.info(
        "the drill reached its end under %s, which stopped cleanly; nothing is left to run",
        previous.owner,
    )
    return True


async def run_elected(loaded: LoadedConfig, drill: Drill | None, stop: asyncio.Event) -> None:
    """Run as one of the instances sharing ``[storage] url`` until ``stop`` (a drill: its
    end)."""
    settings = loaded.settings
    location = str(settings.storage.location)
    scope: Scope = "drill" if drill is not None else "live"
    # Containers may share a host name and all be pid 1: a few random letters tell them apart.
    owner = f"{socket.gethostname()} pid {os.getpid()} ({uuid.uuid4().hex[:6]})"
    started: datetime | None = None
    leadership: Leadership | None = None
    connected = False

    def role() -> dict[str, object]:
        if leadership is None:
            return {"role": "connecting", "instance": owner}
        return leadership.describe()

    ops = OpsServer(settings.http, None, role) if settings.http.enabled else None
    if ops is not None:
        await ops.start()
    try:
        while not stop.is_set():
            store = await _connect(location, scope, stop, first=not connected)
            if store is None:
                break
            finished = False
            try:
                connected = True
                leadership = Leadership(store, owner, drill_key(drill), started=started)
                started = leadership.started  # by the database's clock, kept across reconnects
                if not await _lead_or_wait(leadership, stop):
                    break
                if _drill_ended_under(leadership, drill):
                    finished = True
                else:
                    await _lead(loaded, drill, store, ops, leadership, stop)
                    # The app ends by itself only when a drill reached its end.
                    finished = leadership.role == "leader"
            except Exception as exc:
                if not is_database_error(exc):
                    raise
                log.error("database: %s; connecting again", str(exc).strip()[:300])
            finally:
                if leadership is not None and leadership.role == "leader":
                    with contextlib.suppress(Exception):
                        leadership.resign()
                store.close()
                leadership = None  # /readyz: connecting again, not a standby
            if finished:
                break
            await _wait(stop, timedelta(seconds=1).total_seconds())
    finally:
        if ops is not None:
            await ops.stop()
