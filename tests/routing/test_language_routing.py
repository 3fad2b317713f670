"""A chat's language as a routing skill: required (only speakers may take it) or preferred
(speakers first, anyone else when no speaker is free), from the site's setting."""

from __future__ import annotations

from dataclasses import replace

import pytest

from desk import site_config
from desk.errors import InvalidInput
from desk.site_form import Use, check_form
from routing.policy import AgentView, Item, Policy, Reason, decide, rejection


def agent(aid: int, **kw: object) -> AgentView:
    base = AgentView(aid, online=True, active=True, chats=0, tickets=0, max_chats=3,
                     max_tickets=10, skills={})
    return replace(base, **kw)  # type: ignore[arg-type]


def chat(skills: dict[str, int]) -> Item:
    return Item(1, group_id=7, channel="chat", required_skills=skills)


@pytest.mark.parametrize(("mode", "skills"), [
    ("off", {}), ("required", {"lang:de": 1}), ("preferred", {"~lang:de": 1}),
])
def test_the_site_setting_makes_the_skill(mode: str, skills: dict[str, int]) -> None:
    config = {"language_routing": mode}
    assert site_config.language_skills(config, "de") == skills
    assert site_config.language_skills(config, None) == {}
    form = check_form(config, {"text": "Hallo", "language": "de"}, Use.CHAT)
    assert form.language == "de" and form.skills == skills


def test_the_form_language_is_checked_and_the_site_may_keep_its_own() -> None:
    with pytest.raises(InvalidInput, match="language must be one of"):
        check_form({}, {"language": "xx"}, Use.CHAT)
    assert check_form({}, {}, Use.CHAT).language == "en"
    kept = {"language": "fr", "browser_language": False}
    assert check_form(kept, {"language": "de"}, Use.CHAT).language == "fr"
    assert check_form({"language": "es"}, {"language": "de"}, Use.CHAT).language == "de"


@pytest.mark.parametrize("bad", [
    {"language": "xx"}, {"browser_language": "yes"}, {"language_routing": "maybe"},
])
def test_bad_language_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        site_config.check(bad)


def test_a_required_language_excludes_others() -> None:
    agents = [agent(1), agent(2, skills={"lang:de": 1})]
    d = decide(Policy.LEAST_LOADED, chat({"lang:de": 1}), agents, None)
    assert d.agent_id == 2 and d.ranking == (2,)
    assert rejection(agents[0], chat({"lang:de": 1})) == (Reason.MISSING_SKILL,
                                                           "lang:de (needs 1)")


def test_a_preferred_language_ranks_speakers_first() -> None:
    # Agent 1 is less loaded, but agent 3 speaks German: 3 first, then the others in order.
    agents = [agent(1), agent(2, chats=2), agent(3, chats=1, skills={"lang:de": 1})]
    d = decide(Policy.LEAST_LOADED, chat({"~lang:de": 1}), agents, None)
    assert d.ranking == (3, 1, 2)
    assert "lang:de preferred" in d.reason
    assert rejection(agents[0], chat({"~lang:de": 1})) is None


def test_a_preferred_language_nobody_free_speaks_still_routes() -> None:
    agents = [agent(1), agent(2, skills={"lang:de": 1}, chats=3)]
    d = decide(Policy.ROUND_ROBIN, chat({"~lang:de": 1}), agents, None)
    assert d.agent_id == 1
    assert "nobody free has lang:de (preferred)" in d.reason


def test_preferred_and_required_together() -> None:
    agents = [agent(1, skills={"billing": 2}), agent(2, skills={"billing": 2, "lang:fr": 1}),
              agent(3, skills={"lang:fr": 1})]
    d = decide(Policy.LEAST_LOADED, chat({"billing": 1, "~lang:fr": 1}), agents, None)
    assert d.ranking == (2, 1)
