"""A department with a front-line group and an IMAP mailbox on a test server (tests, benches)."""

from __future__ import annotations

import uuid
from typing import Any

from desk.db import SessionMaker
from desk.models import Department, Group, Mailbox


async def add_mailbox(sm: SessionMaker, *, port: int, user: str, password: str,
                      **fields: Any) -> int:
    tag = uuid.uuid4().hex[:8]
    async with sm() as s:
        dept = Department(name=f"Support {tag}", email_address=f"support-{tag}@desk.example")
        s.add(dept)
        await s.flush()
        group = Group(department_id=dept.id, name="Front line")
        s.add(group)
        await s.flush()
        dept.front_group_id = group.id
        box = Mailbox(department_id=dept.id, host="127.0.0.1", port=port, security="none",
                      username=user, password=password, folder="INBOX", poll_interval_s=60,
                      **fields)
        s.add(box)
        await s.commit()
        return box.id
