"""A price source that reads one CSV file per symbol from local directories.

The files come from many exporters (yfinance, Tiingo, hand-made ``Date,Close`` lists), so the
reader matches headers loosely, prefers an adjusted close, tells daily from intraday bars by the
timestamps, drops forward-filled copies of the previous bar and marks splits in raw prices as
breaks rather than market moves.
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.sources.prices import (
    Interval,
    NoIntradayError,
    PriceBatch,
    PriceError,
    PriceSeries,
    SourceUnavailableError,
    StaleDataError,
    UnknownSymbolError,
)

log = logging.getLogger(__name__)

_DATE_COLUMNS = ("date", "datetime", "timestamp", "time")
_ADJUSTED_CLOSE_COLUMNS = ("adjclose", "adjustedclose")
_CLOSE_COLUMNS = ("close",)
_VOLUME_COLUMNS = ("volume",)
_SPLIT_COLUMNS = ("splitfactor", "stocksplits")

_SPLIT_FACTORS = (2, 3, 4, 5, 8, 10, 15, 20, 25, 30, 40, 50, 100, 1000)
"""Split ratios, and the unit changes (pence to pounds, thousands) of 100 and 1000."""
_SPLIT_TOLERANCE = 0.02
_SPLIT_TOLERANCE_MAX = 0.06
_SPLIT_TOLERANCE_MOVES = 3.0
"""A split day also has a market move: the ratio may miss ``1/k`` by three of the name's
typical absolute moves, at least 2 % and at most 6 %. Without a split column, a 47-53 % crash
and a 2:1 split with a 6 % move look alike from prices alone; the vendor's split column (or an
adjusted close) decides where present."""
_GLITCH_RATIO = 3.0
"""A bar this many times off both neighbours, which agree with each other, is a bad print."""
_ABSURD_RATIO = 5.0
"""No listed AI-infrastructure name moves five-fold in a bar; such a change is not a return."""
_SPLIT_MOVE_MULTIPLE = 8.0
_TYPICAL_MOVE_WINDOW = 61
_TYPICAL_MOVE_FLOOR = 0.002
# Bars at least this far apart are daily; a little under 24 h absorbs a DST change.
_DAILY_SPACING = pd.Timedelta(hours=23)

_TZ_SUFFIX = re.compile(r"(?<=\d)\s*(?:Z|[+-]\d{2}:?\d{2})$")


def _normalise_header(name: object) -> str:
    return str(name).strip().lower().replace(" ", "").replace("_", "")


def _pick(columns: dict[str, str], candidates: Sequence[str]) -> str | None:
    for candidate in candidates:
        if candidate in columns:
            return columns[candidate]
    return None


_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


Stamps = npt.NDArray[np.datetime64]


_FIXED_WIDTH = len("2025-01-27 09:30:00-05:00")
_DATE_TIME_END = len("2025-01-27 09:30:00")


def _fixed_offset_stamps(text: pd.Series) -> tuple[Stamps, Stamps] | None:
    """The common exporter layout ``YYYY-MM-DD HH:MM:SS+HH:MM`` on every row, read without the
    general ISO parser (about 10x faster on hourly files); None when any row differs."""
    values = text.to_numpy(dtype=str)
    if values.size == 0 or not bool((np.strings.str_len(values) == _FIXED_WIDTH).all()):
        return None
    try:
        chars = values.astype(f"S{_FIXED_WIDTH}").view(np.uint8).reshape(-1, _FIXED_WIDTH).copy()
    except UnicodeEncodeError:
        return None
    layout_ok = (
        np.isin(chars[:, 10], (ord(" "), ord("T"))).all()
        and np.isin(chars[:, 19], (ord("+"), ord("-"))).all()
        and (chars[:, 22] == ord(":")).all()
    )
    offset_digits = chars[:, [20, 21, 23, 24]].astype(np.int64) - ord("0")
    if not layout_ok or not bool(((offset_digits >= 0) & (offset_digits <= 9)).all()):
        return None
    chars[:, 10] = ord("T")
    wall_text = chars[:, :_DATE_TIME_END].copy().view(f"S{_DATE_TIME_END}").ravel()
    try:
        wall = wall_text.astype("datetime64[s]").astype("datetime64[ns]")
    except ValueError:  # an impossible date somewhere: the general parser marks just that row
        return None
    minutes = (offset_digits[:, 0] * 10 + offset_digits[:, 1]) * 60
    minutes += offset_digits[:, 2] * 10 + offset_digits[:, 3]
    signed = np.where(chars[:, 19] == ord("-"), -minutes, minutes)
    return wall - signed.astype("timedelta64[m]"), wall


def _parse_timestamps(raw: pd.Series) -> tuple[Stamps, Stamps]:
    """Parse timestamp strings to UTC instants (naive ``datetime64[ns]``) and to the wall-clock
    time as written; unreadable ones are NaT."""
    text = raw.astype(str)
    ends = (str(text.iloc[0]).strip(), str(text.iloc[-1]).strip())
    if all(_PLAIN_DATE.fullmatch(value) for value in ends):
        # Plain dates (most daily files): numpy reads them directly; a file with a stray row
        # that is not a plain date goes through the parser, where the row becomes NaT.
        try:
            dates: Stamps = text.to_numpy(dtype=str).astype("datetime64[ns]")
        except ValueError:
            parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
            dates = parsed.to_numpy(dtype="datetime64[ns]")
        return dates, dates
    fixed = _fixed_offset_stamps(text.str.strip())
    if fixed is not None:
        return fixed

    utc = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    utc_naive = utc.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    # Exporters write offsets on every row or on none; looking at both ends saves a regex per row.
    if any(_TZ_SUFFIX.search(value) for value in ends):
        local_text = text.str.strip().str.replace(_TZ_SUFFIX, "", regex=True)
        local = pd.to_datetime(local_text, format="ISO8601", errors="coerce")
        return utc_naive, local.to_numpy(dtype="datetime64[ns]")
    return utc_naive, utc_naive


def _is_daily(utc: Stamps, local: Stamps) -> bool:
    if bool((local == local.astype("datetime64[D]").astype("datetime64[ns]")).all()):
        return True
    if utc.size < 2:
        return False
    return bool(np.diff(utc).min() >= _DAILY_SPACING.to_timedelta64())


def _as_float(raw: pd.Series) -> pd.Series:
    return pd.to_numeric(raw, errors="coerce").astype("float64")


_CALM = (0.6, 1.7)
"""Bar-to-bar ratios all within these bounds rule out a bad print (3x off), an absurd move
(5x) and a split (near 1/2 or 2 at least) at once, with margins far beyond rounding."""


def _calm(closes: pd.Series) -> bool:
    """Whether no bar changes enough from the one before to be a glitch, a split or an
    absurd move: the usual file, which then skips those three checks."""
    values = closes.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = values[1:] / values[:-1]
    return bool(((ratios > _CALM[0]) & (ratios < _CALM[1])).all())


def _drop_glitches(closes: pd.Series) -> tuple[pd.Series, list[tuple[pd.Timestamp, float]]]:
    """Single bars far off both neighbours (which agree with each other): bad prints, such as
    a price 1000 times too high for one bar. Returns the closes without them."""
    values = closes.to_numpy(dtype="float64")
    if len(values) < 3:
        return closes, []
    before, here, after = values[:-2], values[1:-1], values[2:]
    off = np.minimum(np.abs(np.log(here / before)), np.abs(np.log(here / after)))
    agree = np.abs(np.log(after / before)) < np.log(1.5)
    bad = np.flatnonzero((off > np.log(_GLITCH_RATIO)) & agree) + 1
    if len(bad) == 0:
        return closes, []
    found = [(pd.Timestamp(closes.index[int(i)]), float(values[i] / values[i - 1])) for i in bad]
    return closes.drop(closes.index[bad]), found


def _absurd_moves(closes: pd.Series) -> list[tuple[pd.Timestamp, float]]:
    """Bars that change ``_ABSURD_RATIO``-fold or more from the previous bar."""
    values = closes.to_numpy(dtype="float64")
    if len(values) < 2:
        return []
    ratios = values[1:] / values[:-1]
    absurd = np.flatnonzero(np.abs(np.log(ratios)) >= np.log(_ABSURD_RATIO))
    return [(pd.Timestamp(closes.index[int(i) + 1]), float(ratios[i])) for i in absurd]


def _split_label(ratio: float, factor: int) -> str:
    if factor >= 100:
        return f"unit change ({ratio:.4g}-fold)"
    if ratio < 1:
        return f"{factor}:1 split"
    return f"1:{factor} reverse split"


def _detect_split_jumps(closes: pd.Series) -> list[tuple[pd.Timestamp, float, int]]:
    """Bars whose change looks like a k:1 split, not a market move.

    A bar qualifies when its ratio to the previous bar is near ``1/k`` or ``k`` (within three
    of the name's typical moves, 2 % to 6 %) and its absolute log change exceeds
    ``_SPLIT_MOVE_MULTIPLE`` times the median absolute log change of the surrounding bars.
    """
    values = closes.to_numpy(dtype="float64")
    if len(values) < 2:
        return []
    ratios = values[1:] / values[:-1]
    factors = np.asarray(_SPLIT_FACTORS, dtype="float64")
    widest = _SPLIT_TOLERANCE_MAX
    if not (
        (np.abs(ratios[:, None] * factors - 1) <= widest)
        | (np.abs(ratios[:, None] / factors - 1) <= widest)
    ).any():
        return []  # no bar near any split ratio: the usual case, without a rolling median
    moves = pd.Series(np.abs(np.log(ratios)))
    typical = moves.rolling(_TYPICAL_MOVE_WINDOW, center=True, min_periods=1).median()
    tolerance = np.clip(
        _SPLIT_TOLERANCE_MOVES * typical.to_numpy(), _SPLIT_TOLERANCE, _SPLIT_TOLERANCE_MAX
    )[:, None]
    near_split = (np.abs(ratios[:, None] * factors - 1) <= tolerance) | (
        np.abs(ratios[:, None] / factors - 1) <= tolerance
    )
    candidates = np.flatnonzero(near_split.any(axis=1))
    if len(candidates) == 0:
        return []
    found: list[tuple[pd.Timestamp, float, int]] = []
    for i in candidates.tolist():
        floor = max(float(typical.iloc[i]), _TYPICAL_MOVE_FLOOR)
        if moves.iloc[i] <= _SPLIT_MOVE_MULTIPLE * floor:
            continue
        ratio = float(ratios[i])
        factor = _SPLIT_FACTORS[int(np.argmax(near_split[i]))]
        found.append((pd.Timestamp(closes.index[i + 1]), ratio, factor))
    return found


def _format_bar(ts: pd.Timestamp, interval: Interval) -> str:
    if interval == "1d":
        return ts.date().isoformat()
    return ts.strftime("%Y-%m-%d %H:%M UTC")


_SIMPLE_MAX_FIELD = 24
_EXACT_DIGITS = 17
"""Up to this many digits (leading zeros included) pandas' parser takes each digit exactly."""
_EXACT_MANTISSA = 2**53
_POW10 = 10 ** np.arange(_EXACT_DIGITS + 1, dtype=np.int64)
_DIVISORS = 10.0 ** np.arange(_SIMPLE_MAX_FIELD + 1)
_MARKS = np.array([ord("-"), ord("-"), ord(",")], dtype=np.uint8)


def _simple_decimals(
    fields: npt.NDArray[np.uint8], lengths: npt.NDArray[np.intp], points: int
) -> tuple[bool, npt.NDArray[np.float64] | None]:
    """Plain decimals, one per column of ``fields`` (bytes, one row per character position; a
    column's field is its first ``lengths`` bytes): digits and at most one point, ``points``
    points in all.

    Returns whether every field is such a decimal, and their values where each has at most
    17 digits and a mantissa below 2**53: both it and the power of ten it is divided by are
    exact in a double, so one correctly rounded division gives the value any correct parser
    gives, pandas' included (None for longer values).
    """
    inside = np.arange(fields.shape[0])[:, None] < lengths
    digit = ((fields - ord("0")) < 10) & inside
    point = (fields == ord(".")) & inside
    per_field = point.sum(axis=0)
    digits = lengths - per_field
    if int(per_field.sum()) != points or bool((per_field > 1).any() | (digits < 1).any()):
        return False, None
    if bool((digits > _EXACT_DIGITS).any()):
        return True, _as_pandas_reads(fields, digit, point)
    # Digits after each position (a loop over the <= 24 positions: numpy's cumsum along the
    # short axis costs several times more).
    later = np.empty(fields.shape, dtype=np.int64)
    seen = np.zeros(fields.shape[1], dtype=np.int64)
    for row, is_digit in enumerate(digit):
        seen += is_digit
        np.subtract(digits, seen, out=later[row])
    values = (fields - ord("0")).astype(np.int64) * digit
    mantissa = (values * _POW10[later]).sum(axis=0)
    if bool((mantissa > _EXACT_MANTISSA).any()):
        return True, _as_pandas_reads(fields, digit, point)
    decimals = (later * point).sum(axis=0)  # the digits after the point
    parsed: npt.NDArray[np.float64] = mantissa.astype(np.float64) / _DIVISORS[decimals]
    return True, parsed


def _as_pandas_reads(
    fields: npt.NDArray[np.uint8],
    digit: npt.NDArray[np.bool_],
    point: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64] | None:
    """Plain decimals too long for an exact division, parsed as pandas parses them (see
    :func:`_xstrtod`), so a long close reads to the same bits here as through pandas. None
    when this pandas parses otherwise (:func:`_pandas_parses_alike`): pandas reads the file."""
    return _xstrtod(fields, digit, point) if _pandas_parses_alike() else None


def _xstrtod(
    fields: npt.NDArray[np.uint8],
    digit: npt.NDArray[np.bool_],
    point: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64] | None:
    """The steps of pandas' parser (``precise_xstrtod``) on plain decimals, one per column of
    ``fields``: up to 17 digits accumulated in a double (``x * 10 + d``; later digits after
    the point are dropped), then one division by a power of ten. None if a field has more
    than 17 digits before its point."""
    consumed = np.empty(fields.shape, dtype=bool)  # the first 17 digits of each field
    after_point = np.empty(fields.shape, dtype=bool)
    seen = np.zeros(fields.shape[1], dtype=np.int64)
    passed = np.zeros(fields.shape[1], dtype=bool)
    for row in range(fields.shape[0]):
        np.logical_and(digit[row], seen < _EXACT_DIGITS, out=consumed[row])
        seen += digit[row]
        after_point[row] = passed
        passed |= point[row]
    if bool((digit & ~consumed & ~after_point).any()):
        return None
    number = np.zeros(fields.shape[1])
    factor = np.where(consumed, 10.0, 1.0)
    addend = np.where(consumed, fields - ord("0"), 0).astype(np.float64)
    for row in range(fields.shape[0]):
        np.multiply(number, factor[row], out=number)
        np.add(number, addend[row], out=number)
    decimals = (consumed & after_point).sum(axis=0)
    parsed: npt.NDArray[np.float64] = number / _DIVISORS[decimals]
    return parsed


_PROBES = ("127.55999755859375", "324.18499755859375", "0.4824230968952179", "1.0000000000000002")
"""Long decimals that pandas' parser and a correctly rounding one read differently."""


@functools.cache
def _pandas_parses_alike() -> bool:
    """Whether this pandas reads long decimals as :func:`_xstrtod` does (asked once, with
    :data:`_PROBES`; a pandas that rounds them correctly reads plain files itself)."""
    text = "close\n" + "\n".join(_PROBES) + "\n"
    frame = pd.read_csv(io.StringIO(text), skipinitialspace=True, index_col=False)
    expected = frame["close"].to_numpy(dtype=np.float64)
    width = max(len(p) for p in _PROBES)
    rows = np.zeros((len(_PROBES), width), dtype=np.uint8)
    for i, probe in enumerate(_PROBES):
        rows[i, : len(probe)] = np.frombuffer(probe.encode("ascii"), dtype=np.uint8)
    fields = rows.T.copy()
    inside = np.arange(width)[:, None] < np.array([len(p) for p in _PROBES])
    parsed = _xstrtod(fields, ((fields - ord("0")) < 10) & inside, (fields == ord(".")) & inside)
    return parsed is not None and parsed.tobytes() == expected.tobytes()


def _read_simple(path: Path) -> tuple[str, str, Stamps, npt.NDArray[np.float64]] | None:
    """A plain two-column file (``Date,Close``; ``YYYY-MM-DD,123.45`` on every row, ``\\n``
    line ends, no quotes, spaces, signs or blank lines) read with numpy: the date and close
    column names, the dates and the closes, the same values the general path reads, several
    times faster. None for any other file: the general path reads it."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(256)  # the header decides before the rest is read
            try:
                header = first.rstrip(b"\n").decode("ascii").split(",")
            except UnicodeDecodeError:
                return None
            names = [_normalise_header(h) for h in header]
            if (
                len(names) != 2
                or any(h != h.strip() for h in header)  # names as pandas keeps them
                or names[0] not in _DATE_COLUMNS
                or names[1] not in (*_ADJUSTED_CLOSE_COLUMNS, *_CLOSE_COLUMNS)
            ):
                return None
            raw = first + handle.read()
    except OSError:
        return None
    if not raw.endswith(b"\n"):
        raw += b"\n"
    head = raw.find(b"\n")
    data = np.frombuffer(raw, dtype=np.uint8)
    body = data[head + 1 :]

    def count(byte: str) -> int:
        return int(np.count_nonzero(body == ord(byte)))

    rows = count("\n")
    # Only digits, points, commas, dashes ("," to "9" but "/") and line ends; one comma and
    # two dashes a row.
    known = int(np.count_nonzero((body - ord(",")) <= ord("9") - ord(",")))
    if (
        rows == 0
        or known - count("/") + rows != body.size
        or count(",") != rows
        or count("-") != 2 * rows
    ):
        return None
    ends = np.flatnonzero(data == ord("\n"))[1:]
    starts = np.empty_like(ends)
    starts[0], starts[1:] = head + 1, ends[:-1] + 1
    lengths = ends - starts - 11  # the close, after "YYYY-MM-DD,"
    width = int(lengths.max())
    if bool((lengths < 1).any()) or width > _SIMPLE_MAX_FIELD:
        return None
    lines = np.lib.stride_tricks.sliding_window_view(
        np.concatenate((data, np.zeros(width + 11, dtype=np.uint8))), width + 11
    )[starts]
    # The commas and dashes where a date puts them (so nowhere else: the counts agree).
    if not bool((lines[:, [4, 7, 10]] == _MARKS).all()):
        return None
    plain, closes = _simple_decimals(lines[:, 11:].T.copy(), lengths, count("."))
    if not plain:
        return None
    try:
        stamps: Stamps = lines[:, :10].copy().view("S10").ravel().astype("datetime64[ns]")
    except ValueError:  # an impossible date: the general path marks just that row
        return None
    if closes is None:  # digits beyond a double's exact range: pandas' own parser, as before
        column = pd.read_csv(path, usecols=[1], dtype=np.float64)
        closes = column.iloc[:, 0].to_numpy(dtype=np.float64)
        if closes.size != stamps.size:
            return None
    return header[0], header[1], stamps, closes


def _read_general(
    path: Path, fail: Callable[[str], SourceUnavailableError]
) -> tuple[str, str, str | None, str | None, dict[str, npt.NDArray[Any]]]:
    """Any CSV layout through pandas: the date, close, adjusted-close and split column names
    and the columns the hygiene in :func:`read_price_file` works on."""
    try:
        frame = pd.read_csv(path, skipinitialspace=True, index_col=False, low_memory=False)
    except pd.errors.EmptyDataError:
        raise fail("the file is empty") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise fail(f"unreadable CSV ({type(exc).__name__}: {exc})") from None

    columns: dict[str, str] = {}
    for column in frame.columns:
        columns.setdefault(_normalise_header(column), str(column))
    headers = ", ".join(str(c) for c in frame.columns)
    date_col = _pick(columns, _DATE_COLUMNS)
    if date_col is None:
        raise fail(f"no date column (headers: {headers})")
    adjusted_col = _pick(columns, _ADJUSTED_CLOSE_COLUMNS)
    close_col = adjusted_col or _pick(columns, _CLOSE_COLUMNS)
    if close_col is None:
        raise fail(f"no close column (headers: {headers})")
    if frame.empty:
        raise fail("no rows below the header")

    utc, local = _parse_timestamps(frame[date_col])
    # Plain numpy columns from here: the hygiene below is a few masks, and pandas' per-call
    # overhead dominated reading a file (14 ms, now 4 ms, for 2,900 rows).
    data: dict[str, npt.NDArray[Any]] = {
        "utc": utc,
        "local": local,
        "close": _as_float(frame[close_col]).to_numpy(),
    }
    volume_col = _pick(columns, _VOLUME_COLUMNS)
    if volume_col is not None:
        data["volume"] = _as_float(frame[volume_col]).to_numpy()
        high_col, low_col = _pick(columns, ("high",)), _pick(columns, ("low",))
        if high_col is not None and low_col is not None:
            # A filled copy is a flat bar; a real session that closes unchanged has a range.
            data["flat"] = (
                _as_float(frame[high_col]).to_numpy() == _as_float(frame[low_col]).to_numpy()
            )
    open_col = _pick(columns, ("open",))
    if open_col is not None:
        data["open"] = _as_float(frame[open_col]).to_numpy()
        raw_close_col = _pick(columns, _CLOSE_COLUMNS)
        if adjusted_col is not None and raw_close_col is not None:
            # Opens are raw where only the close has an adjusted twin: adjust by the same day.
            with np.errstate(divide="ignore", invalid="ignore"):
                data["open"] = data["open"] * (
                    data["close"] / _as_float(frame[raw_close_col]).to_numpy()
                )
    split_col = _pick(columns, _SPLIT_COLUMNS)
    if split_col is not None and adjusted_col is None:
        data["split"] = _as_float(frame[split_col]).to_numpy()
    return date_col, close_col, adjusted_col, split_col, data


def read_price_file(path: Path, symbol: str | None = None) -> PriceSeries:
    """Read one CSV file of bars into a :class:`PriceSeries`.

    Args:
        path: the CSV file.
        symbol: the symbol to report; the file name without ``.csv`` when ``None``.

    Returns:
        The closes, oldest first, with split breaks and notes on what was repaired.

    Raises:
        SourceUnavailableError: the file cannot be read or holds no usable bars.
    """
    name = symbol if symbol is not None else path.name.removesuffix(".csv")

    def fail(reason: str) -> SourceUnavailableError:
        return SourceUnavailableError(f"{name}: cannot use {path}: {reason}", name)

    simple = _read_simple(path)
    if simple is not None:
        date_col, close_col, stamps, values = simple
        adjusted_col = None if _normalise_header(close_col) in _CLOSE_COLUMNS else close_col
        split_col: str | None = None
        data: dict[str, npt.NDArray[Any]] = {"utc": stamps, "local": stamps, "close": values}
    else:
        date_col, close_col, adjusted_col, split_col, data = _read_general(path, fail)

    def keep(mask: npt.NDArray[np.bool_]) -> int:
        """Keep the rows of ``mask``; how many were dropped."""
        nonlocal data
        dropped = int(mask.size - mask.sum())
        if dropped:
            data = {key: column[mask] for key, column in data.items()}
        return dropped

    notes: list[str] = []
    dropped = keep(~np.isnat(data["utc"]) & ~np.isnat(data["local"]))
    if data["utc"].size == 0:
        raise fail(f"no readable timestamps in column {date_col!r}")
    if dropped:
        notes.append(f"{name}: skipped {dropped} rows with unreadable timestamps")

    if bool((data["utc"][1:] < data["utc"][:-1]).any()):
        order = np.argsort(data["utc"], kind="stable")
        data = {key: column[order] for key, column in data.items()}
    later_twin = np.zeros(data["utc"].size, dtype=bool)
    later_twin[:-1] = data["utc"][:-1] == data["utc"][1:]
    dropped = keep(~later_twin)  # of equal timestamps, the last row wins
    if dropped:
        notes.append(f"{name}: dropped {dropped} duplicate timestamps")

    with np.errstate(invalid="ignore"):
        dropped = keep(np.isfinite(data["close"]) & (data["close"] > 0))
    if data["close"].size == 0:
        raise fail(f"no positive prices in column {close_col!r}")
    if dropped:
        notes.append(f"{name}: dropped {dropped} rows without a positive, finite close")

    if "volume" in data:
        close = data["close"]
        copies = np.zeros(close.size, dtype=bool)
        copies[1:] = (data["volume"][1:] == 0) & (close[1:] == close[:-1])
        if "flat" in data:
            copies &= data["flat"]
        dropped = keep(~copies)
        if dropped:
            notes.append(f"{name}: dropped {dropped} zero-volume copies of the previous close")

    interval: Interval = "1d" if _is_daily(data["utc"], data["local"]) else "1h"
    index = (
        pd.DatetimeIndex(data["local"].astype("datetime64[D]").astype("datetime64[ns]"))
        if interval == "1d"
        else pd.DatetimeIndex(data["utc"]).tz_localize("UTC")
    )
    closes = pd.Series(data["close"], index=index, name=name, dtype=np.float64)
    opens = (
        pd.Series(data["open"], index=index, name=name, dtype=np.float64)
        if interval == "1d" and "open" in data
        else None
    )
    if interval == "1d" and closes.index.has_duplicates:
        closes = closes[~closes.index.duplicated(keep="last")]
        if opens is not None:
            opens = opens[~opens.index.duplicated(keep="last")]

    calm = _calm(closes)
    closes, glitches = (closes, []) if calm else _drop_glitches(closes)
    for stamp, ratio in glitches:
        notes.append(
            f"{name}: {_format_bar(stamp, interval)} is {ratio:.4g} times its neighbours and "
            "back the next bar (a bad print); dropped"
        )

    breaks: list[pd.Timestamp] = []
    if adjusted_col is None and "split" in data:
        factors = data["split"]
        for i in np.flatnonzero(~np.isnan(factors) & (factors != 0) & (factors != 1)).tolist():
            stamp, factor = pd.Timestamp(index[i]), float(factors[i])
            breaks.append(stamp)
            notes.append(
                f"{name}: {_format_bar(stamp, interval)} split {factor:g}:1 per column "
                f"{split_col!r}; not taken as a move"
            )
    elif adjusted_col is None:
        for stamp, ratio, factor in [] if calm else _detect_split_jumps(closes):
            breaks.append(stamp)
            notes.append(
                f"{name}: {_format_bar(stamp, interval)} looks like a "
                f"{_split_label(ratio, factor)} ({ratio - 1:+.1%}); not taken as a move"
            )

    known = set(breaks)
    for stamp, ratio in [] if calm else _absurd_moves(closes):
        if stamp not in known:
            breaks.append(stamp)
            notes.append(
                f"{name}: {_format_bar(stamp, interval)} changes {ratio:.4g}-fold, beyond any "
                "market move (a unit change or a bad series); not taken as a move"
            )

    if opens is not None:
        opens = _usable_opens(opens, closes, breaks, name, notes)
    return PriceSeries(
        symbol=name,
        closes=closes,
        interval=interval,
        adjusted=adjusted_col is not None,
        breaks=tuple(sorted(breaks)),
        notes=tuple(notes),
        opens=opens,
    )


def _usable_opens(
    opens: pd.Series,
    closes: pd.Series,
    breaks: Sequence[pd.Timestamp],
    name: str,
    notes: list[str],
) -> pd.Series | None:
    """The opening prices of sessions with a usable close: positive, finite, not on a split
    or data break, and within ``_GLITCH_RATIO`` of the session's own close (else a bad print,
    dropped with a note)."""
    opens = opens.reindex(closes.index)
    present = opens.notna()
    with np.errstate(divide="ignore", invalid="ignore"):
        near_close = np.abs(np.log(opens / closes)) <= np.log(_GLITCH_RATIO)
    good = present & np.isfinite(opens) & (opens > 0) & near_close
    on_break = opens.index.isin(list(breaks))
    bad = present & ~good & ~on_break
    if bool(bad.any()):
        notes.append(
            f"{name}: dropped {int(bad.sum())} opening prices that are not positive, finite or "
            f"within {_GLITCH_RATIO:g}x of their session's close"
        )
    kept = opens[good & ~on_break]
    return kept if not kept.empty else None


def _between(series: PriceSeries, start: date | None, end: date | None) -> PriceSeries:
    if start is None and end is None:
        return series
    index = pd.DatetimeIndex(series.closes.index)
    days = (index.tz_convert(None) if index.tz is not None else index).normalize()
    keep = np.ones(len(index), dtype=bool)
    if start is not None:
        keep &= days >= pd.Timestamp(start)
    if end is not None:
        keep &= days <= pd.Timestamp(end)
    closes = series.closes[keep]
    breaks = series.breaks
    if breaks:  # the breaks among the kept bars (looked up by value: no Timestamp per bar)
        inside = pd.DatetimeIndex(list(breaks)).isin(closes.index).tolist()
        breaks = tuple(itertools.compress(breaks, inside))
    opens = series.opens
    if opens is not None:
        opens = opens[opens.index.isin(closes.index)]
    return replace(series, closes=closes, breaks=breaks, opens=opens)


def _describe(start: date | None, end: date | None) -> str:
    first = start.isoformat() if start else "the start"
    return f"{first} .. {end.isoformat() if end else 'the end'}"


@dataclass(frozen=True)
class _Cached:
    stamp: tuple[int, int]
    series: PriceSeries | PriceError


class CsvPriceSource:
    """Price history from ``<SYMBOL>.csv`` files in one or more directories.

    A symbol may have a daily file in one directory and an intraday file in another: each
    interval is served from the first directory that holds a file of that interval. A daily
    request for a symbol with only intraday bars gets those bars (their last bar of each day is
    its close); an intraday request for a symbol with only daily bars fails with
    :class:`NoIntradayError`, so the symbol is left out of intraday readings, not counted stale.
    Parsed files are kept until they change on disk.
    """

    name = "csv"

    def __init__(self, dirs: Path | Sequence[Path]) -> None:
        """Check the directories.

        Args:
            dirs: directories to search, in order of preference (or a single directory).

        Raises:
            SourceUnavailableError: no directory was given, or one is missing.
        """
        self.dirs = (dirs,) if isinstance(dirs, Path) else tuple(Path(d) for d in dirs)
        if not self.dirs:
            raise SourceUnavailableError("CsvPriceSource needs at least one directory")
        for directory in self.dirs:
            if not directory.is_dir():
                raise SourceUnavailableError(
                    f"price directory {directory} does not exist or is not a directory"
                )
        self._cache: dict[Path, _Cached] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def check_dirs(self) -> None:
        """Raise :class:`SourceUnavailableError` if a directory has gone (moved, unmounted):
        the whole source is unavailable then, not every symbol unknown."""
        for directory in self.dirs:
            if not directory.is_dir():
                raise SourceUnavailableError(f"price directory {directory} is gone")

    def _files(self) -> dict[str, list[Path]]:
        """Every file of each symbol (matched case-insensitively), in directory order."""
        self.check_dirs()
        files: dict[str, list[Path]] = {}
        names: dict[str, str] = {}
        for directory in self.dirs:
            for path in sorted(directory.glob("*.csv")):
                if path.is_file():
                    symbol = path.name.removesuffix(".csv")
                    key = names.setdefault(symbol.upper(), symbol)
                    files.setdefault(key, []).append(path)
        return files

    def symbols(self) -> list[str]:
        """All symbols with a file in any of the directories, sorted."""
        return sorted(self._files())

    def _parsed(self, path: Path, symbol: str) -> PriceSeries | PriceError:
        try:
            info = path.stat()
        except OSError as exc:
            return SourceUnavailableError(f"{symbol}: cannot use {path}: {exc.strerror}", symbol)
        stamp = (info.st_mtime_ns, info.st_size)
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None and cached.stamp == stamp:
            found = cached.series
        else:
            try:
                found = replace(read_price_file(path, symbol), origin=str(path))
            except PriceError as exc:
                found = exc
            with self._lock:
                self._cache[path] = _Cached(stamp, found)
        if isinstance(found, PriceSeries) and found.symbol != symbol:
            found = replace(found, symbol=symbol, closes=found.closes.rename(symbol))
        return found

    def _choose(
        self,
        symbol: str,
        paths: Sequence[Path],
        interval: Interval | None,
        doubles: list[tuple[str, PriceSeries, Sequence[PriceSeries]]],
    ) -> PriceSeries | PriceError:
        """The file for ``interval``; ``None``: the daily file, else the first readable one.
        Files passed over for another of the same bars are added to ``doubles``."""
        parsed = [self._parsed(path, symbol) for path in paths]
        readable = [p for p in parsed if isinstance(p, PriceSeries)]
        daily = [p for p in readable if p.interval == "1d"]
        intraday = [p for p in readable if p.interval != "1d"]
        found: list[PriceSeries] = []
        if interval == "1h":
            if not intraday and daily:
                return NoIntradayError(
                    f"{symbol}: only daily bars ({daily[0].origin}); no intraday file", symbol
                )
            found = intraday
        else:
            found = daily or intraday
        if found:
            chosen = found[0]
            if len(found) == 1:
                return chosen
            doubles.append((symbol, chosen, found[1:]))
            others = ", ".join(f.origin for f in found[1:])
            note = (
                f"{symbol}: {chosen.origin} and {others} hold the same kind of bars; using "
                f"{chosen.origin} (the first directory given wins)"
            )
            return replace(chosen, notes=(*chosen.notes, note))
        errors = [p for p in parsed if isinstance(p, PriceError)]
        return errors[0] if errors else UnknownSymbolError(f"{symbol}: no usable file", symbol)

    def _warn_doubles(
        self, doubles: Sequence[tuple[str, PriceSeries, Sequence[PriceSeries]]]
    ) -> None:
        """One warning per set of directories that hold the same bars of some symbols (never a
        silent choice), naming the symbols; each set is told once."""
        groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for symbol, chosen, others in doubles:
            key = (
                str(Path(chosen.origin).parent),
                tuple(str(Path(o.origin).parent) for o in others),
            )
            groups.setdefault(key, []).append(symbol)
        for (first, rest), symbols in groups.items():
            warning = (
                f"{len(symbols)} symbols have files of the same bars in {first} and "
                f"{', '.join(rest)}; using {first} (the first directory given wins): "
                f"{', '.join(sorted(symbols))}"
            )
            with self._lock:
                new = warning not in self._warned
                self._warned.add(warning)
            if new:
                log.warning("%s", warning)

    def _load(
        self,
        symbols: Sequence[str],
        start: date | None,
        end: date | None,
        interval: Interval | None,
    ) -> PriceBatch:
        files = self._files()
        by_upper = {key.upper(): paths for key, paths in files.items()}
        series: dict[str, PriceSeries] = {}
        errors: dict[str, PriceError] = {}
        searched = ", ".join(str(d) for d in self.dirs)
        doubles: list[tuple[str, PriceSeries, Sequence[PriceSeries]]] = []
        for symbol in symbols:
            paths = files.get(symbol) or by_upper.get(symbol.upper())
            if not paths:
                errors[symbol] = UnknownSymbolError(
                    f"{symbol}: no {symbol}.csv in {searched}", symbol
                )
                continue
            found = self._choose(symbol, paths, interval, doubles)
            if isinstance(found, PriceError):
                errors[symbol] = found
                continue
            kept = _between(found, start, end)
            if kept.closes.empty:
                errors[symbol] = StaleDataError(
                    f"{symbol}: {found.origin} has no bars in {_describe(start, end)}", symbol
                )
                continue
            series[symbol] = kept
        self._warn_doubles(doubles)
        return PriceBatch(series=series, errors=errors)

    async def history(
        self,
        symbols: Sequence[str],
        *,
        start: date | None = None,
        end: date | None = None,
        interval: Interval = "1d",
    ) -> PriceBatch:
        """Bars of each symbol from ``start`` to ``end`` (both inclusive), from the file of the
        asked ``interval`` (see the class docstring)."""
        import asyncio  # here, not at the top: a backtest never awaits (13 ms of its start)

        return await asyncio.to_thread(self._load, list(symbols), start, end, interval)

    def load_all(self, start: date | None = None, end: date | None = None) -> PriceBatch:
        """Every symbol once: its daily file where it has one, else its intraday file."""
        return self._load(self.symbols(), start, end, None)

    def load_intervals(
        self, start: date | None = None, end: date | None = None
    ) -> tuple[PriceBatch, PriceBatch]:
        """Every symbol's daily series (as :meth:`load_all`) and, where it has one, its
        intraday series."""
        daily = self._load(self.symbols(), start, end, None)
        intraday = self._load(self.symbols(), start, end, "1h")
        kept = {s: v for s, v in intraday.series.items() if v.interval != "1d"}
        errors = {s: e for s, e in intraday.errors.items() if not isinstance(e, NoIntradayError)}
        return daily, PriceBatch(kept, errors)


def describe_intervals(daily: PriceBatch, intraday: PriceBatch) -> str:
    """Which directories served which interval (from :meth:`CsvPriceSource.load_intervals`)."""
    parts = []
    for label, batch in (("daily", daily), ("intraday", intraday)):
        where = sorted({str(Path(s.origin).parent) for s in batch.series.values()})
        parts.append(f"{len(batch.series)} symbols {label} ({', '.join(where) or '-'})")
    return "; ".join(parts)


__all__ = ["CsvPriceSource", "describe_intervals", "read_price_file"]
