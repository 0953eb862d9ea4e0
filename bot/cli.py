"""Command line: ``python -m bot run | demo | replay | backtest | news | check-config | ...``.

Each command imports what it needs when it runs, so a backtest does not pay for loading the
chat libraries.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from bot import __version__

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.delivery.sinks import AlertSink
    from bot.detection.backtest import BacktestResult
    from bot.detection.detect import Reading
    from bot.news.items import NewsItem
    from bot.runtime.app import Drill

EXIT_USAGE = 2
MAX_DRILL_SPEED = 1000
"""Faster, a 5-minute scan interval is shorter than a scan takes."""

log = logging.getLogger(__name__)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time (ISO 8601, e.g. 2025-01-27T14:00:00Z): {text!r}"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_DRILL_SPEED:
        raise argparse.ArgumentTypeError(
            f"a speed is a number above 0 and at most {MAX_DRILL_SPEED}: {text!r}"
        )
    return value


def _program_name() -> str:
    """How the user started us: the ``ai-shock-bot`` script, or ``python -m bot``."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name and name != "__main__.py" and not name.endswith(".py") else "python -m bot"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_program_name(),
        description="Warns chats when the AI supply chain is hit by a sector-divergence shock.",
    )
    parser.add_argument("--version", action="version", version=f"ai-shock-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bt = sub.add_parser(
        "backtest",
        help="run the detector over recorded daily prices",
        description="Classify every session of a region from CSV price files (one per symbol).",
    )
    bt.add_argument(
        "--prices",
        type=Path,
        action="append",
        required=True,
        metavar="DIR",
        help="a directory of <SYMBOL>.csv files; repeat to combine (the first wins on clashes)",
    )
    bt.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD")
    bt.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD")
    bt.add_argument("--config", type=Path, metavar="FILE", help="a config.toml")
    bt.add_argument("--region", default="us", help="region to classify (default: us)")
    bt.add_argument("--json", action="store_true", help="one JSON object per session on stdout")
    bt.add_argument("--all", action="store_true", help="table: list quiet sessions too")

    cc = sub.add_parser("check-config", help="validate a configuration and name each wrong key")
    cc.add_argument("--config", type=Path, metavar="FILE")

    run = sub.add_parser(
        "run",
        help="run the bot: scan the markets on schedule, send alerts",
        description="Run the bot. With --drill, rehearse a past day in your own chats: the "
        "live process (scheduler, chat platforms, outbox) on recorded CSV prices, with its "
        "clock starting at START; every message says DRILL.",
    )
    run.add_argument("--config", type=Path, metavar="FILE")
    run.add_argument(
        "--drill",
        type=_instant,
        metavar="START",
        help="start a drill at this UTC time, e.g. 2025-01-27T14:00:00Z (needs [prices] "
        'source = "csv")',
    )
    run.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="N",
        help="drill clock runs N times real time (default 1)",
    )
    run.add_argument(
        "--until", type=_instant, metavar="END", help="end the drill (exit 0) at this UTC time"
    )
    run.add_argument(
        "--feeds",
        type=Path,
        action="append",
        default=None,
        metavar="PATH",
        help="recorded feed files or directories for the drill (default: [drill] feeds)",
    )

    rp = sub.add_parser(
        "replay",
        help="replay recorded prices through the scheduler, jobs and episodes",
        description="Run the live pipeline on a simulated clock over recorded bars; a bar is "
        "known only after it has closed.",
    )
    rp.add_argument("--prices", type=Path, action="append", required=True, metavar="DIR")
    rp.add_argument("--from", dest="start", type=_date, required=True, metavar="YYYY-MM-DD")
    rp.add_argument("--to", dest="end", type=_date, required=True, metavar="YYYY-MM-DD")
    rp.add_argument(
        "--interval",
        choices=("1d", "1h"),
        default="1h",
        help="1h: hourly snapshots while markets trade; 1d: settled closes only",
    )
    rp.add_argument("--config", type=Path, metavar="FILE")
    rp.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        help="SQLite file to keep episodes and sent alerts in (default: memory)",
    )
    rp.add_argument(
        "--feeds",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="recorded feed files; items arrive at their publication time",
    )
    rp.add_argument("--json", action="store_true", help="one JSON object per alert on stdout")

    nw = sub.add_parser(
        "news",
        help="parse feed files or URLs once and show what each item matches",
        description="Read local feed files (or directories of them) and http(s) URLs once, "
        "and print each item with the instruments and themes it names.",
    )
    nw.add_argument("--feeds", nargs="+", required=True, metavar="PATH_OR_URL")
    nw.add_argument("--config", type=Path, metavar="FILE")
    nw.add_argument("--json", action="store_true", help="one JSON object per item on stdout")

    ds = sub.add_parser(
        "discord-sync",
        help="register the slash commands with Discord (per guild, on demand)",
        description="Register the slash commands in the given guilds (instant) or globally "
        "(slow to propagate). Run it after adding the bot to a server or changing commands.",
    )
    ds.add_argument("--guild", type=int, action="append", default=[], metavar="ID")
    ds.add_argument(
        "--global",
        dest="global_",
        action="store_true",
        help="register globally instead of (or besides) per guild",
    )
    ds.add_argument("--config", type=Path, metavar="FILE")

    ch = sub.add_parser(
        "chart",
        help="draw a chart from recorded prices (the picture /chart and alerts show)",
        description="Draw the chart of a day from recorded prices: the day is replayed "
        "through the bot's own scans (as in `replay`), then drawn as the bot draws /chart "
        "and its alerts' charts. With --symbol, that name's path is drawn with the basket; "
        "with --range, daily closes up to --date.",
    )
    ch.add_argument("--prices", type=Path, action="append", required=True, metavar="DIR")
    ch.add_argument("--date", type=_date, required=True, metavar="YYYY-MM-DD")
    ch.add_argument("--region", choices=("jp", "eu", "us_pre", "us"), default=None)
    ch.add_argument("--symbol", type=str, default=None, metavar="TICKER")
    ch.add_argument("--range", choices=("1d", "5d", "1m", "3m", "1y"), default="1d")
    ch.add_argument("--language", choices=("en", "de"), default="en")
    ch.add_argument("--config", type=Path, metavar="FILE")
    ch.add_argument("--out", type=Path, required=True, metavar="FILE.png")

    dg = sub.add_parser(
        "digest",
        help="the daily digest of a recorded day, as a chat would get it",
        description="Replay a recorded day (prices and, with --feeds, news) through the bot's "
        "scans and print the daily digest a chat gets after the US close.",
    )
    dg.add_argument("--prices", type=Path, action="append", required=True, metavar="DIR")
    dg.add_argument(
        "--feeds", type=Path, action="append", default=[], metavar="DIR", help="recorded feeds"
    )
    dg.add_argument("--date", type=_date, required=True, metavar="YYYY-MM-DD")
    dg.add_argument("--language", choices=("en", "de"), default="en")
    dg.add_argument("--config", type=Path, metavar="FILE")
    dg.add_argument("--chart", type=Path, metavar="FILE.png", help="also write its chart")

    cp = sub.add_parser(
        "copy-db",
        help="copy the bot's database into a new one (a SQLite file into PostgreSQL)",
    )
    cp.add_argument("--from", dest="source", required=True, metavar="FILE_OR_URL")
    cp.add_argument("--to", dest="target", required=True, metavar="FILE_OR_URL")

    demo = sub.add_parser("demo", help="replay the bundled DeepSeek scenario to the console")
    demo.add_argument("--json", action="store_true", help="one JSON object per alert on stdout")
    return parser


