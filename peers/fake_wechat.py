"""A local stand-in for WeChat's API servers (api.weixin.qq.com and qyapi.weixin.qq.com).

It speaks the same HTTP+JSON protocol and enforces the rules the desk must respect: a new
access_token invalidates the old one, replies need an open 48 h window and stop at 5 per
customer message (45015 / 45047), custom-send needs a verified Official Account (48001),
sync_msg pages by cursor with limit <= 1000, WeCom 客服's session states and single-use event
codes (peers/fake_wecom_kf.py), temporary media: media/get, media/upload and messages that carry
a media_id (peers/fake_wechat_media.py), and who users are: user/info(/batchget) and kf/customer/batchget
for known users only (peers/fake_wechat_users.py). A secret set in ``secrets`` must match to get a token.
"""

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from peers.fake_wechat_media import FakeMedia, Raw
from peers.fake_wechat_users import FakeUsers
from peers.fake_wecom_kf import KF_MEDIA_TYPES, KfSessions

# What message/custom/send carries besides text; an Official Account cannot send a file (40008).
OA_MEDIA_TYPES = frozenset({"image", "voice", "video"})
INVALID_MESSAGE_TYPE = {"errcode": 40008, "errmsg": "invalid message type"}


@dataclass
class Sent:
    api: str  # "custom" (OA message/custom/send) or "kf" (kf/send_msg)
    touser: str
    content: str
    open_kfid: str = ""
    msgid: str = ""
    kind: str = "text"  # or image, voice, video, file (content is then the media_id)
    at: float = field(default_factory=time.time)  # when WeChat took it: the customer's phone shows it then


