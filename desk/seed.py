"""The demo organisation: two departments, three groups, five agents with skills, one admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from desk.auth import hash_password
from desk.db import SessionMaker
from desk.kb.demo import seed_kb
from desk.models import (
    Agent,
    AgentGroup,
    AgentSkill,
    CannedResponse,
    Department,
    Group,
    Mailbox,
    Organisation,
    Site,
    Skill,
)

DEMO_PASSWORD = "switchboard-demo"
DEMO_SITE_KEY = "site_demo"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    groups: str


AGENTS: list[dict[str, Any]] = [
    {"email": "ana@demo.switchboard.local", "name": "Ana", "role": "agent",
     "groups": ["Sales"], "skills": {"english": 3, "orders": 2}},
    {"email": "ben@demo.switchboard.local", "name": "Ben", "role": "agent",
     "groups": ["Sales", "Support L1"], "skills": {"english": 2, "german": 3}},
    {"email": "chloe@demo.switchboard.local", "name": "Chloé", "role": "agent",
     "groups": ["Support L1"], "skills": {"english": 3, "french": 3}},
    {"email": "dev@demo.switchboard.local", "name": "Dev", "role": "agent",
     "groups": ["Support L1", "Support L2"], "skills": {"english": 3, "billing": 3}},
    {"email": "sam@demo.switchboard.local", "name": "Sam (supervisor)", "role": "supervisor",
     "groups": ["Sales", "Support L1", "Support L2"], "skills": {"english": 3}},
    {"email": "admin@demo.switchboard.local", "name": "Admin", "role": "admin",
     "groups": [], "skills": {}},
]


def site_config(sales_id: int, support_id: int) -> dict[str, Any]:
    """Pre-chat form: departments, a topic tree, per-topic questionnaire fields."""
    return {
        "title": "Chat with Demo Shop",
        "notice": "We answer within one working day (Mon-Fri, 9:00-17:00). "
                  "Keep your case number: it is in the confirmation mail too.",
        "departments": [{"id": sales_id, "name": "Sales"}, {"id": support_id, "name": "Support"}],
        "topics": [
            {"id": "buy", "label": "Buying", "department_id": sales_id, "children": [
                {"id": "quote", "label": "Get a quote", "department_id": sales_id,
                 "fields": [{"name": "company", "label": "Company", "type": "text",
                             "required": True}]},
                {"id": "stock", "label": "Stock question", "department_id": sales_id,
                 "skills": {"orders": 1}},
            ]},
            {"id": "help", "label": "Help with an order", "department_id": support_id,
             "fields": [{"name": "order", "label": "Order number", "type": "text",
                         "required": True, "max_length": 32}]},
            {"id": "billing", "label": "Billing", "department_id": support_id,
             "skills": {"billing": 2}},
        ],
        "fields": [
            {"name": "name", "label": "Your name", "type": "text", "required": True},
            {"name": "email", "label": "Email", "type": "email", "required": False},
        ],
    }


# The ticket fields Support's agents fill in (desk.ticket_fields), none required, so the
# demo's tickets resolve as they are.
SUPPORT_FIELDS = [
    {"name": "product", "label": "Product", "type": "select",
     "options": ["Kettle", "Toaster", "Blender"]},
    {"name": "serial", "label": "Serial number", "type": "text"},
    {"name": "warranty", "label": "Under warranty", "type": "checkbox"},
]


async def seed_demo(sm: SessionMaker, public_url: str) -> list[DemoLogin]:
    """Create the demo organisation unless it exists; returns the logins to print."""
    async with sm() as s:
        if (await s.execute(select(Department).where(Department.name == "Sales"))).first():
            return _logins()
        sales = Department(name="Sales", email_address="sales@demo.switchboard.local")
        support = Department(name="Support", email_address="support@demo.switchboard.local",
                             fields=SUPPORT_FIELDS)
        s.add_all([sales, support])
        await s.flush()
        groups = {
            "Sales": Group(department_id=sales.id, name="Sales", offer_timeout_s=30),
            "Support L1": Group(department_id=support.id, name="Support L1", offer_timeout_s=30),
            "Support L2": Group(department_id=support.id, name="Support L2",
                                policy="round_robin", offer_timeout_s=45),
        }
        s.add_all(groups.values())
        await s.flush()
        sales.front_group_id = groups["Sales"].id
        support.front_group_id = groups["Support L1"].id
        skills = {n: Skill(name=n) for n in ("english", "german", "french", "orders", "billing")}
        s.add_all(skills.values())
        await s.flush()
        password_hash = hash_password(DEMO_PASSWORD)
        for spec in AGENTS:
            s.add(Agent(
                email=spec["email"], display_name=spec["name"], role=spec["role"],
                password_hash=password_hash, chat_capacity=3, ticket_capacity=10,
                session_version=1, is_active=True,
                groups=[AgentGroup(group_id=groups[g].id, active=True) for g in spec["groups"]],
                skills=[AgentSkill(skill_id=skills[k].id, level=v)
                        for k, v in spec["skills"].items()],
            ))
        site = Site(key=DEMO_SITE_KEY, name="Demo shop", allowed_origins=[public_url],
                    typing_preview=True, config=site_config(sales.id, support.id))
        s.add(site)
        s.add(Organisation(name="Acme Corp", domains=["acme.example"], priority=1))
        s.add_all([
            CannedResponse(department_id=support.id, shortcut="hello", title="Greeting",
                           body="Hello! Thanks for reaching out — let me look into this."),
            CannedResponse(department_id=support.id, shortcut="order", title="Order number",
                           body="Could you give me your order number, please?"),
            CannedResponse(department_id=sales.id, shortcut="quote", title="Quote",
                           body="I'll prepare a quote and send it to your email."),
        ])
        await s.flush()
        admin_id = (await s.execute(select(Agent.id).where(Agent.role == "admin"))).scalar_one()
        await seed_kb(s, site.id, admin_id)
        await s.commit()
    return _logins()


def _logins() -> list[DemoLogin]:
    return [DemoLogin(a["email"], a["role"], ", ".join(a["groups"]) or "all (admin)")
            for a in AGENTS]


# Customer mails the demo's IMAP server holds at start, so tickets exist on first open.
DEMO_MAILBOX_USER = "support"
DEMO_MAILS: list[tuple[str, str, str]] = [
    ("Olivia Park <olivia@acme.example>", "Order 1042 arrived damaged",
     "Hello,\n\nthe blender from order 1042 arrived with a cracked jug. Can you send a "
     "replacement?\n\nThanks,\nOlivia"),
    ("Marco Rossi <marco@customer.example>", "Invoice shows the wrong address",
     "Hi,\n\nmy last invoice (INV-2291) has my old address. Could you correct it?\n\nMarco"),
    ("Priya Nair <priya@customer.example>", "Cannot sign in after the password reset",
     "Hi team,\n\nI reset my password this morning and now the shop says the link has "
     "expired. What should I do?\n\nPriya"),
]


def demo_mail(index: int, to: str) -> bytes:
    """One of DEMO_MAILS as an RFC 5322 message with a fixed Message-ID (imported once)."""
    sender, subject, body = DEMO_MAILS[index]
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <demo-{index + 1}@customer.example>\r\n"
            "Date: Tue, 01 Dec 2026 08:0{index}:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            + body.replace("\n", "\r\n") + "\r\n").encode()


async def seed_demo_mailbox(sm: SessionMaker, port: int, password: str) -> str:
    """Point the Support department's mailbox at this run's IMAP server; returns its address."""
    async with sm() as s:
        support = (await s.execute(
            select(Department).where(Department.name == "Support"))).scalar_one()
        box = (await s.execute(select(Mailbox).where(
            Mailbox.department_id == support.id))).scalars().first()
        if box is None:
            box = Mailbox(department_id=support.id, username=DEMO_MAILBOX_USER)
            s.add(box)
        box.host, box.port, box.security, box.password = "127.0.0.1", port, "none", password
        box.poll_interval_s, box.enabled, box.last_error = 5, True, None
        await s.commit()
        return support.email_address or "support@demo.switchboard.local"
