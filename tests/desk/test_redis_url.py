"""The Sentinel form of REDIS_URL, parsed without a server."""

from __future__ import annotations

import pytest

from desk.redis_url import RedisUrlError, SentinelUrl, check, is_sentinel, parse_sentinel


def test_sentinel_url_names_hosts_service_db_and_password() -> None:
    url = "redis+sentinel://:s%40cret@10.0.0.1:26380,10.0.0.2,[::1]:26381/switchboard/3"
    assert is_sentinel(url) and check(url) == url
    assert parse_sentinel(url) == SentinelUrl(
        (("10.0.0.1", 26380), ("10.0.0.2", 26379), ("::1", 26381)), "switchboard", 3, "s@cret")
    assert parse_sentinel("redis+sentinel://h:1/sb") == SentinelUrl((("h", 1),), "sb", 0, None)


@pytest.mark.parametrize("url", ["redis+sentinel://h:0/sb", "redis+sentinel://:1/sb",
                                 "redis+sentinel://h:1//", "memcached://h"])
def test_bad_urls_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(RedisUrlError, match="REDIS_URL"):
        check(url)


def test_plain_urls_pass_unchanged() -> None:
    for url in ("redis://127.0.0.1:6379/0", "rediss://r.example:6380", "unix:///run/r.sock"):
        assert not is_sentinel(url) and check(url) == url