@dataclass
class FakeWeChat:
    budget: int = 5
    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    token_fetches: Counter[str] = field(default_factory=Counter)
    sent: list[Sent] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    sync_calls: list[dict[str, Any]] = field(default_factory=list)
    kf_messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Failure injection: path -> number of upcoming calls answered with HTTP 502.
    failures: Counter[str] = field(default_factory=Counter)
    # ... after letting this many calls to the path through first.
    failure_skips: Counter[str] = field(default_factory=Counter)
    _windows: dict[tuple[str, str], int] = field(default_factory=dict)
    # Official Accounts that are not verified: custom-send answers 48001 for them (passive replies only).
    unverified: set[str] = field(default_factory=set)
    refused: Counter[str] = field(default_factory=Counter)  # app_id -> custom-sends answered 48001
    # WeCom 客服 sessions: states, single-use event codes (peers/fake_wecom_kf.py).
    kf: KfSessions = field(default_factory=KfSessions)
    media: FakeMedia = field(default_factory=FakeMedia)
    token_apis: dict[str, str] = field(default_factory=dict)  # token -> "oa" or "wecom"
    users: FakeUsers = field(default_factory=FakeUsers)
    # app_id / corp_id -> the secret WeChat knows; accounts not listed get a token with any secret.
    secrets: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what the tests tell the fake ---------------------------------------------------
    def user_wrote(self, touser: str, open_kfid: str = "") -> None:
        with self._lock:
            self._windows[(open_kfid, touser)] = 0

    def add_kf_messages(self, open_kfid: str, messages: list[dict[str, Any]]) -> None:
        with self._lock:
            self.kf_messages.setdefault(open_kfid, []).extend(messages)
        for message in messages:
            if message.get("origin") == 3:
                self.user_wrote(message["external_userid"], open_kfid)
                with self._lock:
                    self.kf.customer_wrote(open_kfid, message["external_userid"])

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens = {key: f"{value}-revoked" for key, value in self.tokens.items()}

    def fail_next(self, path: str, times: int = 1, after: int = 0) -> None:
        with self._lock:
            self.failures[path] += times
            self.failure_skips[path] = after

    # --- the protocol -------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: dict[str, Any],
        files: dict[str, tuple[str, str, bytes]] | None = None,
    ) -> tuple[int, Any]:
        with self._lock:
            if self.failures[path] > 0 and self.failure_skips[path] > 0:
                self.failure_skips[path] -= 1
            elif self.failures[path] > 0:
                self.failures[path] -= 1
                return 502, {"error": "bad gateway"}
        if path == "/cgi-bin/token":
            if not self._secret_ok(query.get("appid", ""), query.get("secret", "")):
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            return 200, self._grant(query.get("appid", ""), "oa")
        if path == "/cgi-bin/gettoken":
            if not self._secret_ok(query.get("corpid", ""), query.get("corpsecret", "")):
                return 200, {"errcode": 40001, "errmsg": "invalid secret"}
            return 200, self._grant(query.get("corpid", ""), "wecom")
        if path in self.media.pictures:  # an image's PicUrl: WeChat's CDN, no token
            return 200, Raw(self.media.pictures[path], "image/jpeg")
        if query.get("access_token") not in self.tokens.values():
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        with self._lock:
            app_id = next((app for app, token in self.tokens.items() if token == query["access_token"]), "")
            api = self.token_apis.get(query["access_token"], "oa")
        if path == "/cgi-bin/media/get":
            return self.media.get(app_id, query.get("media_id", ""))
        if path == "/cgi-bin/media/upload":
            return 200, self.media.upload(api, app_id, query.get("type", ""), files or {})
        if path == "/cgi-bin/message/custom/send":
            with self._lock:
                if app_id in self.unverified:
                    self.refused[app_id] += 1
                    return 200, {"errcode": 48001, "errmsg": "api unauthorized"}
            return 200, self._message(api="custom", app_id=app_id, kinds=OA_MEDIA_TYPES, body=body)
        if path == "/cgi-bin/kf/send_msg":
            with self._lock:
                refused = self.kf.may_send(body["open_kfid"], body["touser"])
            if refused is not None:
                return 200, refused
            return 200, self._message(api="kf", app_id=app_id, kinds=KF_MEDIA_TYPES, body=body)
        if path == "/cgi-bin/user/info":
            if api == "oa" and app_id in self.unverified:  # an unverified account may not read users
                return 200, {"errcode": 48001, "errmsg": "api unauthorized"}
            with self._lock:
                return 200, self.users.user_info(api, app_id, query)
        if path == "/cgi-bin/user/info/batchget":
            if api == "oa" and app_id in self.unverified:
                return 200, {"errcode": 48001, "errmsg": "api unauthorized"}
            with self._lock:
                return 200, self.users.user_info_batchget(api, app_id, body)
        if path == "/cgi-bin/kf/customer/batchget":
            with self._lock:
                return 200, self.users.batchget(api, app_id, body)
        if path == "/cgi-bin/kf/sync_msg":
            return 200, self._sync(body)
        if path == "/cgi-bin/kf/service_state/trans":
            with self._lock:
                answer = self.kf.trans(body)
                if answer["errcode"] == 0:
                    self.states.append(body)
            return 200, answer
        if path == "/cgi-bin/kf/service_state/get":
            with self._lock:
                return 200, self.kf.get(body)
        if path == "/cgi-bin/kf/send_msg_on_event":
            with self._lock:
                return 200, self.kf.on_event(body)
        return 404, {"errcode": 404, "errmsg": "no such api"}

    def _secret_ok(self, app_id: str, secret: str) -> bool:
        with self._lock:
            return app_id not in self.secrets or self.secrets[app_id] == secret

    def _grant(self, app_id: str, api: str) -> dict[str, Any]:
        with self._lock:
            self.token_fetches[app_id] += 1
            token = f"token-{app_id}-{self.token_fetches[app_id]}"
            self.tokens[app_id] = token  # the previous one stops working
            self.token_apis[token] = api
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    def _message(self, *, api: str, app_id: str, kinds: frozenset[str], body: dict[str, Any]) -> dict[str, Any]:
        """A custom-send or kf/send_msg of text, or of a medium this account uploaded."""
        kind = str(body.get("msgtype", ""))
        if kind == "text":
            content = body["text"]["content"]
        elif kind in kinds:
            refused = self.media.sendable(app_id, kind, body)
            if refused is not None:
                return refused
            content = body[kind]["media_id"]
        else:
            return INVALID_MESSAGE_TYPE
        sent = Sent(
            api=api,
            touser=body["touser"],
            content=content,
            open_kfid=body.get("open_kfid", ""),
            msgid=body.get("msgid", ""),
            kind=kind,
        )
        return self._send(sent)

    def _send(self, sent: Sent) -> dict[str, Any]:
        if len(sent.content.encode("utf-8")) > 2048:
            return {"errcode": 45002, "errmsg": "content size out of limit"}
        key = (sent.open_kfid, sent.touser)
        with self._lock:
            if key not in self._windows:
                return {"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"}
            if self._windows[key] >= self.budget:
                return {"errcode": 45047, "errmsg": "out of response count limit"}
            self._windows[key] += 1
            self.sent.append(sent)
        return {"errcode": 0, "errmsg": "ok", "msgid": sent.msgid or f"fake{len(self.sent)}"}

    def _sync(self, body: dict[str, Any]) -> dict[str, Any]:
        limit = int(body.get("limit", 1000))
        if not 1 <= limit <= 1000:
            return {"errcode": 44004, "errmsg": "invalid limit"}
        cursor = str(body.get("cursor", ""))
        offset = int(cursor.removeprefix("cursor-")) if cursor else 0
        with self._lock:
            self.sync_calls.append(body)
            messages = self.kf_messages.get(str(body.get("open_kfid", "")), [])
            page = messages[offset : offset + limit]
        end = offset + len(page)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "next_cursor": f"cursor-{end}",
            "has_more": int(end < len(messages)),
            "msg_list": page,
        }


