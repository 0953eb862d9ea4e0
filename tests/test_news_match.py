"""News matching, deduplication and theme bursts, on the real feeds of late January 2025."""

# Real headlines keep their typographic quotes and dashes.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import calendar
import html
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from bot.news.burst import BurstDetector, BurstRules
from bot.news.dedupe import Deduplicator, dedupe_keys, normalise_link, title_fingerprint
from bot.news.items import Language, NewsItem
from bot.news.match import Matcher, Theme, ThemeError, load_themes
from bot.universe import load_universe

THEMES = load_themes()
MATCHER = Matcher(load_universe(), THEMES)


def _plain(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def _jsonl_items(path: Path) -> list[NewsItem]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        items.append(
            NewsItem(
                feed=row["feed_title"],
                title=row["title"],
                link=row["link"],
                guid=None,
                summary=_plain(row["description"]),
                published=datetime.fromisoformat(row["date_published"]),
                language="en",
            )
        )
    return items


def _feed_items(path: Path, language: Language, feed: str | None = None) -> list[NewsItem]:
    parsed = feedparser.parse(str(path))
    items = []
    for entry in parsed.entries:
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        items.append(
            NewsItem(
                feed=feed or path.name,
                title=_plain(entry.get("title", "")),
                link=entry.get("link"),
                guid=entry.get("id"),
                summary=_plain(entry.get("summary", "")),
                published=datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None,
                language=language,
            )
        )
    return items


@pytest.fixture(scope="module")
def jan_items(shared_data: Path) -> list[NewsItem]:
    path = shared_data / "feeds" / "deepseek_2025-01" / "real_feed_items_2025-01-26_28.jsonl"
    items = _jsonl_items(path)
    assert len(items) == 38
    return items


@pytest.fixture(scope="module")
def german(shared_data: Path) -> dict[str, list[NewsItem]]:
    folder = shared_data / "feeds" / "german"
    return {p.name: _feed_items(p, "de") for p in sorted(folder.glob("*.xml"))}


def _titles(
    items: list[NewsItem], *, symbol: str | None = None, theme: str | None = None
) -> set[str]:
    found = set()
    for item in items:
        match = MATCHER.match(item)
        if (symbol is None or symbol in match.symbols) and (theme is None or theme in match.themes):
            found.add(item.title)
    return found


# --- themes file -------------------------------------------------------------------------------


def test_bundled_themes_have_both_languages() -> None:
    assert set(THEMES) == {
        "deepseek",
        "export_controls",
        "ai_capex",
        "datacenter_power",
        "tariffs",
        "earnings",
    }
    for theme in THEMES.values():
        assert theme.keywords_en
        assert theme.keywords_de
        assert theme.name("de") == theme.name_de != theme.name("en")


def test_bad_themes_file_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "themes.toml"
    path.write_text(
        '[themes.ok]\nname_en = "A"\nname_de = "B"\nkeywords_en = ["a"]\nkeywords_de = []\n'
        '[themes.broken]\nname_en = "A"\nkeywords_en = ["fine", 3]\nkeywords_de = []\n'
        'colour = "red"\n',
        encoding="utf-8",
    )
    with pytest.raises(ThemeError) as info:
        load_themes(path)
    message = str(info.value)
    assert "themes.broken.name_de" in message
    assert "themes.broken.keywords_en[1]" in message
    assert "themes.broken.colour: unknown key" in message
    assert "themes.ok" not in message


def test_custom_themes_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "themes.toml"
    path.write_text(
        '[themes.robots]\nname_en = "Robots"\nname_de = "Roboter"\n'
        'keywords_en = ["humanoid robot"]\nkeywords_de = ["Roboter"]\n',
        encoding="utf-8",
    )
    themes = load_themes(path)
    assert themes == {
        "robots": Theme("robots", "Robots", "Roboter", ("humanoid robot",), ("Roboter",))
    }
    matcher = Matcher(load_universe(), themes)
    assert matcher.match_text("Humanoid Robot progress").themes == ("robots",)


# --- real items of 26-28 January 2025 ----------------------------------------------------------


def test_real_deepseek_items_match_the_deepseek_theme(jan_items: list[NewsItem]) -> None:
    assert _titles(jan_items, theme="deepseek") == {
        "Silicon Valley Is Raving About a Made-in-China AI Model",
        "What to Know About China's DeepSeek AI",
        "Tech, Media & Telecom Roundup: Market Talk",
        "What is DeepSeek? And How Is It Upending A.I.?",
        "Nvidia Reels After DeepSeek’s A.I. Breakthrough",
        "DeepSeek Prompts a Reckoning Across Wall Street and Silicon Valley",
        # no "DeepSeek" in it: matched by "China's AI" (typographic apostrophe)
        "Stocks Markets Fall Sharply as Investors Worry About China’s AI Advances",
        "Tech stocks fall as China's DeepSeek sparks U.S. worries about the AI race",
        "DeepSeek hit with large-scale cyberattack, says it's limiting registrations",
        "DeepSeek's 'cheap' Chinese AI chatbot sparks tech stock selloff",
        "DeepSeek panic triggers tech stock sell-off as Chinese AI tops App Store",
        "Why DeepSeek is different, in three charts",
        "What is DeepSeek, the Chinese AI startup shaking up tech stocks and spooking investors?",
        "Why Silicon Valley is blown away by Chinese AI app DeepSeek",
        "Trump says China's DeepSeek AI 'should be a wake-up call' for American tech companies",
    }


def test_real_items_naming_nvidia_match_nvda(jan_items: list[NewsItem]) -> None:
    assert _titles(jan_items, symbol="NVDA") == {
        "Nvidia Reels After DeepSeek’s A.I. Breakthrough",  # and "Nvidia’s chips"
        "DeepSeek Prompts a Reckoning Across Wall Street and Silicon Valley",  # summary
        "CES 2025: AI, IoT, Autonomy, Health and SDVs",  # HTML summary: "Nvidia and more"
    }


def test_other_real_matches_and_quiet_items(jan_items: list[NewsItem]) -> None:
    by_title = {item.title: MATCHER.match(item) for item in jan_items}
    assert by_title["Tech, Media & Telecom Roundup: Market Talk"].symbols == ("TSM",)
    # "Apple's App Store" / "Apple’s app store" in the summaries.
    assert _titles(jan_items, symbol="AAPL") == {
        "DeepSeek's 'cheap' Chinese AI chatbot sparks tech stock selloff",
        "Why Silicon Valley is blown away by Chinese AI app DeepSeek",
    }
    assert _titles(jan_items, theme="tariffs") == {
        "Trump’s Colombia Tariff Threat Startled Companies Trying to Rely Less on China",
        "Palestinians Trek Home, Trump Tariffs, and Super Bowl 2025",
    }
    assert not by_title["Mazda celebrates 35 years of the MX-5 with anniversary model"]
    assert not by_title["Strong Dollar vs. Weak Dollar"]
    matched = [t for t, m in by_title.items() if m]
    assert len(matched) == 19


# --- German feeds ------------------------------------------------------------------------------


def test_real_german_items_name_universe_companies(german: dict[str, list[NewsItem]]) -> None:
    dlf = german["deutschlandfunk-wirtschaft.xml"]
    assert "Intel-Chipfabrik in Magdeburg - Zukunftsinvestitionen gegen Staatsknete" in _titles(
        dlf, symbol="INTC"
    )
    assert "Streaming - Amazon Prime Video nicht mehr werbefrei" in _titles(dlf, symbol="AMZN")
    # tagesschau's market report names the DAX in its summary.
    assert "Marktbericht: Neue Hoffnung an der Wall Street" in _titles(
        german["tagesschau.xml"], symbol="^GDAXI"
    )
    # "arm" the German adjective (poor) is not Arm Holdings.
    poor = "Glücksspielsucht nimmt zu - Ob arm oder reich – vor Spielsucht ist niemand sicher"
    assert poor in {item.title for item in dlf}
    assert poor not in _titles(dlf, symbol="ARM")
    assert not any("ARM" in MATCHER.match(i).symbols for feed in german.values() for i in feed)


def test_real_german_theme_items(german: dict[str, list[NewsItem]]) -> None:
    dlf = german["deutschlandfunk-wirtschaft.xml"]
    tariffs = _titles(dlf, theme="tariffs")
    assert "Strafzölle - Die EU macht Ernst bei E-Autos aus China" in tariffs
    assert "Konflikt USA-China - Was bedeuten die neuen US-Zölle für den Welthandel?" in tariffs
    # "den enormen Energiebedarf der Rechenzentren" in the summary
    assert "Energiehunger durch KI - Wie das Internet den Ausbau der Atomkraft antreibt" in (
        _titles(dlf, theme="datacenter_power")
    )


def test_real_handelsblatt_items(shared_data: Path) -> None:
    items = _feed_items(
        shared_data / "feeds" / "bad" / "handelsblatt_same_link_every_item.xml", "de"
    )
    assert "„Wir sind frustriert“ – Apple reagiert auf EU-Regulierung" in _titles(
        items, symbol="AAPL"
    )
    # German genitive without apostrophe
    assert "Die Rückkehr der klassischen Prozessoren – und Intels letzte Chance" in _titles(
        items, symbol="INTC"
    )
    assert "Trump will Einfuhrzölle für Autos und Lkw aus der EU auf 25 Prozent erhöhen" in (
        _titles(items, theme="tariffs")
    )
    assert "EU droht Trump nach Zoll-Ankündigungen mit Gegenmaßnahmen" in _titles(
        items, theme="tariffs"
    )


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        ("Nvidia-Aktie bricht ein", ("NVDA",)),
        ("Nvidia-Chef Jensen Huang warnt", ("NVDA",)),
        ("Nvidias Umsatz bricht ein", ("NVDA",)),
        ("Siemens Energy und Infineon unter Druck", ("ENR.DE", "IFX.DE")),
        ("Die Siemens-Energy-Aktie fällt, auch die Infineon-Aktie", ("ENR.DE", "IFX.DE")),
        ("Der Walldorfer Softwarekonzern SAP legt zu", ("SAP", "SAP.DE")),
        ("Der Dax schließt im Minus", ("^GDAXI",)),
        ("Chipfertiger TSMC und ASML-Aktie schwach", ("ASML", "ASML.AS", "TSM")),
    ],
)
def test_german_aliases(text: str, symbols: tuple[str, ...]) -> None:
    assert MATCHER.match_text(text, "de").symbols == symbols


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("Neue Zölle auf Chips aus China", "tariffs"),
        ("USA verschärfen Exportkontrollen für KI-Chips", "export_controls"),
        ("Exportbeschränkungen treffen Nvidia", "export_controls"),
        ("Günstiges KI-Modell aus China schockt die Börse", "deepseek"),
        ("Chinesisches KI-Start-up erschüttert Wall Street", "deepseek"),
        ("Microsoft erhöht Investitionen in KI", "ai_capex"),
        ("Der Stromverbrauch von Rechenzentren steigt", "datacenter_power"),
        ("Nvidia legt Quartalszahlen vor und hebt die Prognose an", "earnings"),
        ("Der Handelskrieg eskaliert", "tariffs"),
    ],
)
def test_german_themes(text: str, theme: str) -> None:
    assert theme in MATCHER.match_text(text, "de").themes


