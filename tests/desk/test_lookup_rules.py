"""The lookup provider's rules (pure): its settings, and which answers are shown."""

from __future__ import annotations

import orjson
import pytest

from desk import lookup_rules as lr
from desk.errors import InvalidInput

SECRET = "s" * 20


def test_settings_defaults_and_bounds() -> None:
    p = lr.check({"url": "https://crm.example/lookup"}, SECRET)
    assert (p.timeout_ms, p.cache_ttl_s) == (2000, 300)
    assert lr.stored(p.as_json()) == p
    assert lr.stored(None) is None and lr.stored({"url": "ftp://x"}) is None
    assert p.fingerprint() != lr.check({"url": "https://crm.example/v2"}, SECRET).fingerprint()
    for data, secret in (({"url": "gopher://x/"}, SECRET), ({"url": "https:///"}, SECRET),
                         ({"url": "https://x/", "timeout_ms": 99}, SECRET),
                         ({"url": "https://x/", "timeout_ms": True}, SECRET),
                         ({"url": "https://x/", "cache_ttl_s": 86_401}, SECRET),
                         ({"url": "https://x/"}, "short"), ({}, SECRET)):
        with pytest.raises(InvalidInput):
            lr.check(data, secret)


def _parse(value: object, status: int = 200) -> list[tuple[str, lr.Scalar]] | None:
    return lr.parse_answer(status, orjson.dumps(value))


def test_a_flat_object_of_scalars_is_shown_in_order() -> None:
    assert _parse({"Plan": "Gold", " Orders ": 3, "VIP": False, "Rate": 1.5, "N": None}) == [
        ("Plan", "Gold"), ("Orders", 3), ("VIP", False), ("Rate", 1.5), ("N", None)]
    assert _parse({}) == []


@pytest.mark.parametrize("answer", [
    [1, 2], "text", 3, {"Plan": {"nested": 1}}, {"Plan": [1]}, {"": "x"}, {"  ": "x"},
    {"x" * (lr.LABEL_MAX + 1): "x"}, {"Plan": "x" * (lr.VALUE_MAX + 1)},
    {f"f{i}": i for i in range(lr.FIELDS_MAX + 1)}, {"Plan": "a\x00b"}, {"Pl\nan": "x"},
    {"Plan": "\u202egold"},
])
def test_anything_else_is_unavailable(answer: object) -> None:
    assert _parse(answer) is None


def test_not_json_not_200_or_too_large_is_unavailable() -> None:
    assert lr.parse_answer(200, b'{"Plan": "Gold"') is None
    assert lr.parse_answer(200, b"NaN") is None
    assert lr.parse_answer(500, b'{"Plan": "Gold"}') is None
    assert lr.parse_answer(200, b" " * (lr.ANSWER_MAX_BYTES + 1) + b"{}") is None
    assert _parse({"Plan": "Gold"}, 204) is None
