"""The printable field-visit order (pure): one HTML page from a visit's answer
(``field_visits.visit_json``) and the case it belongs to.

The page carries no script but the print button's and no inline style (its stylesheet,
``/static/css/visit-order.css``, has the ``@media print`` rules), so ``CSP`` holds. Every value
is escaped. A scheduled visit prints a blank completion section for the technician to fill in
on site (work done, arrival and departure, time spent, outcome, signatures); a done one prints
what was recorded; a cancelled one says so and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
OUTCOME_LABELS = {"resolved": "Resolved", "follow_up": "Follow-up visit needed",
                  "not_resolved": "Not resolved", "no_access": "No access on site"}
STATUS_LABELS = {"scheduled": "Scheduled", "done": "Done", "cancelled": "Cancelled"}


@dataclass(frozen=True, slots=True)
class Case:
    """The case and the people the order names (display names, not ids)."""

    number: str
    subject: str | None
    customer: str | None
    customer_email: str | None
    customer_phone: str | None
    organisation: str | None
    technician: str
    ordered_by: str | None
    names: dict[int, str]  # agent id -> display name, for the changes' "by"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _when(iso: str | None, zone: ZoneInfo) -> str:
    if iso is None:
        return ""
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%a %d %b %Y, %H:%M")


def _rows(pairs: Iterable[tuple[str, object]]) -> str:
    return "".join(f"<dt>{_e(k)}</dt><dd>{_e(v) or '&nbsp;'}</dd>" for k, v in pairs)


def _value(v: object) -> object:
    if isinstance(v, bool):
        return "Yes" if v else "No"
    return v


def _lines(n: int) -> str:
    return "".join('<div class="line"></div>' for _ in range(n))


def _blank_completion() -> str:
    boxes = "".join(f'<li><span class="box"></span>{_e(label)}</li>'
                    for label in OUTCOME_LABELS.values())
    return ('<h3>Work done</h3>' + _lines(5) +
            '<div class="blanks"><p>Arrival: <span class="blank"></span></p>'
            '<p>Departure: <span class="blank"></span></p>'
            '<p>Time spent: <span class="blank short"></span> minutes</p></div>'
            f'<h3>Outcome</h3><ul class="outcomes">{boxes}</ul>')


def _filled_completion(v: dict[str, Any], case: Case, zone: ZoneInfo) -> str:
    by = case.names.get(v["ended_by"], "") if v["ended_by"] is not None else ""
    spent = f"{v['minutes']} minutes" if v["minutes"] is not None else ""
    facts = _rows([("Outcome", OUTCOME_LABELS.get(v["outcome"] or "", "")),
                   ("Time spent", spent), ("Recorded by", by),
                   ("Recorded at", _when(v["ended_at"], zone))])
    return (f'<dl class="facts">{facts}</dl>'
            f'<h3>Work done</h3><p class="text">{_e(v["work_done"])}</p>')


def _signatures() -> str:
    return ('<div class="signatures"><div><div class="line"></div>Technician</div>'
            '<div><div class="line"></div>Customer</div></div>')


def _changes(changes: Sequence[dict[str, Any]], case: Case, zone: ZoneInfo) -> str:
    if not changes:
        return ""
    items = "".join(
        f"<li>{_e(_when(c['old_at'], zone))} → {_e(_when(c['new_at'], zone))}, "
        f"by {_e(case.names.get(c['by_id'], 'someone'))}: {_e(c['why'])}</li>"
        for c in changes)
    return f'<section class="changes"><h2>Rescheduled</h2><ul>{items}</ul></section>'


def _section(title: str, body: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<section{attr}><h2>{_e(title)}</h2>{body}</section>"


def render(v: dict[str, Any], case: Case, zone: ZoneInfo, printed_at: datetime) -> str:
    """The order page for visit ``v`` (its JSON answer), times in ``zone``."""
    status = v["status"]
    title = f"Visit order V-{v['id']} — {case.number}"
    banner = (f'<p class="cancelled" role="status">Cancelled: {_e(v["cancel_why"])}</p>'
              if status == "cancelled" else "")
    customer = _rows([("Name", case.customer), ("Organisation", case.organisation),
                      ("Email", case.customer_email), ("Phone", case.customer_phone)])
    visit = _rows([("Scheduled start", _when(v["scheduled_at"], zone)),
                   ("Expected duration", f"{v['duration_min']} minutes"),
                   ("Technician", case.technician), ("Ordered by", case.ordered_by)])
    on_site = _rows([("On-site contact", v["contact_name"]),
                     ("Contact phone", v["contact_phone"])])
    fields = _rows((f["label"], _value(f["value"])) for f in v["fields"])
    completion = (_filled_completion(v, case, zone) if status == "done"
                  else _blank_completion() if status == "scheduled" else "")
    subject = f" — {_e(case.subject)}" if case.subject else ""
    printed = printed_at.astimezone(zone).strftime("%d %b %Y %H:%M")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>"
        '<link rel="stylesheet" href="/static/css/visit-order.css">'
        '<script type="module" src="/static/js/print-order.js"></script></head><body>'
        f'<main class="order" data-status="{_e(status)}">'
        f'<header><div><h1>Field visit order <span class="ref">V-{v["id"]}</span></h1>'
        f'<p class="case">Case <strong>{_e(case.number)}</strong>{subject}</p></div>'
        f'<div class="head-side"><span class="status" data-status="{_e(status)}">'
        f'{_e(STATUS_LABELS.get(status, status))}</span>'
        '<button type="button" id="print" class="no-print">Print</button></div></header>'
        f'{banner}<div class="columns">'
        + _section("Customer", f'<dl class="facts">{customer}</dl>')
        + _section("Visit", f'<dl class="facts">{visit}</dl>') + "</div>"
        + _section("Address", f'<p class="text address">{_e(v["address"])}</p>'
                              f'<dl class="facts">{on_site}</dl>')
        + _section("Instructions", f'<p class="text">{_e(v["instructions"]) or "—"}</p>')
        + (_section("Visit form", f'<dl class="facts">{fields}</dl>') if v["fields"] else "")
        + _changes(v["changes"], case, zone)
        + (_section("Completion", completion + _signatures(), "completion")
           if completion else "")
        + f"<footer>Printed {_e(printed)} ({_e(str(zone))}) · Switchboard</footer>"
        "</main></body></html>")


def error_page(status: int, message: str) -> str:
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<title>Visit order</title><link rel="stylesheet" href="/static/css/visit-order.css">'
            f'</head><body><main class="order"><p role="alert">{_e(message)}</p>'
            + ('<p><a href="/static/console.html">Log in to the console</a></p>'
               if status == 401 else "") + "</main></body></html>")
