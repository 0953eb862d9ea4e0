"""Episodes: open, escalate, inhibit, agree, cool down, recover, and survive a restart."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.alerts import Alert, AlertKind, Direction
from bot.detection.detect import Label, Mover, Reading, Severity, Stats
from bot.episodes import Episode, EpisodeBook, EpisodeRules, Outcome
from bot.render.alerts import reason_text

SESSION = date(2025, 1, 27)
NEXT_SESSION = date(2025, 1, 28)
T0 = datetime(2025, 1, 27, 14, 30, tzinfo=UTC)
STATS = Stats(
    basket_ret=-0.12,
    control_ret=-0.01,
    software_ret=-0.02,
    beta=1.3,
    z_div=-6.5,
    z_sw=-1.1,
    z_mkt=-0.9,
    z_div_loo=-5.9,
    breadth=0.8,
    broad_index_ret=-0.011,
    top_movers=(Mover("NVDA", -0.17, -9.0),),
    basket_names=12,
)


def without_opening(key: str) -> str:
    """An alert key without the episode's opening time (``@HHMMSS``)."""
    return re.sub(r"@\d{6}", "", key)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def reading(
    label: Label,
    severity: Severity,
    *,
    region: str = "us",
    at: datetime = T0,
    reasons: tuple[str, ...] = ("why",),
    stats: Stats | None = None,
) -> Reading:
    return Reading(region, at, label, severity, 1.0, stats, False, reasons)


def calm(region: str = "us", at: datetime = T0) -> Reading:
    return reading(Label.QUIET, Severity.NONE, region=region, at=at, reasons=())


def observe(
    book: EpisodeBook,
    r: Reading,
    *,
    group: str = "us",
    session: date = SESSION,
    now: datetime | None = None,
) -> Outcome:
    return book.observe(r, region=r.region, group=group, session=session, now=now or r.as_of)


def only_alert(outcome: Outcome) -> Alert:
    assert len(outcome.alerts) == 1, outcome.alerts
    return outcome.alerts[0]


def book(
    recover_after_quiet: int = 2, cooldown_minutes: int = 0, agreement_hours: float = 18.0
) -> EpisodeBook:
    return EpisodeBook(
        EpisodeRules(
            recover_after_quiet=recover_after_quiet,
            cooldown_minutes=cooldown_minutes,
            agreement_hours=agreement_hours,
        )
    )


# --- open, escalate, stay silent ----------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "severity", "direction"),
    [
        (Label.DIVERGENCE_DOWN, Severity.WATCH, "down"),
        (Label.DIVERGENCE_UP, Severity.ALERT, "up"),
        (Label.BROAD_SELLOFF, Severity.CRITICAL, "down"),
        (Label.BROAD_RALLY, Severity.WATCH, "up"),
    ],
)
def test_first_event_opens_an_episode_with_an_open_alert(
    label: Label, severity: Severity, direction: Direction
) -> None:
    b = book()
    r = reading(label, severity, stats=STATS, at=minutes(-5))

    outcome = observe(b, r, now=T0)

    episode_id = f"2025-01-27:us:{direction}"
    assert outcome.alerts == [
        Alert(
            key=f"2025-01-27:us:{direction}@143000:open:{severity}",
            episode_id=episode_id,
            kind=AlertKind.OPEN,
            label=label,
            severity=severity,
            region="us",
            direction=direction,
            fired_at=T0,
            data_time=minutes(-5),
            stats=STATS,
            agreeing_regions=(),
            reasons=("why",),
        )
    ]
    expected = Episode(
        id=episode_id,
        group="us",
        session=SESSION,
        direction=direction,
        label=label,
        severity=severity,
        opened_at=T0,
        updated_at=T0,
        regions=("us",),
    )
    assert outcome.changed == [expected]
    assert b.open_episodes == [expected]
    assert expected.is_open


def test_the_open_key_names_session_group_direction_and_severity() -> None:
    b = book()
    alert = only_alert(
        observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT, region="eu"), group="europe")
    )
    assert without_opening(alert.key) == "2025-01-27:europe:down:open:alert"
    assert alert.episode_id == "2025-01-27:europe:down"


