"""Dropping news items the bot has already seen, in this fetch or an earlier one.

Every item is known by up to three keys: its guid (scoped to its feed), its normalised link and
its title fingerprint. An item is new when none of its keys was seen before, so the same story
reached through two feeds, with a tracking parameter, or with a " - Reuters" suffix is shown once.

Feeds that give every item the same guid or link (the Handelsblatt feed points every item to its
home page) would make all but the first item look like duplicates; a guid or link shared by items
with different titles in one fetch, and a link to a site's home page, is therefore never used as
a key. Known limitation: the title key is permanent, so a recurring headline ("Market Talk
roundup") is shown the first time only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from itertools import islice
from urllib.parse import parse_qsl, urlencode, urlsplit

from bot.news.items import NewsItem

__all__ = ["Deduplicator", "dedupe_keys", "normalise_link", "title_fingerprint"]

_SPACES = re.compile(r"\s+")
# " - Reuters", " | Handelsblatt", " \u2013 tagesschau.de", " \u2014 Yahoo" at the end of a title.
_SEPARATOR = "[-|\u2013\u2014]"
_SUFFIX = re.compile(rf"^(?P<head>.+)\s{_SEPARATOR}\s+(?P<source>(?:(?!\s{_SEPARATOR}\s).)+)$")
_SOURCE_STOP = frozenset("?!:;,\"'()[]\u201e\u201c\u201d\u00ab\u00bb\u201a\u2018\u2019")
_DOMAIN = re.compile(r"^[\w-]+(\.[\w-]+)*\.[a-z]{2,}$", re.IGNORECASE)
# Apostrophes and hyphens are deleted: "Nvidia's"/"Nvidias", "sell-off"/"selloff" agree.
_DELETE = frozenset("'`-\u2018\u2019\u02bc\u00b4\u2010\u2011")


def _is_source_name(source: str) -> bool:
    """A short proper name ("Reuters", "Yahoo Finance") or a domain ("n-tv.de")."""
    words = source.split()
    if not words or len(words) > 4 or len(source) > 40:
        return False
    if any(ch in _SOURCE_STOP for ch in source):
        return False
    if len(words) == 1 and _DOMAIN.match(words[0]):
        return True
    return all(w[0].isupper() or w[0].isdigit() or w == "&" for w in words)


def _strip_source(title: str) -> str:
    m = _SUFFIX.match(title)
    if m is None:
        return title
    head, source = m.group("head"), m.group("source")
    # "Strafzölle - Die EU macht Ernst" is a topic and a title: the source is the short part.
    if len(head.split()) < 3 or len(head.split()) <= len(source.split()):
        return title
    return head if _is_source_name(source) else title


def title_fingerprint(title: str) -> str:
    """A title reduced so near-identical headlines compare equal.

    Unicode-normalised, invisible characters dropped, a trailing source suffix (" - Reuters",
    " | Handelsblatt") removed, lower-cased; apostrophes and hyphens are deleted ("sell-off" and
    "selloff" agree) and other punctuation and symbols become spaces; whitespace is collapsed.
    """
    text = unicodedata.normalize("NFKC", title)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _SPACES.sub(" ", text).strip()
    text = _strip_source(text).casefold()
    out: list[str] = []
    for ch in text:
        if ch in _DELETE:
            continue
        category = unicodedata.category(ch)
        out.append(" " if category[0] in "PSZC" else ch)
    return _SPACES.sub(" ", "".join(out)).strip()


_TRACKING_PREFIXES = ("utm_", "at_", "ns_", "mc_", "pk_", "mtm_", "hsa_", "_hs", "itm_", "wt_")
_TRACKING = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "twclid",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "cmpid",
        "mod",
        "smid",
        "smtyp",
        "ocid",
        "taid",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "_ga",
        "_gl",
        "xtor",
        "wt.mc_id",
        "feature",
        "sref",
        "rss",
    }
)


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING or lowered.startswith(_TRACKING_PREFIXES)


def normalise_link(url: str) -> str:
    """The part of a URL that names the article.

    ``https://www.example.com/a/?utm_source=x#top`` and ``http://example.com/a`` both give
    ``example.com/a``: scheme, ``www.``, default ports, fragments, tracking parameters (utm_*,
    fbclid, gclid, ref, WSJ's mod, ...) and trailing slashes are dropped; the remaining query
    parameters are sorted. Returns "" for something that is not an absolute web address.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return ""
    host = host.removeprefix("www.")
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    )
    return host + path + (f"?{urlencode(query)}" if query else "")


