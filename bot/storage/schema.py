"""The database's tables, for SQLite and for PostgreSQL, and how each version came to be.

SQLite files exist from version 1 on and are migrated step by step (``PRAGMA user_version``).
PostgreSQL support starts at version 6: a new PostgreSQL database is created at version 6 from
:data:`POSTGRES_V6` (SQLite's tables in PostgreSQL's types), and every later version is one
entry of :data:`MIGRATIONS` with the SQL of each engine, applied to both alike.
"""

from __future__ import annotations

from typing import Literal

SCHEMA_VERSION = 6
FIRST_POSTGRES_VERSION = 6

Engine = Literal["sqlite", "postgresql"]

INSTANCES = """
CREATE TABLE IF NOT EXISTS instances (
    owner TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat TEXT NOT NULL,
    backend_pid INTEGER,
    drill TEXT,
    drill_epoch TEXT
);
"""
"""Every process sharing a PostgreSQL database notes itself here (SQLite has the table too):
its role, a heartbeat, the database session holding the leader's lock and, in a drill, when
its drill clock started (a new leader continues the drill where the old one was)."""

_SQLITE_V6 = """
CREATE TABLE alerts_v6 (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    episode_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    body TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT 'live'
);
INSERT INTO alerts_v6 (seq, key, episode_id, kind, fired_at, body, scope)
    SELECT rowid, key, episode_id, kind, fired_at, body, scope FROM alerts ORDER BY rowid;
DROP TABLE alerts;
ALTER TABLE alerts_v6 RENAME TO alerts;
CREATE INDEX alerts_fired ON alerts (fired_at);
CREATE TABLE fanouts_v6 (
    seq INTEGER PRIMARY KEY,
    alert_key TEXT NOT NULL,
    platform TEXT NOT NULL,
    audience TEXT NOT NULL,
    heard_prefix TEXT,
    after_chat TEXT NOT NULL DEFAULT '',
    added INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'staging',
    created_at TEXT NOT NULL,
    done_at TEXT,
    UNIQUE (alert_key, platform)
);
INSERT INTO fanouts_v6 (seq, alert_key, platform, audience, heard_prefix, after_chat, added,
        status, created_at, done_at)
    SELECT rowid, alert_key, platform, audience, heard_prefix, after_chat, added, status,
        created_at, done_at FROM fanouts ORDER BY rowid;
DROP TABLE fanouts;
ALTER TABLE fanouts_v6 RENAME TO fanouts;
CREATE INDEX fanouts_open ON fanouts (platform, status, created_at);
"""
"""Rows keep their insertion order in a column of their own (``seq``), not in SQLite's hidden
rowid, which PostgreSQL does not have; the instances of a shared database note who leads."""