def test_german_words_that_are_no_theme() -> None:
    assert MATCHER.match_text("Neuer 27-Zoll-Monitor im Test", "de").themes == ()
    assert MATCHER.match_text("Der Zoll kontrolliert am Flughafen", "de").themes == ()


# --- case-sensitive aliases and tickers --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "symbol", "expected"),
    [
        ("Arm Holdings shares jump", "ARM", True),
        ("Arm shares fell 5%", "ARM", True),
        ("He raised his arm", "ARM", False),
        ("arms exports", "ARM", False),
        ("Meta Platforms beats estimates", "META", True),
        ("Meta shares rose", "META", True),
        ("A meta-analysis of 40 studies", "META", False),
        ("Apple unveils a new iPhone", "AAPL", True),
        ("Grandma's apple pie", "AAPL", False),
        ("Micron results beat estimates", "MU", True),
        ("features of a few microns", "MU", False),
        ("a coherent plan", "COHR", False),
        ("Coherent Corp raises outlook", "COHR", True),
        ("tree sap", "SAP.DE", False),
        ("Buy $NVDA now", "NVDA", True),
        ("Nvidia Corp (NVDA) slid", "NVDA", True),
        ("shares of Nvidia (NVDA.O) fell", "NVDA", True),
        ("NASDAQ:NVDA", "NVDA", True),
        ("(NYSE: NVDA)", "NVDA", True),
        ("XETRA:IFX", "IFX.DE", True),
        ("nvda", "NVDA", False),
        ("Act NOW before it is too late", "NOW", False),
        ("now is the time", "NOW", False),
        ("ServiceNow (NOW) rallied", "NOW", True),
        ("NVIDIA's chips", "NVDA", True),
        ("Nvidia’s chips", "NVDA", True),
    ],
)
def test_aliases_and_tickers(text: str, symbol: str, expected: bool) -> None:
    assert (symbol in MATCHER.match_text(text).symbols) is expected


