"""Which page origins are let in: the list, and in development mode a loopback page's other
names on the same scheme and port."""

from __future__ import annotations

import pytest

from desk.origins import allowed, console_refusal, is_loopback

LISTED = ("http://127.0.0.1:8000",)


@pytest.mark.parametrize(("origin", "strict", "dev"), [
    ("http://127.0.0.1:8000", True, True),
    ("http://127.0.0.1:8000/", True, True),
    ("HTTP://127.0.0.1:8000", True, True),
    ("http://localhost:8000", False, True),
    ("http://127.0.0.2:8000", False, True),
    ("http://[::1]:8000", False, True),
    ("http://shop.localhost:8000", False, True),
    ("http://localhost:3000", False, False),  # another local server's pages
    ("https://localhost:8000", False, False),  # another scheme
    ("http://localhost", False, False),
    ("http://example.org:8000", False, False),
    ("http://localhost.example.org:8000", False, False),
    ("http://10.0.0.1:8000", False, False),
    ("null", False, False),
    ("", False, False),
    ("http://localhost:99999", False, False),  # unparsable port
    ("http://localhost:8000/path", False, False),
])
def test_origins(origin: str, strict: bool, dev: bool) -> None:
    assert allowed(origin, LISTED, loopback_aliases=False) is strict
    assert allowed(origin, LISTED, loopback_aliases=True) is dev


def test_aliases_need_a_loopback_origin_on_the_list() -> None:
    public = ("https://desk.example.com",)
    assert not allowed("https://localhost", public, loopback_aliases=True)
    assert allowed("https://localhost", ("https://[::1]",), loopback_aliases=True)
    assert not allowed("http://localhost:8000", (), loopback_aliases=True)


def test_loopback_names() -> None:
    assert all(map(is_loopback, ["localhost", "a.localhost", "127.9.9.9", "::1"]))
    assert not any(map(is_loopback, [None, "", "localhost.evil", "0.0.0.0", "192.168.1.1"]))


def test_the_refusal_names_the_page_and_where_to_go() -> None:
    text = console_refusal("http://localhost:8000", LISTED)
    assert "this page is http://localhost:8000" in text
    assert "Open the console at http://127.0.0.1:8000/console" in text
