"""Command line: ``python -m bot backtest | check-config``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

from bot import __version__
from bot.backtest import BacktestResult, is_shock, reading_json, run_backtest
from bot.config import ConfigError, LoadedConfig, load_config
from bot.detect import Label, Reading
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.prices import PriceError

EXIT_USAGE = 2

log = logging.getLogger(__name__)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Warns chats when the AI supply chain is hit by a sector-divergence shock.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    try:
        loaded = load_config(config)
    except ConfigError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"config error: {problem}\n")
        raise SystemExit(EXIT_USAGE) from None
    logging.getLogger().setLevel(loaded.settings.logging.level)
    return loaded


def cmd_backtest(args: argparse.Namespace) -> int:
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
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "backtest":
        return cmd_backtest(args)
    return cmd_check_config(args)