class ProgressBar:
    """A one-line progress bar on a stream, redrawn at most ``steps`` times.

    Ranges shorter than ``min_total`` finish too fast to need one and draw nothing.
    """

    def __init__(self, stream: TextIO, label: str, steps: int = 40, min_total: int = 250) -> None:
        self.stream, self.label, self.steps, self.min_total = stream, label, steps, min_total
        self._drawn = -1

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_total:
            return
        filled = done * self.steps // total
        if filled == self._drawn and done != total:
            return
        self._drawn = filled
        bar = "#" * filled + "." * (self.steps - filled)
        end = "\n" if done == total else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}{end}")
        self.stream.flush()


def _movers(reading: Reading, n: int = 3) -> str:
    return " ".join(f"{m.symbol} {m.ret:+.1%}" for m in reading.top_movers[:n])


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(result: BacktestResult, out: TextIO, show_all: bool) -> None:
    """Sessions as a readable table; runs of identical no-decision sessions are collapsed."""
    from bot.detection.backtest import is_shock
    from bot.detection.detect import Label

    header = (
        f"{'date':<10}  {'label':<24}  {'severity':<8}  {'z_div':>6}  {'z_mkt':>6}  "
        f"{'breadth':>7}  {'cover':>5}  top movers / why"
    )
    out.write(header + "\n" + "-" * len(header) + "\n")
    rows = [r for r in result.readings if show_all or is_shock(r)]
    i = 0
    while i < len(rows):
        r = rows[i]
        if r.label is Label.NO_DECISION:
            j = i
            while (
                j + 1 < len(rows)
                and rows[j + 1].label is Label.NO_DECISION
                and rows[j + 1].reasons == r.reasons
            ):
                j += 1
            span = r.as_of.date().isoformat()
            if j > i:
                span += f" .. {rows[j].as_of.date().isoformat()} ({j - i + 1} sessions)"
            out.write(f"{span}: no decision: {'; '.join(r.reasons)}\n")
            i = j + 1
            continue
        s = r.stats
        out.write(
            f"{r.as_of.date().isoformat():<10}  {r.label.value:<24}  {r.severity!s:<8}  "
            f"{_fmt(s.z_div if s else None, '+6.1f')}  {_fmt(s.z_mkt if s else None, '+6.1f')}  "
            f"{_fmt(s.breadth if s else None, '7.0%')}  {r.coverage:5.0%}  {_movers(r)}"
            + (f"  ({r.reasons[-1]})" if r.sector_led else "")
            + "\n"
        )
        i += 1
    out.write("\nsessions per label and severity:\n")
    for (label, severity), count in result.counts().items():
        out.write(f"  {label:<24} {severity:<8} {count:>5}\n")


