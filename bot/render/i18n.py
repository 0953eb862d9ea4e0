"""The message catalogue: every user-facing text, in English and German.

Values are ``str.format`` templates; both languages must use the same placeholders (a test
checks it). Dynamic values are escaped later, by the renderer of each platform.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "de"]
LANGUAGES: tuple[Language, ...] = ("en", "de")

CATALOGUE: dict[str, dict[Language, str]] = {
    # --- errors ---------------------------------------------------------------------------
    "error.rate_limited": {
        "en": "You are sending commands too fast. Please wait a minute.",
        "de": "Zu viele Befehle in kurzer Zeit. Bitte warte eine Minute.",
    },
    "error.unknown_command": {
        "en": "Unknown command /{command}. Send /help for the list.",
        "de": "Unbekannter Befehl /{command}. /help zeigt alle Befehle.",
    },
    "error.too_long": {
        "en": "That is too long (at most {limit} characters).",
        "de": "Das ist zu lang (höchstens {limit} Zeichen).",
    },
    "error.usage": {"en": "Usage: {usage}", "de": "So geht es: {usage}"},
    "error.admin_only": {
        "en": "Only administrators of this chat can use /{command} here.",
        "de": "Nur Administratoren dieses Chats können /{command} hier verwenden.",
    },
    "error.unexpected": {
        "en": "Sorry, something went wrong on our side (error {error_id}). Please try again later.",
        "de": "Entschuldigung, bei uns ist etwas schiefgegangen (Fehler {error_id}). Bitte "
        "versuche es später noch einmal.",
    },
    "error.prices_unavailable": {
        "en": "Prices are not available right now ({reason}). Please try again in a few minutes.",
        "de": "Kurse sind gerade nicht verfügbar ({reason}). Bitte versuche es in ein paar "
        "Minuten noch einmal.",
    },
    # --- commands -------------------------------------------------------------------------
    "cmd.start.summary": {"en": "Introduction", "de": "Einführung"},
    "cmd.start.usage": {"en": "/start", "de": "/start"},
    "cmd.help.summary": {"en": "The commands", "de": "Die Befehle"},
    "cmd.help.usage": {"en": "/help", "de": "/help"},
    "cmd.exposure.summary": {
        "en": "AI supply-chain exposure of a stock or a portfolio",
        "de": "KI-Lieferketten-Risiko einer Aktie oder eines Depots",
    },
    "cmd.exposure.usage": {
        "en": "/exposure NVDA or /exposure NVDA:40 MSFT:30 CRM:30 (also NVDA 40 MSFT 30)",
        "de": "/exposure NVDA oder /exposure NVDA:40 MSFT:30 CRM:30 (auch NVDA 40 MSFT 30)",
    },
    "cmd.subscribe.summary": {
        "en": "Alerts in this chat",
        "de": "Warnungen in diesem Chat",
    },
    "cmd.subscribe.usage": {
        "en": "/subscribe [watch|alert|critical] [segment ...]",
        "de": "/subscribe [watch|alert|critical] [Segment ...]",
    },
    "cmd.unsubscribe.summary": {"en": "Stop alerts in this chat", "de": "Warnungen abbestellen"},
    "cmd.unsubscribe.usage": {"en": "/unsubscribe", "de": "/unsubscribe"},
    "cmd.settings.summary": {
        "en": "Show or change this chat's alert settings",
        "de": "Einstellungen dieses Chats zeigen oder ändern",
    },
    "cmd.settings.usage": {
        "en": "/settings | /settings severity watch|alert|critical | /settings segments all|SEG "
        "... | /settings quiet 22:00-07:00 Europe/Berlin [critical|none] | /settings quiet off "
        "| /settings language en|de | /settings mention @role|off (Discord)",
        "de": "/settings | /settings severity watch|alert|critical | /settings segments all|SEG "
        "... | /settings quiet 22:00-07:00 Europe/Berlin [critical|none] | /settings quiet off "
        "| /settings language en|de | /settings mention @Rolle|off (Discord)",
    },
    "cmd.status.summary": {
        "en": "Readings per region, price scans, open episodes",
        "de": "Lage je Region, Kursabfragen, offene Ereignisse",
    },
    "cmd.status.usage": {"en": "/status", "de": "/status"},
    "cmd.news.summary": {
        "en": "Latest matched headlines",
        "de": "Neueste passende Schlagzeilen",
    },
    "cmd.news.usage": {
        "en": "/news [TICKER|theme], e.g. /news NVDA or /news deepseek",
        "de": "/news [Kürzel|Thema], z. B. /news NVDA oder /news deepseek",
    },
    "option.exposure": {
        "en": "NVDA, or a portfolio: NVDA:40 MSFT:30 CRM:30",
        "de": "NVDA, oder ein Depot: NVDA:40 MSFT:30 CRM:30",
    },
    "option.news": {"en": "ticker or theme", "de": "Kürzel oder Thema"},
    "option.subscribe": {
        "en": "[watch|alert|critical] [segment ...]",
        "de": "[watch|alert|critical] [Segment ...]",
    },
    "option.settings": {
        "en": "e.g. severity alert | quiet 22:00-07:00 UTC | mention @role",
        "de": "z. B. severity alert | quiet 22:00-07:00 Europe/Berlin | mention @Rolle",
    },
    "option.portfolio": {
        "en": "set NVDA:40 MSFT:30 CRM:30 | clear",
        "de": "set NVDA:40 MSFT:30 CRM:30 | clear",
    },
    "option.chart": {
        "en": "NVDA 5d, basket 1m, or NVDA 1d (today)",
        "de": "NVDA 5d, basket 1m, oder NVDA 1d (heute)",
    },
    "cmd.mute.summary": {
        "en": "No alerts here for a while",
        "de": "Eine Weile keine Warnungen hier",
    },
    "cmd.mute.usage": {
        "en": "/mute 1h | /mute today | /mute until 09:00 [Area/City]",
        "de": "/mute 1h | /mute today | /mute until 09:00 [Gebiet/Stadt]",
    },
    "cmd.unmute.summary": {"en": "Alerts here again", "de": "Wieder Warnungen hier"},
    "cmd.unmute.usage": {"en": "/unmute", "de": "/unmute"},
    "option.mute": {
        "en": "1h | 30m | today | until 09:00 Europe/Berlin",
        "de": "1h | 30m | today | until 09:00 Europe/Berlin",
    },
    "mute.bad": {
        "en": "I cannot mute for {value!r}: a duration (30m, 1h, 2d; at most 30 days), today, "
        "or until HH:MM.",
        "de": "{value!r} verstehe ich nicht: eine Dauer (30m, 1h, 2d; höchstens 30 Tage), "
        "today oder until HH:MM.",
    },
    "mute.done": {
        "en": "Muted {until}. /unmute ends it.",
        "de": "Stumm {until}. /unmute beendet es.",
    },
    "mute.until_breaks": {
        "en": "until {time} (critical alerts still come through)",
        "de": "bis {time} (kritische Warnungen kommen trotzdem)",
    },
    "mute.until_silent": {
        "en": "until {time} (nothing comes through)",
        "de": "bis {time} (nichts kommt durch)",
    },
    "unmute.done": {
        "en": "Unmuted: alerts come here again.",
        "de": "Stummschaltung aufgehoben: Warnungen kommen wieder.",
    },
    "unmute.not_muted": {"en": "This chat is not muted.", "de": "Dieser Chat ist nicht stumm."},
    "settings.topic": {
        "en": "Alerts go to the topic where /subscribe was sent (thread {topic})",
        "de": "Warnungen gehen in das Thema, in dem /subscribe geschickt wurde (Thread {topic})",
    },
    "keys.subscribe": {"en": "🔔 Alerts on", "de": "🔔 Warnungen an"},
    "keys.unsubscribe": {"en": "🔕 Alerts off", "de": "🔕 Warnungen aus"},
    "keys.quiet_night": {
        "en": "Quiet 22-07 (critical through)",
        "de": "Ruhe 22-07 (kritische durch)",
    },
    "keys.quiet_weekend": {"en": "Quiet 18-08 (nothing)", "de": "Ruhe 18-08 (nichts)"},
    "keys.quiet_off": {"en": "No quiet hours", "de": "Keine Ruhezeiten"},
    "settings.muted": {"en": "Muted: {value}", "de": "Stumm: {value}"},
    "button.chart": {"en": "📈 Chart", "de": "📈 Chart"},
    "button.exposure": {"en": "My exposure", "de": "Mein Depot"},
    "button.mute_hour": {"en": "🔕 Mute 1 h", "de": "🔕 1 Std. stumm"},
    "button.mute_today": {"en": "🔕 Mute today", "de": "🔕 Heute stumm"},
    "cmd.log.summary": {
        "en": "The last alerts and what became of each here",
        "de": "Die letzten Warnungen und was hier aus ihnen wurde",
    },
    "cmd.log.usage": {"en": "/log", "de": "/log"},
    "log.none": {"en": "No alerts yet.", "de": "Noch keine Warnungen."},
    "log.title": {
        "en": "The last {count} alerts in this chat",
        "de": "Die letzten {count} Warnungen in diesem Chat",
    },
    "log.recovery": {"en": "recovery", "de": "Entwarnung"},
    "log.sent": {"en": "sent at {time}", "de": "gesendet um {time}"},
    "log.queued": {"en": "queued, not sent yet", "de": "in der Warteschlange, noch nicht gesendet"},
    "log.failed": {"en": "failed ({reason})", "de": "fehlgeschlagen ({reason})"},
    "log.below_severity": {
        "en": "below this chat's minimum severity",
        "de": "unter der Mindeststufe dieses Chats",
    },
    "log.segments": {
        "en": "outside this chat's segments",
        "de": "außerhalb der Segmente dieses Chats",
    },
    "log.quiet_hours": {"en": "held by quiet hours", "de": "wegen Ruhezeiten zurückgehalten"},
    "log.muted": {"en": "muted (/mute)", "de": "stummgeschaltet (/mute)"},
    "log.unsubscribed": {
        "en": "not subscribed (or the chat could not be reached)",
        "de": "nicht abonniert (oder der Chat war nicht erreichbar)",
    },
    "log.not_heard": {
        "en": "not sent: a recovery goes to the chats that heard the shock",
        "de": "nicht gesendet: eine Entwarnung geht an die Chats, die die Warnung bekamen",
    },
    "log.later": {
        "en": "not sent: this chat was subscribed after it",
        "de": "nicht gesendet: dieser Chat wurde danach abonniert",
    },
    "log.not_planned": {
        "en": "not sent: this platform was not connected then",
        "de": "nicht gesendet: diese Plattform war damals nicht verbunden",
    },
    "log.settings_now": {
        "en": "Held-back alerts are judged by this chat's settings now.",
        "de": "Zurückgehaltene Warnungen werden nach den jetzigen Einstellungen beurteilt.",
    },
    "cmd.digest.summary": {
        "en": "A daily digest of the AI supply chain in this chat",
        "de": "Eine tägliche Zusammenfassung der KI-Lieferkette in diesem Chat",
    },
    "cmd.digest.usage": {
        "en": "/digest on [HH:MM Area/City] | /digest off | /digest",
        "de": "/digest on [HH:MM Gebiet/Stadt] | /digest off | /digest",
    },
    "option.digest": {
        "en": "on | on 18:00 Europe/Berlin | off",
        "de": "on | on 18:00 Europe/Berlin | off",
    },
    "digest.off_state": {
        "en": "No daily digest in this chat. /digest on sends one after the US close; "
        "/digest on 18:00 Europe/Berlin at a time of your choosing.",
        "de": "Keine tägliche Zusammenfassung in diesem Chat. /digest on schickt eine nach "
        "US-Börsenschluss; /digest on 18:00 Europe/Berlin zu einer Zeit deiner Wahl.",
    },
    "digest.on_close": {
        "en": "Daily digest: on, 30 minutes after the US close on trading days.",
        "de": "Tägliche Zusammenfassung: an, 30 Minuten nach US-Börsenschluss an Handelstagen.",
    },
    "digest.on_time": {
        "en": "Daily digest: on, at {time} ({timezone}) on days a market traded.",
        "de": "Tägliche Zusammenfassung: an, um {time} ({timezone}) an Tagen mit Handel.",
    },
    "digest.stopped": {
        "en": "The daily digest is off.",
        "de": "Die tägliche Zusammenfassung ist aus.",
    },
    "digest.bad_action": {
        "en": "{action!r} is not an action of /digest: use on or off.",
        "de": "{action!r} gibt es bei /digest nicht: on oder off.",
    },
    "digest.title": {
        "en": "The AI supply chain on {day}",
        "de": "Die KI-Lieferkette am {day}",
    },
    "digest.no_scans": {
        "en": "The bot has no scans of this day: no market it watches traded, or it was not "
        "running.",
        "de": "Von diesem Tag gibt es keine Abfragen: kein beobachteter Markt hatte geöffnet, "
        "oder der Bot lief nicht.",
    },
    "digest.quiet": {
        "en": "A quiet day: no divergence and no broad move.",
        "de": "Ein ruhiger Tag: keine Divergenz und keine breite Bewegung.",
    },
    "digest.region": {
        "en": "{region}: AI infrastructure {basket}, market {market}, AI software {software}; "
        "{reading}.",
        "de": "{region}: KI-Infrastruktur {basket}, Markt {market}, KI-Software {software}; "
        "{reading}.",
    },
    "digest.region_unread": {
        "en": "{region}: no reading (too few prices of its AI-infrastructure names).",
        "de": "{region}: keine Einschätzung (zu wenige Kurse seiner KI-Infrastruktur-Werte).",
    },
    "digest.so_far": {"en": "(so far, {time} UTC)", "de": "(bisher, {time} UTC)"},
    "digest.movers": {"en": "Top movers: {movers}.", "de": "Größte Bewegungen: {movers}."},
    "digest.episode": {
        "en": "{label} ({regions}, {severity}, {time} UTC)",
        "de": "{label} ({regions}, {severity}, {time} UTC)",
    },
    "digest.bursts": {"en": "News bursts: {bursts}.", "de": "Nachrichtenwellen: {bursts}."},
    "digest.opened": {"en": "Opened: {episodes}.", "de": "Begonnen: {episodes}."},
    "digest.closed": {"en": "Over: {episodes}.", "de": "Vorbei: {episodes}."},
    "digest.themes": {"en": "In the news: {themes}.", "de": "In den Nachrichten: {themes}."},
    "digest.headlines": {"en": "Headlines of the day:", "de": "Schlagzeilen des Tages:"},
    "cmd.chart.summary": {
        "en": "Chart of a stock or the AI-infrastructure basket",
        "de": "Chart einer Aktie oder des KI-Infrastruktur-Korbs",
    },
    "cmd.chart.usage": {
        "en": "/chart [TICKER|basket] [1d|5d|1m|3m|1y], e.g. /chart NVDA 5d",
        "de": "/chart [Kürzel|basket] [1d|5d|1m|3m|1y], z. B. /chart NVDA 5d",
    },
    "chart.bad_args": {
        "en": "One name (or basket) and one range, please: {args} is more than that.",
        "de": "Bitte ein Kürzel (oder basket) und einen Zeitraum: {args} ist mehr als das.",
    },
    "chart.no_scans": {
        "en": "The bot has no scans of the {region} today yet; try a range such as 5d or 1m.",
        "de": "Vom {region} gibt es heute noch keine Abfragen; versuche einen Zeitraum wie 5d "
        "oder 1m.",
    },
    "chart.no_data": {
        "en": "There is not enough price history for this chart.",
        "de": "Für diesen Chart gibt es nicht genug Kursdaten.",
    },
    "news.title": {"en": "Latest headlines", "de": "Neueste Schlagzeilen"},
    "news.title_for": {"en": "Latest headlines: {query}", "de": "Neueste Schlagzeilen: {query}"},
    "news.none": {
        "en": "No matching headlines yet.",
        "de": "Noch keine passenden Schlagzeilen.",
    },
    "news.unknown": {
        "en": "{query!r} is neither a ticker of the list nor a theme. Themes: {themes}",
        "de": "{query!r} ist weder ein Kürzel der Liste noch ein Thema. Themen: {themes}",
    },
    "news.off": {
        "en": "The news watch is switched off.",
        "de": "Die Nachrichtenbeobachtung ist ausgeschaltet.",
    },
    "help.title": {"en": "Commands", "de": "Befehle"},
    "help.admin": {"en": "admins only in groups", "de": "in Gruppen nur für Admins"},
    "help.segments": {
        "en": "Segments for /subscribe and /settings: {segments}",
        "de": "Segmente für /subscribe und /settings: {segments}",
    },
    "start.welcome": {
        "en": "I watch the AI supply chain (chips, chip equipment, networking, servers, "
        "data-centre power) in Tokyo, Europe and New York and warn when it breaks away from the "
        "market, as on DeepSeek Monday, 27 January 2025: Nvidia -17 % while the Dow rose.",
        "de": "Ich beobachte die KI-Lieferkette (Chips, Chip-Ausrüster, Netzwerk, Server, "
        "Strom für Rechenzentren) in Tokio, Europa und New York und warne, wenn sie sich vom "
        "Markt löst, wie am DeepSeek-Montag, 27. Januar 2025: Nvidia -17 %, während der Dow "
        "stieg.",
    },
    "start.next": {
        "en": "Try /exposure NVDA, or /subscribe to get alerts here.",
        "de": "Probiere /exposure NVDA, oder /subscribe für Warnungen in diesem Chat.",
    },
    # --- exposure -------------------------------------------------------------------------
    "exposure.missing_args": {
        "en": "Name a ticker or a portfolio (or save one with /portfolio set NVDA:40 MSFT:60).",
        "de": "Nenne ein Kürzel oder ein Depot (oder speichere eins mit /portfolio set "
        "NVDA:40 MSFT:60).",
    },
    "cmd.portfolio.summary": {
        "en": "Save this chat's portfolio for /exposure and alerts",
        "de": "Depot dieses Chats speichern, für /exposure und Warnungen",
    },
    "cmd.portfolio.usage": {
        "en": "/portfolio | /portfolio set NVDA:40 MSFT:30 CRM:30 | /portfolio clear",
        "de": "/portfolio | /portfolio set NVDA:40 MSFT:30 CRM:30 | /portfolio clear",
    },
    "portfolio.none": {
        "en": "No portfolio is saved in this chat. Save one with /portfolio set NVDA:40 MSFT:30 "
        "CRM:30; /exposure then uses it, and divergence alerts here estimate its move.",
        "de": "In diesem Chat ist kein Depot gespeichert. Speichere eins mit /portfolio set "
        "NVDA:40 MSFT:30 CRM:30; /exposure nutzt es dann, und Divergenz-Warnungen hier schätzen "
        "seine Bewegung.",
    },
    "portfolio.saved_title": {"en": "Saved portfolio", "de": "Gespeichertes Depot"},
    "portfolio.saved": {
        "en": "Saved. /exposure without arguments uses it, and divergence alerts in this chat "
        "estimate its move.",
        "de": "Gespeichert. /exposure ohne Angaben nutzt es, und Divergenz-Warnungen in diesem "
        "Chat schätzen seine Bewegung.",
    },
    "portfolio.cleared": {
        "en": "The saved portfolio is deleted.",
        "de": "Das gespeicherte Depot ist gelöscht.",
    },
    "portfolio.not_saved": {
        "en": "Nothing to delete: no portfolio is saved in this chat.",
        "de": "Nichts zu löschen: in diesem Chat ist kein Depot gespeichert.",
    },
    "portfolio.bad_action": {
        "en": "{action!r} is not an action of /portfolio: use set or clear.",
        "de": "{action!r} gibt es bei /portfolio nicht: set oder clear.",
    },
    "exposure.no_prices": {
        "en": "{symbol} is on the AI supply-chain list, but the price source has no prices "
        "for it right now. Try again later.",
        "de": "{symbol} steht auf der Liste der KI-Lieferkette, aber die Kursquelle hat gerade "
        "keine Kurse dafür. Versuche es später noch einmal.",
    },
    "exposure.unknown": {
        "en": "I don't know the symbol {symbol}.",
        "de": "Das Kürzel {symbol} kenne ich nicht.",
    },
    "exposure.did_you_mean": {
        "en": "Did you mean: {suggestions}?",
        "de": "Meintest du: {suggestions}?",
    },
    "exposure.symbol_hint": {
        "en": "Use the Yahoo Finance symbol, e.g. NVDA, ASML.AS, ENR.DE, 8035.T.",
        "de": "Verwende das Yahoo-Finance-Kürzel, z. B. NVDA, ASML.AS, ENR.DE, 8035.T.",
    },
    "exposure.bad_token": {
        "en": "I could not read {token!r}.",
        "de": "{token!r} kann ich nicht lesen.",
    },
    "exposure.bad_weight": {
        "en": "Weights must be positive numbers ({token!r}).",
        "de": "Gewichte müssen positive Zahlen sein ({token!r}).",
    },
    "exposure.too_many": {
        "en": "At most {limit} positions, you sent {count}.",
        "de": "Höchstens {limit} Positionen, du hast {count} geschickt.",
    },
    "exposure.too_many_outside": {
        "en": "At most {limit} symbols outside the AI supply-chain list per request, you sent "
        "{count}.",
        "de": "Höchstens {limit} Kürzel außerhalb der KI-Lieferkettenliste je Anfrage, du hast "
        "{count} geschickt.",
    },
    "exposure.in_list": {"en": "in the AI supply-chain list", "de": "in der KI-Lieferkettenliste"},
    "exposure.not_in_list": {
        "en": "not in the AI supply-chain list (fetched on demand)",
        "de": "nicht in der KI-Lieferkettenliste (auf Abruf geladen)",
    },
    "exposure.segments": {"en": "Place in the supply chain", "de": "Platz in der Lieferkette"},
    "exposure.stats": {
        "en": "Last year: beta {beta_b} and correlation {corr_b} to the AI-infrastructure "
        "basket; beta {beta_m} and correlation {corr_m} to the market.",
        "de": "Letztes Jahr: Beta {beta_b} und Korrelation {corr_b} zum KI-Infrastruktur-Korb; "
        "Beta {beta_m} und Korrelation {corr_m} zum Markt.",
    },
    "exposure.no_stats": {
        "en": "Not enough price history for betas.",
        "de": "Zu wenig Kurshistorie für Betas.",
    },
    "exposure.deepseek": {
        "en": "DeepSeek Monday (2025-01-27): {symbol} {move}, AI-infrastructure basket {basket}, "
        "market {market}.",
        "de": "DeepSeek-Montag (27.01.2025): {symbol} {move}, KI-Infrastruktur-Korb {basket}, "
        "Markt {market}.",
    },
    "exposure.no_deepseek": {
        "en": "No price for DeepSeek Monday (2025-01-27).",
        "de": "Kein Kurs für den DeepSeek-Montag (27.01.2025).",
    },
    "exposure.divergence_days": {
        "en": "Other divergence days the detector finds: {days}",
        "de": "Weitere Divergenz-Tage laut Detektor: {days}",
    },
    "exposure.no_divergence_days": {
        "en": "No other divergence days in its history.",
        "de": "Keine weiteren Divergenz-Tage in der Historie.",
    },
    "exposure.latest": {
        "en": "Latest session ({date}): {symbol} {move} vs basket {basket} and market {market}.",
        "de": "Letzte Sitzung ({date}): {symbol} {move} gegen Korb {basket} und Markt {market}.",
    },
    "exposure.reading": {
        "en": "Current reading {region}: {label} ({severity}), data as of {time}.",
        "de": "Aktuelle Lage {region}: {label} ({severity}), Daten von {time}.",
    },
    "exposure.no_reading": {
        "en": "No live reading for {region} yet.",
        "de": "Noch keine aktuelle Lage für {region}.",
    },
    "exposure.data_time": {"en": "Prices up to {date}.", "de": "Kurse bis {date}."},
    "portfolio.title": {
        "en": "Portfolio of {count} positions",
        "de": "Depot mit {count} Positionen",
    },
    "portfolio.by_segment": {"en": "Share by segment", "de": "Anteil je Segment"},
    "portfolio.by_role": {"en": "Share by role", "de": "Anteil je Rolle"},
    "portfolio.beta": {
        "en": "Beta to the AI-infrastructure divergence: {beta} (1.0 moves like the basket "
        "beyond the market; below 0 gains in a DeepSeek-style shock).",
        "de": "Beta zur KI-Infrastruktur-Divergenz: {beta} (1,0 bewegt sich wie der Korb "
        "über den Markt hinaus; unter 0 gewinnt bei einem Schock wie DeepSeek).",
    },
    "portfolio.deepseek": {
        "en": "With the real moves of 2025-01-27 it would have moved {move}.",
        "de": "Mit den echten Kursbewegungen vom 27.01.2025 hätte es sich um {move} bewegt.",
    },
    "portfolio.deepseek_missing": {
        "en": "(without {symbols}: no price for that day)",
        "de": "(ohne {symbols}: kein Kurs für diesen Tag)",
    },
    "portfolio.drivers": {
        "en": "What drives the exposure: {drivers}",
        "de": "Was das Risiko treibt: {drivers}",
    },
    "portfolio.outside": {
        "en": "Outside the AI supply-chain list: {symbols}",
        "de": "Nicht in der KI-Lieferkettenliste: {symbols}",
    },
    "table.segment": {"en": "segment", "de": "Segment"},
    "table.role": {"en": "role", "de": "Rolle"},
    "table.share": {"en": "share", "de": "Anteil"},
    "table.symbol": {"en": "symbol", "de": "Kürzel"},
    # --- subscriptions and settings -------------------------------------------------------
    "subscribe.done": {
        "en": "Subscribed: alerts of severity {severity} and above, segments: {segments}.",
        "de": "Abonniert: Warnungen ab Stufe {severity}, Segmente: {segments}.",
    },
    "subscribe.bad_segment": {
        "en": "Unknown segment {segment!r}. Known segments: {known}",
        "de": "Unbekanntes Segment {segment!r}. Bekannte Segmente: {known}",
    },
    "subscribe.bad_severity": {
        "en": "Unknown severity {value!r}: use watch, alert or critical.",
        "de": "Unbekannte Stufe {value!r}: watch, alert oder critical.",
    },
    "unsubscribe.done": {
        "en": "Unsubscribed: no more alerts in this chat.",
        "de": "Abbestellt: keine Warnungen mehr in diesem Chat.",
    },
    "unsubscribe.not_subscribed": {
        "en": "This chat was not subscribed.",
        "de": "Dieser Chat hatte nichts abonniert.",
    },
    "settings.title": {"en": "Settings of this chat", "de": "Einstellungen dieses Chats"},
    "settings.subscribed": {"en": "Alerts: {value}", "de": "Warnungen: {value}"},
    "settings.severity": {"en": "Minimum severity: {value}", "de": "Mindeststufe: {value}"},
    "settings.segments": {"en": "Segments: {value}", "de": "Segmente: {value}"},
    "settings.quiet": {"en": "Quiet hours: {value}", "de": "Ruhezeiten: {value}"},
    "settings.language": {"en": "Language: {value}", "de": "Sprache: {value}"},
    "settings.mention": {
        "en": "Role pinged on critical alerts: {value}",
        "de": "Bei kritischen Warnungen erwähnte Rolle: {value}",
    },
    "settings.bad_role": {
        "en": "{value!r} is not a role mention like @Traders (or off).",
        "de": "{value!r} ist keine Rollen-Erwähnung wie @Traders (oder off).",
    },
    "settings.yes": {"en": "on", "de": "an"},
    "settings.blocked": {
        "en": "off (the bot was blocked on {date}); /subscribe to resume",
        "de": "aus (der Bot wurde am {date} blockiert); /subscribe, um sie wieder zu bekommen",
    },
    "settings.unreachable": {
        "en": "off (this chat could not be reached on {date}: {reason}); /subscribe to resume",
        "de": "aus (dieser Chat war am {date} nicht erreichbar: {reason}); /subscribe, um sie "
        "wieder zu bekommen",
    },
    "settings.no": {"en": "off", "de": "aus"},
    "settings.all": {"en": "all", "de": "alle"},
    "settings.none": {"en": "none", "de": "keine"},
    "settings.breaks_through": {
        "en": "critical alerts break through",
        "de": "kritische Warnungen kommen trotzdem",
    },
    "settings.silent": {"en": "nothing breaks through", "de": "nichts kommt durch"},
    "settings.updated": {"en": "Saved.", "de": "Gespeichert."},
    "settings.bad_key": {
        "en": "Unknown setting {value!r}.",
        "de": "Unbekannte Einstellung {value!r}.",
    },
    "settings.bad_time": {
        "en": "{value!r} is not a time like 22:00.",
        "de": "{value!r} ist keine Uhrzeit wie 22:00.",
    },
    "settings.bad_timezone": {
        "en": "{value!r} is not a time zone like Europe/Berlin or America/New_York.",
        "de": "{value!r} ist keine Zeitzone wie Europe/Berlin oder America/New_York.",
    },
    "settings.bad_language": {
        "en": "Languages: en, de.",
        "de": "Sprachen: en, de.",
    },
    # --- status ---------------------------------------------------------------------------
    "status.title": {"en": "Status", "de": "Status"},
    "status.readings": {"en": "Readings", "de": "Lage"},
    "status.reading": {
        "en": "{region}: {label} ({severity}), data as of {time}",
        "de": "{region}: {label} ({severity}), Daten von {time}",
    },
    "status.no_readings": {"en": "No readings yet.", "de": "Noch keine Messungen."},
    "status.scans": {"en": "Price scans", "de": "Kursabfragen"},
    "status.scan": {
        "en": "{region} via {source}: last success {success}",
        "de": "{region} über {source}: zuletzt erfolgreich {success}",
    },
    "status.scan_error": {
        "en": "{region} via {source}: FAILING, last good prices {success}; error: {error}",
        "de": "{region} über {source}: GESTÖRT, letzte gute Kurse {success}; Fehler: {error}",
    },
    "status.never": {"en": "never", "de": "nie"},
    "status.instances": {
        "en": "Instances (shared PostgreSQL database): {leader} leads; standing by: {standby}.",
        "de": "Instanzen (gemeinsame PostgreSQL-Datenbank): {leader} führt; in Bereitschaft: "
        "{standby}.",
    },
    "status.no_standby": {
        "en": "Instances (shared PostgreSQL database): {leader} leads; no standby seen in the "
        "last {seconds} s, so nothing takes over if it stops.",
        "de": "Instanzen (gemeinsame PostgreSQL-Datenbank): {leader} führt; seit {seconds} s "
        "keine Instanz in Bereitschaft gesehen: fällt sie aus, übernimmt niemand.",
    },
    "status.drill": {
        "en": "DRILL: recorded prices, drill clock at {time} UTC",
        "de": "ÜBUNG (DRILL): aufgezeichnete Kurse, Übungsuhr {time} UTC",
    },
    "status.job_errors": {
        "en": "Failing jobs (last run):",
        "de": "Fehlgeschlagene Aufgaben (letzter Lauf):",
    },
    "status.no_scans": {"en": "No price scans yet.", "de": "Noch keine Kursabfragen."},
    "status.episodes": {"en": "Open episodes", "de": "Offene Ereignisse"},
    "status.feeds": {"en": "News feeds", "de": "Nachrichtenquellen"},
    "status.feeds_ok": {
        "en": "{count} feeds, all fetched fine.",
        "de": "{count} Quellen, alle in Ordnung.",
    },
    "status.feed_failing": {
        "en": "{name}: {failures} failures in a row, last: {error}",
        "de": "{name}: {failures} Fehler in Folge, zuletzt: {error}",
    },
    "status.feed_paused": {
        "en": "{name}: next try after {until} UTC, {failures} failures in a row ({error})",
        "de": "{name}: nächster Versuch nach {until} UTC, {failures} Fehler in Folge ({error})",
    },
    "status.episode": {
        "en": "{label} in {regions} since {since} ({severity})",
        "de": "{label} in {regions} seit {since} ({severity})",
    },
    "status.no_episodes": {"en": "None.", "de": "Keine."},
    # --- alerts ---------------------------------------------------------------------------
    "alert.kind.open": {"en": "new", "de": "neu"},
    "alert.kind.escalate": {"en": "escalated", "de": "verschärft"},
    "alert.headline": {
        "en": "{severity}: {title} ({region}, {kind})",
        "de": "{severity}: {title} ({region}, {kind})",
    },
    "alert.recovered": {
        "en": "RECOVERED: {title} ({region})",
        "de": "ENTWARNUNG: {title} ({region})",
    },
    "alert.calm": {
        "en": "Back to normal as of {since} UTC.",
        "de": "Wieder normal, Stand {since} UTC.",
    },
    "alert.moves": {
        "en": "AI infrastructure {basket} | market {market}",
        "de": "KI-Infrastruktur {basket} | Markt {market}",
    },
    "alert.software": {"en": " | AI software {software}", "de": " | KI-Software {software}"},
    "alert.detail": {
        "en": "{z} sigma beyond its beta {beta}; market {zm} sigma; {breadth} of names moved",
        "de": "{z} Sigma über sein Beta {beta} hinaus; Markt {zm} Sigma; {breadth} der Werte "
        "bewegt",
    },
    "alert.movers": {"en": "Top movers: {movers}", "de": "Größte Bewegungen: {movers}"},
    "alert.sector_led": {
        "en": "Led by AI infrastructure.",
        "de": "Angeführt von der KI-Infrastruktur.",
    },
    "alert.agree": {
        "en": "Same move in {regions}.",
        "de": "Gleiche Bewegung in {regions}.",
    },
    "alert.data_time": {"en": "Data as of {time} UTC", "de": "Daten von {time} UTC"},
    "alert.drill": {"en": "DRILL (recorded prices):", "de": "ÜBUNG (DRILL, aufgezeichnete Kurse):"},
    "alert.basis": {
        "en": "Based on {names} AI-infrastructure names with fresh prices",
        "de": "Grundlage: {names} KI-Infrastrukturwerte mit aktuellen Kursen",
    },
    "alert.why": {"en": "Why it fired:", "de": "Warum:"},
    "alert.burst_headline": {
        "en": "{severity}: {title}: {theme}",
        "de": "{severity}: {title}: {theme}",
    },
    "alert.burst_line": {
        "en": "{count} headlines from {sources} sources in {minutes} min ({names}); usually "
        "{usual} per {minutes} min.",
        "de": "{count} Schlagzeilen aus {sources} Quellen in {minutes} Min. ({names}); sonst "
        "{usual} je {minutes} Min.",
    },
    "alert.news": {"en": "Headlines:", "de": "Schlagzeilen:"},
    "story.escalated": {
        "en": "Update: escalated to {severity} at {time}.",
        "de": "Stand: auf {severity} gestiegen um {time}.",
    },
    "story.recovered": {
        "en": "Update: recovered at {time}.",
        "de": "Stand: Entwarnung um {time}.",
    },
    "alert.portfolio": {
        "en": "Your portfolio: {move} est., {chain} in the AI chain.",
        "de": "Dein Depot: {move} geschätzt, {chain} in der KI-Lieferkette.",
    },
    "alert.portfolio_priced": {
        "en": "(Prices for {priced} of it so far.)",
        "de": "(Bisher Kurse für {priced} davon.)",
    },
    "chart.portfolio": {"en": "Your portfolio", "de": "Dein Depot"},
    # --- charts ---------------------------------------------------------------------------
    "chart.basket": {"en": "AI infrastructure", "de": "KI-Infrastruktur"},
    "chart.market": {"en": "Market (index funds)", "de": "Markt (Indexfonds)"},
    "chart.software": {"en": "AI software", "de": "KI-Software"},
    "chart.movers": {"en": "Top movers", "de": "Größte Bewegungen"},
    "chart.mark.drill": {"en": "DRILL", "de": "ÜBUNG"},
    "chart.alert_title": {"en": "{label} ({region})", "de": "{label} ({region})"},
    "chart.calm_title": {
        "en": "AI supply chain ({region}): no shock",
        "de": "KI-Lieferkette ({region}): kein Schock",
    },
    "chart.since_close": {
        "en": "Moves since the previous close (0 at the open), then one point per scan",
        "de": "Veränderung seit dem letzten Schluss (0 zur Eröffnung), dann ein Punkt je Abfrage",
    },
    "chart.basket_names": {
        "en": "AI infrastructure: median of {names} names with fresh prices",
        "de": "KI-Infrastruktur: Median von {names} Werten mit frischen Kursen",
    },
    "chart.time_axis": {"en": "UTC", "de": "UTC"},
    "chart.range.5d": {"en": "last 5 sessions", "de": "letzte 5 Handelstage"},
    "chart.range.1m": {"en": "last month", "de": "letzter Monat"},
    "chart.range.3m": {"en": "last 3 months", "de": "letzte 3 Monate"},
    "chart.range.1y": {"en": "last year", "de": "letztes Jahr"},
    "chart.footer": {
        "en": "Prices as of {time} UTC, {delay} min before the alert",
        "de": "Kurse von {time} UTC, {delay} Min. vor der Warnung",
    },
    "chart.range_title": {
        "en": "{subject}, {range} ({region})",
        "de": "{subject}, {range} ({region})",
    },
    "chart.since_day": {
        "en": "Moves since the close of {day}",
        "de": "Veränderung seit dem Schluss am {day}",
    },
    "chart.session_footer": {
        "en": "The bot's price scans up to {time} UTC",
        "de": "Kursabfragen des Bots bis {time} UTC",
    },
    "chart.range_footer": {
        "en": "Daily closes up to {day}",
        "de": "Tagesschlusskurse bis {day}",
    },
    "chart.words.line": {"en": "{label} {move}", "de": "{label} {move}"},
    "chart.words.movers": {"en": "Top movers: {movers}", "de": "Größte Bewegungen: {movers}"},
    # --- vocabulary -----------------------------------------------------------------------
    "label.quiet": {"en": "quiet", "de": "ruhig"},
    "label.ai_infra_divergence_down": {
        "en": "AI-infrastructure sell-off while the market holds",
        "de": "KI-Infrastruktur fällt, der Markt hält",
    },
    "label.ai_infra_divergence_up": {
        "en": "AI-infrastructure rally ahead of the market",
        "de": "KI-Infrastruktur steigt stärker als der Markt",
    },
    "label.broad_selloff": {"en": "broad sell-off", "de": "breiter Ausverkauf"},
    "label.broad_rally": {"en": "broad rally", "de": "breite Rally"},
    "label.single_stock": {"en": "single-stock move", "de": "Einzelwert-Bewegung"},
    "label.no_decision": {"en": "no decision", "de": "keine Entscheidung"},
    "label.news_burst": {"en": "news burst", "de": "Nachrichtenwelle"},
    "reason.divergence": {
        "en": "AI infrastructure {basket} vs market {market} (beta {beta}): {z} sigma, "
        "{breadth} of names beyond {sigmas} sigma",
        "de": "KI-Infrastruktur {basket} ggü. Markt {market} (Beta {beta}): {z} Sigma, "
        "{breadth} der Werte jenseits von {sigmas} Sigma",
    },
    "reason.software_held": {
        "en": "software held up: basket vs software {z} sigma",
        "de": "Software hielt sich: Korb ggü. Software {z} Sigma",
    },
    "reason.narrow": {
        "en": "only {breadth} of names moved beyond their usual range",
        "de": "nur {breadth} der Werte bewegten sich über ihr übliches Maß hinaus",
    },
    "reason.size_floor": {
        "en": "{residual} beyond its beta with {moving} of names along: {severity} in any "
        "volatility regime",
        "de": "{residual} über sein Beta hinaus, {moving} der Werte dabei: {severity} in "
        "jedem Volatilitätsumfeld",
    },
    "reason.raw_floor": {
        "en": "the median AI-infrastructure name moved {basket}: {severity} in any volatility "
        "regime",
        "de": "der mittlere KI-Infrastrukturwert bewegte sich um {basket}: {severity} in jedem "
        "Volatilitätsumfeld",
    },
    "reason.against_broad": {
        "en": "against a broad market move of {market} ({z} sigma)",
        "de": "gegen eine breite Marktbewegung von {market} ({z} Sigma)",
    },
    "reason.rotation": {
        "en": "the market's {market} ({z} sigma) comes from this sector, not a broad crash: "
        "software held up ({z_sw} sigma against the market)",
        "de": "das {market} des Gesamtmarkts ({z} Sigma) geht auf den Sektor zurück: Software "
        "hielt sich ({z_sw} Sigma gegenüber dem Markt)",
    },
    "reason.broad": {
        "en": "broad market {market} ({z} sigma)",
        "de": "Gesamtmarkt {market} ({z} Sigma)",
    },
    "reason.sector_led": {
        "en": "led by AI infrastructure: {residual} beyond its beta ({z} sigma, {level}); "
        "together {together}",
        "de": "angeführt von KI-Infrastruktur: {residual} über ihr Beta hinaus ({z} Sigma, "
        "{level}); zusammen {together}",
    },
    "reason.drives": {
        "en": "{symbol} {ret} drives the basket; without it {z} sigma, breadth {breadth}",
        "de": "{symbol} {ret} treibt den Korb; ohne den Wert {z} Sigma, Breite {breadth}",
    },
    "reason.single_stock": {
        "en": "{symbol} {ret} ({z} sigma) on its own",
        "de": "{symbol} {ret} ({z} Sigma) für sich allein",
    },
    "reason.raised": {
        "en": "raised one level: {regions} moved the same way ({alone} on its own)",
        "de": "eine Stufe höher: {regions} bewegten sich in dieselbe Richtung (allein {alone})",
    },
    "reason.few_names": {
        "en": "rests on {names} fresh AI-infrastructure prices; {severity} needs {need}: held "
        "at watch",
        "de": "beruht auf {names} aktuellen KI-Infrastrukturkursen; {severity} braucht {need}: "
        "bleibt bei beobachten",
    },
    "severity.none": {"en": "none", "de": "keine"},
    "severity.watch": {"en": "watch", "de": "beobachten"},
    "severity.alert": {"en": "alert", "de": "Warnung"},
    "severity.critical": {"en": "critical", "de": "kritisch"},
    "region.jp": {"en": "Tokyo", "de": "Tokio"},
    "region.eu": {"en": "Europe", "de": "Europa"},
    "region.us_pre": {"en": "US pre-market", "de": "US-Vorbörse"},
    "region.us": {"en": "US session", "de": "US-Handel"},
    "region.news": {"en": "news", "de": "Nachrichten"},
    "role.infrastructure": {"en": "AI infrastructure", "de": "KI-Infrastruktur"},
    "role.platform": {"en": "platform (hyperscaler)", "de": "Plattform (Hyperscaler)"},
    "role.beneficiary": {"en": "beneficiary", "de": "Profiteur"},
    "role.market_control": {"en": "broad market", "de": "Gesamtmarkt"},
    "role.software_control": {"en": "software index", "de": "Software-Index"},
    "role.reference": {"en": "reference index", "de": "Referenzindex"},
    "role.outside": {"en": "outside the list", "de": "außerhalb der Liste"},
}


def resolve_language(code: str | None) -> Language:
    """A chat platform's language code (``de-AT``, ``en``) mapped to a supported language."""
    if code and code.lower().startswith("de"):
        return "de"
    return "en"


def translate(language: Language, key: str, **values: object) -> str:
    """The text of ``key`` in ``language`` with ``values`` filled in.

    A missing key raises ``KeyError``: texts are never silently empty.
    """
    entry = CATALOGUE[key]
    return entry[language].format(**values)


def percent(language: Language, value: float, digits: int = 1) -> str:
    """A signed percentage: ``+17.0%`` in English, ``+17,0 %`` in German."""
    text = f"{value * 100:+.{digits}f}"
    return f"{text.replace('.', ',')} %" if language == "de" else f"{text}%"


def signed(language: Language, value: float, digits: int = 1) -> str:
    """A signed number with the language's decimal mark: ``-9.2`` / ``-9,2``."""
    text = f"{value:+.{digits}f}"
    return text.replace(".", ",") if language == "de" else text


def share(language: Language, value: float) -> str:
    """A share as a whole percentage without sign: ``88%`` / ``88 %``."""
    return percent(language, value, 0).lstrip("+")


def number(language: Language, value: float | None, digits: int = 2) -> str:
    """A number with the language's decimal mark; ``-`` when there is none."""
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if language == "de" else text
