"""The test puppet's media: customers' files, links and mini programs, and files the bridge sends.

PadLocal keeps an image as a thumbnail, an HD copy and the original (artwork); the puppet serves
what a test gives per image type and records which types the bridge asked for. Files travel as
FileBox JSON with base64 content, as the TypeScript puppet service serialises them.
"""

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from grpclib.const import Handler
from grpclib.const import Status as GrpcStatus
from grpclib.exceptions import GRPCError
from grpclib.server import Stream
from wechaty_grpc.wechaty import puppet as pb

T = TypeVar("T")
TS_MESSAGE_TYPE_IMAGE = 6
TS_MESSAGE_TYPE_ATTACHMENT = 1
TS_MESSAGE_TYPE_AUDIO = 2
TS_MESSAGE_TYPE_MINI_PROGRAM = 9
TS_MESSAGE_TYPE_URL = 14
TS_MESSAGE_TYPE_VIDEO = 15
_TS_TYPES = {
    "image": TS_MESSAGE_TYPE_IMAGE,
    "voice": TS_MESSAGE_TYPE_AUDIO,
    "file": TS_MESSAGE_TYPE_ATTACHMENT,
    "video": TS_MESSAGE_TYPE_VIDEO,
}
_BOX_BASE64 = 1


def _file_box(name: str, data: bytes) -> str:
    """A FileBox as the TypeScript puppet service serialises it (boxType 1: base64)."""
    return json.dumps({"boxType": _BOX_BASE64, "name": name, "base64": base64.b64encode(data).decode()})


@dataclass(frozen=True)
class SentFile:
    conversation_id: str
    name: str
    media_type: str
    data: bytes


Unary = Callable[[Callable[[Stream[Any, Any]], Awaitable[None]], type, type], Handler]