def _load(config: Path | None) -> LoadedConfig:
    from bot.config import ConfigError, install_log_redaction, load_config

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"config error: {problem}\n")
        raise SystemExit(EXIT_USAGE) from None
    logging.getLogger().setLevel(loaded.settings.logging.level)
    install_log_redaction(loaded.settings)
    if loaded.settings.logging.format == "json":
        from bot.logs import use_json_logs

        use_json_logs()
    return loaded


def cmd_backtest(args: argparse.Namespace) -> int:
    from bot.detection.backtest import reading_json, run_backtest
    from bot.sources.csv_prices import CsvPriceSource
    from bot.sources.prices import PriceError

    loaded = _load(args.config)
    if args.region not in loaded.universe.regions:
        known = ", ".join(loaded.universe.regions)
        sys.stderr.write(f"error: unknown region {args.region!r} (known: {known})\n")
        return EXIT_USAGE
    if args.start and args.end and args.start > args.end:
        sys.stderr.write("error: --from is after --to\n")
        return EXIT_USAGE
    try:
        source = CsvPriceSource(args.prices)
    except PriceError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return EXIT_USAGE
    batch = source.load_all(end=args.end)
    for symbol, error in sorted(batch.errors.items()):
        sys.stderr.write(f"warning: {symbol}: {error.message}\n")
    for series in batch.series.values():
        for note in series.notes:
            sys.stderr.write(f"note: {note}\n")
    if not batch.series:
        sys.stderr.write("error: no readable price file in " + ", ".join(map(str, args.prices)))
        sys.stderr.write("\n")
        return EXIT_USAGE
    total = len(batch.series)
    progress = None if args.json else ProgressBar(sys.stderr, f"backtest {total} symbols")
    result = run_backtest(
        batch.series,
        loaded.universe,
        loaded.settings.detector,
        region=args.region,
        start=args.start,
        end=args.end,
        progress=progress,
    )
    if not result.readings:
        sys.stderr.write("error: no session of the region lies in the data and the range\n")
        return EXIT_USAGE
    out = sys.stdout
    if args.json:
        for reading in result.readings:
            out.write(json.dumps(reading_json(reading), ensure_ascii=False) + "\n")
    else:
        print_table(result, out, args.all)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    loaded = _load(args.config)
    universe = loaded.universe
    where = loaded.source or "defaults (no config file)"
    print(f"config OK: {where}")
    print(
        f"universe: {len(universe.instruments)} instruments in {len(universe.regions)} regions "
        f"({', '.join(universe.regions)})"
    )
    print(f"prices: {loaded.settings.prices.source}")
    print(f"storage: {_describe_storage(loaded)}")
    return 0