def test_exchange_prefix_does_not_name_the_nasdaq_index() -> None:
    assert MATCHER.match_text("NASDAQ:NVDA").symbols == ("NVDA",)
    assert "QQQ" in MATCHER.match_text("The Nasdaq fell 3%").symbols


def test_german_genitive_only_in_german_items() -> None:
    assert MATCHER.match_text("Workdays are getting longer", "en").symbols == ()
    assert MATCHER.match_text("Intels Chipfabrik", "en").symbols == ()
    assert MATCHER.match_text("Intels Chipfabrik", "de").symbols == ("INTC",)


def test_invisible_characters_do_not_hide_names() -> None:
    assert MATCHER.match_text("Nvi\u200bdia and Deep\u00adSeek").symbols == ("NVDA",)
    assert MATCHER.match_text("Nvi\u200bdia and Deep\u00adSeek").themes == ("deepseek",)


def test_lookup() -> None:
    assert MATCHER.lookup("nvda") == (["NVDA"], [])
    assert MATCHER.lookup("$NVDA") == (["NVDA"], [])
    assert MATCHER.lookup("Nvidia") == (["NVDA"], [])
    assert MATCHER.lookup("Nvidia-Aktie") == (["NVDA"], [])
    assert MATCHER.lookup("arm") == (["ARM"], [])
    assert MATCHER.lookup("ifx") == (["IFX.DE"], [])
    assert MATCHER.lookup("deepseek") == ([], ["deepseek"])
    assert MATCHER.lookup("export controls") == ([], ["export_controls"])
    assert MATCHER.lookup("Exportkontrollen") == ([], ["export_controls"])
    assert MATCHER.lookup("Zölle und Handelskrieg") == ([], ["tariffs"])
    assert MATCHER.lookup("Nvidia DeepSeek") == (["NVDA"], ["deepseek"])
    assert MATCHER.lookup("weather") == ([], [])
    assert MATCHER.lookup("  ") == ([], [])