SQLITE_MIGRATIONS = {
    2: """
ALTER TABLE readings ADD COLUMN scope TEXT NOT NULL DEFAULT 'live';
ALTER TABLE episodes ADD COLUMN scope TEXT NOT NULL DEFAULT 'live';
ALTER TABLE alerts ADD COLUMN scope TEXT NOT NULL DEFAULT 'live';
CREATE TABLE scans_v2 (
    scope TEXT NOT NULL,
    region TEXT NOT NULL,
    source TEXT NOT NULL,
    last_attempt TEXT NOT NULL,
    last_success TEXT,
    last_error TEXT,
    PRIMARY KEY (scope, region, source)
);
INSERT INTO scans_v2 SELECT 'live', region, source, last_attempt, last_success, last_error
    FROM scans;
DROP TABLE scans;
ALTER TABLE scans_v2 RENAME TO scans;
DROP INDEX IF EXISTS readings_region_time;
CREATE INDEX readings_scope_region ON readings (scope, region, id);
""",
    # The delivery outbox joins the versioned schema (before, its module created it).
    3: """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    is_group INTEGER NOT NULL,
    alert_key TEXT NOT NULL,
    severity INTEGER NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    not_before TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_open ON outbox (platform, status, id);
CREATE INDEX IF NOT EXISTS outbox_alert ON outbox (platform, alert_key);
CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created_at);
CREATE INDEX IF NOT EXISTS alerts_fired ON alerts (fired_at);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires TEXT NOT NULL
);
""",
    # Staged fan-out: an alert's texts are stored once per language (not once per chat), and
    # the alert's fan-out plan is written with it; the sender expands plans into outbox rows
    # in short chunks (bot/delivery/fanout.py). A message is unique by (platform, chat, alert,
    # part), one index that also finds the chats an alert reached (the key is kept, unindexed).
    4: """
CREATE TABLE outbox_bodies (
    id INTEGER PRIMARY KEY,
    alert_key TEXT NOT NULL,
    platform TEXT NOT NULL,
    language TEXT NOT NULL,
    part INTEGER NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (alert_key, platform, language, part)
);
CREATE TABLE fanouts (
    alert_key TEXT NOT NULL,
    platform TEXT NOT NULL,
    audience TEXT NOT NULL,
    heard_prefix TEXT,
    after_chat TEXT NOT NULL DEFAULT '',
    added INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'staging',
    created_at TEXT NOT NULL,
    done_at TEXT,
    PRIMARY KEY (alert_key, platform)
);
CREATE INDEX fanouts_open ON fanouts (platform, status, created_at);
CREATE TABLE outbox_v4 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    is_group INTEGER NOT NULL,
    alert_key TEXT NOT NULL,
    part INTEGER NOT NULL,
    severity INTEGER NOT NULL,
    body_id INTEGER NOT NULL REFERENCES outbox_bodies (id),
    created_at TEXT NOT NULL,
    not_before TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    sent_at TEXT
);
INSERT INTO outbox_bodies (id, alert_key, platform, language, part, text, created_at)
    SELECT id, alert_key, platform, 'row ' || id, 0, text, created_at FROM outbox;
CREATE UNIQUE INDEX outbox_message ON outbox_v4 (platform, chat_id, alert_key, part);
-- The part is what follows the key's last "|" (rtrim strips every other character from the
-- right). A message held twice for one chat (version 3 moved a migrated group's rows without
-- their keys) is kept once, the older row.
INSERT OR IGNORE INTO outbox_v4 (id, key, platform, chat_id, is_group, alert_key, part,
        severity, body_id, created_at, not_before, attempts, status, last_error, sent_at)
    SELECT id, key, platform, chat_id, is_group, alert_key,
        CAST(substr(key, length(rtrim(key, replace(key, '|', ''))) + 1) AS INTEGER),
        severity, id, created_at, not_before, attempts, status, last_error, sent_at
    FROM outbox ORDER BY id;
DROP TABLE outbox;
ALTER TABLE outbox_v4 RENAME TO outbox;
CREATE INDEX outbox_open ON outbox (platform, status, id);
CREATE INDEX outbox_created ON outbox (created_at);
CREATE INDEX outbox_bodies_created ON outbox_bodies (created_at);
""",
    # Charts: an alert's PNG per language, stored once and sent as a photo part of its
    # messages; readings found by time for a session's path.
    5: """
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    png BLOB NOT NULL,
    created_at TEXT NOT NULL
);
ALTER TABLE outbox_bodies ADD COLUMN image_id INTEGER REFERENCES images (id);
ALTER TABLE outbox_bodies ADD COLUMN buttons TEXT;
ALTER TABLE outbox_bodies ADD COLUMN edit_of TEXT;
ALTER TABLE outbox ADD COLUMN message_id TEXT;
CREATE INDEX readings_scope_region_time ON readings (scope, region, data_time);
CREATE TABLE portfolios (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    positions TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);
ALTER TABLE chats ADD COLUMN muted_until TEXT;
ALTER TABLE chats ADD COLUMN thread_id TEXT;
CREATE TABLE digests (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    at TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    last_day TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);
""",
    6: _SQLITE_V6 + INSTANCES,
}


