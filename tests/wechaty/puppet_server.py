"""A test puppet: the wechaty-grpc ``wechaty.Puppet`` service on loopback, served with grpclib.

It plays the puppet service a real Wechaty bridge talks to (PadLocal behind a puppet-service
gateway): Start/Stop, the Event stream (login first, then messages, heartbeats, dongs),
the payload lookups, MessageSendText and MessageSendFile (echoing the sent message as an
event, as real puppets do) and Ding; customers' files come through MessageImage (per image
type, as a PadLocal puppet keeps them) and MessageFile as base64 FileBox JSON, links and
mini programs through MessageUrl and MessageMiniProgram. Like the TypeScript gateway it sends
TypeScript puppet message types on the wire (Text = 7); the Python SDK maps them to its own enum.

It runs on its own event loop in a thread; tests drive it through the thread-safe methods.
"""

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from grpclib.const import Cardinality, Handler
from grpclib.const import Status as GrpcStatus
from grpclib.exceptions import GRPCError
from grpclib.server import Server, Stream
from wechaty_grpc.wechaty import puppet as pb

from tests.support.processes import free_port
from tests.wechaty.puppet_media import PuppetMedia, SentFile

T = TypeVar("T")
TS_MESSAGE_TYPE_TEXT = 7
TS_MESSAGE_TYPE_IMAGE = 6


async def _recv(stream: Stream[Any, Any]) -> Any:
    request = await stream.recv_message()
    assert request is not None
    return request


@dataclass(frozen=True)
class Sent:
    conversation_id: str
    text: str
    mention_ids: tuple[str, ...]


