"""Knowledge-base search benchmark: ranking quality and latency on a generated base.

    python -m bench.kb [--articles 5000] [--queries 500] [--seed 17] [--pg]

Generates (seeded, deterministic) a site with ``--articles`` articles in English and German
(half each; every German one the translation of an English one): each is about one product,
one action and one thing (``Reset the password of your router``), its body a few sentences that
also mention other products and things, so that words are shared widely and only the three
together say which article is meant. Then ``--queries`` labelled questions (half English, half
German), each a paraphrase of one article: question templates, the site's synonyms in place of
the title's words, other inflections (plurals, -ing), stop words and filler words, now and then
one of the three concepts left out. Each is searched through ``desk.kb.search.search`` (the
path the widget, the public pages and assist use) on SQLite (default) or PostgreSQL (``--pg``).

Last line: JSON with ``p_at_3`` (the right article among the first three), ``mrr`` (over the
first ten), ``search_p99_ms`` (one search call, in process), plus the median and the setup.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text

from desk.auth import Principal
from desk.db import make_engine, make_sessionmaker
from desk.kb import articles, rules, search
from desk.kb.rules import Reader
from desk.models import Agent, KbSite, Site
from desk.schema import create_all
from desk.settings import Settings
from realtime.server import GC_YOUNG_THRESHOLD
from tests.support.databases import PostgresServer, drop_database
from tests.support.stats import percentile

# (en, de) pairs. Products: singular, plural. Actions: verb, -ing form, synonym; German infinitive
# and a synonym. Things: singular, plural, synonym.
PRODUCTS = [
    ("router", "routers", "Router", "Routern"), ("printer", "printers", "Drucker", "Druckern"),
    ("laptop", "laptops", "Laptop", "Laptops"), ("phone", "phones", "Telefon", "Telefonen"),
    ("tablet", "tablets", "Tablet", "Tablets"), ("camera", "cameras", "Kamera", "Kameras"),
    ("speaker", "speakers", "Lautsprecher", "Lautsprechern"),
    ("watch", "watches", "Uhr", "Uhren"), ("monitor", "monitors", "Bildschirm", "Bildschirmen"),
    ("keyboard", "keyboards", "Tastatur", "Tastaturen"), ("scanner", "scanners", "Scanner",
                                                         "Scannern"),
    ("modem", "modems", "Modem", "Modems"), ("projector", "projectors", "Beamer", "Beamern"),
    ("thermostat", "thermostats", "Thermostat", "Thermostaten"),
    ("doorbell", "doorbells", "Türklingel", "Türklingeln"),
    ("vacuum", "vacuums", "Staubsauger", "Staubsaugern"),
    ("dishwasher", "dishwashers", "Geschirrspüler", "Geschirrspülern"),
    ("fridge", "fridges", "Kühlschrank", "Kühlschränken"), ("oven", "ovens", "Backofen",
                                                            "Backöfen"),
    ("bicycle", "bicycles", "Fahrrad", "Fahrrädern"), ("scooter", "scooters", "Roller",
                                                      "Rollern"),
    ("drone", "drones", "Drohne", "Drohnen"), ("television", "televisions", "Fernseher",
                                               "Fernsehern"),
    ("charger", "chargers", "Ladegerät", "Ladegeräten"), ("mouse", "mice", "Maus", "Mäusen"),
    ("lamp", "lamps", "Lampe", "Lampen"), ("heater", "heaters", "Heizlüfter", "Heizlüftern"),
    ("blender", "blenders", "Mixer", "Mixern"), ("headset", "headsets", "Headset", "Headsets"),
    ("smartwatch", "smartwatches", "Smartwatch", "Smartwatches"),
]
ACTIONS = [
    ("reset", "resetting", "restore", "zurücksetzen", "wiederherstellen"),
    ("update", "updating", "upgrade", "aktualisieren", "erneuern"),
    ("connect", "connecting", "pair", "verbinden", "koppeln"),
    ("cancel", "cancelling", "terminate", "kündigen", "beenden"),
    ("replace", "replacing", "swap", "tauschen", "wechseln"),
    ("register", "registering", "enrol", "registrieren", "anmelden"),
    ("clean", "cleaning", "wash", "reinigen", "säubern"),
    ("check", "checking", "verify", "prüfen", "kontrollieren"),
    ("change", "changing", "modify", "ändern", "anpassen"),
    ("install", "installing", "setup", "installieren", "einrichten"),
]
THINGS = [
    ("password", "passwords", "passcode", "Passwort", "Passwörter", "Kennwort"),
    ("firmware", "firmwares", "software", "Firmware", "Firmwares", "Software"),
    ("warranty", "warranties", "guarantee", "Garantie", "Garantien", "Gewährleistung"),
    ("subscription", "subscriptions", "plan", "Abonnement", "Abonnements", "Abo"),
    ("battery", "batteries", "accumulator", "Akku", "Akkus", "Batterie"),
    ("filter", "filters", "strainer", "Filter", "Filtern", "Sieb"),
    ("cable", "cables", "cord", "Kabel", "Kabeln", "Leitung"),
    ("invoice", "invoices", "bill", "Rechnung", "Rechnungen", "Beleg"),
    ("account", "accounts", "profile", "Konto", "Konten", "Profil"),
    ("display", "displays", "screen", "Anzeige", "Anzeigen", "Display"),
]
FILLER_EN = ("please", "quick", "urgent", "today", "help", "again", "still", "really", "new",
             "old", "broken", "problem", "question", "issue")
FILLER_DE = ("bitte", "schnell", "dringend", "heute", "Hilfe", "wieder", "immer", "neu", "alt",
             "kaputt", "Problem", "Frage", "leider")


@dataclass(frozen=True)
class Spec:
    product: int
    action: int
    thing: int


def synonyms() -> list[list[str]]:
    groups = [[a[0], a[2]] for a in ACTIONS] + [[a[3], a[4]] for a in ACTIONS]
    groups += [[t[0], t[2]] for t in THINGS] + [[t[3], t[5]] for t in THINGS]
    return groups


def title(spec: Spec, lang: str) -> str:
    p, a, t = PRODUCTS[spec.product], ACTIONS[spec.action], THINGS[spec.thing]
    if lang == "en":
        return f"{a[0].capitalize()} the {t[0]} of your {p[0]}"
    return f"{t[3]} am {p[2]} {a[3]}"


def body(spec: Spec, lang: str, rng: random.Random) -> str:
    p, a, t = PRODUCTS[spec.product], ACTIONS[spec.action], THINGS[spec.thing]
    other_p = PRODUCTS[rng.randrange(len(PRODUCTS))]
    other_t = THINGS[rng.randrange(len(THINGS))]
    other_a = ACTIONS[rng.randrange(len(ACTIONS))]
    if lang == "en":
        lines = [f"This guide shows how to {a[0]} the {t[0]} on the {p[0]}.",
                 f"Before you start, make sure the {p[0]} is switched on and charged.",
                 f"Open **Settings**, choose *{t[0].capitalize()}* and press **{a[0]}**.",
                 f"If the {other_p[0]} is connected as well, you may need to {other_a[0]} "
                 f"its {other_t[0]} first.",
                 f"Most {p[1]} finish within a minute. Contact us if it takes longer."]
    else:
        lines = [f"Diese Anleitung zeigt, wie Sie das {t[3]} am {p[2]} {a[3]}.",
                 f"Schalten Sie vorher den {p[2]} ein und laden Sie ihn.",
                 f"Öffnen Sie **Einstellungen**, wählen Sie *{t[3]}* und dann **{a[3]}**.",
                 f"Ist auch der {other_p[2]} verbunden, müssen Sie eventuell zuerst dessen "
                 f"{other_t[3]} {other_a[3]}.",
                 "Meist dauert es weniger als eine Minute. Schreiben Sie uns sonst."]
    rng.shuffle(lines)
    return "\n\n".join(lines)


def question(spec: Spec, lang: str, rng: random.Random) -> str:
    p, a, t = PRODUCTS[spec.product], ACTIONS[spec.action], THINGS[spec.thing]
    drop = rng.random() < 0.08  # now and then a concept is left out
    if lang == "en":
        verb = rng.choice([a[0], a[1], a[2]])
        thing = rng.choice([t[0], t[1], t[2]])
        product = rng.choice([p[0], p[1]])
        templates = ["how do I {v} the {t} on my {p}", "{t} {v} not working on {p}",
                     "can't {v} {t} of my {p}", "{p}: need help {v} the {t}",
                     "where can i {v} my {p} {t}?", "{v} {t} {p}"]
        filler: tuple[str, ...] = FILLER_EN
    else:
        verb = rng.choice([a[3], a[4]])
        thing = rng.choice([t[3], t[4], t[5]])
        product = rng.choice([p[2], p[3]])
        templates = ["wie kann ich das {t} am {p} {v}", "{p} {t} {v} geht nicht",
                     "{t} {v} beim {p}?", "ich möchte mein {t} am {p} {v}",
                     "{v} {t} {p} hilfe"]
        filler = FILLER_DE
    text = rng.choice(templates).format(v=verb, t=thing, p=product)
    if drop:
        text = text.replace(rng.choice([verb, thing]), "", 1)
    if rng.random() < 0.5:
        text = f"{text} {rng.choice(filler)}"
    return " ".join(text.split())


async def build(url: str, n_articles: int, rng: random.Random) -> tuple[Any, int, list[Spec]]:
    settings = Settings.from_env({"DATABASE_URL": url, "SWITCHBOARD_DATA_DIR":
                                  tempfile.gettempdir()})
    engine = make_engine(settings)
    await create_all(engine)
    sm = make_sessionmaker(engine)
    combos = [Spec(p, a, t) for p in range(len(PRODUCTS)) for a in range(len(ACTIONS))
              for t in range(len(THINGS))]
    rng.shuffle(combos)
    specs = combos[: n_articles // 2]
    async with sm() as s:
        site = Site(key="site_bench", name="Bench")
        admin = Agent(email="bench@x.test", display_name="Bench", password_hash="x",
                      role="admin")
        s.add_all([site, admin])
        await s.flush()
        s.add(KbSite(site_id=site.id, languages=["en", "de"], default_language="en",
                     synonyms=synonyms()))
        who = Principal(agent_id=admin.id, role="admin", display_name="Bench", session_id="",
                        csrf_token="", group_ids=frozenset())
        for i, spec in enumerate(specs):
            first = None
            for lang in ("en", "de"):
                inp = rules.check_article({
                    "title": title(spec, lang), "body": body(spec, lang, rng), "language": lang,
                    "publish": True, **({"translation_of": first} if first else {})},
                    languages=["en", "de"], creating=True)
                first = (await articles.create(s, site.id, inp, who, "")).id
            if i % 250 == 249:
                await s.commit()
        await s.commit()
        site_id = site.id
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load: without statistics the planner takes
        # the site index and ranks every article of the language.
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE kb_articles"))
    return engine, site_id, specs


async def run(url: str, n_articles: int, n_queries: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.perf_counter()
    engine, site_id, specs = await build(url, n_articles, rng)
    built_s = time.perf_counter() - started
    sm = make_sessionmaker(engine)
    labelled = [(spec, lang, question(spec, lang, rng))
                for spec, lang in ((rng.choice(specs), "en" if i % 2 == 0 else "de")
                                   for i in range(n_queries))]
    groups = synonyms()
    top3 = 0
    rr = 0.0
    times: list[float] = []
    # Collected as rarely as in the web process (realtime.server), which serves these searches.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    async with sm() as s:
        for _spec, lang, q in labelled[:20]:  # warm the caches and the query plans
            await search.search(s, site_id, q, lang, "en", groups, Reader.PUBLIC, 10)
        for spec, lang, q in labelled:
            t0 = time.perf_counter()
            hits = await search.search(s, site_id, q, lang, "en", groups, Reader.PUBLIC, 10)
            times.append((time.perf_counter() - t0) * 1000)
            want = title(spec, lang)
            ranks = [i for i, h in enumerate(hits, 1) if h.article.title == want]
            if ranks and ranks[0] <= 3:
                top3 += 1
            if ranks:
                rr += 1 / ranks[0]
    await engine.dispose()
    return {"p_at_3": round(top3 / n_queries, 4), "mrr": round(rr / n_queries, 4),
            "search_p99_ms": round(percentile(times, 0.99), 2),
            "search_p50_ms": round(percentile(times, 0.5), 2),
            "articles": len(specs) * 2, "queries": n_queries, "setup_s": round(built_s, 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--pg", action="store_true", help="PostgreSQL (SWITCHBOARD_TEST_PG)")
    args = ap.parse_args(argv)
    if args.articles // 2 > len(PRODUCTS) * len(ACTIONS) * len(THINGS):
        ap.error(f"at most {2 * len(PRODUCTS) * len(ACTIONS) * len(THINGS)} articles")
    if args.pg:
        server = PostgresServer.from_env()
        url = server.create_database("sbbench")
        try:
            result = asyncio.run(run(url, args.articles, args.queries, args.seed))
        finally:
            drop_database(server, url)
        result["database"] = "postgresql"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}"
            result = asyncio.run(run(url, args.articles, args.queries, args.seed))
        result["database"] = "sqlite"
    print(orjson.dumps(result).decode())
    return result


if __name__ == "__main__":
    main()