def test_matching_a_large_real_feed_is_fast(shared_data: Path) -> None:
    items = _feed_items(shared_data / "feeds" / "bad" / "reuters_zero_width_chars.xml", "en")
    assert len(items) == 500
    start = time.perf_counter()
    matches = [MATCHER.match(item) for item in items]
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{elapsed:.2f} s for {len(items)} items"
    tsmc = "TSMC confronts new contenders for chipmaking crown"
    by_title = dict(zip((i.title for i in items), matches, strict=True))
    assert {"TSM", "NVDA", "INTC"} <= set(by_title[tsmc].symbols)
    assert (
        "export_controls" in by_title["Russia imposes temporary export controls on helium"].themes
    )
    # "arms", "coherent" and "apple" as words do not name Arm, Coherent or Apple.
    assert "ARM" not in by_title["Japan's decade-long march towards arms exports"].symbols
    assert "COHR" not in {s for m in matches for s in m.symbols}


# --- dedupe ------------------------------------------------------------------------------------


def _item(
    title: str, feed: str = "a", link: str | None = None, guid: str | None = None
) -> NewsItem:
    return NewsItem(feed, title, link, guid, "", None, "en")


def test_title_fingerprint_ignores_case_punctuation_quotes_and_source() -> None:
    base = title_fingerprint("Nvidia shares plunge 17% as DeepSeek rattles market")
    assert base == "nvidia shares plunge 17 as deepseek rattles market"
    for variant in [
        "Nvidia Shares Plunge 17% As DeepSeek Rattles Market - Reuters",
        "“Nvidia shares plunge 17% as DeepSeek rattles market” | Handelsblatt",
        "Nvidia shares plunge 17 % as DeepSeek rattles market... - Yahoo Finance",
        "Nvidia shares plunge 17% as DeepSeek rattles market – n-tv.de",
    ]:
        assert title_fingerprint(variant) == base, variant
    assert title_fingerprint("Tech sell-off deepens") == title_fingerprint("Tech selloff deepens")
    # A dash inside a headline is no source suffix.
    assert title_fingerprint("Die Rückkehr der Prozessoren – und Intels letzte Chance").endswith(
        "intels letzte chance"
    )
    assert title_fingerprint("Energie - Atomkraft Comeback") == "energie atomkraft comeback"


