"""Admin API: departments, groups, agents, skills, sites, canned responses.

Writes are admin-only (canned responses: supervisors too). Reads are scoped: an agent sees only
the groups they belong to, and the departments and colleagues of those groups; asking for
anything else by id is a 403, unknown ids are 404.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import auth, identity, site_config, smtp_relay, validate
from desk.errors import Forbidden, InvalidInput, NotFound
from desk.http import (
    JSONResponse,
    api,
    current_principal,
    deps,
    get_or_404,
    path_int,
    query_int,
    read_json,
    require_admin,
)
from desk.limits import MAILBOX_TEXT_MAX, NAME_MAX
from desk.mail_rules import NOTIFY_MODES
from desk.models import (
    POLICIES,
    ROLES,
    Agent,
    AgentGroup,
    AgentSkill,
    CannedResponse,
    Department,
    Group,
    Site,
    Skill,
)

SITE_CONFIG_MAX = 64 * 1024
_ID = {"type": "integer"}


def _password(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"{key} is required", key)
    auth.check_password_strength(value)
    return value


# What each body may hold: the handlers read their fields through these, and the API description
# (desk.web) is generated from the same definitions.
DEPARTMENT = validate.Body({
    "name": validate.Text(NAME_MAX), "email_address": validate.Email(nullable=True),
    "notify_mode": validate.Choice(NOTIFY_MODES),
    "front_group_id": validate.RecordId(nullable=True),
    # Checked against the stored relay (a password left out is kept): desk.smtp_relay.check.
    "smtp": validate.Custom(lambda data, key: data.get(key), {
        "type": "object", "required": ["host"], "properties": {
            "host": {"type": "string", "minLength": 1, "maxLength": MAILBOX_TEXT_MAX},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "security": {"enum": list(smtp_relay.SECURITY)},
            "username": {"type": "string", "maxLength": MAILBOX_TEXT_MAX},
            "password": {"type": "string", "minLength": 1, "maxLength": MAILBOX_TEXT_MAX}}},
        nullable=True)}, required=("name",))
DEPARTMENT_UPDATE = DEPARTMENT.but(required=())
DEPARTMENT_CREATE = DEPARTMENT.but(drop=("front_group_id",))
GROUP = validate.Body({
    "department_id": validate.RecordId(), "name": validate.Text(NAME_MAX),
    "policy": validate.Choice(POLICIES), "offer_timeout_s": validate.Integer(5, 3600)},
    required=("department_id", "name"))
GROUP_UPDATE = GROUP.but(required=(), drop=("department_id",))
SKILL = validate.Body({"name": validate.Text(64)}, required=("name",))
AGENT = validate.Body({
    "email": validate.Email(),
    "password": validate.Custom(_password, {"type": "string", "minLength": auth.PASSWORD_MIN,
                                            "maxLength": auth.PASSWORD_MAX}),
    "display_name": validate.Text(NAME_MAX), "role": validate.Choice(ROLES),
    "chat_capacity": validate.Integer(0, 50), "ticket_capacity": validate.Integer(0, 500),
    "is_active": validate.Boolean(), "group_ids": validate.IdList(),
    "skills": validate.SkillLevels()}, required=("email", "password", "display_name"))
AGENT_UPDATE = AGENT.but(required=(), drop=("email", "password"))
PASSWORD_RESET = AGENT.but(required=("password",), drop=tuple(set(AGENT.fields) - {"password"}))
CANNED = validate.Body({
    "department_id": validate.RecordId(), "shortcut": validate.Text(32),
    "title": validate.Text(NAME_MAX), "body": validate.Text(10_000)},
    required=("department_id", "shortcut", "title", "body"))
CANNED_UPDATE = CANNED.but(required=(), drop=("department_id",))
CANNED_JSON = CANNED.result(id=_ID)
DEPARTMENT_JSON = DEPARTMENT.result(id=_ID)
GROUP_JSON = GROUP.result(id=_ID)
AGENT_JSON = AGENT.but(drop=("password",)).result(id=_ID)
OK_JSON = {"type": "object", "properties": {"ok": {"const": True}}, "required": ["ok"]}


def department_json(d: Department) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "email_address": d.email_address,
            "front_group_id": d.front_group_id, "notify_mode": d.notify_mode,
            "smtp": smtp_relay.view(d.smtp)}


def group_json(g: Group) -> dict[str, Any]:
    return {"id": g.id, "department_id": g.department_id, "name": g.name, "policy": g.policy,
            "offer_timeout_s": g.offer_timeout_s}


def agent_json(a: Agent, skill_names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": a.id, "email": a.email, "display_name": a.display_name, "role": a.role,
        "chat_capacity": a.chat_capacity, "ticket_capacity": a.ticket_capacity,
        "is_active": a.is_active, "group_ids": sorted(g.group_id for g in a.groups),
        "skills": {skill_names[s.skill_id]: s.level for s in a.skills},
    }


def site_json(s: Site) -> dict[str, Any]:
    """The identity secret only as "set or not" and its last 4 characters, to tell which."""
    secret = s.identity_secret
    return {"id": s.id, "key": s.key, "name": s.name, "allowed_origins": s.allowed_origins,
            "typing_preview": s.typing_preview, "config": s.config,
            "identity_verification": bool(secret),
            "identity_secret_hint": f"\u2026{secret[-4:]}" if secret else None}


def canned_json(c: CannedResponse) -> dict[str, Any]:
    return {"id": c.id, "department_id": c.department_id, "shortcut": c.shortcut,
            "title": c.title, "body": c.body}


# --- departments -------------------------------------------------------------------------


@api
async def list_departments(request: Request) -> Response:
    p = await current_principal(request)
    async with deps(request).sm() as s:
        visible = await auth.visible_departments(s, p)
        q = select(Department).order_by(Department.id)
        if visible is not None:
            q = q.where(Department.id.in_(visible))
        return JSONResponse([department_json(d) for d in (await s.execute(q)).scalars()])


async def _apply_department(s: AsyncSession, d: Department, data: dict[str, Any],
                            partial: bool) -> None:
    body = DEPARTMENT_UPDATE if partial else DEPARTMENT_CREATE
    if not partial or "name" in data:
        d.name = body.read(data, "name")
    if "email_address" in data:
        d.email_address = body.read(data, "email_address")
    if "notify_mode" in data:
        d.notify_mode = body.read(data, "notify_mode") or "full"
    if "smtp" in data:
        d.smtp = smtp_relay.check(data["smtp"], d.smtp)
    if "front_group_id" in data:
        gid = body.read(data, "front_group_id")
        if gid is not None:
            group = await get_or_404(s, Group, gid)
            if group.department_id != d.id:
                raise InvalidInput("front_group_id must be a group of this department",
                                   "front_group_id")
        d.front_group_id = gid


@validate.described(DEPARTMENT_CREATE, DEPARTMENT_JSON, 201)
@api
async def create_department(request: Request) -> Response:
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        d = Department()
        await _apply_department(s, d, {k: v for k, v in data.items() if k != "front_group_id"},
                                partial=False)
        s.add(d)
        await s.commit()
        return JSONResponse(department_json(d), status_code=201)


@validate.described(response=DEPARTMENT_JSON)
@api
async def get_department(request: Request) -> Response:
    p = await current_principal(request)
    async with deps(request).sm() as s:
        d = await get_or_404(s, Department, path_int(request, "id"))
        visible = await auth.visible_departments(s, p)
        if visible is not None and d.id not in visible:
            raise Forbidden("not a department of your groups")
        return JSONResponse(department_json(d))


@validate.described(DEPARTMENT_UPDATE, DEPARTMENT_JSON)
@api
async def update_department(request: Request) -> Response:
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        d = await get_or_404(s, Department, path_int(request, "id"))
        await _apply_department(s, d, data, partial=True)
        await s.commit()
        return JSONResponse(department_json(d))


# --- groups ------------------------------------------------------------------------------


@api
async def list_groups(request: Request) -> Response:
    p = await current_principal(request)
    async with deps(request).sm() as s:
        q = select(Group).order_by(Group.id).where(p.scope(Group.id))
        return JSONResponse([group_json(g) for g in (await s.execute(q)).scalars()])


async def _apply_group(s: AsyncSession, g: Group, data: dict[str, Any], partial: bool) -> None:
    body = GROUP_UPDATE if partial else GROUP
    if not partial:
        dept_id = body.read(data, "department_id")
        await get_or_404(s, Department, dept_id)
        g.department_id = dept_id
    if not partial or "name" in data:
        g.name = body.read(data, "name")
    policy = body.read(data, "policy") or (None if partial else "least_loaded")
    if policy is not None:
        g.policy = policy
    timeout = body.read(data, "offer_timeout_s")
    if timeout is None and not partial:
        timeout = 30
    if timeout is not None:
        g.offer_timeout_s = timeout


@validate.described(GROUP, GROUP_JSON, 201)
@api
async def create_group(request: Request) -> Response:
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        g = Group()
        await _apply_group(s, g, data, partial=False)
        s.add(g)
        await s.commit()
        return JSONResponse(group_json(g), status_code=201)


@validate.described(response=GROUP_JSON)
@api
async def get_group(request: Request) -> Response:
    p = await current_principal(request)
    async with deps(request).sm() as s:
        g = await get_or_404(s, Group, path_int(request, "id"))
        if not p.can_access(g.id):
            raise Forbidden("not one of your groups")
        return JSONResponse(group_json(g))


@validate.described(GROUP_UPDATE, GROUP_JSON)
@api
async def update_group(request: Request) -> Response:
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        g = await get_or_404(s, Group, path_int(request, "id"))
        await _apply_group(s, g, data, partial=True)
        await s.commit()
        return JSONResponse(group_json(g))


# --- skills ------------------------------------------------------------------------------


async def _skill_names(s: AsyncSession) -> dict[int, str]:
    return {k.id: k.name for k in (await s.execute(select(Skill))).scalars()}


@api
async def list_skills(request: Request) -> Response:
    await current_principal(request)
    async with deps(request).sm() as s:
        names = await _skill_names(s)
    return JSONResponse([{"id": i, "name": n} for i, n in sorted(names.items())])


@validate.described(SKILL, SKILL.result(id=_ID), 201)
@api
async def create_skill(request: Request) -> Response:
    await require_admin(request)
    name = SKILL.read(await read_json(request), "name")
    async with deps(request).sm() as s:
        skill = Skill(name=name)
        s.add(skill)
        await s.commit()
        return JSONResponse({"id": skill.id, "name": skill.name}, status_code=201)


# --- agents ------------------------------------------------------------------------------


@api
async def list_agents(request: Request) -> Response:
    p = await current_principal(request)
    async with deps(request).sm() as s:
        q = select(Agent).order_by(Agent.id)
        if not p.is_admin:
            q = q.where(Agent.id.in_(
                select(AgentGroup.agent_id).where(AgentGroup.group_id.in_(p.group_ids))
            ))
        names = await _skill_names(s)
        return JSONResponse([agent_json(a, names) for a in (await s.execute(q)).scalars()])


async def _apply_agent(s: AsyncSession, a: Agent, data: dict[str, Any], partial: bool) -> None:
    body = AGENT_UPDATE if partial else AGENT
    if not partial:
        a.email = body.read(data, "email")
        password = body.read(data, "password")
        a.password_hash = await asyncio.to_thread(auth.hash_password, password)
    if not partial or "display_name" in data:
        a.display_name = body.read(data, "display_name")
    role = body.read(data, "role") or (None if partial else "agent")
    if role is not None:
        a.role = role
    for key in ("chat_capacity", "ticket_capacity"):
        value = body.read(data, key)
        if value is not None:
            setattr(a, key, value)
    active = body.read(data, "is_active")
    if active is not None:
        if a.is_active and not active:
            a.session_version = (a.session_version or 1) + 1
        a.is_active = active
    group_ids = body.read(data, "group_ids")
    if group_ids is not None:
        found = set((await s.execute(select(Group.id).where(Group.id.in_(group_ids)))).scalars())
        missing = sorted(set(group_ids) - found)
        if missing:
            raise NotFound(f"groups not found: {missing}")
        a.groups = [AgentGroup(group_id=gid) for gid in group_ids]
    skills = body.read(data, "skills")
    if skills is not None:
        by_name = {v: k for k, v in (await _skill_names(s)).items()}
        missing_skills = sorted(set(skills) - set(by_name))
        if missing_skills:
            raise NotFound(f"skills not found: {missing_skills}")
        a.skills = [AgentSkill(skill_id=by_name[n], level=lvl) for n, lvl in skills.items()]


@validate.described(AGENT, AGENT_JSON, 201)
@api
async def create_agent(request: Request) -> Response:
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        a = Agent(groups=[], skills=[], session_version=1, is_active=True,
                  chat_capacity=3, ticket_capacity=10)
        await _apply_agent(s, a, data, partial=False)
        s.add(a)
        await s.commit()
        return JSONResponse(agent_json(a, await _skill_names(s)), status_code=201)


@validate.described(response=AGENT_JSON)
@api
async def get_agent(request: Request) -> Response:
    p = await current_principal(request)
    async with deps(request).sm() as s:
        a = await get_or_404(s, Agent, path_int(request, "id"))
        if not p.is_admin and a.id != p.agent_id and not (
            {g.group_id for g in a.groups} & p.group_ids
        ):
            raise Forbidden("not a colleague in your groups")
        return JSONResponse(agent_json(a, await _skill_names(s)))


@validate.described(AGENT_UPDATE, AGENT_JSON)
@api
async def update_agent(request: Request) -> Response:
    await require_admin(request)
    data = await read_json(request)
    if "password" in data or "email" in data:
        raise InvalidInput("email and password cannot be changed here",
                           "email" if "email" in data else "password")
    d = deps(request)
    async with d.sm() as s:
        a = await get_or_404(s, Agent, path_int(request, "id"))
        await _apply_agent(s, a, data, partial=True)
        await s.commit()
        result = agent_json(a, await _skill_names(s))
    await d.hooks.rights_changed(a.id)
    if data.get("is_active") is False:
        await d.hooks.session_ended(a.id, None)
    return JSONResponse(result)


@validate.described(PASSWORD_RESET, OK_JSON)
@api
async def reset_agent_password(request: Request) -> Response:
    await require_admin(request)
    d = deps(request)
    password = PASSWORD_RESET.read(await read_json(request), "password")
    agent_id = path_int(request, "id")
    async with d.sm() as s:
        await get_or_404(s, Agent, agent_id)
    await auth.set_password(d.sm, agent_id, password)
    await d.hooks.session_ended(agent_id, None)
    return JSONResponse({"ok": True})


# --- sites -------------------------------------------------------------------------------


def _site_config(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    config = data.get(key)
    if config is None:
        return None
    if not isinstance(config, dict) or len(orjson.dumps(config)) > SITE_CONFIG_MAX:
        raise InvalidInput(f"config must be a JSON object of at most {SITE_CONFIG_MAX} bytes")
    return site_config.check(config)


SITE = validate.Body({
    "name": validate.Text(NAME_MAX), "allowed_origins": validate.Origins(),
    "typing_preview": validate.Boolean(),
    "config": validate.Custom(_site_config, {"type": "object"}, nullable=True),
    "identity_secret": validate.Custom(identity.check_secret, {
        "type": "string", "minLength": identity.SECRET_MIN, "maxLength": 128},
        nullable=True)}, required=("name",))
SITE_UPDATE = SITE.but(required=())


@api
async def list_sites(request: Request) -> Response:
    await require_admin(request)
    async with deps(request).sm() as s:
        return JSONResponse([site_json(x) for x in (await s.execute(select(Site))).scalars()])


@validate.described(SITE, status=201)
@api
async def create_site(request: Request) -> Response:
    await require_admin(request)
    data = await read_json(request)
    site = Site(
        key="site_" + secrets.token_urlsafe(16),
        name=SITE.read(data, "name"),
        allowed_origins=SITE.read(data, "allowed_origins") or [],
        typing_preview=validate.boolean(data, "typing_preview", True),
        config=SITE.read(data, "config") or {},
        identity_secret=SITE.read(data, "identity_secret"),
    )
    async with deps(request).sm() as s:
        s.add(site)
        await s.commit()
    return JSONResponse(site_json(site), status_code=201)


@validate.described(SITE_UPDATE)
@api
async def update_site(request: Request) -> Response:
    await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        site = await get_or_404(s, Site, path_int(request, "id"))
        if "name" in data:
            site.name = SITE_UPDATE.read(data, "name")
        origins = SITE_UPDATE.read(data, "allowed_origins")
        if origins is not None:
            site.allowed_origins = origins
        preview = SITE_UPDATE.read(data, "typing_preview")
        if preview is not None:
            site.typing_preview = preview
        config = SITE_UPDATE.read(data, "config")
        if config is not None:
            site.config = config
        if "identity_secret" in data:  # null turns identity verification off
            site.identity_secret = SITE_UPDATE.read(data, "identity_secret")
        await s.commit()
        return JSONResponse(site_json(site))


# --- canned responses --------------------------------------------------------------------


@api
async def list_canned(request: Request) -> Response:
    p = await current_principal(request)
    dept = query_int(request, "department_id")
    async with deps(request).sm() as s:
        visible = await auth.visible_departments(s, p)
        if dept is not None and visible is not None and dept not in visible:
            raise Forbidden("not a department of your groups")
        q = select(CannedResponse).order_by(CannedResponse.shortcut)
        if dept is not None:
            q = q.where(CannedResponse.department_id == dept)
        elif visible is not None:
            q = q.where(CannedResponse.department_id.in_(visible))
        rows = (await s.execute(q)).scalars()
        return JSONResponse([canned_json(c) for c in rows])


@validate.described(CANNED, CANNED_JSON, 201)
@api
async def create_canned(request: Request) -> Response:
    p = await current_principal(request)
    if not p.is_supervisor:
        raise Forbidden("supervisors and admins only")
    data = await read_json(request)
    dept = CANNED.read(data, "department_id")
    async with deps(request).sm() as s:
        await get_or_404(s, Department, dept or 0)
        visible = await auth.visible_departments(s, p)
        if visible is not None and dept not in visible:
            raise Forbidden("not a department of your groups")
        c = CannedResponse(department_id=dept)
        _apply_canned(c, data, partial=False)
        s.add(c)
        await s.commit()
        return JSONResponse(canned_json(c), status_code=201)


def _apply_canned(c: CannedResponse, data: dict[str, Any], partial: bool) -> None:
    """Shortcut, title and body; the body may use the variables the console fills in
    (``{{contact.name}}``, ``{{agent.name}}``, ``{{conversation.number}}``: js/canned.js)."""
    body = CANNED_UPDATE if partial else CANNED
    for key in ("shortcut", "title", "body"):
        if not partial or key in data:
            setattr(c, key, body.read(data, key))


async def _own_canned(request: Request, s: AsyncSession) -> CannedResponse:
    p = await current_principal(request)
    if not p.is_supervisor:
        raise Forbidden("supervisors and admins only")
    c = await get_or_404(s, CannedResponse, path_int(request, "id"))
    visible = await auth.visible_departments(s, p)
    if visible is not None and c.department_id not in visible:
        raise Forbidden("not a department of your groups")
    return c


@validate.described(CANNED_UPDATE, CANNED_JSON)
@api
async def update_canned(request: Request) -> Response:
    data = await read_json(request)
    async with deps(request).sm() as s:
        c = await _own_canned(request, s)
        _apply_canned(c, data, partial=True)
        await s.commit()
        return JSONResponse(canned_json(c))


@api
async def delete_canned(request: Request) -> Response:
    async with deps(request).sm() as s:
        c = await _own_canned(request, s)
        await s.execute(delete(CannedResponse).where(CannedResponse.id == c.id))
        await s.commit()
    return JSONResponse({"ok": True})


routes = [
    Route("/api/departments", list_departments, methods=["GET"]),
    Route("/api/departments", create_department, methods=["POST"]),
    Route("/api/departments/{id:int}", get_department, methods=["GET"]),
    Route("/api/departments/{id:int}", update_department, methods=["PATCH"]),
    Route("/api/groups", list_groups, methods=["GET"]),
    Route("/api/groups", create_group, methods=["POST"]),
    Route("/api/groups/{id:int}", get_group, methods=["GET"]),
    Route("/api/groups/{id:int}", update_group, methods=["PATCH"]),
    Route("/api/skills", list_skills, methods=["GET"]),
    Route("/api/skills", create_skill, methods=["POST"]),
    Route("/api/agents", list_agents, methods=["GET"]),
    Route("/api/agents", create_agent, methods=["POST"]),
    Route("/api/agents/{id:int}", get_agent, methods=["GET"]),
    Route("/api/agents/{id:int}", update_agent, methods=["PATCH"]),
    Route("/api/agents/{id:int}/password", reset_agent_password, methods=["POST"]),
    Route("/api/sites", list_sites, methods=["GET"]),
    Route("/api/sites", create_site, methods=["POST"]),
    Route("/api/sites/{id:int}", update_site, methods=["PATCH"]),
    Route("/api/canned", list_canned, methods=["GET"]),
    Route("/api/canned", create_canned, methods=["POST"]),
    Route("/api/canned/{id:int}", update_canned, methods=["PATCH"]),
    Route("/api/canned/{id:int}", delete_canned, methods=["DELETE"]),
]
