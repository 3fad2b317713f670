"""``switchboard`` command line: web | worker | poll | migrate | create-admin | mailbox | demo |
mailcatcher.

desk imports neither realtime, routing nor ingest; the process entry points of those packages
are looked up by name here, so the package dependency arrows stay one-way.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
import threading
from collections.abc import Sequence

from sqlalchemy import select

from desk import demo
from desk.db import make_engine, make_sessionmaker
from desk.embedded import redis_for
from desk.entry_points import ENTRY_POINTS, WEB_PROCESSES, by_name, check_mailbox, entry_point
from desk.errors import DeskError, SettingsError
from desk.logs import configure_logging
from desk.mailboxes import apply_mailbox
from desk.metrics import Metrics
from desk.models import Agent, Department, Mailbox
from desk.schema import upgrade
from desk.settings import Settings

log = logging.getLogger("switchboard")

def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    upgrade(settings)
    print("database is at the newest schema")
    return 0


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> int:
    password = os.environ.get("SWITCHBOARD_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    upgrade(settings)
    return asyncio.run(_create_admin(settings, args.email, args.name, password))


async def _create_admin(settings: Settings, email: str, name: str, password: str) -> int:
    from desk.auth import hash_password

    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    try:
        async with sm() as s:
            if (await s.execute(select(Agent).where(Agent.email == email.lower()))).first():
                print(f"an agent with email {email} already exists", file=sys.stderr)
                return 1
            s.add(Agent(email=email.lower(), display_name=name, role="admin",
                        password_hash=hash_password(password), session_version=1,
                        is_active=True, chat_capacity=3, ticket_capacity=10))
            await s.commit()
    finally:
        await engine.dispose()
    print(f"admin {email} created")
    return 0


def cmd_mailbox_add(settings: Settings, args: argparse.Namespace) -> int:
    password = os.environ.get("SWITCHBOARD_MAILBOX_PASSWORD") or getpass.getpass(
        "Mailbox password: ")
    return asyncio.run(_mailbox_add(settings, args, password))


async def _mailbox_add(settings: Settings, args: argparse.Namespace, password: str) -> int:
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as s:
            dept = args.department
            if not dept.isdigit():
                found = (await s.execute(select(Department.id).where(
                    Department.name == dept))).scalar_one_or_none()
                if found is None:
                    print(f"no department named {dept!r}", file=sys.stderr)
                    return 1
                dept = found
            box = Mailbox()
            await apply_mailbox(s, box, {
                "department_id": int(dept), "host": args.host, "port": args.port,
                "security": args.security, "username": args.username, "password": password,
                "folder": args.folder, "poll_interval_s": args.poll_interval,
                "enabled": not args.disabled}, partial=False)
            s.add(box)
            await s.commit()
    finally:
        await engine.dispose()
    print(f"mailbox {box.id} added: {box.username}@{box.host}:{box.port} {box.folder}")
    return 0


def cmd_mailbox_list(settings: Settings, _: argparse.Namespace) -> int:
    return asyncio.run(_mailbox_list(settings))


async def _mailbox_list(settings: Settings) -> int:
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as s:
            rows = (await s.execute(select(Mailbox).order_by(Mailbox.id))).scalars().all()
    finally:
        await engine.dispose()
    for m in rows:
        state = "enabled" if m.enabled else "disabled"
        print(f"{m.id}\tdepartment {m.department_id}\t{m.username}@{m.host}:{m.port}"
              f"\t{m.security}\t{m.folder}\t{state}\tlast uid {m.last_uid}"
              f"\t{m.last_error or ''}")
    return 0


def cmd_mailbox_test(settings: Settings, args: argparse.Namespace) -> int:
    ok, message = check_mailbox(settings, args.id)
    print(f"mailbox {args.id}: {'OK, ' if ok else 'FAILED: '}{message}",
          file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.production:
        upgrade(settings)
    with redis_for(settings) as s:
        if args.processes > 1:
            by_name(WEB_PROCESSES)(s, args.processes)
        else:
            entry_point("web")(s)
    return 0


def cmd_worker(settings: Settings, _: argparse.Namespace) -> int:
    with redis_for(settings) as s:
        metrics = Metrics.build(s, "worker")  # one per process: the timers' thread's too
        # Routing timers (offer expiry, heartbeat lapse) are asyncio; RQ wants the main thread
        # for its signal handling, so the timers get a daemon thread of their own.
        threading.Thread(target=by_name(ENTRY_POINTS["timers"]), args=(s,),
                         kwargs={"metrics": metrics}, daemon=True, name="routing-timers").start()
        by_name(ENTRY_POINTS["worker"])(s, metrics=metrics)
    return 0


def cmd_poll(settings: Settings, _: argparse.Namespace) -> int:
    with redis_for(settings) as s:
        entry_point("poll")(s)
    return 0


def cmd_demo(settings: Settings, _: argparse.Namespace) -> int:
    return demo.run(settings)


def cmd_mailcatcher(settings: Settings, _: argparse.Namespace) -> int:
    entry_point("mailcatcher")(settings)
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 256:
        raise argparse.ArgumentTypeError("must be 1..256")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    web = sub.add_parser("web", help="HTTP API, WebSocket hub and static UI")
    web.add_argument("--processes", type=_positive, default=1,
                     help="web processes on the one port (SO_REUSEPORT), each a hub node on "
                          "the shared Redis; one per core (default 1)")
    web.set_defaults(func=cmd_web)
    sub.add_parser("worker", help="background jobs and routing timers").set_defaults(
        func=cmd_worker)
    sub.add_parser("poll", help="IMAP poller for department mailboxes").set_defaults(
        func=cmd_poll)
    sub.add_parser("migrate", help="upgrade the database schema").set_defaults(
        func=cmd_migrate)
    admin = sub.add_parser("create-admin", help="create an admin login "
                           "(password from SWITCHBOARD_ADMIN_PASSWORD or a prompt)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Admin")
    admin.set_defaults(func=cmd_create_admin)
    _mailbox_parser(sub.add_parser("mailbox", help="department IMAP mailboxes"))
    sub.add_parser("demo", help="run everything on embedded defaults with a demo "
                   "organisation").set_defaults(func=cmd_demo)
    sub.add_parser("mailcatcher", help="development only: keep outbound mail (SMTP on "
                   "SMTP_PORT) and list it on PORT+1").set_defaults(func=cmd_mailcatcher)
    return parser


def _mailbox_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="mailbox_command", required=True)
    add = sub.add_parser("add", help="add a mailbox (password from "
                         "SWITCHBOARD_MAILBOX_PASSWORD or a prompt, never an argument)")
    add.add_argument("--department", required=True, help="department id or name")
    add.add_argument("--host", required=True)
    add.add_argument("--port", type=int, default=993)
    add.add_argument("--security", default="tls", help="tls (default), none or starttls")
    add.add_argument("--username", required=True)
    add.add_argument("--folder", default="INBOX")
    add.add_argument("--poll-interval", type=int, default=60, help="seconds")
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    add.set_defaults(func=cmd_mailbox_add)
    sub.add_parser("list", help="every mailbox (never a password)").set_defaults(
        func=cmd_mailbox_list)
    test = sub.add_parser("test", help="log in over IMAP: the folder's message count, or "
                          "the exact error")
    test.add_argument("id", type=int)
    test.set_defaults(func=cmd_mailbox_test)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
        configure_logging(settings.log_level)
        result: int = args.func(settings, args)
        return result
    except (SettingsError, DeskError) as exc:
        print(f"switchboard: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
