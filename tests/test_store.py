"""The SQLite store: alert idempotency across restarts, round-trips, scan status, bad files."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.alerts import Alert, AlertKind
from bot.delivery.outbox import NewMessage
from bot.detection.detect import Label, Reading, Severity
from bot.episodes import Episode
from bot.storage.schema import SCHEMA_VERSION
from bot.storage.store import ScanStatus, Store, StoreError
from tests.conftest import PRICES, PROJECT_ROOT
from tests.factories import sample_stats

T0 = datetime(2025, 1, 27, 14, 30, tzinfo=UTC)
TOKYO = timezone(timedelta(hours=9))
STATS = sample_stats()


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def make_alert(key: str, fired_at: datetime, kind: AlertKind = AlertKind.OPEN) -> Alert:
    return Alert(
        key=key,
        episode_id="2025-01-27:us:down",
        kind=kind,
        label=Label.DIVERGENCE_DOWN,
        severity=Severity.CRITICAL,
        region="us",
        direction="down",
        fired_at=fired_at,
        data_time=fired_at - timedelta(minutes=5),
        stats=STATS,
        agreeing_regions=("jp",),
        reasons=("AI infrastructure -17.34% vs market -1.23%",),
    )


def make_reading(region: str, at: datetime, label: Label = Label.QUIET) -> Reading:
    severity = Severity.NONE if label is Label.QUIET else Severity.ALERT
    return Reading(region, at, label, severity, 0.93, STATS, False, (f"{region} at {at:%H:%M}",))


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    """The store on SQLite, then on PostgreSQL (tests/postgres.py)."""
    s = Store(database)
    yield s
    s.close()


# --- alerts ---------------------------------------------------------------------------------


def test_record_alert_is_true_once_per_key(store: Store) -> None:
    alert = make_alert("2025-01-27:us:down:open:critical", T0)

    assert store.record_alert(alert) is True
    assert store.record_alert(alert) is False
    assert store.record_alert(make_alert(alert.key, minutes(5))) is False
    assert store.alerts() == [alert.as_dict()]


def test_a_restart_never_repeats_an_alert(database: str) -> None:
    path = database
    alert = make_alert("2025-01-27:us:down:open:critical", T0)
    first = Store(path)
    assert first.record_alert(alert) is True
    first.close()

    second = Store(path)
    try:
        assert second.record_alert(alert) is False
        assert second.record_alert(make_alert("2025-01-27:us:down:recover", minutes(90))) is True
        assert [a["key"] for a in second.alerts()] == [
            "2025-01-27:us:down:open:critical",
            "2025-01-27:us:down:recover",
        ]
    finally:
        second.close()


def test_alerts_come_back_in_firing_order_and_since_filters(store: Store) -> None:
    late = make_alert("c", minutes(120), AlertKind.RECOVER)
    early = make_alert("a", T0)
    middle = make_alert("b", minutes(60), AlertKind.ESCALATE)
    for alert in (late, early, middle):
        assert store.record_alert(alert)

    assert store.alerts() == [early.as_dict(), middle.as_dict(), late.as_dict()]
    assert store.alerts(since=minutes(60)) == [middle.as_dict(), late.as_dict()]
    assert store.alerts(since=minutes(61)) == [late.as_dict()]
    assert store.alerts(since=minutes(121)) == []
    # the same instant given in another time zone filters the same way
    assert store.alerts(since=minutes(60).astimezone(TOKYO)) == [middle.as_dict(), late.as_dict()]


def test_stored_alerts_keep_their_json(store: Store) -> None:
    alert = make_alert("k", T0)
    store.record_alert(alert)

    [body] = store.alerts()

    assert body["time"] == "2025-01-27T14:30:00+00:00"
    assert body["data_time"] == "2025-01-27T14:25:00+00:00"
    assert body["kind"] == "open"
    assert body["severity"] == "critical"
    assert body["agreeing_regions"] == ["jp"]
    assert body["top_movers"] == [
        {"symbol": "NVDA", "ret": -0.169, "z": -9.1},
        {"symbol": "TSM", "ret": -0.132, "z": -7.2},
    ]


# --- episodes -------------------------------------------------------------------------------


OPEN_EPISODE = Episode(
    id="2025-01-27:us:down",
    group="us",
    session=date(2025, 1, 27),
    direction="down",
    label=Label.BROAD_SELLOFF,
    severity=Severity.CRITICAL,
    opened_at=T0,
    updated_at=minutes(45),
    regions=("us_pre", "us"),
    quiet_readings=2,
    quiet_since=minutes(30),
    closed_at=None,
)
CLOSED_EPISODE = Episode(
    id="2025-01-27:asia:up",
    group="asia",
    session=date(2025, 1, 27),
    direction="up",
    label=Label.DIVERGENCE_UP,
    severity=Severity.WATCH,
    opened_at=T0 - timedelta(hours=6),
    updated_at=T0 - timedelta(hours=2),
    regions=("jp",),
    quiet_readings=3,
    quiet_since=T0 - timedelta(hours=3),
    closed_at=T0 - timedelta(hours=2),
)


def test_episodes_round_trip_every_field(database: str) -> None:
    path = database
    first = Store(path)
    first.save_episodes([OPEN_EPISODE, CLOSED_EPISODE])
    first.close()

    second = Store(path)
    try:
        assert second.episodes() == [OPEN_EPISODE]
        assert second.episodes(open_only=False) == [CLOSED_EPISODE, OPEN_EPISODE]
        [loaded] = second.episodes()
    finally:
        second.close()
    assert loaded.session == date(2025, 1, 27)
    assert loaded.regions == ("us_pre", "us")
    assert loaded.label is Label.BROAD_SELLOFF
    assert loaded.severity is Severity.CRITICAL
    for moment in (loaded.opened_at, loaded.updated_at, loaded.quiet_since):
        assert moment is not None
        assert moment.utcoffset() == timedelta(0)
    assert loaded.opened_at == T0
    assert loaded.quiet_since == minutes(30)
    assert loaded.closed_at is None


def test_episodes_in_another_time_zone_come_back_as_the_same_instant(store: Store) -> None:
    tokyo = Episode(
        id="2025-01-28:asia:down",
        group="asia",
        session=date(2025, 1, 28),
        direction="down",
        label=Label.DIVERGENCE_DOWN,
        severity=Severity.ALERT,
        opened_at=datetime(2025, 1, 28, 10, 0, tzinfo=TOKYO),
        updated_at=datetime(2025, 1, 28, 11, 0, tzinfo=TOKYO),
    )
    store.save_episodes([tokyo])

    [loaded] = store.episodes()

    assert loaded == tokyo
    assert loaded.opened_at == datetime(2025, 1, 28, 1, 0, tzinfo=UTC)
    assert loaded.opened_at.utcoffset() == timedelta(0)
    assert loaded.regions == ()
    assert loaded.quiet_since is None


def test_saving_an_episode_again_replaces_it(store: Store) -> None:
    store.save_episodes([OPEN_EPISODE])
    closed = replace(OPEN_EPISODE, closed_at=minutes(90))

    store.save_episodes([closed])

    assert store.episodes() == []
    assert store.episodes(open_only=False) == [closed]


# --- readings -------------------------------------------------------------------------------


def test_latest_readings_gives_the_newest_per_region(store: Store) -> None:
    jp_old = make_reading("jp", T0 - timedelta(hours=6))
    us_old = make_reading("us", T0)
    jp_new = make_reading("jp", T0 - timedelta(hours=5), Label.DIVERGENCE_DOWN)
    us_new = make_reading("us", minutes(60), Label.BROAD_SELLOFF)
    for r in (jp_old, us_old, jp_new, us_new):
        store.save_reading(r, taken_at=r.as_of + timedelta(minutes=1))

    latest = store.latest_readings()

    assert latest == {"jp": jp_new.as_dict(), "us": us_new.as_dict()}
    assert latest["us"]["label"] == "broad_selloff"
    assert latest["us"]["as_of"] == "2025-01-27T15:30:00+00:00"


def test_latest_readings_is_empty_without_readings(store: Store) -> None:
    assert store.latest_readings() == {}


# --- scans ----------------------------------------------------------------------------------


def test_record_scan_keeps_the_last_success_and_clears_the_error(store: Store) -> None:
    store.record_scan("jp", "yahoo", T0, error="timeout")
    assert store.scan_status() == [ScanStatus("jp", "yahoo", T0, None, "timeout")]

    store.record_scan("jp", "yahoo", minutes(10))
    assert store.scan_status() == [ScanStatus("jp", "yahoo", minutes(10), minutes(10), None)]

    store.record_scan("jp", "yahoo", minutes(20), error="HTTP 503")
    assert store.scan_status() == [ScanStatus("jp", "yahoo", minutes(20), minutes(10), "HTTP 503")]

    store.record_scan("jp", "yahoo", minutes(30))
    store.record_scan("eu", "yahoo", minutes(31), error="no data")
    assert store.scan_status() == [
        ScanStatus("eu", "yahoo", minutes(31), None, "no data"),
        ScanStatus("jp", "yahoo", minutes(30), minutes(30), None),
    ]


# --- files the store cannot use ---------------------------------------------------------------


def test_a_newer_schema_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()

    with pytest.raises(StoreError, match=re.escape(str(path))) as info:
        Store(path)

    assert f"schema {SCHEMA_VERSION + 1}" in str(info.value)


def test_the_current_schema_reopens(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    Store(path).close()
    Store(path).close()

    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        db.close()


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "bot.sqlite3"
    Store(path).close()
    assert path.is_file()


def test_a_parent_that_cannot_be_created_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a regular file")

    with pytest.raises(StoreError, match="cannot create"):
        Store(blocker / "sub" / "bot.sqlite3")


def test_a_path_under_a_regular_file_given_as_text_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a regular file")

    with pytest.raises(StoreError, match="cannot create"):
        Store(str(blocker / "bot.sqlite3"))


def test_a_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(bytes(range(256)) * 16)

    with pytest.raises(StoreError, match=re.escape(str(path))):
        Store(path)


def test_a_version_1_database_is_upgraded_and_its_rows_stay_live(tmp_path: Path) -> None:
    from bot.storage.schema import SQLITE_V1 as SCHEMA_V1  # the tables as version 1 wrote them

    path = tmp_path / "bot.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_V1)
    db.execute(
        "INSERT INTO scans VALUES ('us', 'yahoo', '2025-01-27T15:30:00+00:00', "
        "'2025-01-27T15:30:00+00:00', NULL)"
    )
    db.execute(
        "INSERT INTO alerts VALUES ('2025-01-27:us:down@153000:open:critical', "
        "'2025-01-27:us:down', 'open', '2025-01-27T15:30:00+00:00', '{}')"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()

    live = Store(path)
    drill = Store(path, scope="drill")

    assert [s.region for s in live.scan_status()] == ["us"]
    assert live.record_alert(make_alert("new", T0)) is True
    assert len(live.alerts()) == 2
    assert drill.scan_status() == []
    assert drill.alerts() == []
    drill.record_scan("us", "recorded", datetime(2025, 1, 27, 15, 30, tzinfo=UTC))
    assert [s.source for s in live.scan_status()] == ["yahoo"]
    assert live.connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    live.close()
    drill.close()


OUTBOX_BEFORE_V4 = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, platform TEXT NOT NULL,
    chat_id TEXT NOT NULL, is_group INTEGER NOT NULL, alert_key TEXT NOT NULL,
    severity INTEGER NOT NULL, text TEXT NOT NULL, created_at TEXT NOT NULL,
    not_before TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending', last_error TEXT, sent_at TEXT
);
"""


