"""Admin API for automation rules: stored, versioned, tried against a past conversation.

Every create or change is a new version (``rule_versions`` keeps each one, with who made it);
the worker's timers name the version they were set for, so an edited rule never fires on the
old one's timers. A rule starts disabled unless ``enabled`` is given. ``POST
/api/rules/{id}/try`` answers whether the rule would fire on a conversation as it is now, and
why, without firing it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import automation, automation_store, sla_store, validate
from desk.errors import Conflict, InvalidInput, NotFound
from desk.http import (
    JSONResponse,
    admin_crud,
    api,
    commit_unique,
    deps,
    get_or_404,
    path_int,
    read_json,
    require_admin,
)
from desk.limits import NAME_MAX
from desk.models import AutomationRule, Conversation, ConversationSla, RuleVersion, utcnow

RULE_JSON_MAX = 32 * 1024
DEFINITION_KEYS = frozenset({"event", "params", "conditions", "actions"})
# The definition's fields carry automation's own schemas (beside ``automation.parse``, the check).
RULE = validate.Body({"name": validate.Text(NAME_MAX), "enabled": validate.Boolean(),
                      **{k: validate.Part(v) for k, v in automation.rule_schemas().items()}},
                     required=("name", "event", "actions"))
RULE_UPDATE = RULE.but(required=())
TRY = validate.Body({"conversation_id": validate.RecordId()}, required=("conversation_id",))


def rule_json(r: AutomationRule) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "version": r.version, "enabled": r.enabled,
            "disabled_reason": r.disabled_reason, **(r.definition or {}),
            "updated_at": r.updated_at.isoformat() if r.updated_at else None}


async def _definition(s: AsyncSession, data: dict[str, Any]) -> dict[str, Any]:
    """The rule's definition, checked: its shape (``automation.parse``, the one check) and the
    agents it names (active ones only: an assignment to nobody is refused when saved)."""
    definition = {k: RULE_UPDATE.read(data, k) for k in DEFINITION_KEYS if k in data}
    rule = automation.parse(0, 1, definition, True)  # raises InvalidInput
    if len(repr(definition)) > RULE_JSON_MAX:
        raise InvalidInput(f"the rule is larger than {RULE_JSON_MAX} bytes")
    gone = await automation_store.missing_agents(s, rule)
    if gone:
        raise InvalidInput(f"agent {', '.join(map(str, gone))} does not exist or is disabled")
    return definition


async def _save(s: AsyncSession, row: AutomationRule, actor_id: int | None) -> None:
    s.add(RuleVersion(rule_id=row.id, version=row.version, definition=row.definition,
                      actor_id=actor_id))
    await commit_unique(s, "rule")


@validate.described(RULE, status=201)
@api
async def create_rule(request: Request) -> Response:
    """A rule: event (+ params), conditions, actions; starts disabled unless enabled."""
    p = await require_admin(request)
    data = await read_json(request)
    name = RULE.read(data, "name")
    enabled = RULE.read(data, "enabled")
    for key in ("event", "actions"):
        RULE.read(data, key)  # there at all: what they hold is automation.parse's to say
    async with deps(request).sm() as s:
        definition = await _definition(s, data)
        row = AutomationRule(name=name, version=1, enabled=bool(enabled),
                             definition=definition)
        s.add(row)
        try:
            await s.flush()
        except IntegrityError:
            await s.rollback()
            raise Conflict("a rule with this name exists already") from None
        await _save(s, row, p.agent_id)
        return JSONResponse(rule_json(row), status_code=201)


@validate.described(RULE_UPDATE)
@api
async def update_rule(request: Request) -> Response:
    """Change a rule (a new version) or turn it on or off; turning it on clears the reason it
    was turned off."""
    p = await require_admin(request)
    data = await read_json(request)
    async with deps(request).sm() as s:
        row = await get_or_404(s, AutomationRule, path_int(request, "id"), "rule")
        if "name" in data:
            row.name = RULE_UPDATE.read(data, "name")
        changed = bool(set(data) & DEFINITION_KEYS)
        if changed:
            row.definition = await _definition(s, {**(row.definition or {}), **data})
            row.version += 1
        enabled = RULE_UPDATE.read(data, "enabled")
        if enabled is not None:
            row.enabled = enabled
            if enabled:
                row.disabled_reason = None
        row.updated_at = utcnow()
        if changed:
            await _save(s, row, p.agent_id)
        else:
            await commit_unique(s, "rule")
        return JSONResponse(rule_json(row))


# Creating and changing a rule keeps versions: only its list and delete are the common shape.
rules = admin_crud(AutomationRule, "rule", "rules", lambda r, _: rule_json(r),
                   order_by=(AutomationRule.id,))


@api
async def rule_versions(request: Request) -> Response:
    """Every version of a rule, newest first, with who saved it."""
    await require_admin(request)
    async with deps(request).sm() as s:
        row = await get_or_404(s, AutomationRule, path_int(request, "id"), "rule")
        versions = await s.scalars(select(RuleVersion).where(RuleVersion.rule_id == row.id)
                                   .order_by(RuleVersion.version.desc()))
        return JSONResponse([{"version": v.version, "actor_id": v.actor_id,
                              "created_at": v.created_at.isoformat(), **v.definition}
                             for v in versions])


@validate.described(TRY)
@api
async def try_rule(request: Request) -> Response:
    """Would this rule fire on a conversation as it is now? ``would_fire`` and ``because``."""
    await require_admin(request)
    data = await read_json(request)
    cid: int = TRY.read(data, "conversation_id")
    async with deps(request).sm() as s:
        row = await get_or_404(s, AutomationRule, path_int(request, "id"), "rule")
        conv = await s.get(Conversation, cid)
        if conv is None:
            raise NotFound(f"conversation {cid} not found")
        rule = automation_store.rule_of(row)
        if rule is None:
            raise InvalidInput("the stored rule no longer parses; save it again")
        rule = automation.Rule(rule.id, rule.version, True, rule.event, rule.params,
                               rule.conditions, rule.actions)
        gone = await automation_store.missing_groups(s, rule)
        if gone:
            return JSONResponse({"would_fire": False, "because": [
                f"group {', '.join(map(str, gone))} no longer exists"]})
        sla_row = await s.get(ConversationSla, conv.id)
        now = utcnow()
        cal = await sla_store.calendars(s).get(sla_row.calendar_id if sla_row else None)
        verdict = automation.explain(rule, rule.event,
                                     await automation_store.facts(s, conv, cal, now))
        return JSONResponse({"would_fire": verdict.fires, "because": list(verdict.reasons),
                             "actions": [a.type for a in rule.actions],
                             "evaluated_at": now.isoformat(), "enabled": row.enabled})


routes = [
    Route("/api/rules", rules.index, methods=["GET"]),
    Route("/api/rules", create_rule, methods=["POST"]),
    Route("/api/rules/{id:int}", update_rule, methods=["PATCH"]),
    Route("/api/rules/{id:int}", rules.delete, methods=["DELETE"]),
    Route("/api/rules/{id:int}/versions", rule_versions, methods=["GET"]),
    Route("/api/rules/{id:int}/try", try_rule, methods=["POST"]),
]