def cmd_copy_db(args: argparse.Namespace) -> int:
    from bot.storage.copy import copy_database
    from bot.storage.engine import explain_database_error, is_database_error, redact
    from bot.storage.store import StoreError

    def said(table: str, rows: int) -> None:
        print(f"{table}: {rows} rows")

    try:
        copied = copy_database(args.source, args.target, said)
    except StoreError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except Exception as exc:
        if not is_database_error(exc):
            raise
        sys.stderr.write(f"error: {explain_database_error(args.target, exc)}\n")
        return EXIT_USAGE
    print(f"copied {sum(copied.values())} rows into {redact(args.target)}")
    return 0


def _describe_storage(loaded: LoadedConfig) -> str:
    """The database ``run`` would use; a PostgreSQL server is asked whether it answers."""
    from bot.storage.engine import is_postgres, redact

    storage = loaded.settings.storage
    if not is_postgres(storage.location):
        return f"SQLite file {storage.path} (one instance)"
    import psycopg

    where = redact(storage.location)
    try:
        with psycopg.connect(str(storage.location), connect_timeout=5) as conn:
            row = conn.execute("SELECT current_schema()").fetchone()
            path = conn.execute("SHOW search_path").fetchone()
    except psycopg.Error as exc:
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL {where}, shared by instances; not reachable now: {redact(said)}"
    if row is None or row[0] is None:
        schemas = path[0] if path else "?"
        return (
            f"PostgreSQL {where}, shared by instances (one leads); it answers; no schema of "
            f"its search_path ({schemas}) exists yet: run creates the first at its start"
        )
    return f"PostgreSQL {where}, shared by instances (one leads); it answers (schema {row[0]})"


def _sinks(as_json: bool) -> list[AlertSink]:
    from bot.adapters.console import ConsoleAdapter, JsonLinesAdapter

    return [JsonLinesAdapter(sys.stdout)] if as_json else [ConsoleAdapter(sys.stdout)]


def _usage_error(message: str) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    raise SystemExit(EXIT_USAGE)


def _drill(args: argparse.Namespace, loaded: LoadedConfig) -> Drill | None:
    """The drill asked for on the command line; a usage error when it cannot run."""
    from bot.news.local import read_paths
    from bot.runtime.app import Drill

    if args.drill is None:
        if args.until is not None or args.speed != 1.0 or args.feeds is not None:
            _usage_error("--until, --speed and --feeds belong to a --drill")
        return None
    prices = loaded.settings.prices
    if prices.source != "csv" or not prices.csv_dirs:
        _usage_error(
            'a drill replays recorded prices: set [prices] source = "csv" and csv_dirs (a daily '
            "and an intraday directory; see README, 'Rehearse an alert')"
        )
    if args.until is not None and args.until <= args.drill:
        _usage_error("--until is not after the drill's start")
    items = []
    for read in read_paths(args.feeds if args.feeds is not None else loaded.settings.drill.feeds):
        if read.parsed is None or not read.parsed.ok:
            _usage_error(
                f"{read.source}: {read.error or (read.parsed.status if read.parsed else '')}"
            )
        items += read.parsed.items
    return Drill(args.drill, args.speed, args.until, tuple(items))


def cmd_run(args: argparse.Namespace) -> int:
    from bot.runtime.app import run_forever
    from bot.sources.prices import PriceError
    from bot.storage.engine import explain_database_error, is_database_error
    from bot.storage.store import StoreError

    loaded = _load(args.config)
    drill = _drill(args, loaded)
    try:
        return run_forever(loaded, drill)
    except StoreError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except PriceError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except Exception as exc:
        if not is_database_error(exc):
            raise
        where = loaded.settings.storage.location
        sys.stderr.write(f"error: {explain_database_error(where, exc)}\n")
        return EXIT_USAGE