def dedupe_keys(items: Sequence[NewsItem]) -> list[tuple[str, ...]]:
    """The keys each item of ONE fetch of ONE feed is known by, in the items' order.

    Keys: ``guid:<feed>:<guid>``, ``link:<normalised link>``, ``title:<fingerprint>``. A guid or
    link that items with different titles share in this batch says nothing about the item and is
    left out, as is a link to a site's home page; an item may end up with no key at all (no
    title, no usable guid or link).
    """
    fingerprints = [title_fingerprint(item.title) for item in items]
    guids = [(item.guid or "").strip() for item in items]
    links = [normalise_link(item.link) if item.link else "" for item in items]
    titles_by_guid: dict[str, set[str]] = {}
    titles_by_link: dict[str, set[str]] = {}
    for guid, link, fingerprint in zip(guids, links, fingerprints, strict=True):
        if guid:
            titles_by_guid.setdefault(guid, set()).add(fingerprint)
        if link:
            titles_by_link.setdefault(link, set()).add(fingerprint)
    result: list[tuple[str, ...]] = []
    for item, guid, link, fingerprint in zip(items, guids, links, fingerprints, strict=True):
        keys: list[str] = []
        if guid and len(titles_by_guid[guid]) == 1 and not _is_home_page(guid):
            keys.append(f"guid:{item.feed}:{guid}")
        if link and len(titles_by_link[link]) == 1 and _has_path(link):
            keys.append(f"link:{link}")
        if fingerprint:
            keys.append(f"title:{fingerprint}")
        result.append(tuple(keys))
    return result


def _is_home_page(guid: str) -> bool:
    """A guid that is a URL of a site's root ("https://www.handelsblatt.com/")."""
    if not guid.lower().startswith(("http://", "https://")):
        return False
    link = normalise_link(guid)
    return bool(link) and not _has_path(link)


def _has_path(link: str) -> bool:
    """Whether a normalised link names more than a site ("example.com")."""
    return "/" in link or "?" in link


class Deduplicator:
    """The keys of every item seen so far, oldest dropped beyond ``max_keys``.

    Persist :meth:`keys` and pass them to :meth:`load` after a restart.
    """

    def __init__(self, max_keys: int = 200_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._seen: dict[str, None] = {}  # insertion-ordered set

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, keys: Iterable[str]) -> bool:
        """Whether any of the keys was seen before."""
        return any(key in self._seen for key in keys)

    def add(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._seen.pop(key, None)
            self._seen[key] = None
        excess = len(self._seen) - self._max_keys
        if excess > 0:
            for key in list(islice(self._seen, excess)):
                del self._seen[key]

    def load(self, keys: Iterable[str]) -> None:
        """Remember keys saved before a restart."""
        self.add(keys)

    def keys(self) -> list[str]:
        """Every remembered key, oldest first (what to persist)."""
        return list(self._seen)

    def fresh(self, items: Sequence[NewsItem]) -> list[NewsItem]:
        """The items not seen before (nor earlier in ``items``), in order; all are recorded.

        Items are grouped by feed to compute their keys, so ``items`` may mix feeds. A
        duplicate's keys are recorded too (a later copy may share only those); an item with no
        key at all is dropped.
        """
        by_feed: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            by_feed.setdefault(item.feed, []).append(index)
        keys_of: list[tuple[str, ...]] = [()] * len(items)
        for indices in by_feed.values():
            for index, keys in zip(indices, dedupe_keys([items[i] for i in indices]), strict=True):
                keys_of[index] = keys
        fresh: list[NewsItem] = []
        for item, keys in zip(items, keys_of, strict=True):
            if keys and not self.seen(keys):
                fresh.append(item)
            self.add(keys)
        return fresh
