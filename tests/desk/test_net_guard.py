"""The one outgoing-address rule (desk.net_guard), exhaustively: what a company URL may reach."""

from __future__ import annotations

import ipaddress

import pytest

from desk.net_guard import Refused, check_address, check_url, parse_networks

REFUSED = ["127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
           "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
           "::1", "::", "fe80::1", "fc00::1", "fd12::1", "ff02::1", "::ffff:127.0.0.1",
           "::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::a9fe:a9fe", "2001:db8::1"]
ALLOWED = ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8",
           "64:ff9b::808:808"]


@pytest.mark.parametrize("ip", REFUSED)
def test_private_and_special_addresses_are_refused(ip: str) -> None:
    with pytest.raises(Refused, match="not a public address"):
        check_address(ipaddress.ip_address(ip))


@pytest.mark.parametrize("ip", ALLOWED)
def test_public_addresses_pass(ip: str) -> None:
    check_address(ipaddress.ip_address(ip))


def test_an_allowed_network_lets_only_itself_in() -> None:
    allowed = parse_networks("127.0.0.2/32, 10.0.0.0/8")
    check_address(ipaddress.ip_address("127.0.0.2"), allowed)
    check_address(ipaddress.ip_address("10.200.0.1"), allowed)
    check_address(ipaddress.ip_address("::ffff:10.0.0.5"), allowed)
    with pytest.raises(Refused):
        check_address(ipaddress.ip_address("127.0.0.1"), allowed)
    with pytest.raises(ValueError, match="not a network"):
        parse_networks("10.0.0.0/8,localhost")


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://example.com/x", "only http"), ("file:///etc/passwd", "only http"),
    ("http://user:pw@example.com/", "no user"), ("http:///path", "no host"),
    ("http://example.com:99999/", "not a valid URL"), ("gopher://x", "only http")])
def test_bad_urls_are_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(Refused, match=why):
        check_url(url)


def test_a_good_url_gives_its_port() -> None:
    assert check_url("https://hooks.example.com/in") == ("https", "hooks.example.com", 443)
    assert check_url("http://[2001:4860::8888]:8080/") == ("http", "2001:4860::8888", 8080)