def test_normalise_link() -> None:
    link = "wsj.com/articles/china-ai-deepseek-chatbot-6ac4ad33"
    assert normalise_link(f"https://www.{link}?mod=rss_Technology") == link
    assert normalise_link(f"http://{link}/#comments") == link
    assert normalise_link(f"https://{link}?utm_source=x&fbclid=1&gclid=2&ref=home") == link
    assert normalise_link("https://example.com/a?b=2&utm_medium=rss&a=1") == "example.com/a?a=1&b=2"
    assert normalise_link("https://example.com/a?id=1") != normalise_link(
        "https://example.com/a?id=2"
    )
    assert normalise_link("not a link") == ""


def test_handelsblatt_same_link_every_item_keeps_all_distinct_items(shared_data: Path) -> None:
    path = shared_data / "feeds" / "bad" / "handelsblatt_same_link_every_item.xml"
    items = _feed_items(path, "de", feed="handelsblatt")
    assert len(items) == 30
    home = [i for i in items if i.link == "https://www.handelsblatt.com/"]
    assert len(home) == 28
    assert len({i.title for i in items}) == 30
    keys = dict(zip(items, dedupe_keys(items), strict=True))
    # The shared home-page link and guid are no keys; the two links of their own are.
    assert all(keys[i] == (f"title:{title_fingerprint(i.title)}",) for i in home)
    links = {key for k in keys.values() for key in k if key.startswith("link:")}
    assert links == {
        "link:handelsblatt.com/wochenende",
        "link:handelsblatt.com/politik/deutschland/kuenstliche-intelligenz-sicherheitsrat"
        "-eingeschaltet-mythos-alarmiert-bundesregierung/100221485.html",
    }
    dedupe = Deduplicator()
    assert dedupe.fresh(items) == items
    assert dedupe.fresh(items) == []
    # One item a fetch with the home page as link must not hide the next one either.
    single = Deduplicator()
    assert single.fresh(items[:1]) == items[:1]
    assert single.fresh(items[1:2]) == items[1:2]


