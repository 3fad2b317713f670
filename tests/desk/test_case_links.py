"""The case links and sign-in tokens (pure): genuine ones verify, everything else is None."""

from __future__ import annotations

import base64
import itertools

import orjson
import pytest

from desk import case_links as cl
from desk.case_links import Grant, Kind

SECRET = "s" * 40
NOW = 1_800_000_000
CASE = Grant(Kind.CASE, 7, "nonce-a", NOW + 3600, "SB-1234567")


def test_a_genuine_token_verifies_to_its_grant() -> None:
    for grant in (CASE, Grant(Kind.ALL, 7, "n", NOW + 60),
                  Grant(Kind.SIGNIN, 7, "n", NOW + 60, jti="j" * 22),
                  Grant(Kind.SOCKET, 2**31 - 1, "", NOW + 1, "SB-0000001")):
        assert cl.verify(SECRET, cl.issue(SECRET, grant), NOW, grant.kind) == grant


def test_expired_at_the_second_it_expires() -> None:
    token = cl.issue(SECRET, CASE)
    assert cl.verify(SECRET, token, CASE.expires_at - 1, Kind.CASE) == CASE
    assert cl.verify(SECRET, token, CASE.expires_at, Kind.CASE) is None
    assert cl.verify(SECRET, token, CASE.expires_at + 10**6, Kind.CASE) is None


def test_another_secret_or_kind_does_not_verify() -> None:
    token = cl.issue(SECRET, CASE)
    assert cl.verify("t" * 40, token, NOW, Kind.CASE) is None
    for kind in set(Kind) - {Kind.CASE}:
        assert cl.verify(SECRET, token, NOW, kind) is None


def test_every_single_character_change_is_refused() -> None:
    token = cl.issue(SECRET, CASE)
    alphabet = "ABCabc019-_.=+/ "
    for i, ch in itertools.product(range(len(token)), alphabet):
        if token[i] == ch:
            continue
        tampered = token[:i] + ch + token[i + 1:]
        assert cl.verify(SECRET, tampered, NOW, Kind.CASE) is None, (i, ch)


def test_truncated_extended_and_garbage_are_refused() -> None:
    token = cl.issue(SECRET, CASE)
    for cut in range(len(token)):
        assert cl.verify(SECRET, token[:cut], NOW, Kind.CASE) is None
    for bad in (None, "", token + "A", token + ".x", "v2" + token[2:], "é" + token,
                "x" * (cl.TOKEN_MAX + 1), "v1..", "v1.e30.", ".".join(["v1"] * 3)):
        assert cl.verify(SECRET, bad, NOW, Kind.CASE) is None


def _forge(payload: object) -> str:
    """A token with a correct tag over any payload: what only the secret's holder can make,
    so the payload checks behind the tag are tested here."""
    body = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()
    signed = f"v1.{body}"
    return f"{signed}.{cl._tag(SECRET, signed)}"


@pytest.mark.parametrize("payload", [
    [1, 2], "x", None,
    {"k": "case", "c": 7, "n": "a", "e": NOW + 9},  # a case grant without its number
    {"k": "all", "c": 7, "n": "a", "e": NOW + 9, "u": "SB-1"},  # a list grant with one
    {"k": "signin", "c": 7, "n": "a", "e": NOW + 9},  # no jti
    {"k": "root", "c": 7, "n": "a", "e": NOW + 9},
    {"k": "all", "c": True, "n": "a", "e": NOW + 9},
    {"k": "all", "c": 0, "n": "a", "e": NOW + 9},
    {"k": "all", "c": 2**31, "n": "a", "e": NOW + 9},
    {"k": "all", "c": "7", "n": "a", "e": NOW + 9},
    {"k": "all", "c": 7, "n": 5, "e": NOW + 9},
    {"k": "all", "c": 7, "n": "a" * 65, "e": NOW + 9},
    {"k": "all", "c": 7, "n": "a", "e": float(NOW + 9)},
    {"k": "all", "c": 7, "n": "a", "e": NOW + 9, "admin": True},
    {"k": "case", "c": 7, "n": "a", "e": NOW + 9, "u": "SB-" + "1" * 20},
    {"c": 7, "n": "a", "e": NOW + 9},
])
def test_a_payload_not_of_issues_shape_is_refused(payload: object) -> None:
    for kind in Kind:
        assert cl.verify(SECRET, _forge(payload), NOW, kind) is None


def test_a_link_opens_only_its_own_contacts_case_while_the_nonce_holds() -> None:
    ok = {"current_nonce": "nonce-a", "case_contact_id": 7, "number": "SB-1234567"}
    assert cl.allows(CASE, **ok)  # type: ignore[arg-type]
    # contact A's link with B's number: a case of another contact
    assert not cl.allows(CASE, **{**ok, "case_contact_id": 8})  # type: ignore[arg-type]
    assert not cl.allows(CASE, **{**ok, "case_contact_id": None})  # type: ignore[arg-type]
    # another case of the same contact: a case link opens its own case only
    assert not cl.allows(CASE, **{**ok, "number": "SB-7654321"})  # type: ignore[arg-type]
    # revoked (nonce rotated) or the contact gone
    assert not cl.allows(CASE, **{**ok, "current_nonce": "rotated"})  # type: ignore[arg-type]
    assert not cl.allows(CASE, **{**ok, "current_nonce": None})  # type: ignore[arg-type]
    # a list grant is not a case grant (its cases are the records' to select)
    listing = Grant(Kind.ALL, 7, "nonce-a", NOW + 60)
    assert not cl.allows(listing, **ok)  # type: ignore[arg-type]


def test_nonce_ok() -> None:
    assert cl.nonce_ok(CASE, "nonce-a")
    assert not cl.nonce_ok(CASE, "nonce-b")
    assert not cl.nonce_ok(CASE, None)


def test_grants_that_cannot_be_issued() -> None:
    with pytest.raises(ValueError):
        Grant(Kind.CASE, 1, "n", NOW)
    with pytest.raises(ValueError):
        Grant(Kind.ALL, 1, "n", NOW, "SB-1")
    with pytest.raises(ValueError):
        Grant(Kind.SIGNIN, 1, "n", NOW)


def test_urls_have_one_shape() -> None:
    token = cl.issue(SECRET, CASE)
    url = cl.case_url("https://help.example.com/", "SB-1234567", token)
    assert url == f"https://help.example.com/c/SB-1234567?t={token}"
    assert cl.case_url("https://h.example", None, "a+b") == "https://h.example/c/?t=a%2Bb"
    assert cl.signin_url("https://h.example/", "x.y") == "https://h.example/c/signin?t=x.y"
    assert cl.case_path("SB/../x", "t") == "/c/SB%2F..%2Fx?t=t"
