"""Agents' direct messages and rooms through real web processes: seq, ack, resume, rights."""

from __future__ import annotations

from tests.realtime.conftest import Clients, Org, WebFactory


async def test_direct_messages_across_processes_with_ack_duplicate_and_resume(
        web: WebFactory, clients: Clients, org: Org) -> None:
    w1, w2 = await web(2)
    ana = await clients.staff(w1, "ana@x.test")
    bob = await clients.staff(w2, "bob@x.test")
    await ana.send(type="team_open_dm", agent_id=org.bob)
    [dm] = (await ana.expect("team_threads"))["threads"]
    assert dm["kind"] == "dm" and dm["name"] == "Bob" and dm["members"] == [org.ana, org.bob]
    assert (await bob.expect("team_threads"))["threads"][0]["name"] == "Ana"
    tid = dm["thread_id"]

    await ana.send(type="team_send", thread_id=tid, client_id="a1", text="Got a minute? SB-1234567")
    ack = await ana.expect("team_ack", client_id="a1")
    assert ack["seq"] == 1 and not ack["duplicate"]
    got = await bob.expect("team_message")
    assert (got["seq"], got["author_name"], got["text"]) == (1, "Ana", "Got a minute? SB-1234567")
    await ana.send(type="team_send", thread_id=tid, client_id="a1", text="Got a minute?")
    assert (await ana.expect("team_ack", client_id="a1"))["duplicate"] is True

    # Bob drops; two messages meanwhile; back, he resumes after the last seq he holds.
    await bob.close()
    for i in (2, 3):
        await ana.send(type="team_send", thread_id=tid, client_id=f"a{i}", text=f"msg {i}")
        await ana.expect("team_ack", client_id=f"a{i}")
    bob = await clients.staff(w2, "bob@x.test")
    await bob.send(type="team_list")
    [listed] = (await bob.expect("team_threads", full=True))["threads"]
    assert listed["unread"] == 3 and listed["last_seq"] == 3
    await bob.send(type="team_resume", thread_id=tid, after_seq=1)
    replay = [await bob.expect("team_message") for _ in range(2)]
    assert [m["seq"] for m in replay] == [2, 3]
    await bob.send(type="team_read", thread_id=tid, seq=3)
    await bob.send(type="team_list")
    assert (await bob.expect("team_threads", full=True))["threads"][0]["unread"] == 0


async def test_rooms_names_as_text_members_only_and_colleagues_only(
        web: WebFactory, clients: Clients, org: Org) -> None:
    [w] = await web(1)
    ana = await clients.staff(w, "ana@x.test")
    sam = await clients.staff(w, "sam@x.test")
    zed = await clients.staff(w, "zed@x.test")
    await ana.send(type="team_create_room", name="<img src=x onerror=alert(1)> L1\u202e",
                   member_ids=[org.bob, org.sam])
    room = (await ana.expect("team_threads"))["threads"][0]
    assert room["name"] == "<img src=x onerror=alert(1)> L1"  # text; bidi override removed
    assert room["members"] == sorted([org.ana, org.bob, org.sam])
    await sam.expect("team_threads")
    await ana.send(type="team_send", thread_id=room["thread_id"], client_id="r1", text="Hi all")
    assert (await sam.expect("team_message"))["text"] == "Hi all"

    # Zed (another group) is not a member: every frame about the room is refused alike.
    for frame in ({"type": "team_send", "client_id": "z", "text": "hi"},
                  {"type": "team_resume"}, {"type": "team_read", "seq": 1}):
        await zed.send(**frame, thread_id=room["thread_id"])
        assert (await zed.expect("error"))["code"] == "not_found"
    await zed.send(type="team_send", thread_id=99999, client_id="z", text="hi")
    assert (await zed.expect("error"))["code"] == "not_found"
    # Nor may Ana add him, or open a direct thread with him.
    await ana.send(type="team_create_room", name="Mixed", member_ids=[org.zed])
    assert (await ana.expect("error"))["code"] == "bad_field"
    await ana.send(type="team_open_dm", agent_id=org.zed)
    assert (await ana.expect("error"))["code"] == "not_found"
    await ana.send(type="team_create_room", name="   ")
    assert (await ana.expect("error"))["code"] == "bad_field"
    assert not [f for f in zed.frames if f["type"] == "team_message"]
