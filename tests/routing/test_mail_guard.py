"""The mail guard on a real Redis: atomic check-and-charge, no charge for a refusal, windows."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from desk.settings import Settings
from routing import keys
from routing.mail_budget import MailLimits, MailRequest, Purpose, Scope
from routing.mail_guard import MailGuard

LIMITS = MailLimits(transcript_interval_s=600, per_recipient_per_hour=5, per_client_per_hour=8)


async def test_budgets_come_from_settings_with_sane_defaults(redis: aioredis.Redis) -> None:
    assert MailGuard.of(redis, Settings()).limits == MailLimits(600, 5, 20)
    env = {"SWITCHBOARD_MAIL_TRANSCRIPT_INTERVAL": "60", "SWITCHBOARD_MAIL_PER_RECIPIENT_HOUR": "2",
           "SWITCHBOARD_MAIL_PER_CLIENT_HOUR": "3"}
    assert MailGuard.of(redis, Settings.from_env(env)).limits == MailLimits(60, 2, 3)


async def test_concurrent_requests_never_overspend(redis: aioredis.Redis) -> None:
    guard = MailGuard(redis, LIMITS)
    request = MailRequest(Purpose.ACKNOWLEDGEMENT, "victim@example.org", "10.0.0.1")
    verdicts = await asyncio.gather(*(guard.admit(request) for _ in range(60)))
    assert sum(v.allowed for v in verdicts) == 5
    assert {v.scope for v in verdicts if not v.allowed} == {Scope.RECIPIENT}
    recipient = keys.mail_budget(Scope.RECIPIENT, "victim@example.org")
    assert int(await redis.get(recipient) or 0) == 5
    assert 3590 <= await redis.ttl(recipient) <= 3600
    # The refusals charged nothing: the client spent only what was sent.
    assert int(await redis.get(keys.mail_budget(Scope.CLIENT, "10.0.0.1")) or 0) == 5


async def test_one_transcript_per_chat_per_interval_and_the_client_budget(
        redis: aioredis.Redis) -> None:
    guard = MailGuard(redis, LIMITS)
    first = await guard.admit(MailRequest(Purpose.TRANSCRIPT, "v@example.org", "10.0.0.2", 1))
    again = await guard.admit(MailRequest(Purpose.TRANSCRIPT, "v@example.org", "10.0.0.2", 1))
    assert first.allowed and not again.allowed and again.scope is Scope.CONVERSATION
    assert 590 <= again.retry_after_s <= 600 and "ask again in 10 min" in again.message
    # One client spreading requests over many addresses and chats stops at its own budget.
    spread = [await guard.admit(MailRequest(Purpose.TRANSCRIPT, f"r{i}@example.org",
                                            "10.0.0.2", 100 + i)) for i in range(12)]
    assert sum(v.allowed for v in spread) == LIMITS.per_client_per_hour - 1
    assert spread[-1].scope is Scope.CLIENT
    # Another client is not affected.
    assert (await guard.admit(MailRequest(Purpose.TRANSCRIPT, "o@example.org", "10.0.0.3",
                                          500))).allowed


async def test_a_counter_left_without_expiry_gets_its_window_back(
        redis: aioredis.Redis) -> None:
    key = keys.mail_budget(Scope.RECIPIENT, "stuck@example.org")
    await redis.set(key, 99)
    verdict = await MailGuard(redis, LIMITS).admit(
        MailRequest(Purpose.ACKNOWLEDGEMENT, "stuck@example.org"))
    assert not verdict.allowed and 0 < await redis.ttl(key) <= 3600


async def test_ten_thousand_signin_requests_for_one_address_from_many_clients(
        redis: aioredis.Redis) -> None:
    """A botnet asking sign-in links for one victim: each client is new, the address is not."""
    guard = MailGuard(redis, LIMITS)
    verdicts = []
    for batch in range(200):  # 50 at a time: within the test client's connection pool
        verdicts += await asyncio.gather(*(guard.admit(MailRequest(
            Purpose.SIGNIN, "Victim@Example.org", f"10.{batch // 100}.{batch % 100}.{i}"))
            for i in range(50)))
    assert len(verdicts) == 10_000
    assert sum(v.allowed for v in verdicts) == LIMITS.per_recipient_per_hour
    refused = [v for v in verdicts if not v.allowed]
    assert {v.scope for v in refused} == {Scope.RECIPIENT}
    assert all(3500 <= v.retry_after_s <= 3600 for v in refused)
    assert "sign-in link" in refused[0].message