class PuppetMedia:
    """Mixed into TestPuppet, which provides the loop, the message store and the event queue."""

    self_id: str
    rooms: dict[str, pb.RoomPayloadResponse]
    sent_files: list[SentFile]

    def _media_init(self) -> None:
        # message id -> (name, {image type: bytes}); image type 0 for a plain file
        self.files: dict[str, tuple[str, dict[int, bytes]]] = {}
        self.links: dict[str, dict[str, str]] = {}
        self.mini_programs: dict[str, dict[str, str]] = {}
        self.file_requests: list[tuple[str, int]] = []

    # provided by TestPuppet
    def _call(self, fn: Callable[[], T]) -> T:
        raise NotImplementedError

    def _message(
        self,
        *,
        from_id: str,
        text: str,
        to_id: str = "",
        room_id: str = "",
        mention_ids: list[str] | None = None,
        kind: int = 7,
        emit: bool = True,
    ) -> str:
        raise NotImplementedError

    def _emit(self, kind: pb.EventType, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def _refuse_if_down(self) -> None:
        raise NotImplementedError

    # --- what the tests do ----------------------------------------------------------------
    def customer_sends(
        self, contact_id: str, kind: str, data: bytes, *, name: str, images: dict[int, bytes] | None = None
    ) -> str:
        """A file from a customer; ``images``: the copies per image type (default: all ``data``)."""

        def _send() -> str:
            message_id = self._message(
                from_id=contact_id, to_id=self.self_id, text="", kind=_TS_TYPES[kind], emit=False
            )
            self.files[message_id] = (name, images if images is not None else {1: data, 2: data, 3: data, 0: data})
            self._emit(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id})
            return message_id

        return self._call(_send)

    def customer_shares_link(self, contact_id: str, **link: str) -> str:
        def _send() -> str:
            message_id = self._message(
                from_id=contact_id, to_id=self.self_id, text="", kind=TS_MESSAGE_TYPE_URL, emit=False
            )
            self.links[message_id] = link
            self._emit(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id})
            return message_id

        return self._call(_send)

    def customer_shares_mini_program(self, contact_id: str, **program: str) -> str:
        def _send() -> str:
            message_id = self._message(
                from_id=contact_id, to_id=self.self_id, text="", kind=TS_MESSAGE_TYPE_MINI_PROGRAM, emit=False
            )
            self.mini_programs[message_id] = program
            self._emit(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id})
            return message_id

        return self._call(_send)

    def files_sent_to(self, conversation_id: str) -> list[SentFile]:
        return self._call(lambda: [f for f in self.sent_files if f.conversation_id == conversation_id])

    def file_image_types(self, message_id: str) -> list[int]:
        return self._call(lambda: [kind for mid, kind in self.file_requests if mid == message_id])

    # --- the gRPC service ----------------------------------------------------------------------
    def _media_mapping(self, unary: Unary) -> dict[str, Handler]:
        return {
            "/wechaty.Puppet/MessageSendFile": unary(
                self._message_send_file, pb.MessageSendFileRequest, pb.MessageSendFileResponse
            ),
            "/wechaty.Puppet/MessageImage": unary(self._message_image, pb.MessageImageRequest, pb.MessageImageResponse),
            "/wechaty.Puppet/MessageFile": unary(self._message_file, pb.MessageFileRequest, pb.MessageFileResponse),
            "/wechaty.Puppet/MessageUrl": unary(self._message_url, pb.MessageUrlRequest, pb.MessageUrlResponse),
            "/wechaty.Puppet/MessageMiniProgram": unary(
                self._message_mini_program, pb.MessageMiniProgramRequest, pb.MessageMiniProgramResponse
            ),
        }

    async def _message_send_file(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        self._refuse_if_down()
        box = json.loads(request.filebox)
        data = base64.b64decode(box["base64"])
        self.sent_files.append(SentFile(request.conversation_id, box["name"], box.get("mediaType") or "", data))
        in_room = request.conversation_id in self.rooms
        is_image = str(box.get("mediaType") or "").startswith("image/")
        message_id = self._message(
            from_id=self.self_id,
            text="",
            to_id="" if in_room else request.conversation_id,
            room_id=request.conversation_id if in_room else "",
            kind=TS_MESSAGE_TYPE_IMAGE if is_image else TS_MESSAGE_TYPE_ATTACHMENT,
            emit=False,
        )
        self.files[message_id] = (box["name"], {0: data, 1: data, 2: data, 3: data})
        self._emit(pb.EventType.EVENT_TYPE_MESSAGE, {"messageId": message_id})
        await stream.send_message(pb.MessageSendFileResponse(id=message_id))

    def _stored_file(self, message_id: str, image_type: int) -> str:
        self.file_requests.append((message_id, image_type))
        name, copies = self.files.get(message_id, ("", {}))
        if image_type not in copies:
            raise GRPCError(GrpcStatus.NOT_FOUND, f"no file of type {image_type} for message {message_id}")
        return _file_box(name, copies[image_type])

    async def _message_image(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        await stream.send_message(pb.MessageImageResponse(filebox=self._stored_file(request.id, int(request.type))))

    async def _message_file(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        await stream.send_message(pb.MessageFileResponse(filebox=self._stored_file(request.id, 0)))

    async def _message_url(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        link = self.links.get(request.id)
        if link is None:
            raise GRPCError(GrpcStatus.NOT_FOUND, f"no link in message {request.id}")
        await stream.send_message(pb.MessageUrlResponse(url_link=json.dumps(link)))

    async def _message_mini_program(self, stream: Stream[Any, Any]) -> None:
        request = await _recv(stream)
        program = self.mini_programs.get(request.id)
        if program is None:
            raise GRPCError(GrpcStatus.NOT_FOUND, f"no mini program in message {request.id}")
        await stream.send_message(pb.MessageMiniProgramResponse(mini_program=json.dumps(program)))


async def _recv(stream: Stream[Any, Any]) -> Any:
    request = await stream.recv_message()
    assert request is not None
    return request
