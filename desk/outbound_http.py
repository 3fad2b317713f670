"""Outgoing HTTP to URLs the company configured (webhooks, lookup providers), under the
address rule of desk.net_guard.

Each hop — the first request and every redirect — resolves the host, checks every address it
resolves to, and connects to the checked address itself (the Host header and TLS name stay the
URL's), so DNS rebinding between the check and the connect changes nothing. The whole exchange
has one deadline, the answer a size cap; no proxy from the environment is used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from desk.net_guard import Address, Network, Refused, check_address, check_url

MAX_REDIRECTS = 3
Resolver = Callable[[str, int], Awaitable[list[str]]]


class Failed(Exception):
    """The exchange did not complete (timeout, connection, too large); the message says how."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    url: str  # after redirects


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def _addresses(host: str, port: int, resolver: Resolver) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # a name, not an address literal
    try:
        found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in await resolver(host, port)]
    except OSError as exc:
        raise Failed(f"cannot resolve {host}: {exc}") from None
    if not found:
        raise Failed(f"{host} has no address")
    return found


async def _pinned(url: str, allowed: Sequence[Network], resolver: Resolver) -> tuple[str, dict[
        str, str], dict[str, object]]:
    """The URL with its host replaced by a checked address, the Host header, the TLS name."""
    scheme, host, port = check_url(url)
    addresses = await _addresses(host, port, resolver)
    for ip in addresses:
        check_address(ip, allowed)
    ip = addresses[0]
    netloc = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    parts = urlsplit(url)
    default = port == (443 if scheme == "https" else 80)
    headers = {"host": host if default else f"{host}:{port}"}
    extensions: dict[str, object] = {"sni_hostname": host} if scheme == "https" else {}
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")), headers, extensions


async def _exchange(client: httpx.AsyncClient, method: str, url: str, content: bytes | None,
                    headers: dict[str, str], allowed: Sequence[Network], max_bytes: int,
                    resolver: Resolver) -> Answer:
    for _ in range(MAX_REDIRECTS + 1):
        target, host, extensions = await _pinned(url, allowed, resolver)
        request = client.build_request(method, target, content=content,
                                       headers={**headers, **host}, extensions=extensions)
        response = await client.send(request, stream=True)
        try:
            location = response.headers.get("location")
            if response.is_redirect and location:
                url = urljoin(url, location)
                if response.status_code not in (307, 308):
                    method, content = "GET", None
                continue
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise Failed(f"answer larger than {max_bytes} bytes")
            return Answer(response.status_code, bytes(data), url)
        finally:
            await response.aclose()
    raise Failed(f"more than {MAX_REDIRECTS} redirects")


async def request(method: str, url: str, *, content: bytes | None = None,
                  headers: dict[str, str] | None = None, allowed: Sequence[Network] = (),
                  timeout_s: float = 10.0, max_bytes: int = 1024 * 1024,
                  resolver: Resolver = resolve) -> Answer:
    """The answer, or Refused (the address rule) / Failed (the exchange), never anything else."""
    try:
        async with asyncio.timeout(timeout_s), httpx.AsyncClient(
                timeout=timeout_s, trust_env=False, follow_redirects=False) as client:
            return await _exchange(client, method, url, content, headers or {}, allowed,
                                   max_bytes, resolver)
    except (Refused, Failed):
        raise
    except TimeoutError:
        raise Failed(f"no answer within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise Failed(f"{type(exc).__name__}: {exc}"[:300]) from None
