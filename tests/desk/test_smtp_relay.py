"""A department's own SMTP relay (``desk.smtp_relay``): the check, the view, the choice."""

from __future__ import annotations

from typing import Any

import pytest

from desk import smtp_relay
from desk.errors import InvalidInput

DEFAULT = smtp_relay.Relay("mail.internal", 25, "none", "", "")


def test_a_relay_is_saved_with_defaults_and_viewed_without_its_password() -> None:
    saved = smtp_relay.check({"host": "SMTP.Example.com", "username": "desk",
                              "password": "s3cret"}, None)
    assert saved == {"host": "smtp.example.com", "port": 587, "security": "starttls",
                     "username": "desk", "password": "s3cret"}
    assert smtp_relay.view(saved) == {"host": "smtp.example.com", "port": 587,
                                      "security": "starttls", "username": "desk",
                                      "has_password": True}
    tls = smtp_relay.check({"host": "10.0.0.1", "security": "tls"}, None)
    assert tls is not None and tls["port"] == 465
    assert smtp_relay.view(None) is None


def test_an_update_without_the_password_keeps_the_stored_one() -> None:
    stored = smtp_relay.check({"host": "a.example", "username": "u", "password": "p"}, None)
    again = smtp_relay.check({"host": "b.example", "username": "u"}, stored)
    assert again is not None and (again["host"], again["password"]) == ("b.example", "p")
    assert smtp_relay.check(None, stored) is None


@pytest.mark.parametrize("value, message, field", [
    ("smtp.example.com", "smtp must be an object", "smtp"),
    ({}, "smtp.host is required", "smtp.host"),
    ({"host": "bad host"}, "smtp.host must be a host name or an IP address", "smtp.host"),
    ({"host": "a.example", "port": 0}, "smtp.port must be between 1 and 65535", "smtp.port"),
    ({"host": "a.example", "security": "ssl"}, "smtp.security must be one of", "smtp.security"),
    ({"host": "a.example", "username": "u"}, "smtp.password is required with a username",
     "smtp.password"),
    ({"host": "a.example", "username": "u", "password": "a\nb"},
     "smtp.password must not contain control characters", "smtp.password"),
])
def test_a_bad_relay_is_refused_naming_the_field(value: Any, message: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        smtp_relay.check(value, None)
    assert caught.value.message.startswith(message) and caught.value.field == field
    assert "a\nb" not in caught.value.message


def test_a_department_without_a_relay_uses_the_deployments() -> None:
    assert smtp_relay.relay_of(None, DEFAULT) is DEFAULT
    own = smtp_relay.check({"host": "smtp.example.com", "port": 2525, "security": "none"}, None)
    assert smtp_relay.relay_of(own, DEFAULT) == smtp_relay.Relay(
        "smtp.example.com", 2525, "none", "", "")
