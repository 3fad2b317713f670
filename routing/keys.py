"""Every Redis key (and the pub/sub channel) Switchboard uses, in one place.

Routing keys share the hash tag ``{r}`` so every script's keys live in one Redis Cluster slot:
a claim must touch the conversation, the queue and the agent in one atomic step.

Routing layout (``c`` conversation id, ``g`` group id, ``a`` agent id):

=========================  ======  ===============================================================
key                        type    content
=========================  ======  ===============================================================
``epoch``                  string  token written by the last rebuild; absent = state was lost
``rebuild_lock``           string  held (NX, PX) by the process rebuilding
``agent(a)``               hash    ``chats``, ``tickets`` (current load), ``max_chats``,
                                   ``max_tickets`` (capacity, copied from the records),
                                   ``g:<g>`` = 1 for each group the agent is active in and
                                   ``c:<c>`` = 1 for each conversation offered/assigned to them
                                   (one hash: one HMGET answers the claim, fewer keys to pass)
``heartbeat(a)``           string  exists while the agent is online (PX = presence TTL)
``presence()``             zset    agent -> last heartbeat (ms); finds agents past their grace
``queue(g)``               zset    member ``<arrival ms>:<c>``, score = band * 1e11 + SLA second
``conv(c)``                hash    ``state`` queued|offered|assigned, ``group``, ``channel``,
                                   ``kind`` chat|ticket, ``agent``, ``deadline`` (offer, ms),
                                   ``score``, ``member``, ``priority``, ``sla``, ``arrival``,
                                   ``skills`` (JSON name -> level)
``excluded(c)``            set     agents who declined it or let its offer lapse
``offers()``               zset    conversation -> offer deadline (ms)
``cursor(g)``              string  last agent served in the group (round-robin cursor)
``throughput(g)``          list    recent dequeue times (ms), newest first, for wait estimates
=========================  ======  ===============================================================
"""

from __future__ import annotations

_R = "sb:{r}:"


def events_channel(db: int) -> str:
    """Pub/sub channel carrying router events as JSON (see docs/routing.md).

    Pub/sub ignores the DB index, so the index is part of the name (as in ``hub_channel``):
    deployments or test suites sharing a Redis server on different indexes never hear each
    other's events. ``store.db_index`` gives the index of a client."""
    return f"sb:routing:events:{db}"


def epoch() -> str:
    return _R + "epoch"


def rebuild_lock() -> str:
    return _R + "rebuild"


def agent(agent_id: int) -> str:
    return f"{_R}agent:{agent_id}"


def heartbeat(agent_id: int) -> str:
    return f"{_R}hb:{agent_id}"


def presence() -> str:
    return _R + "presence"


def queue(group_id: int) -> str:
    return f"{_R}queue:{group_id}"


def conv(conversation_id: int) -> str:
    return f"{_R}conv:{conversation_id}"


def excluded(conversation_id: int) -> str:
    return f"{_R}conv:{conversation_id}:excluded"


def offers() -> str:
    return _R + "offers"


def cursor(group_id: int) -> str:
    return f"{_R}cursor:{group_id}"


def throughput(group_id: int) -> str:
    return f"{_R}tput:{group_id}"


def active_field(group_id: int) -> str:
    """Field of ``agent(a)`` present while the agent is active in the group."""
    return f"g:{group_id}"


def held_field(conversation_id: int) -> str:
    """Field of ``agent(a)`` present while the conversation is offered/assigned to the agent."""
    return f"c:{conversation_id}"


def routing_pattern() -> str:
    """Glob matching every routing key, for rebuild's clean-up scan."""
    return _R + "*"


def survives_rebuild(name: str) -> bool:
    """Live facts a rebuild must keep: heartbeats, last-seen times, the rebuild lock itself."""
    return name.startswith(_R + "hb:") or name in (presence(), rebuild_lock())


# ------------------------------------------------------------------------------------------------
# Other packages: add your key functions below this line, one clearly headed block per package,
# with a ``sb:<package>:`` prefix. Do not edit the routing keys above.
# ------------------------------------------------------------------------------------------------


# --- realtime (the WebSocket hub) ---------------------------------------------------------------


def hub_channel(db: int) -> str:
    """Pub/sub channel of the hub: every web process subscribes once and filters locally.

    Pub/sub ignores the DB index, so the index is part of the name: deployments sharing a
    Redis server on different indexes never hear each other's messages."""
    return f"sb:realtime:bus:{db}"


def visitor_session_limit(client: str) -> str:
    """Counter (EX 60) of visitor sessions opened per client address per minute."""
    return f"sb:realtime:vsess:{client}"


