"""Leader election on a real PostgreSQL (tests/postgres.py): one of two instances leads, the
other takes over when the leader's session ends or its heartbeat stops; ``/status`` and the
configuration of ``[storage] url``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from bot.clock import SteppedClock
from bot.config import ConfigError, load_config
from bot.detection.regions import scan_regions
from bot.runtime.leadership import STALE_AFTER, Leadership
from bot.storage.engine import is_database_error
from bot.storage.store import Store, StoreError
from bot.universe import load_universe
from jobs.scheduler import JobHealth, ScheduledJob, build_scheduler, catch_up_missed_scans
from tests.conftest import CHAT_NOW
from tests.factories import Clock, command_services
from tests.processes import run_bot
from tests.test_commands import call, say

LEASE = timedelta(seconds=30)


def leads_soon(leadership: Leadership) -> bool:
    """Try the lock until it is taken: a closed or ended session frees its locks when its
    server process exits, a moment after the client let go (a standby tries every 2 s)."""
    deadline = time.monotonic() + 10
    while not leadership.try_lead():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def stores(postgres_url: str) -> Iterator[Callable[[], Store]]:
    """Opens instances' stores on one database; whatever a test leaves open is closed."""
    opened: list[Store] = []

    def open_one() -> Store:
        opened.append(Store(postgres_url))
        return opened[-1]

    yield open_one
    for store in opened:
        if store.postgres is not None and not store.postgres.closed:
            store.close()


@pytest.fixture
def pair(stores: Callable[[], Store]) -> tuple[Store, Store]:
    """Two instances' stores on one database."""
    return stores(), stores()


def test_one_instance_leads_and_the_other_takes_over_when_its_session_ends(
    pair: tuple[Store, Store],
) -> None:
    a, b = pair
    first, second = Leadership(a, "host-a pid 1"), Leadership(b, "host-b pid 2")

    assert first.try_lead() is True
    assert second.try_lead() is False
    assert second.try_lead() is False  # trying again changes nothing
    assert first.describe() == {
        "role": "leader",
        "instance": "host-a pid 1",
        "leader": "host-a pid 1",
        "standby": ["host-b pid 2"],
    }
    assert second.describe()["role"] == "standby"

    a.close()  # the leader's process dies: PostgreSQL frees its lock with its session

    assert leads_soon(second)
    roles = {i.owner: i.role for i in b.instances()}
    assert roles == {"host-a pid 1": "gone", "host-b pid 2": "leader"}


def test_a_leader_that_resigns_frees_the_lock_at_once(pair: tuple[Store, Store]) -> None:
    a, b = pair
    first, second = Leadership(a, "a"), Leadership(b, "b")
    assert first.try_lead()
    first.resign()
    assert second.try_lead()  # an unlock is immediate
    assert {i.owner: i.role for i in b.instances()} == {"a": "stopped", "b": "leader"}


def test_a_hung_leader_is_unseated_and_can_no_longer_write(pair: tuple[Store, Store]) -> None:
    a, b = pair
    now = datetime.now(UTC)
    first = Leadership(a, "hung", clock=lambda: now)
    later = now + STALE_AFTER + timedelta(seconds=1)
    second = Leadership(b, "standby", clock=lambda: later)
    assert first.try_lead()

    # Its heartbeat is older than STALE_AFTER: the standby ends the session holding the lock.
    assert second.try_lead() is False
    with pytest.raises(psycopg.OperationalError) as lost:
        first.beat()
    assert is_database_error(lost.value)
    assert leads_soon(second)


def test_a_leader_that_writes_its_heartbeat_is_left_alone(pair: tuple[Store, Store]) -> None:
    a, b = pair
    now = datetime.now(UTC)
    first = Leadership(a, "alive", clock=lambda: now)
    soon = now + STALE_AFTER - timedelta(seconds=1)
    second = Leadership(b, "standby", clock=lambda: soon)
    assert first.try_lead()
    assert second.try_lead() is False
    first.beat()  # its session is intact
    assert second.try_lead() is False