SQLITE_V1 = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    region TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    data_time TEXT NOT NULL,
    label TEXT NOT NULL,
    severity TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS readings_region_time ON readings (region, taken_at);
CREATE TABLE IF NOT EXISTS episodes (
    id TEXT PRIMARY KEY,
    grp TEXT NOT NULL,
    session TEXT NOT NULL,
    direction TEXT NOT NULL,
    label TEXT NOT NULL,
    severity TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    regions TEXT NOT NULL,
    quiet_readings INTEGER NOT NULL,
    quiet_since TEXT,
    closed_at TEXT
);
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY,
    episode_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chats (
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    language TEXT,
    subscribed INTEGER NOT NULL DEFAULT 0,
    min_severity TEXT NOT NULL DEFAULT 'alert',
    segments TEXT NOT NULL DEFAULT '[]',
    quiet TEXT,
    disabled_reason TEXT,
    mention_role TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);
CREATE TABLE IF NOT EXISTS headlines (
    id INTEGER PRIMARY KEY,
    feed TEXT NOT NULL,
    title TEXT NOT NULL,
    link TEXT,
    published TEXT,
    seen_at TEXT NOT NULL,
    symbols TEXT NOT NULL,
    themes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS headlines_seen ON headlines (seen_at);
CREATE TABLE IF NOT EXISTS news_keys (
    key TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feeds (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scans (
    region TEXT NOT NULL,
    source TEXT NOT NULL,
    last_attempt TEXT NOT NULL,
    last_success TEXT,
    last_error TEXT,
    PRIMARY KEY (region, source)
);
"""


_T = 'TEXT COLLATE "C"'
"""Keys and ISO times compare byte by byte, as in SQLite, whatever the database's collation:
prefix ranges (``alert_key >= 'x' AND alert_key < 'x\U0010ffff'``) and paging rely on it."""

POSTGRES_V6 = f"""
CREATE TABLE readings (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    region {_T} NOT NULL,
    taken_at {_T} NOT NULL,
    data_time {_T} NOT NULL,
    label {_T} NOT NULL,
    severity {_T} NOT NULL,
    body TEXT NOT NULL,
    scope {_T} NOT NULL DEFAULT 'live'
);
CREATE INDEX readings_scope_region ON readings (scope, region, id);
CREATE INDEX readings_scope_region_time ON readings (scope, region, data_time);
CREATE TABLE episodes (
    id {_T} PRIMARY KEY,
    grp {_T} NOT NULL,
    session {_T} NOT NULL,
    direction {_T} NOT NULL,
    label {_T} NOT NULL,
    severity {_T} NOT NULL,
    opened_at {_T} NOT NULL,
    updated_at {_T} NOT NULL,
    regions TEXT NOT NULL,
    quiet_readings INTEGER NOT NULL,
    quiet_since {_T},
    closed_at {_T},
    scope {_T} NOT NULL DEFAULT 'live'
);
CREATE TABLE alerts (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    key {_T} NOT NULL UNIQUE,
    episode_id {_T} NOT NULL,
    kind {_T} NOT NULL,
    fired_at {_T} NOT NULL,
    body TEXT NOT NULL,
    scope {_T} NOT NULL DEFAULT 'live'
);
CREATE INDEX alerts_fired ON alerts (fired_at);
CREATE TABLE chats (
    platform {_T} NOT NULL,
    chat_id {_T} NOT NULL,
    language {_T},
    subscribed INTEGER NOT NULL DEFAULT 0,
    min_severity {_T} NOT NULL DEFAULT 'alert',
    segments TEXT NOT NULL DEFAULT '[]',
    quiet TEXT,
    disabled_reason TEXT,
    mention_role {_T},
    updated_at {_T} NOT NULL,
    muted_until {_T},
    thread_id {_T},
    PRIMARY KEY (platform, chat_id)
);
CREATE TABLE headlines (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    feed {_T} NOT NULL,
    title TEXT NOT NULL,
    link TEXT,
    published {_T},
    seen_at {_T} NOT NULL,
    symbols TEXT NOT NULL,
    themes TEXT NOT NULL
);
CREATE INDEX headlines_seen ON headlines (seen_at);
CREATE TABLE news_keys (
    key {_T} PRIMARY KEY,
    seen_at {_T} NOT NULL
);
CREATE TABLE feeds (
    name {_T} PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE scans (
    scope {_T} NOT NULL,
    region {_T} NOT NULL,
    source {_T} NOT NULL,
    last_attempt {_T} NOT NULL,
    last_success {_T},
    last_error TEXT,
    PRIMARY KEY (scope, region, source)
);
CREATE TABLE leases (
    name {_T} PRIMARY KEY,
    owner {_T} NOT NULL,
    expires {_T} NOT NULL
);
CREATE TABLE images (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    key {_T} NOT NULL UNIQUE,
    png BYTEA NOT NULL,
    created_at {_T} NOT NULL
);
CREATE TABLE outbox_bodies (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    alert_key {_T} NOT NULL,
    platform {_T} NOT NULL,
    language {_T} NOT NULL,
    part INTEGER NOT NULL,
    text TEXT NOT NULL,
    created_at {_T} NOT NULL,
    image_id BIGINT,
    buttons TEXT,
    edit_of {_T},
    UNIQUE (alert_key, platform, language, part)
);
CREATE INDEX outbox_bodies_created ON outbox_bodies (created_at);
CREATE TABLE fanouts (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    alert_key {_T} NOT NULL,
    platform {_T} NOT NULL,
    audience TEXT NOT NULL,
    heard_prefix {_T},
    after_chat {_T} NOT NULL DEFAULT '',
    added INTEGER NOT NULL DEFAULT 0,
    status {_T} NOT NULL DEFAULT 'staging',
    created_at {_T} NOT NULL,
    done_at {_T},
    UNIQUE (alert_key, platform)
);
CREATE INDEX fanouts_open ON fanouts (platform, status, created_at);
CREATE TABLE outbox (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    key {_T} NOT NULL,
    platform {_T} NOT NULL,
    chat_id {_T} NOT NULL,
    is_group INTEGER NOT NULL,
    alert_key {_T} NOT NULL,
    part INTEGER NOT NULL,
    severity INTEGER NOT NULL,
    body_id BIGINT NOT NULL,
    created_at {_T} NOT NULL,
    not_before {_T} NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status {_T} NOT NULL DEFAULT 'pending',
    last_error TEXT,
    sent_at {_T},
    message_id {_T}
);
CREATE UNIQUE INDEX outbox_message ON outbox (platform, chat_id, alert_key, part);
CREATE INDEX outbox_open ON outbox (platform, status, id);
CREATE INDEX outbox_created ON outbox (created_at);
CREATE TABLE portfolios (
    platform {_T} NOT NULL,
    chat_id {_T} NOT NULL,
    positions TEXT NOT NULL,
    updated_at {_T} NOT NULL,
    PRIMARY KEY (platform, chat_id)
);
CREATE TABLE digests (
    platform {_T} NOT NULL,
    chat_id {_T} NOT NULL,
    at {_T},
    timezone {_T} NOT NULL DEFAULT 'UTC',
    last_day {_T},
    updated_at {_T} NOT NULL,
    PRIMARY KEY (platform, chat_id)
);
{INSTANCES}"""
"""Version 6 on PostgreSQL: SQLite's tables with PostgreSQL's types (identity columns,
BYTEA). SQLite never enforced the ``REFERENCES`` of versions 4 and 5, and the pruning
relies on that: they are left out here too."""

MIGRATIONS: dict[int, dict[Engine, str]] = {}
"""Versions after 6: the SQL of each version, per engine."""
