"""``/status``: readings per region, the last price scans, open episodes, job errors."""

from __future__ import annotations

from bot.render.replies import Bullets, Heading, Paragraph, Reply, spans
from bot.storage.store import INSTANCE_SEEN_WITHIN
from handlers.registry import Context


def _instances(ctx: Context) -> str:
    """Who leads the instances sharing the database, and who stands by to take over."""
    store = ctx.services.store
    seen = store.instances(store.database_now() - INSTANCE_SEEN_WITHIN)
    leader = next((i.owner for i in seen if i.role == "leader"), "?")
    standby = [i.owner for i in seen if i.role == "standby"]
    if not standby:
        seconds = int(INSTANCE_SEEN_WITHIN.total_seconds())
        return ctx.t("status.no_standby", leader=leader, seconds=seconds)
    return ctx.t("status.instances", leader=leader, standby=", ".join(standby))


async def status(ctx: Context) -> Reply:
    t = ctx.t
    store = ctx.services.store
    blocks: list[Heading | Paragraph | Bullets] = [Heading(t("status.title"))]
    if ctx.services.drill:
        blocks.append(
            Paragraph(spans(t("status.drill", time=f"{ctx.services.clock():%Y-%m-%d %H:%M}")))
        )
    if store.engine == "postgresql":
        blocks.append(Paragraph(spans(_instances(ctx))))
    job_errors = dict(ctx.services.job_errors)
    if job_errors:
        blocks.append(Paragraph(spans(t("status.job_errors"))))
        blocks.append(
            Bullets(tuple(spans(f"{job}: {error[:200]}") for job, error in job_errors.items()))
        )

    blocks.append(Paragraph(spans(t("status.readings"))))
    readings = store.latest_readings()
    if readings:
        blocks.append(
            Bullets(
                tuple(
                    spans(
                        t(
                            "status.reading",
                            region=t(f"region.{region}"),
                            label=t(f"label.{body['label']}"),
                            severity=t(f"severity.{body['severity']}"),
                            time=str(body["as_of"])[:16].replace("T", " "),
                        )
                    )
                    for region, body in sorted(readings.items())
                )
            )
        )
    else:
        blocks.append(Paragraph(spans(t("status.no_readings"))))

    blocks.append(Paragraph(spans(t("status.scans"))))
    scans = store.scan_status()
    if scans:
        items = []
        for s in scans:
            success = (
                f"{s.last_success:%Y-%m-%d %H:%M} UTC" if s.last_success else t("status.never")
            )
            region = t(f"region.{s.region}")
            if s.last_error:
                items.append(
                    spans(
                        t(
                            "status.scan_error",
                            region=region,
                            source=s.source,
                            success=success,
                            error=s.last_error[:200],
                        )
                    )
                )
            else:
                items.append(
                    spans(t("status.scan", region=region, source=s.source, success=success))
                )
        blocks.append(Bullets(tuple(items)))
    else:
        blocks.append(Paragraph(spans(t("status.no_scans"))))

    blocks.append(Paragraph(spans(t("status.episodes"))))
    episodes = store.episodes()
    if episodes:
        blocks.append(
            Bullets(
                tuple(
                    spans(
                        t(
                            "status.episode",
                            label=t(f"label.{e.label.value}"),
                            regions=", ".join(t(f"region.{r}") for r in e.regions),
                            since=f"{e.opened_at:%Y-%m-%d %H:%M} UTC",
                            severity=t(f"severity.{e.severity}"),
                        )
                    )
                    for e in episodes
                )
            )
        )
    else:
        blocks.append(Paragraph(spans(t("status.no_episodes"))))
    feeds = store.feed_states()
    if feeds:
        blocks.append(Paragraph(spans(t("status.feeds"))))
        failing = []
        for name, state in feeds.items():
            failures = state.get("failures")
            if not isinstance(failures, int) or failures == 0:
                continue
            error = str(state.get("last_error") or "")[:200]
            until = state.get("paused_until")
            if isinstance(until, str):
                failing.append(
                    spans(
                        t(
                            "status.feed_paused",
                            name=name,
                            until=until[:16],
                            failures=failures,
                            error=error,
                        )
                    )
                )
            else:
                failing.append(
                    spans(t("status.feed_failing", name=name, failures=failures, error=error))
                )
        if failing:
            blocks.append(Bullets(tuple(failing)))
        else:
            blocks.append(Paragraph(spans(t("status.feeds_ok", count=len(feeds)))))
    return Reply(tuple(blocks))
