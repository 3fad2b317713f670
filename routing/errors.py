"""Errors raised by the routing package.

Tree::

    RoutingError (desk.errors.DeskError)
    ├── RoutingUnavailable     live state lost (Redis flushed/restarted) and not rebuilt yet (503)
    ├── UnknownConversation    no such conversation in the records (404, also a desk NotFound)
    ├── UnknownAgent           no such agent, or the agent is disabled (404)
    ├── UnknownGroup           no such group (404)
    └── RoutingConflict        the request lost to the current state (409, also a desk Conflict)
        ├── NotQueued          the conversation is not waiting (already taken, closed, elsewhere)
        ├── NotOffered         accept/decline of an offer that is not, or no longer, this agent's
        ├── NotHeld            release/transfer of a conversation the agent does not hold
        └── NotEligible        the agent may not take it: offline, inactive, full, skills, group
"""

from __future__ import annotations

from desk.errors import Conflict, DeskError, NotFound, Unavailable


class RoutingError(DeskError):
    status = 500


class RoutingUnavailable(RoutingError, Unavailable):
    status = 503


class UnknownConversation(RoutingError, NotFound):
    status = 404


class UnknownAgent(RoutingError, NotFound):
    status = 404


class UnknownGroup(RoutingError, NotFound):
    status = 404


class RoutingConflict(RoutingError, Conflict):
    status = 409


class NotQueued(RoutingConflict):
    pass


class NotOffered(RoutingConflict):
    pass


class NotHeld(RoutingConflict):
    pass


class NotEligible(RoutingConflict):
    pass