def test_the_new_leader_takes_the_old_leaders_sender_lease_at_once(
    pair: tuple[Store, Store],
) -> None:
    a, b = pair
    first, second = Leadership(a, "old"), Leadership(b, "new")
    now = datetime.now(UTC)
    assert first.try_lead()
    assert a.take_lease("sender:telegram", "old", now, LEASE) is None
    assert b.take_lease("sender:telegram", "new", now, LEASE) == "old"
    a.close()

    assert leads_soon(second)

    assert b.take_lease("sender:telegram", "new", now, LEASE) is None  # no 30 s wait


def test_a_drill_continues_on_the_old_leaders_clock_for_an_instance_that_stood_by(
    stores: Callable[[], Store],
) -> None:
    drill = "2025-01-27T14:00:00+00:00 x120"
    a, b = stores(), stores()
    first, second = Leadership(a, "a", drill), Leadership(b, "b", drill)
    assert first.try_lead()
    epoch = datetime.now(UTC) - timedelta(seconds=5)
    first.note_drill_epoch(epoch)
    a.close()
    assert leads_soon(second)
    assert second.drill_epoch == epoch
    second.note_drill_epoch(epoch)  # as the app does when its drill clock starts
    b.close()

    # A process started after that drill ran starts its own drill, as does another drill.
    c = stores()
    late = Leadership(c, "c", drill)
    assert leads_soon(late)
    assert late.drill_epoch is None
    c.close()
    d, e = stores(), stores()
    other = Leadership(e, "e", "2025-01-27T16:00:00+00:00 x120")
    leader = Leadership(d, "d", drill)
    assert leads_soon(leader)
    leader.note_drill_epoch(epoch)
    d.close()
    assert leads_soon(other)
    assert other.drill_epoch is None


def test_leadership_needs_postgresql() -> None:
    store = Store(":memory:")
    with pytest.raises(ValueError, match="PostgreSQL"):
        Leadership(store, "x")
    store.close()


async def test_status_names_the_leader_and_warns_without_a_standby(
    pair: tuple[Store, Store],
) -> None:
    a, b = pair
    services = command_services(a, Clock(CHAT_NOW))
    first = Leadership(a, "host-a pid 1")
    assert first.try_lead()

    alone = await say(services, call("status"))
    assert "host-a pid 1 leads; no standby seen in the last 30 s" in alone

    Leadership(b, "host-b pid 2").try_lead()
    both = await say(services, call("status"))
    assert "host-a pid 1 leads; standing by: host-b pid 2." in both


async def test_status_on_sqlite_says_nothing_of_instances(store: Store) -> None:
    text = await say(command_services(store, Clock(CHAT_NOW)), call("status"))
    assert "Instances" not in text


def test_an_unreachable_database_is_one_line_without_its_password() -> None:
    with pytest.raises(StoreError) as info:
        Store("postgresql://bot:hunter2secret@127.0.0.1:1/bot")
    message = str(info.value)
    assert message.startswith("cannot reach the PostgreSQL database postgresql://bot:***@")
    assert "hunter2secret" not in message


def test_a_password_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[storage]\nurl = "postgresql://bot:hunter2@db:5432/bot"\n')
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    assert any(
        "storage.url: secrets are read only from the environment" in p for p in info.value.problems
    )

    config.write_text('[storage]\nurl = "postgresql://bot@db:5432/bot"\n')
    assert load_config(config, env={}).settings.storage.location == "postgresql://bot@db:5432/bot"
    env = {"BOT__STORAGE__URL": "postgresql://bot:hunter2@db:5432/bot"}
    assert load_config(config, env=env).settings.storage.url == env["BOT__STORAGE__URL"]