class TestPuppet(PuppetMedia):
    __test__ = False  # not a pytest class

    def __init__(
        self, *, self_id: str = "wxid_bot", self_name: str = "客服小助手", heartbeat_every: float = 1.0
    ) -> None:
        self.self_id = self_id
        self.self_name = self_name
        self.heartbeat_every = heartbeat_every
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.contacts: dict[str, pb.ContactPayloadResponse] = {}
        self.rooms: dict[str, pb.RoomPayloadResponse] = {}
        self.messages: dict[str, pb.MessagePayloadResponse] = {}
        self.sent: list[Sent] = []
        self.sent_files: list[SentFile] = []
        self._media_init()
        self.starts = 0
        self.event_streams = 0
        self.dings = 0
        self.refusing = False
        self._ids = itertools.count(1)
        self._queue: asyncio.Queue[pb.EventResponse | None] | None = None
        self._backlog: list[pb.EventResponse] = []
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-puppet", daemon=True)
        self.add_contact(self_id, self_name)

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> "TestPuppet":
        self._thread.start()
        self._run(self._serve())
        return self

    async def _serve(self) -> None:
        self._server = Server([self])
        await self._server.start("127.0.0.1", self.port)

    def stop(self) -> None:
        async def _close() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        self._run(_close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _run(self, coro: Awaitable[T], timeout: float = 10) -> T:
        async def _wrap() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(_wrap(), self._loop).result(timeout)

    def _call(self, fn: Callable[[], T]) -> T:
        async def _do() -> T:
            return fn()

        return self._run(_do())

    # --- what the tests do ----------------------------------------------------------------
    def add_contact(self, contact_id: str, name: str) -> None:
        self.contacts[contact_id] = pb.ContactPayloadResponse(
            id=contact_id, name=name, type=pb.ContactType.CONTACT_TYPE_PERSONAL, friend=True
        )

    def add_room(self, room_id: str, topic: str, member_ids: list[str]) -> None:
        self.rooms[room_id] = pb.RoomPayloadResponse(id=room_id, topic=topic, member_ids=[self.self_id, *member_ids])

    def customer_says(self, contact_id: str, text: str, *, kind: int = TS_MESSAGE_TYPE_TEXT) -> str:
        return self._call(lambda: self._message(from_id=contact_id, to_id=self.self_id, text=text, kind=kind))

    def member_says(self, room_id: str, contact_id: str, text: str, *, mention_self: bool = False) -> str:
        mentions = [self.self_id] if mention_self else []
        if mention_self:
            text = f"@{self.self_name}\u2005{text}"
        return self._call(lambda: self._message(from_id=contact_id, room_id=room_id, text=text, mention_ids=mentions))

    def staff_says(self, contact_id: str, text: str) -> str:
        """The account's owner types on the phone: a message from the account itself."""
        return self._call(lambda: self._message(from_id=self.self_id, to_id=contact_id, text=text))

    def redeliver(self, message_id: str) -> None:
        self._call(lambda: self._emit(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id}))

    def drop_stream(self) -> None:
        """End the event stream with UNAVAILABLE and refuse new ones until resume()."""

        def _drop() -> None:
            self.refusing = True
            if self._queue is not None:
                self._queue.put_nowait(None)

        self._call(_drop)

    def resume(self) -> None:
        self._call(lambda: setattr(self, "refusing", False))

    def sent_to(self, conversation_id: str) -> list[str]:
        return self._call(lambda: [s.text for s in self.sent if s.conversation_id == conversation_id])

    def sends(self) -> list[Sent]:
        return self._call(lambda: list(self.sent))

    def counts(self) -> dict[str, int]:
        return self._call(lambda: {"starts": self.starts, "event_streams": self.event_streams, "dings": self.dings})

    # --- inside the loop ---------------------------------------------------------------------
    def _message(
        self,
        *,
        from_id: str,
        text: str,
        to_id: str = "",
        room_id: str = "",
        mention_ids: list[str] | None = None,
        kind: int = TS_MESSAGE_TYPE_TEXT,
        emit: bool = True,
    ) -> str:
        message_id = f"msg-{next(self._ids)}-{int(time.time() * 1000)}"
        self.messages[message_id] = pb.MessagePayloadResponse(
            id=message_id,
            text=text,
            timestamp=int(time.time()),
            type=kind,  # a TypeScript puppet value, see the docstring
            from_id=from_id,
            to_id=to_id,
            room_id=room_id,
            mention_ids=mention_ids or [],
        )
        if emit:
            self._emit(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id})
        return message_id

    def _emit(self, kind: pb.EventType, payload: dict[str, Any]) -> None:
        event = pb.EventResponse(type=kind, payload=json.dumps(payload))
        if self._queue is not None:
            self._queue.put_nowait(event)
        else:
            # Nobody listens: hold it for the next event stream, as a puppet service does.
            self._backlog.append(event)

    # --- the gRPC service ----------------------------------------------------------------------
    def __mapping__(self) -> dict[str, Handler]:
        def unary(fn: Callable[[Stream[Any, Any]], Awaitable[None]], req: type, rep: type) -> Handler:
            return Handler(fn, Cardinality.UNARY_UNARY, req, rep)

        return {
            "/wechaty.Puppet/Start": unary(self._start, pb.StartRequest, pb.StartResponse),
            "/wechaty.Puppet/Stop": unary(self._stop, pb.StopRequest, pb.StopResponse),
            "/wechaty.Puppet/Ding": unary(self._ding, pb.DingRequest, pb.DingResponse),
            "/wechaty.Puppet/Logout": unary(self._stop, pb.LogoutRequest, pb.LogoutResponse),
            "/wechaty.Puppet/Event": Handler(self._event, Cardinality.UNARY_STREAM, pb.EventRequest, pb.EventResponse),
            "/wechaty.Puppet/MessagePayload": unary(
                self._message_payload, pb.MessagePayloadRequest, pb.MessagePayloadResponse
            ),
            "/wechaty.Puppet/ContactPayload": unary(
                self._contact_payload, pb.ContactPayloadRequest, pb.ContactPayloadResponse
            ),
            "/wechaty.Puppet/RoomPayload": unary(self._room_payload, pb.RoomPayloadRequest, pb.RoomPayloadResponse),
            "/wechaty.Puppet/MessageSendText": unary(
                self._message_send_text, pb.MessageSendTextRequest, pb.MessageSendTextResponse
            ),
            **self._media_mapping(unary),
        }

    def _refuse_if_down(self) -> None:
        if self.refusing:
            raise GRPCError(GrpcStatus.UNAVAILABLE, "puppet is restarting")

    async def _start(self, stream: Stream[Any, Any]) -> None:
        await _recv(stream)
        self._refuse_if_down()
        self.starts += 1
        await stream.send_message(pb.StartResponse())

    async def _stop(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        await stream.send_message(pb.StopResponse() if isinstance(request, pb.StopRequest) else pb.LogoutResponse())

    async def _ding(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        self.dings += 1
        await stream.send_message(pb.DingResponse())
        self._emit(pb.EventType.EVENT_TYPE_DONG, {"data": request.data if request else ""})

    async def _event(self, stream: Stream[Any, Any]) -> None:
        await _recv(stream)
        self._refuse_if_down()
        self.event_streams += 1
        if self._queue is not None:
            self._queue.put_nowait(None)  # one listener at a time: the newest wins
        queue: asyncio.Queue[pb.EventResponse | None] = asyncio.Queue()
        self._queue = queue
        login = pb.EventResponse(type=pb.EventType.EVENT_TYPE_LOGIN, payload=json.dumps({"contactId": self.self_id}))
        await stream.send_message(login)
        for event in self._backlog:
            queue.put_nowait(event)
        self._backlog.clear()
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=self.heartbeat_every)
                except TimeoutError:
                    event = pb.EventResponse(
                        type=pb.EventType.EVENT_TYPE_HEARTBEAT, payload=json.dumps({"data": "heartbeat"})
                    )
                if event is None:
                    raise GRPCError(GrpcStatus.UNAVAILABLE, "event stream dropped")
                await stream.send_message(event)
        finally:
            if self._queue is queue:
                self._queue = None
                # Events not yet written wait for the next stream rather than vanish.
                while not queue.empty():
                    pending = queue.get_nowait()
                    if pending is not None:
                        self._backlog.append(pending)

    async def _message_payload(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        payload = self.messages.get(request.id)
        if payload is None:
            raise GRPCError(GrpcStatus.NOT_FOUND, f"no message {request.id}")
        await stream.send_message(payload)

    async def _contact_payload(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        payload = self.contacts.get(request.id) or pb.ContactPayloadResponse(id=request.id, name=request.id)
        await stream.send_message(payload)

    async def _room_payload(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        payload = self.rooms.get(request.id)
        if payload is None:
            raise GRPCError(GrpcStatus.NOT_FOUND, f"no room {request.id}")
        await stream.send_message(payload)

    async def _message_send_text(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        self._refuse_if_down()
        conversation_id = request.conversation_id
        self.sent.append(Sent(conversation_id, request.text, tuple(request.mentonal_ids)))
        in_room = conversation_id in self.rooms
        message_id = self._message(
            from_id=self.self_id,
            text=request.text,
            to_id="" if in_room else conversation_id,
            room_id=conversation_id if in_room else "",
            mention_ids=list(request.mentonal_ids),
        )
        await stream.send_message(pb.MessageSendTextResponse(id=message_id))
