"""Which page origins may open a socket or a visitor session: one rule for the console's and
each site's list (pure).

An origin is allowed when it is on the list. In development mode a loopback page is also
allowed under any of its names (``localhost``, ``127.0.0.1``, ``127.x.y.z``, ``[::1]``,
``*.localhost``) when the list holds a loopback origin with the same scheme and port: someone
trying the demo opens ``http://localhost:8000`` as often as ``http://127.0.0.1:8000``. The port
must match, so another local server's pages (a different port is the same *site* to the
browser's SameSite rule) still cannot drive the console.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normal(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parts(origin: str) -> tuple[str, str | None, int | None] | None:
    try:
        u: SplitResult = urlsplit(origin)
        port = u.port or DEFAULT_PORTS.get(u.scheme)
    except ValueError:
        return None
    if u.scheme not in DEFAULT_PORTS or u.path or u.query:
        return None
    return u.scheme, u.hostname, port


def allowed(origin: str, listed: Iterable[str], *, loopback_aliases: bool) -> bool:
    o = normal(origin)
    names = {normal(a) for a in listed}
    if not o or o in names:
        return bool(o)
    if not loopback_aliases:
        return False
    mine = _parts(o)
    if mine is None or not is_loopback(mine[1]):
        return False
    return any((p := _parts(a)) is not None and is_loopback(p[1])
               and (p[0], p[2]) == (mine[0], mine[2]) for a in names)


def console_refusal(origin: str, listed: Iterable[str]) -> str:
    """What to tell an agent whose console page was refused (the console's origins are this
    server's public addresses, not a secret)."""
    names = sorted({normal(a) for a in listed})
    return (f"This server takes the console only at {', '.join(names)}; this page is "
            f"{normal(origin) or '(no origin)'}. Open the console at {names[0]}/console, or "
            f"add this address to SWITCHBOARD_CONSOLE_ORIGINS.")
