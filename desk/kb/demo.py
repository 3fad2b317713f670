"""The demo shop's help centre (``switchboard demo``): a few articles in English and German,
one internal, so the widget suggests answers and the console's assist panel has something to
offer from the first chat on."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from desk.auth import Principal
from desk.kb import articles, rules
from desk.models import KbSite, KbTopic

LANGUAGES = ["en", "de"]
SYNONYMS = [["parcel", "package", "delivery", "shipment"], ["password", "login", "sign in"],
            ["refund", "money back"], ["invoice", "bill", "receipt"],
            ["Paket", "Sendung", "Lieferung"], ["Passwort", "Kennwort"]]
TOPICS = [("orders", "Orders and delivery"), ("account", "Your account"),
          ("billing", "Billing")]
# (topic, audience, English title, body, German title, body or None)
ARTICLES = [
    ("orders", "public", "Track your order",
     "Every order has a tracking link in its confirmation mail.\n\n"
     "1. Open **Orders** in your account.\n2. Press *Track parcel*.\n\n"
     "Parcels leave our warehouse within two working days.",
     "Bestellung verfolgen",
     "Jede Bestellung hat einen Link zur Sendungsverfolgung in der Bestätigungsmail.\n\n"
     "1. Öffnen Sie **Bestellungen** in Ihrem Konto.\n2. Wählen Sie *Paket verfolgen*."),
    ("orders", "public", "Return a rubber duck",
     "Ducks can be returned within 30 days, unused and in their box. Start the return under "
     "**Orders**, print the label and drop the parcel at any post office.",
     "Quietscheente zurückgeben",
     "Enten können Sie innerhalb von 30 Tagen unbenutzt in der Verpackung zurückgeben."),
    ("account", "public", "Reset your password",
     "Forgot your password? Press **Forgot password** on the sign-in page and follow the link "
     "we mail you. The link works for 15 minutes.",
     "Passwort zurücksetzen",
     "Passwort vergessen? Wählen Sie **Passwort vergessen** auf der Anmeldeseite und folgen "
     "Sie dem Link, den wir Ihnen schicken."),
    ("billing", "public", "Download an invoice",
     "Every invoice is under **Orders**, *Invoices* as a PDF. Invoices show the billing "
     "address of the order; to change it, write to us before the order ships.",
     None, None),
    ("account", "internal", "Password resets for locked accounts",
     "Internal: unlock the account in the admin tool first, then send the reset mail. Never "
     "read a password out over chat.", None, None),
]


async def seed_kb(s: AsyncSession, site_id: int, admin_id: int) -> None:
    s.add(KbSite(site_id=site_id, languages=LANGUAGES, default_language="en",
                 agents_publish=False, synonyms=SYNONYMS))
    topics = {slug: KbTopic(site_id=site_id, slug=slug, name=name, position=i)
              for i, (slug, name) in enumerate(TOPICS)}
    s.add_all(topics.values())
    await s.flush()
    admin = Principal(agent_id=admin_id, role="admin", display_name="Admin", session_id="",
                      csrf_token="", group_ids=frozenset())
    for topic, audience, title, body, de_title, de_body in ARTICLES:
        base = {"audience": audience, "topic_id": topics[topic].id, "publish": True}
        first = await articles.create(s, site_id, rules.check_article(
            {"title": title, "body": body, "language": "en", **base}, languages=LANGUAGES,
            creating=True), admin, "")
        if de_title and de_body:
            await articles.create(s, site_id, rules.check_article(
                {"title": de_title, "body": de_body, "language": "de",
                 "translation_of": first.id, **base}, languages=LANGUAGES, creating=True),
                admin, "")