def test_reliable_guid_and_link_are_keys() -> None:
    items = [
        _item("One", link="https://x.com/1?utm_source=rss", guid="g1"),
        _item("Two", link="https://x.com/2", guid="g2"),
    ]
    assert dedupe_keys(items) == [
        ("guid:a:g1", "link:x.com/1", "title:one"),
        ("guid:a:g2", "link:x.com/2", "title:two"),
    ]
    dedupe = Deduplicator()
    dedupe.fresh(items)
    # The same article, retitled, under its old guid: still known.
    assert dedupe.fresh([_item("One (updated)", link="https://x.com/1b", guid="g1")]) == []
    # Another feed's item with the same guid is another item.
    other = _item("Three", feed="b", guid="g1")
    assert dedupe.fresh([other]) == [other]


def test_near_identical_titles_across_two_feeds_collapse() -> None:
    reuters = _item("Nvidia loses $593 billion in value - Reuters", "reuters", "https://r.com/1")
    yahoo = _item("NVIDIA LOSES $593 BILLION IN VALUE | Yahoo Finance", "yahoo", "https://y.com/9")
    same_link = _item("Another title", "ntv", "http://www.r.com/1/?utm_campaign=feed")
    other = _item("Nvidia gains $593 billion in value", "yahoo", "https://y.com/10")
    dedupe = Deduplicator()
    assert dedupe.fresh([reuters]) == [reuters]
    assert dedupe.fresh([yahoo, same_link, other]) == [other]


def test_duplicates_inside_one_batch() -> None:
    first = _item("Chips slide", link="https://x.com/a", guid="1")
    again = _item("Chips slide", link="https://x.com/a", guid="1")
    assert Deduplicator().fresh([first, again]) == [first]


def test_restart_remembers_keys(shared_data: Path) -> None:
    items = _jsonl_items(
        shared_data / "feeds" / "deepseek_2025-01" / "real_feed_items_2025-01-26_28.jsonl"
    )
    before = Deduplicator()
    assert before.fresh(items) == items
    saved = before.keys()
    after = Deduplicator()
    after.load(saved)
    assert after.fresh(items) == []
    assert after.seen(["title:what is deepseek and how is it upending a i"])
    assert not Deduplicator().fresh([_item("")])  # nothing to know it by


def test_real_reuters_feed_dedupes_its_repeated_headline(shared_data: Path) -> None:
    items = _feed_items(shared_data / "feeds" / "bad" / "reuters_zero_width_chars.xml", "en")
    assert len(Deduplicator().fresh(items)) == 499


def test_deduplicator_forgets_oldest_beyond_its_limit() -> None:
    dedupe = Deduplicator(max_keys=4)
    dedupe.add(["a", "b", "c"])
    dedupe.add(["d", "e"])
    assert len(dedupe) == 4
    assert not dedupe.seen(["a"])
    assert dedupe.seen(["b"])


# --- bursts ------------------------------------------------------------------------------------

MONDAY = datetime(2025, 1, 27, 12, 0, tzinfo=UTC)


def _news(feed: str, title: str, at: datetime | None = None) -> NewsItem:
    return NewsItem(feed, title, None, None, "", at, "en")


def _quiet_week(detector: BurstDetector, theme: str = "earnings", per_day: int = 4) -> None:
    """A week of steady news on another theme, ending an hour before MONDAY."""
    start = MONDAY - timedelta(days=7)
    for n in range(7 * per_day):
        at = start + timedelta(hours=n * 24 / per_day)
        item = _news(f"feed{n % 5}", f"{theme} {n}", at)
        assert detector.observe(item, [theme], at) == []


