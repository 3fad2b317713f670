"""Which addresses the server may open an outgoing connection to (webhooks, lookup providers).

The one address rule (RELIABILITY 8, SSRF): a company-configured URL must not reach into the
server's own network — loopback, private, link-local (cloud metadata at 169.254.169.254),
shared, multicast, reserved or unspecified addresses, nor an IPv4 address hidden in IPv6
(mapped, 6to4, NAT64 well-known prefix) — unless the operator lists the network in
``SWITCHBOARD_OUTBOUND_ALLOW_NETWORKS``. The HTTP adapter (desk.outbound_http) applies it to
every address a name resolves to, on every redirect, and connects to the address it checked
(so a name that resolves differently the second time cannot get past it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(Exception):
    """The URL or address is not one the server may connect to; the message says why."""


def parse_networks(raw: str) -> tuple[Network, ...]:
    """A comma-separated list of CIDRs; ValueError naming the bad one."""
    out: list[Network] = []
    for part in (p.strip() for p in raw.split(",")):
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"not a network: {part!r}") from None
    return tuple(out)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def check_address(ip: Address, allowed: Sequence[Network] = ()) -> None:
    """Raise Refused unless ``ip`` is a public unicast address or in an ``allowed`` network."""
    if any(ip.version == n.version and ip in n for n in allowed):
        return
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_v4(ip)) is not None:
        check_address(inner, allowed)
        return
    if not ip.is_global or ip.is_multicast:
        raise Refused(f"{ip} is not a public address")


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL fit to call, or Refused saying what is wrong.
    The host's addresses are checked when it is resolved, not here."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("only http and https URLs")
    if parts.username is not None or parts.password is not None:
        raise Refused("no user or password in the URL")
    if not parts.hostname:
        raise Refused("the URL has no host")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)