def visit_beacon_limit(client: str) -> str:
    """Counter (EX 60) of page-view beacons (``realtime.visit_beacon``) per client address
    per minute."""
    return f"sb:realtime:vbeacon:{client}"


def upload_limit(client: str) -> str:
    """Counter (EX 60) of visitor uploads per client address per minute."""
    return f"sb:realtime:upload:{client}"


def agent_status(agent_id: int) -> str:
    """Hash: ``status`` online|away (the agent's choice) and ``groups`` (JSON ids the agent
    wants active; kept while away, when the router has them all switched off)."""
    return f"sb:realtime:status:{agent_id}"


def chat_start_lock(contact_id: int) -> str:
    """String (SET NX PX) held while a visitor's chat is being created: one chat per visitor."""
    return f"sb:realtime:start:{contact_id}"


# --- Who's On (realtime/visits.py): live, each key with a TTL, nothing past the retention ------


def visits_arrivals(site_id: int) -> str:
    """Zset: visitor (contact id) -> epoch ms the visit began; the list's order and pages."""
    return f"sb:visits:{{{site_id}}}:arr"


def visits_seen(site_id: int) -> str:
    """Zset: visitor -> epoch ms last heard of (a page view, or the socket's end pulled back
    to lapse soon): what changed since a push, and who has left."""
    return f"sb:visits:{{{site_id}}}:seen"


def visit(site_id: int, visitor_id: int) -> str:
    """Hash (PEXPIRE idle window): the visit as agents see it (``protocol_visits.VisitorRow``
    fields). No address is kept at all."""
    return f"sb:visits:{{{site_id}}}:v:{visitor_id}"


def visit_history(site_id: int, visitor_id: int) -> str:
    """String (EX the retention setting): visits so far; present means returning."""
    return f"sb:visits:{{{site_id}}}:h:{visitor_id}"


def visit_views(site_id: int, visitor_id: int) -> str:
    """Counter (EX 1): page views this second, however many sockets the visitor opens."""
    return f"sb:visits:{{{site_id}}}:rate:{visitor_id}"


def invitation(invitation_id: str) -> str:
    """Hash (EX the invitation's life): ``site``, ``visitor``, ``agent`` (0 for a rule's),
    ``state`` open|accepted|declined."""
    return f"sb:visits:inv:{invitation_id}"


def invitations_today(site_id: int, visitor_id: int, day: str) -> str:
    """Counter (EX one day): invitations a visitor was shown on ``day`` (the daily cap)."""
    return f"sb:visits:{{{site_id}}}:cap:{visitor_id}:{day}"


# --- ingest (IMAP poller, outbound mail) --------------------------------------------------------


def mailbox_lease(mailbox_id: int) -> str:
    """String (SET NX PX) holding the token of the one poller that owns the mailbox."""
    return f"sb:ingest:lease:{mailbox_id}"


def mail_queue() -> str:
    """Name of the RQ queue carrying outbound mail jobs (RQ derives its own keys from it)."""
    return "sb-mail"


# --- mail budget (routing/mail_guard.py) -------------------------------------------------------


def mail_budget(scope: str, subject: str) -> str:
    """Counter (INCR, EXPIRE window) of stranger-triggered mails charged to one conversation,
    recipient address or client address (``routing.mail_budget.Scope``). The hash tag keeps a
    request's counters in one Redis Cluster slot: one script charges them all at once."""
    return f"sb:{{m}}:mail:{scope}:{subject}"


# --- the customer's case page (realtime/portal_http.py) -----------------------------------------


def signin_spent(jti: str) -> str:
    """String (SET NX EX until the token's expiry): this one-time sign-in token was redeemed."""
    return f"sb:portal:signin:{jti}"


def kb_limit(client: str) -> str:
    """Counter (EX 60) of help-centre pages and widget suggestions per client address."""
    return f"sb:kb:limit:{client}"


def portal_limit(action: str, subject: str) -> str:
    """Counter (INCR, EXPIRE window) of a case-page request per client address or per case."""
    return f"sb:portal:limit:{action}:{subject}"


def lookup(site_id: int, contact_id: int, fingerprint: str) -> str:
    """String (JSON, EX the provider's cache TTL, or ``lookup_rules.FAILURE_TTL_S`` after a
    failure): what a site's lookup provider answered about a contact
    (``realtime.lookup_http``). ``fingerprint`` names the provider's settings, so changing
    them asks afresh."""
    return f"sb:lookup:{site_id}:{contact_id}:{fingerprint}"