@pytest.mark.parametrize("later", [Severity.ALERT, Severity.WATCH])
def test_equal_or_lower_severity_sends_nothing(later: Severity) -> None:
    b = book()
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT))

    outcome = observe(b, reading(Label.DIVERGENCE_DOWN, later, at=minutes(30)))

    assert outcome.alerts == []
    assert outcome.changed == []
    [episode] = b.open_episodes
    assert episode.severity is Severity.ALERT
    assert episode.updated_at == T0


def test_a_higher_severity_escalates_the_episode() -> None:
    b = book()
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.WATCH))

    outcome = observe(
        b,
        reading(Label.DIVERGENCE_DOWN, Severity.CRITICAL, at=minutes(60), reasons=("worse",)),
    )

    alert = only_alert(outcome)
    assert alert.kind is AlertKind.ESCALATE
    assert without_opening(alert.key) == "2025-01-27:us:down:escalate:critical"
    assert alert.episode_id == "2025-01-27:us:down"
    assert alert.severity is Severity.CRITICAL
    assert alert.fired_at == minutes(60)
    assert alert.reasons == ("worse",)
    [episode] = outcome.changed
    assert episode.severity is Severity.CRITICAL
    assert episode.opened_at == T0
    assert episode.updated_at == minutes(60)
    assert b.open_episodes == [episode]

    # a further reading at the same level stays silent
    assert (
        observe(b, reading(Label.DIVERGENCE_DOWN, Severity.CRITICAL, at=minutes(90))).alerts == []
    )


# --- inhibition by an open broad move ---------------------------------------------------------


@pytest.mark.parametrize("divergence", [Severity.WATCH, Severity.ALERT])
def test_divergence_not_above_an_open_broad_selloff_is_inhibited(divergence: Severity) -> None:
    b = book()
    observe(b, reading(Label.BROAD_SELLOFF, Severity.ALERT))

    outcome = observe(b, reading(Label.DIVERGENCE_DOWN, divergence, at=minutes(30)))

    assert outcome.alerts == []
    [episode] = b.open_episodes
    assert episode.label is Label.BROAD_SELLOFF
    assert episode.severity is Severity.ALERT


def test_divergence_above_an_open_broad_selloff_escalates_and_relabels() -> None:
    b = book()
    observe(b, reading(Label.BROAD_SELLOFF, Severity.WATCH))

    outcome = observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT, at=minutes(30)))

    alert = only_alert(outcome)
    assert alert.kind is AlertKind.ESCALATE
    assert alert.label is Label.DIVERGENCE_DOWN
    assert alert.severity is Severity.ALERT
    assert without_opening(alert.key) == "2025-01-27:us:down:escalate:alert"
    [episode] = b.open_episodes
    assert episode.label is Label.DIVERGENCE_DOWN
    assert episode.severity is Severity.ALERT
    assert episode.family == "divergence"


def test_broad_selloff_does_not_inhibit_the_other_direction() -> None:
    b = book()
    observe(b, reading(Label.BROAD_SELLOFF, Severity.CRITICAL))

    alert = only_alert(observe(b, reading(Label.DIVERGENCE_UP, Severity.WATCH, at=minutes(30))))

    assert alert.kind is AlertKind.OPEN
    assert without_opening(alert.key) == "2025-01-27:us:up:open:watch"
    assert [e.id for e in b.open_episodes] == ["2025-01-27:us:down", "2025-01-27:us:up"]


# --- calm readings and recovery ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "severity"),
    [
        (Label.QUIET, Severity.NONE),
        (Label.SINGLE_STOCK, Severity.WATCH),
        (Label.DIVERGENCE_DOWN, Severity.NONE),
        (Label.BROAD_RALLY, Severity.NONE),
    ],
)
def test_calm_readings_count_towards_recovery(label: Label, severity: Severity) -> None:
    b = book(recover_after_quiet=2, cooldown_minutes=0)
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT))

    first = observe(b, reading(label, severity, at=minutes(30)))
    assert first.alerts == []
    [episode] = first.changed
    assert episode.quiet_readings == 1
    assert episode.quiet_since == minutes(30)
    assert episode.updated_at == minutes(30)
    assert episode.is_open

    second = observe(b, reading(label, severity, at=minutes(60)))
    alert = only_alert(second)
    assert alert.kind is AlertKind.RECOVER
    assert b.open_episodes == []