@pytest.mark.parametrize("version", [2, 3])
def test_an_outbox_of_an_older_schema_is_kept_with_its_texts(tmp_path: Path, version: int) -> None:
    """Version 2 had the outbox outside the versioned schema; version 3 kept one text per row
    (version 4 keeps an alert's texts once, in outbox_bodies)."""
    from bot.delivery.outbox import Outbox
    from bot.storage.schema import SQLITE_MIGRATIONS as _MIGRATIONS
    from bot.storage.schema import SQLITE_V1 as _SCHEMA

    path = tmp_path / "bot.sqlite3"
    db = sqlite3.connect(path)
    steps = "".join(_MIGRATIONS[v] for v in range(2, version + 1))
    db.executescript(f"{_SCHEMA}{steps}{OUTBOX_BEFORE_V4}PRAGMA user_version = {version};")
    db.executemany(
        "INSERT INTO outbox (key, platform, chat_id, is_group, alert_key, severity, text, "
        "created_at, not_before, status) VALUES (?, 'telegram', ?, 0, ?, 3, ?, ?, ?, ?)",
        [
            ("k|telegram|1|0", "1", "k", "hi <b>1</b>", T0.isoformat(), T0.isoformat(), "pending"),
            ("k|telegram|2|0", "2", "k", "hi <b>2</b>", T0.isoformat(), T0.isoformat(), "sent"),
        ],
    )
    db.commit()
    db.close()

    again = Store(path)
    outbox = Outbox(again)
    (row,) = outbox.open_messages("telegram")
    assert (row.key, row.chat_id, outbox.text(row.body_id)) == (
        "k|telegram|1|0",
        "1",
        "hi <b>1</b>",
    )
    assert outbox.counts("telegram") == {"pending": 1, "sent": 1}
    indexes = {r[1] for r in again.connection.execute("PRAGMA index_list(outbox)")}
    assert {"outbox_open", "outbox_message", "outbox_created"} <= indexes
    assert again.connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert (
        outbox.enqueue([NewMessage("k2|telegram|1|0", "telegram", "1", False, "k2", 3, "new")], T0)
        == 1
    )
    assert [m.id for m in outbox.open_messages("telegram")][-1] > row.id  # ids go on
    again.close()