def test_a_storage_url_of_another_scheme_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[storage]\nurl = "mysql://bot@db/bot"\n')
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    assert any(
        "storage.url: 'mysql://bot@db/bot' is not a postgresql:// or postgres://" in p
        for p in info.value.problems
    )


def test_check_config_says_whether_the_shared_database_answers(postgres_url: str) -> None:

    def check(url: str) -> str:
        env = {**os.environ, "BOT__STORAGE__URL": url, "PGPASSWORD": "hunter2secret"}
        done = run_bot("check-config", env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "storage: PostgreSQL postgresql://postgres@" in check(postgres_url)
    assert "shared by instances (one leads); it answers (schema bot_test_" in check(postgres_url)
    missing = check(postgres_url + "_missing")
    assert "no schema of its search_path (bot_test_" in missing
    assert "exists yet: run creates the first at its start" in missing
    down = check("postgresql://bot:hunter2secret@127.0.0.1:1/bot")
    assert "storage: PostgreSQL postgresql://bot:***@127.0.0.1:1/bot, shared by instances; " in down
    assert "not reachable now: connection failed" in down
    assert "hunter2secret" not in down


def test_the_schema_the_url_names_is_created_at_the_first_start(postgres_url: str) -> None:
    import psycopg

    from tests.postgres import server_url, with_schema

    schema = postgres_url.rsplit("%3D", 1)[1] + "_new"
    store = Store(with_schema(server_url(), schema))
    try:
        store.record_scan("us", "yahoo", datetime(2025, 1, 27, 14, 35, tzinfo=UTC))
        assert [s.region for s in store.scan_status()] == ["us"]
    finally:
        store.close()
        with psycopg.connect(server_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_a_scan_missed_between_two_leaders_runs_at_once(store: Store) -> None:
    async def scan() -> None:
        return None

    (us,) = scan_regions(load_universe(), ["us"])
    every, settle = timedelta(minutes=5), timedelta(minutes=20)
    scheduler = build_scheduler(
        [ScheduledJob(us, scan)], every, settle, timedelta(minutes=2), JobHealth()
    )
    # 14:36:30 UTC on DeepSeek Monday: the 14:35 scan fell due while no process scanned.
    clock = SteppedClock(datetime(2025, 1, 27, 14, 36, 30, tzinfo=UTC))
    store.record_scan("us", "recorded", datetime(2025, 1, 27, 14, 30, 1, tzinfo=UTC))
    assert catch_up_missed_scans(scheduler, store, [us], every, settle, clock) == ["us"]
    job = scheduler.get_job("scan-us")
    assert job is not None
    assert job.next_run_time <= datetime.now(UTC)

    # Once some process tried the 14:35 scan, or when the due scan is long past, none runs.
    store.record_scan("us", "recorded", datetime(2025, 1, 27, 14, 35, 2, tzinfo=UTC))
    assert catch_up_missed_scans(scheduler, store, [us], every, settle, clock) == []
    late = SteppedClock(datetime(2025, 1, 27, 23, 0, tzinfo=UTC))  # after the settled scan
    assert catch_up_missed_scans(scheduler, store, [us], every, settle, late) == []


def test_copy_db_moves_a_sqlite_bot_to_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """``python -m bot copy-db``: chats, alerts and the outbox arrive; new rows number on."""
    import subprocess

    from bot.delivery.outbox import NewMessage, Outbox
    from bot.storage.subscriptions import ChatSettings
    from tests.test_store import make_alert

    sqlite = tmp_path / "bot.sqlite3"
    old = Store(sqlite)
    now = datetime.now(UTC)
    old.save_chat(ChatSettings("telegram", "42", subscribed=True), now)
    old.save_portfolio("telegram", "42", [("NVDA", 1.0)], now)
    assert old.record_alert(make_alert("2025-01-27:us:down:open:critical", now))
    Outbox(old).enqueue(
        [NewMessage("a|telegram|42|0", "telegram", "42", False, "a", 2, "hello")], now
    )
    old.save_image("chart-a-en", b"\x89PNG fake", now)
    old.close()

    def copy(source: str, target: str) -> subprocess.CompletedProcess[str]:
        return run_bot("copy-db", "--from", source, "--to", target)

    done = copy(str(sqlite), postgres_url)
    assert done.returncode == 0, done.stderr
    assert "chats: 1 rows" in done.stdout
    assert "outbox: 1 rows" in done.stdout

    new = Store(postgres_url)
    try:
        assert new.chat("telegram", "42").subscribed
        assert new.portfolio("telegram", "42") == [("NVDA", 1.0)]
        # The alert was raised before the move: it is not raised again after it.
        assert new.record_alert(make_alert("2025-01-27:us:down:open:critical", now)) is False
        outbox = Outbox(new)
        assert [m.chat_id for m in outbox.open_messages("telegram")] == ["42"]
        # PostgreSQL numbers new rows after the copied ones.
        added = outbox.enqueue(
            [NewMessage("b|telegram|42|0", "telegram", "42", False, "b", 2, "again")], now
        )
        assert added == 1
        assert new.save_image("chart-b-en", b"\x89PNG other", now) == 2
    finally:
        new.close()

    again = copy(str(sqlite), postgres_url)
    assert again.returncode == 2
    assert "is not empty (1 in chats, " in again.stderr
    missing = copy(str(tmp_path / "typo.sqlite3"), postgres_url)
    assert missing.returncode == 2
    assert "typo.sqlite3: no such database file" in missing.stderr


def test_a_lock_held_by_a_session_no_instance_vouches_for_is_ended(
    pair: tuple[Store, Store],
) -> None:
    """The old leader's session outlived its client: the client came back on a new session
    and now says it stands by, or nobody has said anything for minutes. Whoever holds the
    lock without a fresh heartbeat from its session is ended, whatever its row says."""
    a, b = pair
    now = datetime.now(UTC)
    first = Leadership(a, "old", clock=lambda: now)
    assert first.try_lead()
    a.note_instance(replace(a.instances()[0], role="standby"))  # its row says standby now
    much_later = now + timedelta(minutes=6)
    second = Leadership(b, "new", clock=lambda: much_later)

    assert second.try_lead() is False
    with pytest.raises(psycopg.OperationalError):
        first.beat()
    assert leads_soon(second)


def test_a_session_that_just_took_the_lock_is_left_alone(pair: tuple[Store, Store]) -> None:
    a, b = pair
    first, second = Leadership(a, "just elected"), Leadership(b, "standby")
    # The lock is taken, its instance row not written yet (take_over commits right after).
    a.connection.execute("SELECT pg_try_advisory_lock(?)", (first.key,))
    assert second.try_lead() is False
    a.connection.execute("SELECT 1")  # its session is intact


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:hunter2@db/x", "postgresql://bot:***@db/x"),
        ("postgresql://bot@db/x?password=hunter2", "postgresql://bot@db/x?password=***"),
        ("postgres://bot:hun/ter2@db/x", "postgres://bot:***@db/x"),
        ("postgresql://bot:hun@ter2@db:5432/x", "postgresql://bot:***@db:5432/x"),
        ("postgresql://bot@db:5432/x?options=-csearch_path%3Dy", None),
    ],
)
def test_a_database_password_is_never_shown(tmp_path: Path, url: str, shown: str | None) -> None:
    from bot.config import secrets_of
    from bot.storage.engine import redact

    assert redact(url) == (shown or url)
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "{url}"\n')
    if shown is None:
        load_config(config, env={})
        return
    with pytest.raises(ConfigError, match=r"storage\.url: secrets are read only"):
        load_config(config, env={})
    settings = load_config(None, env={"BOT__STORAGE__URL": url}).settings
    assert any("ter2" in secret for secret in secrets_of(settings))
