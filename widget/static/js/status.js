// What people read for a status. The records say "active" for an open conversation; which
// moves are allowed is the server's (status_options, from desk/status_rules.py).
export const STATUS_LABELS = { queued: "queued", offered: "offered", active: "open",
  pending: "pending (waiting for the customer)", resolved: "resolved", closed: "closed",
  noise: "noise" };