def test_a_version_3_outbox_with_a_moved_group_migrates(tmp_path: Path) -> None:
    """Version 3 moved a migrated group's rows to the new id but kept the old id in their
    keys, and may hold one alert for both ids: the part comes from the key's end, and a
    message held twice for one chat is kept once."""
    from bot.delivery.outbox import Outbox
    from bot.storage.schema import SQLITE_MIGRATIONS as _MIGRATIONS
    from bot.storage.schema import SQLITE_V1 as _SCHEMA

    path = tmp_path / "bot.sqlite3"
    db = sqlite3.connect(path)
    steps = "".join(_MIGRATIONS[v] for v in (2, 3))
    db.executescript(f"{_SCHEMA}{steps}{OUTBOX_BEFORE_V4}PRAGMA user_version = 3;")
    at = T0.isoformat()
    db.executemany(
        "INSERT INTO outbox (key, platform, chat_id, is_group, alert_key, severity, text, "
        "created_at, not_before, status) VALUES (?, 'telegram', ?, 1, 'a1', 3, ?, ?, ?, ?)",
        [
            ("a1|telegram|-100|0", "-1001", "part 0", at, at, "pending"),  # moved
            ("a1|telegram|-100|1", "-1001", "part 1", at, at, "pending"),  # moved
            ("a1|telegram|-1001|0", "-1001", "part 0 again", at, at, "pending"),
        ],
    )
    db.commit()
    db.close()

    again = Store(path)
    outbox = Outbox(again)
    rows = outbox.open_messages("telegram")
    assert [(r.chat_id, outbox.text(r.body_id)) for r in rows] == [
        ("-1001", "part 0"),
        ("-1001", "part 1"),
    ]
    again.close()