def test_no_decision_does_not_count_towards_recovery() -> None:
    b = book(recover_after_quiet=1, cooldown_minutes=0)
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT))

    outcome = observe(b, reading(Label.NO_DECISION, Severity.NONE, at=minutes(30)))

    assert outcome == Outcome()
    [episode] = b.open_episodes
    assert episode.quiet_readings == 0
    assert episode.quiet_since is None

    assert only_alert(observe(b, calm(at=minutes(60)))).kind is AlertKind.RECOVER


def test_recovery_waits_for_enough_calm_readings() -> None:
    b = book(recover_after_quiet=3, cooldown_minutes=0)
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT))

    assert observe(b, calm(at=minutes(10))).alerts == []
    assert observe(b, calm(at=minutes(20))).alerts == []
    assert b.open_episodes[0].quiet_readings == 2
    assert only_alert(observe(b, calm(at=minutes(30)))).kind is AlertKind.RECOVER


def test_recovery_needs_the_cooldown_since_the_first_calm_reading() -> None:
    b = book(recover_after_quiet=2, cooldown_minutes=60)
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.CRITICAL, region="us"))

    assert observe(b, calm(at=minutes(60))).alerts == []
    # two calm readings, but only 30 minutes since the first one
    outcome = observe(b, calm(at=minutes(90)))
    assert outcome.alerts == []
    [episode] = outcome.changed
    assert episode.quiet_readings == 2
    assert episode.quiet_since == minutes(60)
    assert episode.is_open

    recovered = observe(b, calm(region="us_pre", at=minutes(120)))

    assert recovered.alerts == [
        Alert(
            key="2025-01-27:us:down@143000:recover",
            episode_id="2025-01-27:us:down",
            kind=AlertKind.RECOVER,
            label=Label.DIVERGENCE_DOWN,
            severity=Severity.CRITICAL,
            region="us_pre",
            direction="down",
            fired_at=minutes(120),
            data_time=minutes(120),
            stats=None,
            agreeing_regions=(),
            reasons=("calm for 3 readings since 2025-01-27 15:30 UTC",),
        )
    ]
    [closed] = recovered.changed
    assert closed.closed_at == minutes(120)
    assert not closed.is_open
    assert closed.quiet_readings == 3
    assert b.open_episodes == []

    # exactly one recovery: further calm readings do nothing
    assert observe(b, calm(at=minutes(150))) == Outcome()


def test_calm_readings_only_move_their_own_group() -> None:
    b = book(recover_after_quiet=1, cooldown_minutes=0)
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT, region="jp"), group="asia")

    assert observe(b, calm(at=minutes(30)), group="us") == Outcome()
    [episode] = b.open_episodes
    assert episode.quiet_readings == 0


def test_an_event_in_between_resets_the_calm_count() -> None:
    b = book(recover_after_quiet=2, cooldown_minutes=0)
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT))
    observe(b, calm(at=minutes(10)))

    # a lower-severity event: silent, but the episode is not calm any more
    outcome = observe(b, reading(Label.DIVERGENCE_DOWN, Severity.WATCH, at=minutes(20)))
    assert outcome.alerts == []
    [episode] = outcome.changed
    assert episode.quiet_readings == 0
    assert episode.quiet_since is None
    assert episode.updated_at == minutes(20)

    assert observe(b, calm(at=minutes(30))).alerts == []
    assert b.open_episodes[0].quiet_readings == 1
    assert b.open_episodes[0].quiet_since == minutes(30)
    alert = only_alert(observe(b, calm(at=minutes(40))))
    assert alert.kind is AlertKind.RECOVER
    assert alert.reasons == ("calm for 2 readings since 2025-01-27 15:00 UTC",)


def test_an_escalation_resets_the_calm_count() -> None:
    b = book(recover_after_quiet=2, cooldown_minutes=0)
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.WATCH))
    observe(b, calm(at=minutes(10)))

    outcome = observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT, at=minutes(20)))

    assert only_alert(outcome).kind is AlertKind.ESCALATE
    [episode] = outcome.changed
    assert episode.quiet_readings == 0
    assert episode.quiet_since is None
    assert observe(b, calm(at=minutes(30))).alerts == []


# --- agreement between region groups ----------------------------------------------------------


def asia_then_europe(
    asia: Reading, europe: Reading, *, agreement_hours: float = 18.0
) -> tuple[EpisodeBook, Outcome]:
    b = book(agreement_hours=agreement_hours)
    observe(b, asia, group="asia")
    return b, observe(b, europe, group="europe")


