"""Which instruments and themes a headline is about.

Instrument names and aliases (``name``, ``aliases_en``, ``aliases_de``) and theme keywords match
case-insensitively on word boundaries: a hyphen or an apostrophe is a boundary, so
"Nvidia-Aktie", "Nvidia-Chef" and "Nvidia's" all name Nvidia, while "Micron" does not match
"microns". In German items (``language="de"``), the genitive of a one-word alias written in the
alias's own case also counts ("Nvidias", "Intels"); English items never read "Workdays" as
Workday. Aliases of every language are looked for in every item.

``case_sensitive_aliases`` ("Arm", "Meta", "Apple", "SAP") match only with their exact case, so
"raised his arm" and "apple pie" do not count. A spelling that one instrument declares
case-sensitive is case-sensitive for every instrument (the SAP ADR's name "SAP (ADR)" too), and a
one-word name that the universe lists as an alias only in its corporate form ("Coherent Corp",
"Disco Corp", not the bare word) is treated as case-sensitive as well, so "a coherent plan" does
not name Coherent. Known limitation: exact case is all that is checked, so a capitalised word
at the start of a sentence or in a title-case headline ("Arm Wrestling Returns", "Meta-Analysis
Finds ...") still matches.

Ticker symbols match only in unambiguous forms: "$NVDA", "(NVDA)" (also Reuters' "(NVDA.O)"),
and after an exchange prefix, "NASDAQ:NVDA", "NYSE: NVDA", "XETRA:IFX", "TYO:8035". A bare
"NOW" or "ARM" never counts as a ticker.

Everything is compiled into five regular expressions (tickers, case-insensitive aliases,
case-sensitive aliases, German genitives, theme keywords), each built as a character trie so one
pass over the text tests all names at once.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bot.news.items import NewsItem
from bot.universe import Universe

__all__ = ["Match", "Matcher", "Theme", "ThemeError", "load_themes"]


class ThemeError(ValueError):
    """The themes file is invalid; the message names every bad entry."""


@dataclass(frozen=True)
class Theme:
    """One news theme with its keywords in both languages."""

    key: str
    name_en: str
    name_de: str
    keywords_en: tuple[str, ...]
    keywords_de: tuple[str, ...]

    def name(self, language: str) -> str:
        return self.name_de if language == "de" else self.name_en

    @property
    def keywords(self) -> tuple[str, ...]:
        return (*self.keywords_en, *self.keywords_de)


_THEME_FIELDS = ("name_en", "name_de", "keywords_en", "keywords_de")


def _theme_from(key: str, body: object, where: str, errors: list[str]) -> Theme | None:
    if not isinstance(body, dict):
        errors.append(f"{where}: must be a table")
        return None
    count = len(errors)
    for unknown in sorted(set(body) - set(_THEME_FIELDS)):
        errors.append(f"{where}.{unknown}: unknown key")
    names: dict[str, str] = {}
    for name_field in ("name_en", "name_de"):
        value = body.get(name_field)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{where}.{name_field}: must be a non-empty string")
        else:
            names[name_field] = value.strip()
    keywords: dict[str, tuple[str, ...]] = {}
    for list_field in ("keywords_en", "keywords_de"):
        value = body.get(list_field)
        if not isinstance(value, list):
            errors.append(f"{where}.{list_field}: must be a list of strings")
            continue
        good: list[str] = []
        for n, word in enumerate(value):
            if not isinstance(word, str) or not any(ch.isalnum() for ch in word):
                errors.append(f"{where}.{list_field}[{n}]: must be a word or phrase, got {word!r}")
            else:
                good.append(word.strip())
        keywords[list_field] = tuple(good)
    if len(errors) == count and not (keywords["keywords_en"] or keywords["keywords_de"]):
        errors.append(f"{where}: needs at least one keyword")
    if len(errors) != count:
        return None
    return Theme(
        key=key,
        name_en=names["name_en"],
        name_de=names["name_de"],
        keywords_en=keywords["keywords_en"],
        keywords_de=keywords["keywords_de"],
    )


def load_themes(path: Path | None = None) -> dict[str, Theme]:
    """Load the themes file (the bundled ``bot/data/themes.toml`` when ``path`` is None).

    Raises:
        ThemeError: listing every problem, each naming its entry.
    """
    if path is None:
        source = "themes.toml"
        text = resources.files("bot").joinpath("data/themes.toml").read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ThemeError(f"{source}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{source}: not valid TOML: {exc}") from None
    errors = [f"{source}: {key}: unknown top-level key" for key in sorted(data) if key != "themes"]
    raw = data.get("themes")
    if not isinstance(raw, dict) or not raw:
        errors.append(f"{source}: needs a [themes.<key>] table per theme")
        raise ThemeError("\n".join(errors))
    themes: dict[str, Theme] = {}
    for key, body in raw.items():
        where = f"{source}: themes.{key}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            errors.append(f"{where}: key must be lower-case letters, digits and '_'")
            continue
        theme = _theme_from(key, body, where, errors)
        if theme is not None:
            themes[key] = theme
    if errors:
        raise ThemeError("\n".join(errors))
    return themes


@dataclass(frozen=True)
class Match:
    """What one text is about: universe symbols and theme keys, each sorted and unique."""

    symbols: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.symbols or self.themes)


# Text clean-up before matching: invisible characters go, odd spaces, hyphens and apostrophes
# become their plain forms.
_CLEAN = str.maketrans(
    {
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
        "\u00ad": None,
        "\u00a0": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2010": "-",
        "\u2011": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
    }
)
_SPACES = re.compile(r"\s+")
_BOUNDARY = r"(?!\w)"
_CORPORATE_SUFFIXES = frozenset({"corp", "corp.", "corporation", "inc", "inc.", "ltd", "se", "ag"})
_ADR_NOTE = re.compile(r"\s*\([^)]*\)\s*$")


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_CLEAN)


def _key(phrase: str, *, fold: bool) -> str:
    """The look-up form of a phrase or of matched text."""
    text = _SPACES.sub(" ", _clean(phrase)).strip()
    return text.lower() if fold else text


def _tokens(phrase: str, *, fold: bool) -> tuple[str, ...]:
    """Regex pieces of a phrase, one per character; a whitespace run is one ``\\s+``."""
    text = _key(phrase, fold=fold)
    pieces = [r"\s+" if ch == " " else re.escape(ch) for ch in text]
    if text.endswith("-"):
        # The head of a hyphenated compound ("Zoll-" in "Zoll-Streit"): no boundary after it,
        # and it must not be the middle of a longer compound ("27-Zoll-Monitor").
        return ("(?<!-)", *pieces)
    if text and (text[-1].isalnum() or text[-1] == "_"):
        pieces.append(_BOUNDARY)
    return tuple(pieces)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    end: bool = False


def _trie_pattern(sequences: Iterable[tuple[str, ...]]) -> str:
    """One regex matching any of the token sequences, longest alternative first."""
    root = _Node()
    for seq in sequences:
        node = root
        for token in seq:
            node = node.children.setdefault(token, _Node())
        node.end = True

    def render(node: _Node) -> str:
        # Real characters before the boundary assertion, so the longer phrase wins.
        order = sorted(node.children, key=lambda t: (t == _BOUNDARY, t))
        alternatives = [token + render(node.children[token]) for token in order]
        if not alternatives:
            return ""
        if node.end:
            alternatives.append("")
        if len(alternatives) == 1:
            return alternatives[0]
        return "(?:" + "|".join(alternatives) + ")"

    body = render(root)
    return r"(?<!\w)" + body if body else r"(?!x)x"


_EXCHANGES: dict[str, str] = {
    "NASDAQ": "us",
    "NYSE": "us",
    "NYSEARCA": "us",
    "NYSEAMERICAN": "us",
    "AMEX": "us",
    "BATS": "us",
    "CBOE": "us",
    "XETRA": "DE",
    "ETR": "DE",
    "FRA": "DE",
    "FWB": "DE",
    "AMS": "AS",
    "EPA": "PA",
    "EURONEXT": "AS PA",
    "SWX": "SW",
    "SIX": "SW",
    "VTX": "SW",
    "BIT": "MI",
    "TYO": "T",
    "TSE": "T",
    "JPX": "T",
}


def _ticker_regex(symbols: Iterable[str]) -> re.Pattern[str]:
    by_length = sorted(symbols, key=lambda s: (-len(s), s))
    alternatives = "|".join(re.escape(s) for s in by_length)
    exchanges = sorted({"NYSE ARCA", "NYSE AMERICAN", *_EXCHANGES}, key=lambda s: (-len(s), s))
    exchange_alts = "|".join(re.escape(e).replace(r"\ ", r"\s?") for e in exchanges)
    return re.compile(
        rf"\$(?P<cash>{alternatives})(?!\w)"
        rf"|\((?P<paren>{alternatives})(?:\.(?:OQ|O|N|K|A|P))?\)"
        rf"|(?<!\w)(?P<ex>(?i:{exchange_alts}))\s?:\s?(?P<tk>[A-Z0-9]+(?:\.[A-Z]{{1,2}})?)(?!\w)"
    )


class Matcher:
    """Tags texts with universe symbols and theme keys; build once, use for every item."""

    def __init__(self, universe: Universe, themes: Mapping[str, Theme]) -> None:
        self._themes = dict(themes)
        instruments = universe.instruments
        self._symbols = sorted(instruments)

        # Which spellings are case-sensitive, for every instrument that uses them.
        strict: set[str] = set()
        for inst in instruments.values():
            strict.update(a.lower() for a in inst.case_sensitive_aliases)
            name = _ADR_NOTE.sub("", inst.name)
            if " " not in name:
                corporate = {f"{name} {suffix}".lower() for suffix in _CORPORATE_SUFFIXES}
                listed = {a.lower() for a in inst.aliases_en}
                if listed & corporate and name.lower() not in listed:
                    strict.add(name.lower())

        exact: dict[str, set[str]] = {}
        folded: dict[str, set[str]] = {}
        genitives: dict[str, set[str]] = {}
        for symbol, inst in instruments.items():
            spellings = [_ADR_NOTE.sub("", inst.name), *inst.aliases_en, *inst.aliases_de]
            spellings += inst.case_sensitive_aliases
            for spelling in spellings:
                if len(spelling.strip()) < 2:
                    continue
                if spelling.lower() in strict or spelling in inst.case_sensitive_aliases:
                    exact.setdefault(_key(spelling, fold=False), set()).add(symbol)
                    continue
                folded.setdefault(_key(spelling, fold=True), set()).add(symbol)
                word = spelling.strip()
                if word.isalnum() and word[-1].isalpha() and word[-1].lower() not in "sxzß":
                    genitives.setdefault(word + "s", set()).add(symbol)
        self._exact = exact
        self._folded = folded
        self._genitives = genitives

        self._keywords: dict[str, set[str]] = {}
        for key, theme in self._themes.items():
            for word in theme.keywords:
                self._keywords.setdefault(_key(word, fold=True), set()).add(key)

        self._exact_re = re.compile(_trie_pattern(_tokens(s, fold=False) for s in exact))
        self._genitive_re = re.compile(_trie_pattern(_tokens(s, fold=False) for s in genitives))
        self._folded_re = re.compile(
            _trie_pattern(_tokens(s, fold=True) for s in folded), re.IGNORECASE
        )
        self._theme_re = re.compile(
            _trie_pattern(_tokens(w, fold=True) for w in self._keywords), re.IGNORECASE
        )

        self._ticker_re = _ticker_regex(instruments)
        self._by_exchange: dict[tuple[str, str], set[str]] = {}
        for symbol, inst in instruments.items():
            if symbol.startswith("^"):
                continue
            base, dot, suffix = symbol.partition(".")
            group = suffix if dot else ("us" if inst.region == "us" else "")
            if group:
                self._by_exchange.setdefault((group, base), set()).add(symbol)

    @property
    def themes(self) -> Mapping[str, Theme]:
        return self._themes

    def match(self, item: NewsItem) -> Match:
        """The symbols and themes of an item's title and summary."""
        return self.match_text(f"{item.title}\n{item.summary}", item.language)

    def match_text(self, text: str, language: str | None = None) -> Match:
        """The symbols and themes of a text; ``language="de"`` also reads German genitives."""
        text = _clean(text)
        symbols: set[str] = set()
        spans: list[tuple[int, int]] = []
        for m in self._ticker_re.finditer(text):
            found = self._ticker_symbols(m)
            if found:
                symbols |= found
                spans.append(m.span())
        if spans:
            # Blank the tickers out so "NASDAQ:NVDA" does not also name the Nasdaq index.
            parts: list[str] = []
            last = 0
            for start, end in spans:
                parts += [text[last:start], " " * (end - start)]
                last = end
            parts.append(text[last:])
            text = "".join(parts)
        for m in self._exact_re.finditer(text):
            symbols |= self._exact.get(_key(m.group(0), fold=False), set())
        for m in self._folded_re.finditer(text):
            symbols |= self._folded.get(_key(m.group(0), fold=True), set())
        if language == "de":
            for m in self._genitive_re.finditer(text):
                symbols |= self._genitives.get(m.group(0), set())
        themes: set[str] = set()
        for m in self._theme_re.finditer(text):
            themes |= self._keywords.get(_key(m.group(0), fold=True), set())
        return Match(symbols=tuple(sorted(symbols)), themes=tuple(sorted(themes)))

    def _ticker_symbols(self, m: re.Match[str]) -> set[str]:
        if m.group("cash"):
            return {m.group("cash")}
        if m.group("paren"):
            return {m.group("paren")}
        ticker = m.group("tk")
        groups = _EXCHANGES[_SPACES.sub("", m.group("ex")).upper()].split()
        found: set[str] = set()
        for group in groups:
            found |= self._by_exchange.get((group, ticker), set())
        if not found and ticker in self._symbols:
            found.add(ticker)
        return found

    def lookup(self, query: str) -> tuple[list[str], list[str]]:
        """What a user's ``/news QUERY`` asks for: (symbols, theme keys), each sorted.

        Accepts a ticker in any case ("nvda", "$NVDA", "ifx" for IFX.DE), an instrument name
        or alias in any case ("arm", "Nvidia-Aktie"), a theme key ("export_controls",
        "export controls"), a theme's name or keyword in either language ("Zölle"). Anything
        else is matched as text, so "Nvidia DeepSeek" gives both.
        """
        text = _key(query, fold=False).lstrip("$").strip()
        if not text:
            return [], []
        folded = text.lower()
        symbols: set[str] = set()
        upper = text.upper()
        if upper in self._symbols:
            symbols.add(upper)
        for (_group, base), found in self._by_exchange.items():
            if base == upper:
                symbols |= found
        for table in (self._exact, self._folded):
            for spelling, found in table.items():
                if spelling.lower() == folded:
                    symbols |= found
        themes: set[str] = set()
        as_key = re.sub(r"[\s-]+", "_", folded)
        for key, theme in self._themes.items():
            names = {key, theme.name_en.lower(), theme.name_de.lower()}
            if as_key in names or folded in names:
                themes.add(key)
        themes |= self._keywords.get(folded, set())
        if not symbols and not themes:
            found_match = self.match_text(text)
            symbols.update(found_match.symbols)
            themes.update(found_match.themes)
        return sorted(symbols), sorted(themes)
