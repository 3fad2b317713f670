"""``GET /api/reports/invitations``: Who's On invitations of a range and how they were answered
(supervisors and admins: the whole organisation's)."""

from __future__ import annotations

from datetime import UTC

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desk import invitations
from desk.api_reports import parse_range
from desk.errors import Forbidden
from desk.http import JSONResponse, api, current_principal, deps


@api
async def invitations_report(request: Request) -> Response:
    """Invitations shown in the range, per agent or rule, with their outcomes."""
    p = await current_principal(request)
    if not p.is_supervisor:
        raise Forbidden("invitation figures are for supervisors and admins")
    r = parse_range(request)
    async with deps(request).sm() as s:
        out = await invitations.report(s, r.start.astimezone(UTC), r.end.astimezone(UTC))
    return JSONResponse({"from": r.start.isoformat(), "to": r.end.isoformat(), **out})


routes = [Route("/api/reports/invitations", invitations_report, methods=["GET"],
                name="report_invitations")]