def _minutes(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def test_three_feeds_after_a_quiet_week_make_one_burst() -> None:
    detector = BurstDetector()
    _quiet_week(detector)
    first = _news("WSJ", "DeepSeek rattles Silicon Valley", MONDAY)
    second = _news("NYT", "Nvidia reels after DeepSeek", MONDAY + _minutes(20))
    assert detector.observe(first, ["deepseek"], MONDAY) == []
    assert detector.observe(second, ["deepseek"], MONDAY + _minutes(25)) == []
    third_at = MONDAY + _minutes(40)
    third = _news("BBC", "DeepSeek sparks selloff", third_at)
    bursts = detector.observe(third, ["deepseek"], third_at)
    assert len(bursts) == 1
    burst = bursts[0]
    assert burst.theme == "deepseek"
    assert burst.at == third_at
    assert burst.sources == ("BBC", "NYT", "WSJ")
    assert burst.count == 3
    assert burst.usual_per_window == 0.0
    assert burst.headlines == (third, second, first)
    # More coverage within the cooldown: no second burst.
    for n, minutes in enumerate([50, 90, 150, 230]):
        at = MONDAY + _minutes(minutes)
        assert detector.observe(_news(f"more{n}", "DeepSeek again", at), ["deepseek"], at) == []
    # After the cooldown a fresh wave can burst again (its rate is judged against the first).
    later = MONDAY + timedelta(hours=6)
    wave = [_news(f"late{n}", "DeepSeek", later + _minutes(n)) for n in range(8)]
    results = [detector.observe(i, ["deepseek"], i.published or later) for i in wave]
    assert sum(len(r) for r in results) == 1


def test_two_sources_are_no_burst() -> None:
    detector = BurstDetector()
    _quiet_week(detector)
    bursts = []
    for minutes, feed in [(0, "WSJ"), (10, "NYT"), (20, "WSJ"), (30, "NYT"), (40, "NYT")]:
        at = MONDAY + _minutes(minutes)
        bursts += detector.observe(_news(feed, "DeepSeek", at), ["deepseek"], at)
    assert bursts == []


def test_items_spread_over_more_than_a_window_are_no_burst() -> None:
    detector = BurstDetector()
    _quiet_week(detector)
    bursts = []
    for minutes, feed in [(0, "WSJ"), (70, "NYT"), (140, "BBC")]:
        at = MONDAY + _minutes(minutes)
        bursts += detector.observe(_news(feed, "DeepSeek", at), ["deepseek"], at)
    assert bursts == []


def test_a_theme_with_a_high_usual_rate_needs_more_to_burst() -> None:
    detector = BurstDetector()
    # Tariffs: two items an hour, all week long.
    _quiet_week(detector, theme="tariffs", per_day=48)
    fired_at = None
    for n in range(12):
        at = MONDAY + _minutes(61 + n * 4)  # the week's last item is out of the window
        bursts = detector.observe(_news(f"src{n % 4}", "Tariffs", at), ["tariffs"], at)
        if bursts:
            fired_at = n + 1
            assert bursts[0].usual_per_window == pytest.approx(2.0, abs=0.1)
            assert bursts[0].count == 8
            break
    assert fired_at == 8  # 4x the usual 2 an hour, not the 3 a quiet theme needs


def test_first_hours_without_history_use_the_floor() -> None:
    detector = BurstDetector(BurstRules(min_sources=3, min_ratio=4.0, usual_floor=0.5))
    bursts = []
    for minutes, feed in [(0, "a"), (5, "b"), (10, "c")]:
        at = MONDAY + _minutes(minutes)
        bursts += detector.observe(_news(feed, "Zölle", at), ["tariffs"], at)
    assert [b.theme for b in bursts] == ["tariffs"]


def test_old_items_do_not_burst_and_memory_is_bounded() -> None:
    detector = BurstDetector()
    for n, feed in enumerate(["a", "b", "c", "d"]):
        published = MONDAY - timedelta(days=2, minutes=n)
        assert detector.observe(_news(feed, "DeepSeek", published), ["deepseek"], MONDAY) == []
    a_month_later = MONDAY + timedelta(days=30)
    detector.observe(_news("a", "Other", a_month_later), ["earnings"], a_month_later)
    assert set(detector._seen) == {"earnings"}


def test_naive_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        BurstDetector().observe(_news("a", "x"), ["deepseek"], datetime(2025, 1, 27))


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="baseline"):
        BurstRules(window_minutes=60 * 24 * 8)