def test_agreement_raises_a_new_divergence_one_level() -> None:
    _, outcome = asia_then_europe(
        reading(Label.DIVERGENCE_DOWN, Severity.WATCH, region="jp"),
        reading(
            Label.DIVERGENCE_DOWN, Severity.ALERT, region="eu", at=minutes(8 * 60), reasons=("x",)
        ),
    )

    alert = only_alert(outcome)
    assert alert.kind is AlertKind.OPEN
    assert alert.severity is Severity.CRITICAL
    assert without_opening(alert.key) == "2025-01-27:europe:down:open:critical"
    assert alert.agreeing_regions == ("jp",)
    assert alert.reasons == ("x", "raised one level: jp moved the same way (alert on its own)")
    assert reason_text("de", alert.reasons[1]) == (
        "eine Stufe höher: Tokio bewegten sich in dieselbe Richtung (allein Warnung)"
    )
    [episode] = outcome.changed
    assert episode.severity is Severity.CRITICAL
    assert episode.group == "europe"


def test_agreement_counts_at_the_edge_of_the_window() -> None:
    _, outcome = asia_then_europe(
        reading(Label.DIVERGENCE_DOWN, Severity.WATCH, region="jp"),
        reading(Label.DIVERGENCE_DOWN, Severity.WATCH, region="eu", at=minutes(6 * 60)),
        agreement_hours=6,
    )
    assert only_alert(outcome).severity is Severity.ALERT


def test_no_agreement_outside_the_window() -> None:
    _, outcome = asia_then_europe(
        reading(Label.DIVERGENCE_DOWN, Severity.WATCH, region="jp"),
        reading(Label.DIVERGENCE_DOWN, Severity.ALERT, region="eu", at=minutes(6 * 60 + 1)),
        agreement_hours=6,
    )
    alert = only_alert(outcome)
    assert alert.severity is Severity.ALERT
    assert alert.agreeing_regions == ()
    assert alert.reasons == ("why",)


def test_no_agreement_in_the_opposite_direction() -> None:
    _, outcome = asia_then_europe(
        reading(Label.DIVERGENCE_UP, Severity.ALERT, region="jp"),
        reading(Label.DIVERGENCE_DOWN, Severity.ALERT, region="eu", at=minutes(60)),
    )
    alert = only_alert(outcome)
    assert alert.severity is Severity.ALERT
    assert alert.agreeing_regions == ()


@pytest.mark.parametrize(
    ("asia_label", "europe_label"),
    [
        (Label.BROAD_SELLOFF, Label.DIVERGENCE_DOWN),
        (Label.DIVERGENCE_DOWN, Label.BROAD_SELLOFF),
    ],
)
def test_no_agreement_across_families(asia_label: Label, europe_label: Label) -> None:
    _, outcome = asia_then_europe(
        reading(asia_label, Severity.ALERT, region="jp"),
        reading(europe_label, Severity.ALERT, region="eu", at=minutes(60)),
    )
    alert = only_alert(outcome)
    assert alert.severity is Severity.ALERT
    assert alert.agreeing_regions == ()


def test_broad_moves_agree_with_broad_moves() -> None:
    _, outcome = asia_then_europe(
        reading(Label.BROAD_SELLOFF, Severity.WATCH, region="jp"),
        reading(Label.BROAD_SELLOFF, Severity.WATCH, region="eu", at=minutes(60)),
    )
    alert = only_alert(outcome)
    assert alert.severity is Severity.ALERT
    assert alert.agreeing_regions == ("jp",)


def test_a_recovered_episode_no_longer_agrees() -> None:
    b = book(recover_after_quiet=1, cooldown_minutes=0)
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT, region="jp"), group="asia")
    observe(b, calm(region="jp", at=minutes(30)), group="asia")

    outcome = observe(
        b,
        reading(Label.DIVERGENCE_DOWN, Severity.ALERT, region="eu", at=minutes(60)),
        group="europe",
    )

    assert only_alert(outcome).severity is Severity.ALERT


def test_critical_stays_critical_without_a_raised_reason() -> None:
    _, outcome = asia_then_europe(
        reading(Label.DIVERGENCE_DOWN, Severity.WATCH, region="jp"),
        reading(Label.DIVERGENCE_DOWN, Severity.CRITICAL, region="eu", at=minutes(60)),
    )
    alert = only_alert(outcome)
    assert alert.severity is Severity.CRITICAL
    assert without_opening(alert.key) == "2025-01-27:europe:down:open:critical"
    assert alert.agreeing_regions == ("jp",)
    assert alert.reasons == ("why",)
    assert not any("raised one level" in line for line in alert.reasons)