def test_prune_deletes_old_history_and_keeps_what_matters(store: Store) -> None:
    from bot.delivery.outbox import NewMessage, Outbox

    outbox = Outbox(store)
    old, new = T0 - timedelta(days=40), T0
    for key, at in (("old", old), ("new", new), ("queued", old)):
        outbox.enqueue([NewMessage(f"{key}|telegram|1|0", "telegram", "1", False, key, 3, key)], at)
    for row in outbox.open_messages("telegram"):
        if row.alert_key != "queued":
            outbox.mark_sent(row.id, row.created_at)
    store.save_reading(make_reading("us", old), old)
    store.save_reading(make_reading("us", new), new)
    store.record_alert(make_alert("old-alert", old))

    deleted = store.prune(T0 - timedelta(days=30))

    assert deleted["outbox"] == 1
    assert deleted["readings"] == 1
    keys = {k for (k,) in store.connection.execute("SELECT alert_key FROM outbox")}
    assert keys == {"new", "queued"}  # a message not yet sent is never pruned
    texts = {t for (t,) in store.connection.execute("SELECT text FROM outbox_bodies")}
    assert texts == {"new", "queued"}  # the old text went with its message
    assert [a["key"] for a in store.alerts()] == ["old-alert"]  # alerts are the memory


def _replay_with_db(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "bot", "replay", "--prices", str(PRICES / "daily_close")),
            *("--from", "2025-01-27", "--to", "2025-01-28", "--db", str(db)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT_ROOT,
    )


def _damaged_database(tmp_path: Path) -> Path:
    """A bot database whose header survives and whose pages do not."""
    path = tmp_path / "bot.sqlite3"
    Store(path).close()
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.seek(4096)
        fh.write(bytes(range(256)) * ((size - 4096) // 256 + 1))
    return path


def test_a_damaged_database_is_one_clear_line(tmp_path: Path) -> None:
    path = _damaged_database(tmp_path)

    done = _replay_with_db(path)

    assert done.returncode == 2
    assert f"error: the database at {path} is damaged: " in done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_another_process_writes_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process mid-write, for longer than we wait
    try:
        done = _replay_with_db(path)
    finally:
        holder.close()

    assert done.returncode == 2
    assert f"error: another process holds {path} (database is locked)" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_on_a_damaged_database_is_one_clear_line(tmp_path: Path) -> None:
    path = _damaged_database(tmp_path)
    env = {**os.environ, "BOT__STORAGE__PATH": str(path), "BOT__NEWS__ENABLED": "false"}

    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=env,
    )

    assert done.returncode == 2
    assert f"error: the database at {path} is damaged: " in done.stderr
    assert "Traceback" not in done.stderr
