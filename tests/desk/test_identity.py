"""Identity a host site signs, and the browser's visitor id (``desk.identity``, pure)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from desk import identity
from desk.errors import Forbidden, InvalidInput
from desk.identity import HostIdentity, check_secret, signature, verify, visitor_key

SECRET = "k" * 40


def signed(user_id: str = "42", email: str | None = "Al@Shop.example", **extra: Any
           ) -> dict[str, Any]:
    return {"user_id": user_id, "email": email, "hmac": signature(SECRET, user_id, email),
            **extra}


def test_the_signature_is_hmac_sha256_of_user_id_newline_email_as_documented() -> None:
    want = hmac.new(SECRET.encode(), b"42\nal@x.example", hashlib.sha256).hexdigest()
    assert signature(SECRET, "42", "al@x.example") == want
    assert signature(SECRET, "42", None) == signature(SECRET, "42", "")
    # Known vector, the one docs/identity.md's snippets print.
    assert signature("0123456789abcdef0123456789abcdef", "user-42", "ada@example.com") == \
        "bb66ee988d3abaf588635a9074af981f1d4452ff7066707d016291582608e28b"


def test_a_signed_identity_is_verified_email_lower_cased_name_kept() -> None:
    assert verify(SECRET, signed(name="Al")) == HostIdentity("42", "al@shop.example", "Al")
    assert verify(SECRET, signed(email=None)) == HostIdentity("42", None)
    assert verify(SECRET, signed(email="")) == HostIdentity("42", None)
    upper = signed()
    assert verify(SECRET, {**upper, "hmac": upper["hmac"].upper()}) is not None
    assert verify(SECRET, None) is None


@pytest.mark.parametrize("change", [
    {"hmac": signature(SECRET, "43", "Al@Shop.example")},  # another user's signature
    {"user_id": "43"},  # the user id changed under the signature
    {"email": "boss@shop.example"},  # the email changed under it
    {"email": "al@shop.example"},  # even its case: the message is the email as passed
    {"hmac": signature("x" * 40, "42", "Al@Shop.example")},  # another site's secret
    {"hmac": "0" * 64},
])
def test_a_tampered_identity_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(Forbidden):
        verify(SECRET, {**signed(), **change})


def test_without_a_secret_verification_is_off_and_the_identity_unverified() -> None:
    assert verify(None, signed()) is None
    assert verify("", signed()) is None
    assert verify(None, {"user_id": "42", "email": "boss@shop.example"}) is None  # no hmac


@pytest.mark.parametrize("data, field", [
    ("42", "identity"),
    ([], "identity"),
    ({"email": "a@b.example"}, "identity.user_id"),
    ({"user_id": ""}, "identity.user_id"),
    ({"user_id": 42}, "identity.user_id"),
    ({"user_id": "x" * 129}, "identity.user_id"),
    ({"user_id": "4\n2"}, "identity.user_id"),
    ({"user_id": "a\x00"}, "identity.user_id"),
    ({"user_id": " 42"}, "identity.user_id"),
    ({"user_id": "42", "email": "not-an-address"}, "identity.email"),
    ({"user_id": "42", "email": "a@" + "b" * 260 + ".example"}, "identity.email"),
    ({"user_id": "42", "email": ["a@b.example"]}, "identity.email"),
    ({"user_id": "42", "name": "n" * 121}, "identity.name"),
    ({"user_id": "42"}, "identity.hmac"),
    ({"user_id": "42", "hmac": "abc"}, "identity.hmac"),
    ({"user_id": "42", "hmac": "g" * 64}, "identity.hmac"),
    ({"user_id": "42", "hmac": "é" * 64}, "identity.hmac"),
    ({"user_id": "42", "hmac": 7}, "identity.hmac"),
])
def test_malformed_or_oversize_identities_name_the_field(data: object, field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        verify(SECRET, data)
    assert e.value.field == field


def test_the_longest_user_id_and_email_are_accepted() -> None:
    email = "a" * 64 + "@" + "b" * 180 + ".example"
    assert verify(SECRET, signed("u" * 128, email)) == HostIdentity("u" * 128, email.lower())


def test_a_visitor_id_is_kept_only_as_its_hash() -> None:
    vid = "A" * 43
    assert visitor_key(vid) == hashlib.sha256(vid.encode()).hexdigest()
    assert visitor_key(None) is None
    for bad in ("short", "A" * 44, "A" * 42 + "!", 42, ["A" * 43]):
        with pytest.raises(InvalidInput) as e:
            visitor_key(bad)
        assert e.value.field == "visitor_id"


def test_an_identity_secret_is_32_to_128_printable_characters() -> None:
    assert check_secret({"s": "a" * 32}, "s") == "a" * 32
    assert check_secret({}, "s") is None and check_secret({"s": None}, "s") is None
    for bad in ("a" * 31, "a" * 129, " " + "a" * 40, "a" * 40 + "\n", 5):
        with pytest.raises(InvalidInput) as e:
            check_secret({"s": bad}, "s")
        assert e.value.field == "s"


def test_a_timestamped_identity_signs_its_time_and_may_be_required_fresh() -> None:
    now = 1_800_000_000
    data = {"user_id": "user-42", "email": "ada@example.com", "ts": now - 30,
            "hmac": identity.signature(SECRET, "user-42", "ada@example.com", now - 30)}
    assert identity.signature(SECRET, "user-42", "ada@example.com", now) != \
        identity.signature(SECRET, "user-42", "ada@example.com")
    assert identity.verify(SECRET, data) is not None  # the widget: a ts is signed, not aged
    assert identity.verify(SECRET, data, max_age_s=60, now=now) is not None
    with pytest.raises(Forbidden):
        identity.verify(SECRET, data, max_age_s=10, now=now)
    with pytest.raises(Forbidden):  # ahead of the clock past the skew
        identity.verify(SECRET, data, max_age_s=60, now=now - 30 - identity.CLOCK_SKEW_S - 1)
    with pytest.raises(Forbidden):  # the time is in the signature
        identity.verify(SECRET, {**data, "ts": now}, max_age_s=60, now=now)
    unstamped = {k: v for k, v in data.items() if k != "ts"}
    with pytest.raises(InvalidInput, match=r"identity\.ts"):
        identity.verify(SECRET, unstamped, max_age_s=60, now=now)
    for bad in ("1", 1.5, True, -1, 2**41):
        with pytest.raises(InvalidInput, match=r"identity\.ts"):
            identity.verify(SECRET, {**data, "ts": bad})
