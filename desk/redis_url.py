"""What ``REDIS_URL`` may say: one server (``redis://``, ``rediss://``, ``unix://``) or a set of
Sentinels that name the current primary (``redis+sentinel://``).

The Sentinel form is ours (redis-py reads no such URL)::

    redis+sentinel://[:password@]host:port[,host:port...]/service[/db]

The password is the data servers' (the primary's and replicas'); Sentinels themselves are asked
without one. Pure: ``desk.settings`` checks the URL with it, ``routing.connect`` builds clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


class RedisUrlError(ValueError):
    """The URL is not one we can connect with; the message says why."""


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int
    password: str | None


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEME + "://")


def check(url: str) -> str:
    """``url`` unchanged when it can be connected with; ``RedisUrlError`` otherwise."""
    if is_sentinel(url):
        parse_sentinel(url)
        return url
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise RedisUrlError(f"REDIS_URL scheme {parts.scheme!r} is not supported; use redis:// "
                            f"or {SENTINEL_SCHEME}://")
    if parts.scheme != "unix" and not parts.hostname:
        raise RedisUrlError("REDIS_URL needs a host, e.g. redis://127.0.0.1:6379/0")
    return url


def parse_sentinel(url: str) -> SentinelUrl:
    rest = url[len(SENTINEL_SCHEME) + 3:]
    netloc, _, path = rest.partition("/")
    password = None
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        password = unquote(auth.partition(":")[2] or auth) or None
    sentinels = tuple(_host_port(h) for h in netloc.split(",") if h)
    if not sentinels:
        raise RedisUrlError("REDIS_URL names no Sentinel, e.g. "
                            f"{SENTINEL_SCHEME}://10.0.0.1:26379,10.0.0.2:26379/switchboard/0")
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise RedisUrlError("REDIS_URL needs the Sentinel service name after the hosts, e.g. "
                            f"{SENTINEL_SCHEME}://10.0.0.1:26379/switchboard/0")
    if db and not db.isdigit():
        raise RedisUrlError(f"REDIS_URL database {db!r} must be a number")
    return SentinelUrl(sentinels, service, int(db or 0), password)


def _host_port(item: str) -> tuple[str, int]:
    host, sep, port = item.rpartition(":")
    if not sep:
        return item, SENTINEL_PORT
    if not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise RedisUrlError(f"REDIS_URL Sentinel {item!r} must be host:port")
    return host.strip("[]"), int(port)