def _read_feeds(paths: Sequence[Path]) -> list[NewsItem] | None:
    """The items of recorded feed files; ``None`` (said on stderr) when a path reads nothing."""
    from bot.news.local import read_paths

    items: list[NewsItem] = []
    for read in read_paths(paths):
        status = read.error or (read.parsed.status if read.parsed else "")
        if read.parsed is None:  # nothing read at all: a wrong path is a usage error
            sys.stderr.write(f"error: {read.source}: {status}\n")
            return None
        if not read.parsed.ok:
            sys.stderr.write(f"warning: {read.source}: {status}\n")
        items += read.parsed.items
    return items


def cmd_replay(args: argparse.Namespace) -> int:
    import asyncio

    from bot.runtime.replay import run_replay
    from bot.sources.csv_prices import CsvPriceSource
    from bot.sources.prices import PriceError
    from bot.storage.engine import explain_database_error
    from bot.storage.store import Store, StoreError

    loaded = _load(args.config)
    if args.start > args.end:
        sys.stderr.write("error: --from is after --to\n")
        return EXIT_USAGE
    items = _read_feeds(args.feeds)
    if items is None:
        return EXIT_USAGE
    try:
        batch, intraday = CsvPriceSource(args.prices).load_intervals(end=args.end)
        store = Store(args.db or ":memory:")
    except (PriceError, StoreError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    for symbol, error in sorted(batch.errors.items()):
        sys.stderr.write(f"warning: {symbol}: {error.message}\n")
    if not batch.series:
        sys.stderr.write("error: no readable price file\n")
        return EXIT_USAGE
    try:
        alerts = asyncio.run(
            run_replay(
                loaded,
                batch.series,
                store,
                _sinks(args.json),
                start=args.start,
                end=args.end,
                interval=args.interval,
                news=items,
                intraday=intraday.series,
            )
        )
    except sqlite3.DatabaseError as exc:
        sys.stderr.write(f"error: {explain_database_error(args.db or ':memory:', exc)}\n")
        return EXIT_USAGE
    finally:
        store.close()
    log.info("replay delivered %d alerts", len(alerts))
    return 0


def cmd_news(args: argparse.Namespace) -> int:
    import asyncio

    from bot.news.local import FeedRead, read_paths, read_url
    from bot.news.match import Matcher, load_themes
    from bot.sources.feeds import FetchLimits

    loaded = _load(args.config)
    news = loaded.settings.news
    limits = FetchLimits(
        timeout_seconds=news.timeout_seconds,
        max_bytes=int(news.max_megabytes * 1024 * 1024),
        max_redirects=news.max_redirects,
    )
    reads: list[FeedRead] = []
    for source in args.feeds:
        if source.startswith(("http://", "https://")):
            reads.append(asyncio.run(read_url(source, limits)))
        elif "://" in source:
            scheme = source.split("://", 1)[0][:20]
            reads.append(
                FeedRead(source[:200], None, f"only http(s) URLs and local files, not {scheme}")
            )
        else:
            reads += read_paths([Path(source)])
    matcher = Matcher(loaded.universe, load_themes())
    failed = 0
    for read in reads:
        status = read.error or (read.parsed.status if read.parsed else "unreadable")
        ok = read.parsed is not None and read.parsed.ok
        failed += not ok
        sys.stderr.write(f"{'ok' if ok else 'problem'}: {read.source}: {status}\n")
        if read.parsed is None:
            continue
        for item in read.parsed.items:
            match = matcher.match(item)
            if args.json:
                print(
                    json.dumps(
                        {
                            "feed": item.feed,
                            "title": item.title,
                            "link": item.link,
                            "published": item.published.isoformat() if item.published else None,
                            "language": item.language,
                            "symbols": list(match.symbols),
                            "themes": list(match.themes),
                        },
                        ensure_ascii=False,
                    )
                )
            else:
                tags = ", ".join([*match.symbols, *match.themes]) or "-"
                print(f"[{tags}] {item.title}")
    return 0 if reads and not failed else 1


def cmd_discord_sync(args: argparse.Namespace) -> int:
    import asyncio

    from bot.runtime.app import discord_sync

    loaded = _load(args.config)
    token = loaded.settings.discord.token
    if token is None:
        sys.stderr.write("error: set BOT__DISCORD__TOKEN (or DISCORD_BOT_TOKEN) first\n")
        return EXIT_USAGE
    if not args.guild and not args.global_:
        sys.stderr.write("error: name at least one --guild ID (or --global)\n")
        return EXIT_USAGE
    return asyncio.run(discord_sync(loaded, token.get_secret_value(), args.guild, args.global_))


def _quiet_scans() -> None:
    """The replay behind ``chart`` and ``digest`` logs every scan at INFO; their answer is on
    stdout, so only warnings go to stderr (``[logging] level = "DEBUG"`` still shows all)."""
    root = logging.getLogger()
    if root.level == logging.INFO:
        root.setLevel(logging.WARNING)


def cmd_chart(args: argparse.Namespace) -> int:
    import asyncio

    from bot.runtime.offline import OfflineError, offline_chart

    loaded = _load(args.config)
    _quiet_scans()
    try:
        image = asyncio.run(
            offline_chart(
                loaded,
                args.prices,
                args.date,
                region=args.region,
                symbol=args.symbol,
                range_=args.range,
                language=args.language,
            )
        )
    except OfflineError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(image.png)
    except OSError as exc:
        sys.stderr.write(f"error: cannot write {args.out}: {exc.strerror}\n")
        return EXIT_USAGE
    print(image.words)
    print(f"wrote {args.out} ({len(image.png) // 1024} KB, 1200x675 PNG)")
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    import asyncio

    from bot.render.chat import plain_text
    from bot.runtime.offline import OfflineError, offline_digest

    loaded = _load(args.config)
    _quiet_scans()
    items = _read_feeds(args.feeds)
    if items is None:
        return EXIT_USAGE
    try:
        reply, chart = asyncio.run(
            offline_digest(
                loaded,
                args.prices,
                args.date,
                news=items,
                language=args.language,
                chart=args.chart is not None,
            )
        )
    except OfflineError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    print(plain_text(reply))
    if args.chart is not None:
        if chart is None:
            sys.stderr.write("warning: no chart: the US session was not scanned that day\n")
        else:
            args.chart.write_bytes(chart.png)
            print(f"wrote {args.chart} ({len(chart.png) // 1024} KB)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import asyncio

    from bot.runtime.replay import run_replay
    from bot.sources.demo import build_intraday, build_series, load_scenario
    from bot.storage.store import Store

    loaded = _load(None)
    scenario = load_scenario()
    if not args.json:
        print(DEMO_INTRO.format(start=scenario.replay_from, end=scenario.replay_to))
    series = build_series(loaded.universe, scenario)
    intraday = build_intraday(loaded.universe, scenario, series)
    store = Store(":memory:")
    try:
        asyncio.run(
            run_replay(
                loaded,
                series,
                store,
                _sinks(args.json),
                start=scenario.replay_from,
                end=scenario.replay_to,
                interval="1h",
                intraday=intraday,
            )
        )
    finally:
        store.close()
    return 0


DEMO_INTRO = """\
DeepSeek demo: {start} .. {end}, replayed through the bot's own wiring, scan schedule,
detector, episodes and console, as it would have reached a chat: Tokyo during its session,
Europe after its open, the New York pre-market, then 10:30 New York (the first hourly bar;
silent when it only confirms the severity already sent).
The 2025-01-27 close-to-close moves marked as reported in bot/data/deepseek_demo.toml are
published figures; the background history, all other moves and every intraday path are
SIMULATED (seeded).
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Every run of every job at INFO drowns the bot's own log; job errors come from our listener.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    commands = {
        "backtest": cmd_backtest,
        "check-config": cmd_check_config,
        "run": cmd_run,
        "replay": cmd_replay,
        "demo": cmd_demo,
        "chart": cmd_chart,
        "digest": cmd_digest,
        "news": cmd_news,
        "discord-sync": cmd_discord_sync,
        "copy-db": cmd_copy_db,
    }
    return commands[args.command](args)
