"""Carrying out client commands: the chat's message path and lifecycle, over records and hub.

Message path: validated frame (Session) -> store (seq, client_id idempotency) -> ``ack`` with seq
to the sender -> publish (local delivery now, other processes through Redis). A repeated
client_id gets the same ack (``duplicate: true``) and is not published again.

Routing: a new chat is created in its department's front-line group with the topic's skills
and the contact's priority tier, then handed to the one ``routing.router.Router`` of this
process (``enqueue``); ending it releases it (``release``: capacity freed, next one pulled).
Staff-only commands (monitor, join, invite, transfer, accept...) live in ``realtime.staff``;
router events are turned into frames in ``realtime.routing_events``; agents' presence and
group toggles in ``realtime.presence``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Sequence

from redis.exceptions import RedisError
from sqlalchemy import select

from desk import site_config, ticket_work
from desk.auth import Principal, verify_visitor_token
from desk.case_links import Kind, verify
from desk.contacts import note_typed, priority_for
from desk.conversations import NewMessage, Viewer, create_conversation, set_status
from desk.db import SessionMaker
from desk.errors import Conflict, InvalidInput
from desk.mail_rules import reply_is_mailed
from desk.metrics import Metrics
from desk.models import AgentGroup, Conversation, Site
from desk.settings import Settings
from desk.site_form import Submission, Use, check_form, form_language
from desk.status_rules import chat_end, ended_status
from realtime import presence, records, staff, team
from realtime import protocol as p
from realtime import protocol_im as im
from realtime import protocol_visits as pv
from realtime.connection import Connection, StoredMessage
from realtime.context import Context
from realtime.envelopes import AUDIENCE_ALL, AUDIENCE_STAFF, Typing
from realtime.errors import CLOSE_REVOKED, CommandError
from realtime.hub import Hub
from realtime.mail import Mailer
from realtime.routing_events import RouterEvents
from realtime.session import AUTHOR_KIND, Identity, Limits, Part, Role, Session
from realtime.visits import Visits
from routing import keys
from routing.errors import RoutingError, RoutingUnavailable
from routing.mail_budget import MailRequest, Purpose, normalise
from routing.router import Router

log = logging.getLogger("switchboard.realtime")

ROUTE_RETRY_S = (0.2, 0.4, 0.8, 1.6, 2, 2, 2, 2, 2, 2)  # a new chat's enqueue, Redis away
VISIBLE_PARTS = frozenset({Part.OWNER, Part.ASSIGNEE, Part.COCHAT, Part.JOINED})


def command_error(exc: CommandError, frame: p.ClientFrame) -> p.Error:
    """The error frame answering a refused command."""
    return p.Error(exc.code, exc.message, frame.TYPE, getattr(frame, "client_id", None),
                   getattr(frame, "conversation_id", None))


class Chat:
    """The realtime service of one web process (on ``app.state.chat``)."""

    def __init__(self, settings: Settings, sm: SessionMaker, hub: Hub, router: Router,
                 mailer: Mailer, metrics: Metrics) -> None:
        self.ctx = ctx = Context(settings, sm, hub, router, mailer)
        self.metrics = metrics
        self._ack_seconds = metrics.ack_seconds
        self.settings = settings
        self.sm = sm
        self.hub = hub
        self.router = router
        self.mailer = mailer
        self._convs = ctx.convs  # the message path reads the cache without a call
        self._mailing: set[asyncio.Task[bool]] = set()  # replies being handed to the worker
        self.boards = presence.BoardPush(ctx)
        self.routed = RouterEvents(ctx, self.boards)
        self.visits = Visits(ctx)
        self.visits.start_invited = self.start_invited
        self.limits = Limits(max_bytes=settings.ws_max_size, msg_rate=settings.ws_msg_rate,
                             msg_burst=settings.ws_msg_burst, typing_rate=settings.typing_rate)
        # Group commit of chat messages; a batch's fan-out leaves for Redis with the batch.
        self.writer = records.MessageWriter(sm, after_batch=hub.flush,
                                            batch_sizes=metrics.writer_batch)
        hub.on_invalidate = ctx.forget_conv
        hub.on_router_event = self.routed.feed

    # --- lookups ---------------------------------------------------------------------------

    async def fetch(self, conversation_id: int, after_seq: int,
                    session: Session) -> tuple[Sequence[StoredMessage], int, bool]:
        return await records.fetch_after(self.sm, conversation_id, after_seq, session)

    # --- connections -----------------------------------------------------------------------

    async def authenticate_visitor(self, conn: Connection, token: str) -> None:
        if conn.site_id is None:
            await self._authenticate_case_page(conn, token)
            return
        verified = verify_visitor_token(self.settings, token)
        found = await records.visitor_login(self.sm, verified[0], verified[1], conn.site_id) \
            if verified and conn.site_id is not None else None
        if verified is None or found is None or conn.site_id is None:
            for action in conn.session.auth_failed("bad token"):
                conn.close_after_drain(getattr(action, "code", CLOSE_REVOKED), "bad token")
            return
        conn.contact_id = verified[0]
        self.visits.known(conn, found)
        identity = Identity(Role.VISITOR, verified[0], found.name,
                            site_id=conn.site_id, typing_preview=conn.typing_preview)
        for action in conn.session.authenticated(identity, found.parts, self.hub.epoch or ""):
            conn.send(getattr(action, "frame"))  # noqa: B009 - Welcome is the only action
        self.hub.register(conn)

    async def _authenticate_case_page(self, conn: Connection, token: str) -> None:
        """A case page's socket (``desk.case_links`` socket token, from its case API): the
        case's own contact, owner of that one case, which it may resume and write to."""
        grant = verify(self.settings.secret_key, token, time.time(), Kind.SOCKET)
        found = await records.case_login(self.sm, grant) if grant is not None else None
        if grant is None or found is None:
            for action in conn.session.auth_failed("bad token"):
                conn.close_after_drain(getattr(action, "code", CLOSE_REVOKED), "bad token")
            return
        name, cid = found
        conn.contact_id = grant.contact_id
        identity = Identity(Role.VISITOR, grant.contact_id, name, typing_preview=False)
        for action in conn.session.authenticated(identity, {cid: Part.OWNER},
                                                 self.hub.epoch or ""):
            conn.send(getattr(action, "frame"))  # noqa: B009 - Welcome is the only action
        self.hub.register(conn)

    async def staff_connected(self, conn: Connection, principal: Principal) -> None:
        conn.agent_id = principal.agent_id
        conn.session_id = principal.session_id
        conn.principal = principal
        parts = await records.staff_parts(self.sm, principal, conn.session.role)
        ident = conn.session.identity
        assert ident is not None
        conn.send(p.Welcome(role=ident.role.value, name=ident.name,
                            conversations=tuple(sorted(parts)), epoch=self.hub.epoch or ""))
        self.hub.register(conn)
        for cid, part in parts.items():
            conn.session.grant(cid, part)
        await presence.connected(self.ctx, conn)

    async def disconnected(self, conn: Connection) -> None:
        self.hub.unregister(conn)
        self.boards.forget(conn)
        await self.visits.left(conn)
        await presence.disconnected(self.ctx, conn)

    # --- commands --------------------------------------------------------------------------

    async def execute(self, conn: Connection, frame: p.ClientFrame) -> None:
        try:
            match frame:
                case p.StartChat():
                    await self.start_chat(conn, frame)
                case p.SendMessage() | p.Whisper():
                    await self.message(conn, frame)
                case p.Typing():
                    self.typing(conn, frame)
                case p.Read(cid, seq):
                    self.read(conn, cid, seq)
                case p.Resume(cid, after_seq):
                    await self.resume(conn, cid, after_seq)
                case p.End(cid) | p.Close(cid):
                    await self.end(conn, cid)
                case p.TranscriptRequest(cid, email):
                    await self.transcript(conn, cid, email)
                case pv.PageView():
                    await self.visits.viewed(conn, frame)
                case pv.InvitationAnswer():
                    await self.visits.answer(conn, frame)
                case pv.WatchVisitors():
                    await self.visits.watch(conn, frame)
                case pv.UnwatchVisitors():
                    self.visits.forget(conn)
                    conn.send(p.Done("unwatch_visitors"))
                case pv.InviteVisitor(site_id, visitor_id, text):
                    await self.visits.invite(conn, site_id, visitor_id, text)
                case (im.TeamList() | im.TeamOpenDm() | im.TeamCreateRoom() | im.TeamSend()
                      | im.TeamResume() | im.TeamRead()):
                    await team.execute(self.ctx, conn, frame)
                case p.Rate(cid, rating, comment):
                    await records.set_status_fields(self.sm, cid, rating=rating,
                                                    rating_comment=comment)
                    conn.send(p.Done("rate", cid))
                case _:
                    await staff.execute(self.ctx, self.boards, conn, frame)
        except CommandError as exc:
            conn.send(command_error(exc, frame))
        except (RedisError, RoutingUnavailable) as exc:
            log.warning("%s refused: redis unavailable (%r)", frame.TYPE, exc)
            conn.send(command_error(CommandError("unavailable", "briefly unavailable; retry"),
                                    frame))
        except Exception:
            if isinstance(frame, p.MESSAGE_LIKE):
                raise  # closed with 1011: the client's outbox sends it again after reconnecting
            # A bug or a failing dependency: the socket stays, the frame is answered.
            log.exception("ws %s command failed", frame.TYPE)
            conn.send(command_error(CommandError("internal", "internal error"), frame))

    async def start_invited(self, conn: Connection, agent_id: int | None,
                            client_id: str, language: str | None = None) -> int:
        """The visitor accepted an invitation: a chat, given to the inviting agent when they
        can take it (a rule's invitation, or an agent who cannot, is routed as usual), in the
        language the widget showed it in."""
        return await self.start_chat(conn, p.StartChat(client_id, "", language=language),
                                     for_agent=agent_id, invited=True)

    async def start_chat(self, conn: Connection, frame: p.StartChat,
                         for_agent: int | None = None, invited: bool = False) -> int:
        if conn.site_id is None:
            raise CommandError("forbidden", "a case page's socket follows its case only")
        assert conn.contact_id is not None
        lock = keys.chat_start_lock(conn.contact_id)
        # One open chat per visitor and site: a double click or two tabs land in the same one.
        got = await self.hub.redis.set(lock, "1", nx=True, px=5000)
        try:
            existing = await records.visitor_parts(self.sm, conn.contact_id, conn.site_id)
            if existing:
                cid = max(existing)
                info = await self.ctx.conv(cid, fresh=True)
                assert info is not None
            elif not got:
                raise CommandError("conflict", "a chat is being started; retry")
            else:
                info = await self._create(conn, frame, invited)
                cid = info.id
        finally:
            if got:
                await self.hub.redis.delete(lock)
        ident = conn.session.identity
        if frame.name and ident is not None and ident.name != frame.name:
            # The socket authenticated before the form named the visitor: their messages and
            # typing from now on carry the name they gave, not "Visitor".
            conn.session.identity = dataclasses.replace(ident, name=frame.name)
        conn.send(p.Started(cid, info.number, frame.client_id))
        self.hub.attach(conn, cid, Part.OWNER)
        if frame.text:
            await self._store(conn, info, frame.client_id, frame.text, "public", None)
        await self.visits.chatting(conn)
        if not existing:
            await self._route(conn, info, for_agent)
        return cid

    async def _create(self, conn: Connection, frame: p.StartChat,
                      invited: bool = False) -> records.ConvInfo:
        assert conn.contact_id is not None
        async with self.sm() as s:
            site = await s.get(Site, conn.site_id)
            config = (site.config if site else None) or {}
            try:
                # An invited visitor filled in no form: the site's first department answers.
                form = Submission(None, None, None, language=form_language(
                    config, {"language": frame.language})) if invited else check_form(config, {
                    "department_id": frame.department_id, "topic": frame.topic,
                    "answers": frame.answers, "name": frame.name, "email": frame.email,
                    "text": frame.text, "language": frame.language}, Use.CHAT)
            except InvalidInput as exc:
                raise CommandError("bad_field", exc.message) from None
            dept_id, group_id = await records.front_group(
                s, form.department_id, site_config.department_ids(config))
        await note_typed(self.sm, conn.contact_id, name=form.name, email=form.email,
                         language=form.language)
        conv = await create_conversation(
            self.sm, channel="chat", contact_id=conn.contact_id, department_id=dept_id,
            group_id=group_id, site_id=conn.site_id, topic=form.topic,
            priority=await priority_for(self.sm, conn.contact_id), required_skills=form.skills,
            custom_fields={"answers": form.answers}, language=form.language,
            subject=(form.text or form.topic or "Chat")[:120])
        info = records.conv_info(conv)
        self._convs[info.id] = info
        return info

    async def _route(self, conn: Connection, info: records.ConvInfo,
                     for_agent: int | None = None) -> None:
        """Hand the new chat to the router; positions reach the visitor as router events."""
        if for_agent is not None:
            try:
                await self.router.enqueue_for(info.id, for_agent,
                                              await self._invited_group(info, for_agent))
                return
            except (RoutingError, RedisError, OSError) as exc:
                log.warning("invited chat %s not given to agent %s: %r", info.id, for_agent,
                            exc)
        if not await self.route(info.id):
            self.routed.queued(info.id, 1, None, force=True)

    async def _invited_group(self, info: records.ConvInfo, agent_id: int) -> int | None:
        """The invited chat's group: its own when the agent is in it, else one of the agent's
        groups that watch the site (where the agent saw the visitor)."""
        facts = await self.visits.site(info.site_id) if info.site_id is not None else None
        async with self.sm() as s:
            mine = set((await s.execute(select(AgentGroup.group_id).where(
                AgentGroup.agent_id == agent_id))).scalars().all())
        if info.group_id in mine:
            return None
        usable = sorted(mine if facts is None or facts.group_ids is None
                        else mine & facts.group_ids)
        return usable[0] if usable else None

    async def route(self, cid: int) -> bool:
        """Queue a new conversation (stored as queued) now; if Redis is away, keep trying in
        the background so it is offered as soon as Redis is back, not at the router's sweep."""
        try:
            await self.router.enqueue(cid)
        except (RoutingError, RedisError, OSError) as exc:
            log.warning("conversation %s not routed yet: %r", cid, exc)
            if not isinstance(exc, RoutingError) or isinstance(exc, RoutingUnavailable):
                self.hub.spawn(self._route_later(cid))
            return False
        return True

    async def _route_later(self, cid: int) -> None:
        for delay in ROUTE_RETRY_S:  # then the router's sweep finds it in the records
            await asyncio.sleep(delay)
            with contextlib.suppress(RedisError, OSError, RoutingUnavailable):
                await self.router.enqueue(cid)
                return

    async def message(self, conn: Connection, frame: p.SendMessage | p.Whisper) -> None:
        info = await self.ctx.conv(frame.conversation_id)
        await self._submit(conn, info, frame)

    def message_now(self, conn: Connection, frame: p.SendMessage | p.Whisper
                    ) -> asyncio.Future[tuple[StoredMessage, bool]] | None:
        """``message`` without suspending, for a frame handled as it is read: the stored
        message's future, or None when the conversation's facts must be read first (then
        ``message`` does it). Raises ``CommandError`` like ``message``."""
        info = self._convs.get(frame.conversation_id)
        if info is None:
            return None
        return self._submit(conn, info, frame)

    def _submit(self, conn: Connection, info: records.ConvInfo | None,
                frame: p.SendMessage | p.Whisper) -> asyncio.Future[tuple[StoredMessage, bool]]:
        if info is None or not info.open:
            raise CommandError("conflict", "conversation is not open")
        whisper_to = None
        if isinstance(frame, p.Whisper):
            visibility = "whisper"
            whisper_to = info.assignee_id
            if whisper_to is None:
                raise CommandError("conflict", "no agent to coach yet")
        else:
            visibility = "internal" if frame.internal else "public"
        return self._store(conn, info, frame.client_id, frame.text, visibility, whisper_to)

    def _store(self, conn: Connection, info: records.ConvInfo, client_id: str, text: str,
               visibility: str, whisper_to: int | None
               ) -> asyncio.Future[tuple[StoredMessage, bool]]:
        """Queue the message; once it is committed the sender gets ``ack`` and the readers
        the message (in the writer, the moment the batch is committed), and a reply that
        ``desk.mail_rules`` says is mailed (an agent answering an email ticket over this
        socket) goes to the mail worker."""
        ident = conn.session.identity
        assert ident is not None
        cid, author_kind = info.id, AUTHOR_KIND[ident.role]
        mailed = reply_is_mailed(info.channel, visibility=visibility, author_kind=author_kind,
                                 email_message_id=None)  # nothing stored here came as mail
        received = time.perf_counter()

        def stored(msg: StoredMessage, created: bool) -> None:
            conn.send(p.Ack(cid, client_id, msg.seq, duplicate=not created))
            self._ack_seconds.observe(time.perf_counter() - received)
            if created:
                self.hub.publish_message(msg)
                if mailed:
                    self._mail_reply(cid, msg.seq)

        return self.writer.submit(NewMessage(
            cid, author_kind, text, ident.subject_id, ident.name, visibility,
            client_id, whisper_to), stored)

    def _mail_reply(self, cid: int, seq: int) -> None:
        task = asyncio.get_running_loop().create_task(self.mailer.reply_posted(cid, seq))
        self._mailing.add(task)
        task.add_done_callback(self._mailing.discard)

    def typing(self, conn: Connection, frame: p.Typing) -> None:
        ident = conn.session.identity
        assert ident is not None
        part = conn.session.parts.get(frame.conversation_id)
        self.hub.publish(Typing(
            frame.conversation_id, conn.conn_id, ident.role.value, AUTHOR_KIND[ident.role],
            ident.name, part in VISIBLE_PARTS, frame.note, frame.draft, conn.typing_preview))

    def read(self, conn: Connection, cid: int, seq: int) -> None:
        ident = conn.session.identity
        assert ident is not None
        part = conn.session.parts.get(cid)
        if part is Part.MONITOR:
            return  # silent
        audience = AUDIENCE_STAFF if part is Part.OWNER else AUDIENCE_ALL
        self.hub.publish_event(cid, p.ReadOut(cid, AUTHOR_KIND[ident.role], seq), audience)

    async def resume(self, conn: Connection, cid: int, after_seq: int) -> None:
        info = await self.ctx.conv(cid, fresh=True)
        if info is None:
            raise CommandError("not_found", "no such conversation")
        part = conn.session.parts[cid]
        last = await records.last_seq(self.sm, cid)
        if after_seq > last:
            # A client only holds seqs the records gave it; a cursor past the end would make
            # the socket drop every message up to it (silence, not an error).
            raise CommandError("bad_field", f"after_seq {after_seq} is past the "
                                            f"conversation's last seq {last}")
        name = await records.agent_name(self.sm, info.assignee_id)
        conn.send(p.State(cid, info.number, info.status, name, last))
        self.hub.attach(conn, cid, part, after_seq)
        if part is Part.OWNER and info.status in ("queued", "offered"):
            await self.routed.tell_position(cid)

    async def end(self, conn: Connection, cid: int) -> None:
        info = await self.ctx.conv(cid, fresh=True)
        ident = conn.session.identity
        assert ident is not None
        move = chat_end(info.status, by_visitor=ident.role is Role.VISITOR) if info else None
        if move is not None:
            if ident.role is not Role.VISITOR:
                await self._fields_filled(cid)
            await self.close_case(cid, ident.role)
        conn.send(p.Done("end", cid))

    async def _fields_filled(self, cid: int) -> None:
        """Staff ending it answer to the required-before-close rule, as on the API."""
        async with self.sm() as s:
            conv = await s.get(Conversation, cid)
            if conv is None:
                return
            try:
                await ticket_work.require_fields(s, conv)
            except Conflict as exc:
                raise CommandError("conflict", exc.message) from None

    async def close_case(self, cid: int, by: Role = Role.VISITOR) -> None:
        """End a conversation: ``closed`` by its customer (socket or case page), ``resolved``
        by staff (``desk.status_rules``); the router frees the agent, every socket on it is
        told."""
        status = ended_status(by_visitor=by is Role.VISITOR)
        try:
            await self.router.release(cid, status)  # writes the status, frees the agent
        except (RoutingError, RedisError, OSError) as exc:
            # The record is what counts: a rebuild drops the live state of a closed chat.
            log.warning("release of %s failed (%r); closing in the records only", cid, exc)
            await set_status(self.sm, cid, status)
        self.ctx.forget_conv(cid)
        self.hub.publish_event(cid, p.Ended(cid, AUTHOR_KIND[by]), invalidate=True)

    async def transcript(self, conn: Connection, cid: int, email: str | None) -> None:
        info = await self.ctx.conv(cid)
        assert info is not None
        ident = conn.session.identity
        assert ident is not None
        if ident.role is not Role.VISITOR:
            viewer = Viewer(AUTHOR_KIND[ident.role], ident.subject_id)
            messages = await records.transcript(self.sm, cid, viewer)
            conn.send(p.Transcript(cid, info.number, tuple(messages)))
            return
        # Only to the address given when the chat started: a visitor's typed address is a
        # stranger's say-so, and the mail would go to whoever owns it.
        recipient = await records.transcript_address(self.sm, ident.subject_id)
        if recipient is None:
            raise CommandError("conflict", "no email address was given when the chat started")
        if email is not None and normalise(email) != normalise(recipient):
            raise CommandError("forbidden", "a transcript goes only to the email address "
                                            "given when the chat started")
        try:
            verdict = await self.ctx.mail_guard.admit(
                MailRequest(Purpose.TRANSCRIPT, recipient, conn.client, cid))
        except (RedisError, OSError) as exc:
            log.warning("mail guard unavailable for the transcript of %s: %r", cid, exc)
            raise CommandError("unavailable", "the transcript cannot be sent now; "
                                              "try again later") from None
        if not verdict.allowed:
            raise CommandError("rate_limited", verdict.message)
        if not await self.mailer.transcript(cid, secrets.token_hex(8)):
            raise CommandError("unavailable", "the transcript cannot be sent now; "
                                              "try again later")
        conn.send(p.Done("transcript", cid))