def test_severity_raised_caps_at_critical_and_keeps_none() -> None:
    assert Severity.WATCH.raised() is Severity.ALERT
    assert Severity.ALERT.raised() is Severity.CRITICAL
    assert Severity.CRITICAL.raised() is Severity.CRITICAL
    assert Severity.WATCH.raised(5) is Severity.CRITICAL
    assert Severity.NONE.raised() is Severity.NONE


# --- sessions, restarts, regions of one group ---------------------------------------------------


def test_a_new_session_closes_the_previous_episode_silently() -> None:
    b = book()
    observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT))
    next_day = T0 + timedelta(days=1)

    outcome = observe(
        b,
        reading(Label.DIVERGENCE_DOWN, Severity.WATCH, at=next_day),
        session=NEXT_SESSION,
    )

    alert = only_alert(outcome)
    assert alert.kind is AlertKind.OPEN
    assert without_opening(alert.key) == "2025-01-28:us:down:open:watch"
    assert alert.episode_id == "2025-01-28:us:down"
    closed = [e for e in outcome.changed if e.id == "2025-01-27:us:down"]
    assert len(closed) == 1
    assert closed[0].closed_at == next_day
    assert closed[0].updated_at == next_day
    assert closed[0].severity is Severity.ALERT
    opened = [e for e in outcome.changed if e.id == "2025-01-28:us:down"]
    assert len(opened) == 1
    assert opened[0].is_open
    assert opened[0].session == NEXT_SESSION
    assert b.open_episodes == opened


def test_a_restarted_book_continues_where_it_left_off() -> None:
    rules = EpisodeRules(recover_after_quiet=2, cooldown_minutes=0, agreement_hours=18)
    first = EpisodeBook(rules)
    saved: dict[str, Episode] = {}

    def persist(outcome: Outcome) -> Outcome:
        saved.update({e.id: e for e in outcome.changed})
        return outcome

    persist(
        observe(first, reading(Label.DIVERGENCE_DOWN, Severity.WATCH, region="jp"), group="asia")
    )
    persist(observe(first, calm(region="jp", at=minutes(10)), group="asia"))
    persist(observe(first, calm(region="jp", at=minutes(20)), group="asia"))
    persist(observe(first, reading(Label.DIVERGENCE_DOWN, Severity.ALERT, at=minutes(30))))
    persist(observe(first, calm(at=minutes(40))))
    assert not saved["2025-01-27:asia:down"].is_open

    restarted = EpisodeBook(rules, saved.values())

    [episode] = restarted.open_episodes
    assert episode == saved["2025-01-27:us:down"]
    assert episode.quiet_readings == 1
    # an equal severity stays silent after the restart, as before it
    assert observe(restarted, reading(Label.DIVERGENCE_DOWN, Severity.ALERT, at=minutes(50))) == (
        Outcome(changed=[replace_quiet(episode, minutes(50))])
    )
    escalated = only_alert(
        observe(restarted, reading(Label.DIVERGENCE_DOWN, Severity.CRITICAL, at=minutes(60)))
    )
    assert escalated.kind is AlertKind.ESCALATE
    assert without_opening(escalated.key) == "2025-01-27:us:down:escalate:critical"


def replace_quiet(episode: Episode, now: datetime) -> Episode:
    return replace(episode, quiet_readings=0, quiet_since=None, updated_at=now)


def test_a_restarted_book_counts_calm_readings_from_before_the_restart() -> None:
    rules = EpisodeRules(recover_after_quiet=2, cooldown_minutes=0)
    first = EpisodeBook(rules)
    observe(first, reading(Label.DIVERGENCE_DOWN, Severity.ALERT))
    [quiet] = observe(first, calm(at=minutes(10))).changed

    restarted = EpisodeBook(rules, [quiet])

    alert = only_alert(observe(restarted, calm(at=minutes(20))))
    assert alert.kind is AlertKind.RECOVER
    assert without_opening(alert.key) == "2025-01-27:us:down:recover"
    assert alert.reasons == ("calm for 2 readings since 2025-01-27 14:40 UTC",)


