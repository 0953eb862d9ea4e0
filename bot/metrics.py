"""Prometheus metrics of the bot (``prometheus_client``), served on ``/metrics``.

Counters and histograms live in one process-wide registry and are updated where things happen
(scans, alerts, sends, commands, feeds). Labels are regions, labels, severities, platforms,
outcomes, command and feed names: never chat ids, user ids or secrets.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

READINGS = Counter(
    "bot_readings",
    "Detector readings by region, label and severity.",
    ["region", "label", "severity"],
    registry=REGISTRY,
)
SCAN_SECONDS = Histogram(
    "bot_scan_duration_seconds",
    "Wall time of one price scan (fetch, snapshot, detect, alert), by region and source.",
    ["region", "source"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
SCAN_FAILURES = Counter(
    "bot_scan_failures",
    "Scans that decided nothing because prices were unavailable, by region and source.",
    ["region", "source"],
    registry=REGISTRY,
)
DATA_AGE = Gauge(
    "bot_scan_data_age_seconds",
    "Age of the newest price the last reading rested on, by region and source.",
    ["region", "source"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "bot_alerts",
    "Alerts raised (open, escalate, recover, news burst), by kind and severity.",
    ["kind", "severity"],
    registry=REGISTRY,
)
SUPPRESSED = Counter(
    "bot_alerts_suppressed",
    "Alerts not sent: raised before (duplicate), or kept from a chat by its settings "
    "(below_severity, segments, quiet_hours, muted), by reason.",
    ["reason"],
    registry=REGISTRY,
)
MESSAGES = Counter(
    "bot_messages",
    "Chat messages by platform and outcome: sent, retried (to be sent again) or failed.",
    ["platform", "outcome"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "bot_rate_limited",
    "Sends the platform refused with a flood limit (HTTP 429), by platform.",
    ["platform"],
    registry=REGISTRY,
)
COMMAND_SECONDS = Histogram(
    "bot_command_duration_seconds",
    "Time to answer a chat command, by command.",
    ["command"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
FEED_FAILURES = Counter(
    "bot_feed_fetch_failures",
    "News feed fetches that failed, by feed name.",
    ["feed"],
    registry=REGISTRY,
)
