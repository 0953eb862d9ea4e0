"""Health, readiness and metrics over HTTP, for whoever runs the bot (aiohttp).

- ``/healthz``: 200 while the event loop answers.
- ``/readyz``: 200 when every region's last scan is as fresh as its schedule allows, every
  enabled chat platform is connected, and no outbox message has waited longer than the bound;
  otherwise 503. The JSON body names each part and what is wrong with it.
- ``/metrics``: Prometheus text (``bot/metrics.py``, plus outbox depth and age read at scrape).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.config import HttpSettings
from bot.delivery.outbox import Outbox
from bot.detection.regions import ScanRegion, fire_times, sessions_around, window
from bot.metrics import REGISTRY
from bot.storage.engine import explain_database_error, is_database_error
from bot.storage.store import Store

log = logging.getLogger(__name__)

Connected = Callable[[], bool]


class _OutboxCollector(Collector):
    """Outbox depth and oldest age, read from the database at each scrape (none while the
    instance stands by)."""

    def __init__(self, server: OpsServer) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "bot_outbox_depth", "Messages waiting to be sent, by platform.", labels=["platform"]
        )
        age = GaugeMetricFamily(
            "bot_outbox_oldest_age_seconds",
            "How long the oldest due message has waited, by platform.",
            labels=["platform"],
        )
        inputs = self.server.inputs
        try:
            waiting = {} if inputs is None else Outbox(inputs.store).waiting(inputs.clock())
        except Exception as exc:
            if not is_database_error(exc):
                raise
            log.warning("metrics: outbox unreadable: %s", exc)
            waiting = {}
        for platform, (count, oldest) in sorted(waiting.items()):
            depth.add_metric([platform], count)
            age.add_metric([platform], oldest)
        yield depth
        yield age


@dataclass
class ReadinessInputs:
    """What readiness looks at; each part can be checked on its own."""

    store: Store
    regions: list[ScanRegion]
    interval: timedelta
    settle_delay: timedelta
    grace: timedelta
    clock: Callable[[], datetime]
    started: datetime
    platforms: Mapping[str, Connected]
    outbox_bound: timedelta


def _last_due(region: ScanRegion, inputs: ReadinessInputs, now: datetime) -> datetime | None:
    """The latest scan of ``region`` that should have run by ``now`` (with grace)."""
    latest = None
    for session in sessions_around(region, now, before=4, after=0):
        for at in fire_times(window(region, session), inputs.interval, inputs.settle_delay):
            if at + inputs.grace <= now and (latest is None or at > latest):
                latest = at
    return latest


def readiness(inputs: ReadinessInputs) -> dict[str, str]:
    """Each part's state: ``"ok"`` or why it is not ready."""
    now = inputs.clock()
    parts: dict[str, str] = {}
    statuses: dict[str, datetime] = {}
    for status in inputs.store.scan_status():
        if status.last_success is not None:
            seen = statuses.get(status.region)
            if seen is None or status.last_success > seen:
                statuses[status.region] = status.last_success
    for region in inputs.regions:
        due = _last_due(region, inputs, now)
        last = statuses.get(region.key)
        if due is None or due < inputs.started:
            parts[f"scan:{region.key}"] = "ok"
        elif last is None or last < due - inputs.interval:
            since = f"last success {last:%Y-%m-%d %H:%M} UTC" if last else "no success yet"
            parts[f"scan:{region.key}"] = f"scan due at {due:%Y-%m-%d %H:%M} UTC; {since}"
        else:
            parts[f"scan:{region.key}"] = "ok"
    for name, connected in inputs.platforms.items():
        parts[f"platform:{name}"] = "ok" if connected() else "not connected"
    try:
        waiting = Outbox(inputs.store).waiting(now)
    except Exception as exc:
        if not is_database_error(exc):
            raise
        parts["outbox"] = f"unreadable: {exc}"
    else:
        late = {p: age for p, (_, age) in waiting.items() if age > inputs.outbox_bound.seconds}
        parts["outbox"] = (
            "ok"
            if not late
            else "; ".join(f"{p}: oldest due message waits {age:.0f} s" for p, age in late.items())
        )
    return parts


class OpsServer:
    """The HTTP endpoints; a port that cannot be bound is logged, and the bot runs on."""

    def __init__(
        self,
        settings: HttpSettings,
        inputs: ReadinessInputs | None,
        role: Callable[[], dict[str, object]] | None = None,
    ) -> None:
        """Args:
        inputs: what readiness looks at; ``None`` while the instance stands by.
        role: this instance's role among instances that share a database (``None``: it is
            the only one).
        """
        self.settings = settings
        self.inputs = inputs
        self.role = role
        self.registry = CollectorRegistry()
        self.registry.register(_OutboxCollector(self))
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self.runner = web.AppRunner(app, access_log=None)

    async def start(self) -> bool:
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.listen, self.settings.port)
        try:
            await site.start()
        except OSError as exc:
            log.warning(
                "http: cannot listen on %s:%d (%s); no /healthz, /readyz or /metrics",
                self.settings.listen,
                self.settings.port,
                exc.strerror or exc,
            )
            return False
        log.info(
            "http: /healthz, /readyz and /metrics on http://%s:%d",
            self.settings.listen,
            self.settings.port,
        )
        return True

    async def stop(self) -> None:
        await self.runner.cleanup()

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    def serve(self, inputs: ReadinessInputs | None) -> None:
        """Readiness of a running bot from now on (``None``: it stands by)."""
        self.inputs = inputs

    async def _readyz(self, _: web.Request) -> web.Response:
        role = self.role() if self.role is not None else {"role": "single"}
        if self.inputs is None:
            # A standby sends nothing: it is not ready for traffic (a Telegram webhook).
            status = "connecting" if role.get("role") == "connecting" else "standby"
            return web.json_response({"status": status, **role}, status=503)
        try:
            parts = readiness(self.inputs)
        except Exception as exc:
            if not is_database_error(exc):
                raise
            where = self.inputs.store.path
            parts = {"database": explain_database_error(where, exc)}
        ready = all(state == "ok" for state in parts.values())
        body = {"status": "ready" if ready else "not ready", **role, "parts": parts}
        return web.json_response(body, status=200 if ready else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(REGISTRY) + generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