def test_two_scan_regions_of_one_group_share_an_episode() -> None:
    b = book()
    opened = only_alert(
        observe(b, reading(Label.DIVERGENCE_DOWN, Severity.WATCH, region="us_pre"), group="us")
    )
    assert opened.region == "us_pre"

    escalated = only_alert(
        observe(
            b,
            reading(Label.DIVERGENCE_DOWN, Severity.ALERT, region="us", at=minutes(60)),
            group="us",
        )
    )
    assert escalated.kind is AlertKind.ESCALATE
    assert escalated.region == "us"
    assert escalated.episode_id == opened.episode_id == "2025-01-27:us:down"
    assert (
        observe(b, reading(Label.DIVERGENCE_DOWN, Severity.WATCH, region="us_pre", at=minutes(70)))
        == Outcome()
    )
    [episode] = b.open_episodes
    assert episode.regions == ("us_pre", "us")
    assert episode.severity is Severity.ALERT


def test_a_session_gets_one_open_its_escalations_and_one_recovery() -> None:
    """A shock that returns after "recovered" in the same session is not opened again: the
    same severity stays silent, a worse one is an escalation of the same episode, and its
    recovery has the recovery's key (the pipeline sends a key once)."""
    b = book(recover_after_quiet=1, cooldown_minutes=0)
    first = only_alert(observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT)))
    recovered = only_alert(observe(b, calm(at=minutes(60))))
    same = observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT, at=minutes(210)))
    worse = only_alert(
        observe(b, reading(Label.DIVERGENCE_DOWN, Severity.CRITICAL, at=minutes(240)))
    )
    again = only_alert(observe(b, calm(at=minutes(300))))

    assert first.key == "2025-01-27:us:down@143000:open:alert"
    assert recovered.key == "2025-01-27:us:down@143000:recover"
    assert same.alerts == []
    assert worse.kind is AlertKind.ESCALATE
    assert worse.key == "2025-01-27:us:down@143000:escalate:critical"
    assert again.key == recovered.key  # one recovery per episode


def test_a_restart_remembers_the_sessions_recovered_episode() -> None:
    b = book(recover_after_quiet=1, cooldown_minutes=0)
    opened = observe(b, reading(Label.DIVERGENCE_DOWN, Severity.ALERT))
    closed = observe(b, calm(at=minutes(60)))
    stored = {e.id: e for e in (*opened.changed, *closed.changed)}

    restarted = EpisodeBook(EpisodeRules(recover_after_quiet=1), stored.values())

    assert (
        observe(restarted, reading(Label.DIVERGENCE_DOWN, Severity.ALERT, at=minutes(90))).alerts
        == []
    )


def test_recovery_needs_numbers_below_watch_by_a_margin() -> None:
    """Hysteresis: a reading that is no longer a sell-off but whose market is still at -2.6
    sigma does not count towards the recovery; calm ones for the cooldown do."""
    b = book(recover_after_quiet=2, cooldown_minutes=30)
    only_alert(observe(b, reading(Label.BROAD_SELLOFF, Severity.ALERT)))
    still_falling = replace(calm(at=minutes(30)), calm_for=frozenset({"broad:up"}))
    for n in range(1, 5):
        assert observe(b, replace(still_falling, as_of=minutes(30 * n))).alerts == []
    assert b.open_episodes[0].quiet_readings == 0
    assert observe(b, calm(at=minutes(200))).alerts == []  # the cooldown starts now
    recovered = only_alert(observe(b, calm(at=minutes(230))))
    assert recovered.kind is AlertKind.RECOVER


def test_a_rally_ends_a_sell_off() -> None:
    """Readings of the other direction at watch or above count towards the recovery too."""
    b = book(recover_after_quiet=2, cooldown_minutes=0)
    only_alert(observe(b, reading(Label.BROAD_SELLOFF, Severity.ALERT)))
    rally = observe(b, reading(Label.BROAD_RALLY, Severity.WATCH, at=minutes(60)))
    again = observe(b, reading(Label.BROAD_RALLY, Severity.WATCH, at=minutes(120)))

    assert [a.kind for a in rally.alerts] == [AlertKind.OPEN]  # the rally itself
    kinds = {(a.direction, a.kind) for a in again.alerts}
    assert ("down", AlertKind.RECOVER) in kinds
    assert [e.direction for e in b.open_episodes] == ["up"]