def multipart_files(content_type: str, raw: bytes) -> dict[str, tuple[str, str, bytes]]:
    """The file parts of a multipart/form-data body: field name -> (file name, type, bytes)."""
    message = BytesParser(policy=default).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            files[name] = (part.get_filename() or "", part.get_content_type(), payload)
    return files


def serve(fake: FakeWeChat) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as api.weixin.qq.com and qyapi.weixin.qq.com answer: HTTP/1.0 would make every call
        # of the desk a new connection (and a new thread here), a cost the desk does not have in production.
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm on a kept-alive connection the
        # body waits for the client's delayed ACK (40 ms), a stall WeChat's servers do not have.
        disable_nagle_algorithm = True

        def _dispatch(self, method: str) -> None:
            parsed = urlparse(self.path)
            query = {key: values[0] for key, values in parse_qs(parsed.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type", "")
            files = multipart_files(content_type, raw) if content_type.startswith("multipart/form-data") else None
            body = json.loads(raw or b"{}") if raw and files is None else {}
            status, payload = fake.handle(method, parsed.path, query, body, files)
            try:
                if isinstance(payload, Raw):
                    self._file(status, payload)
                    return
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                # WeChat answers media/get errors as JSON with a text/plain type; the desk must cope.
                kind = "text/plain" if parsed.path.endswith("/media/get") else "application/json; charset=utf-8"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the desk stopped reading (too large, too slow): as it should

        def _file(self, status: int, raw: Raw) -> None:
            self.send_response(status)
            self.send_header("Content-Type", raw.content_type)
            if raw.filename:
                # Non-ASCII names as RFC 5987 says (headers are Latin-1): filename*=UTF-8''<percent-encoded>.
                name = raw.filename if raw.filename.isascii() else None
                value = f'filename="{name}"' if name else f"filename*=UTF-8''{quote(raw.filename)}"
                self.send_header("Content-Disposition", f"attachment; {value}")
            if raw.announce_length:
                self.send_header("Content-Length", str(len(raw.body)))
            else:  # the body ends where the connection does
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            step = 1024 if raw.drip_s else len(raw.body) or 1
            for start in range(0, len(raw.body), step):
                self.wfile.write(raw.body[start : start + step])
                self.wfile.flush()
                if raw.drip_s:
                    time.sleep(raw.drip_s)

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
