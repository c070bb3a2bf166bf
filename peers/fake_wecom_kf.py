"""WeCom 微信客服 session rules for the fake WeChat API (peers/fake_wechat.py).

A session per (open_kfid, external_userid) in one of WeCom's five states; kf/send_msg only in 0
and 1 (95018 otherwise, 95013 once ended); kf/service_state/trans only along WeCom's allowed
moves (95016 otherwise), handing a msg_code for the first move to 2 or 3 and for the end (4);
welcome_code / msg_code good for one kf/send_msg_on_event within 20 s (95007 otherwise).
A customer who writes after the end starts a new session in state 0.
"""

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

ALLOWED = {0: {1, 2, 3, 4}, 1: {1, 2, 3, 4}, 2: {2, 3, 4}, 3: {3, 4}, 4: set()}
CODE_SECONDS = 20.0
STATE_NOT_ALLOWED = 95018  # the session is with the pool or a servicer
SESSION_ENDED = 95013
MOVE_NOT_ALLOWED = 95016
BAD_CODE = 95007
# What kf/send_msg carries besides text (and msgmenu, link, miniprogram...), each by media_id.
KF_MEDIA_TYPES = frozenset({"image", "voice", "video", "file"})


@dataclass
class Session:
    state: int = 0
    servicer_userid: str = ""
    history: list[int] = field(default_factory=list)


@dataclass
class KfSessions:
    sessions: dict[tuple[str, str], Session] = field(default_factory=dict)
    codes: dict[str, tuple[float, tuple[str, str], str]] = field(default_factory=dict)  # issued at, session, why
    used_codes: set[str] = field(default_factory=set)
    event_replies: list[dict[str, Any]] = field(default_factory=list)  # accepted send_msg_on_event bodies
    clock_offset: float = 0.0  # tests move time forward
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    def now(self) -> float:
        return time.time() + self.clock_offset

    def session(self, open_kfid: str, user: str) -> Session:
        return self.sessions.setdefault((open_kfid, user), Session())

    def customer_wrote(self, open_kfid: str, user: str) -> None:
        session = self.session(open_kfid, user)
        if session.state == 4:
            self.sessions[(open_kfid, user)] = Session()

    def issue_code(self, key: tuple[str, str], why: str) -> str:
        code = f"{why}-code-{next(self._ids)}"
        self.codes[code] = (self.now(), key, why)
        return code

    # --- messages WeCom would put in sync_msg ----------------------------------------------------
    def enter_session(self, open_kfid: str, user: str, *, scene: str = "", scene_param: str = "") -> dict[str, Any]:
        self.customer_wrote(open_kfid, user)
        event = {
            "event_type": "enter_session",
            "open_kfid": open_kfid,
            "external_userid": user,
            "scene": scene,
            "scene_param": scene_param,
            "welcome_code": self.issue_code((open_kfid, user), "welcome"),
        }
        return self._event(event)

    def servicer_takes(self, open_kfid: str, user: str, servicer: str, *, change_type: int = 1) -> dict[str, Any]:
        """A servicer took the session in the WeCom app (1 from the pool, 2 transferred, 4 taken up)."""
        session = self.session(open_kfid, user)
        old = session.servicer_userid
        session.state, session.servicer_userid = 3, servicer
        event = {
            "event_type": "session_status_change",
            "open_kfid": open_kfid,
            "external_userid": user,
            "change_type": change_type,
            "old_servicer_userid": old,
            "new_servicer_userid": servicer,
        }
        if change_type == 1:
            event["msg_code"] = self.issue_code((open_kfid, user), "taken")
        return self._event(event)

    def servicer_ends(self, open_kfid: str, user: str) -> dict[str, Any]:
        session = self.session(open_kfid, user)
        session.state = 4
        event = {
            "event_type": "session_status_change",
            "open_kfid": open_kfid,
            "external_userid": user,
            "change_type": 3,
            "old_servicer_userid": session.servicer_userid,
            "msg_code": self.issue_code((open_kfid, user), "ended"),
        }
        return self._event(event)

    def servicer_message(self, open_kfid: str, user: str, servicer: str, text: str) -> dict[str, Any]:
        return {
            "msgid": f"svc-{next(self._ids)}",
            "open_kfid": open_kfid,
            "external_userid": user,
            "send_time": int(self.now()),
            "origin": 5,
            "servicer_userid": servicer,
            "msgtype": "text",
            "text": {"content": text},
        }

    def _event(self, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "msgid": f"evt-{next(self._ids)}",
            "send_time": int(self.now()),
            "origin": 4,
            "msgtype": "event",
            "event": event,
        }

    # --- the API --------------------------------------------------------------------------------
    def may_send(self, open_kfid: str, user: str) -> dict[str, Any] | None:
        """None when kf/send_msg is allowed now, else WeCom's error answer."""
        state = self.session(open_kfid, user).state
        if state in (0, 1):
            return None
        if state == 4:
            return {"errcode": SESSION_ENDED, "errmsg": "session has been closed"}
        return {"errcode": STATE_NOT_ALLOWED, "errmsg": "session status not allowed to send message"}

    def trans(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (str(body.get("open_kfid", "")), str(body.get("external_userid", "")))
        session = self.session(*key)
        to = int(body.get("service_state", -1))
        if to not in ALLOWED[session.state]:
            return {"errcode": MOVE_NOT_ALLOWED, "errmsg": f"state {session.state} cannot change to {to}"}
        if to == 3 and not body.get("servicer_userid"):
            return {"errcode": 95014, "errmsg": "servicer_userid required"}
        first_handoff = to in (2, 3) and session.state in (0, 1)
        session.history.append(to)
        session.state, session.servicer_userid = to, str(body.get("servicer_userid", "")) if to == 3 else ""
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if first_handoff or to == 4:
            answer["msg_code"] = self.issue_code(key, "ended" if to == 4 else "handoff")
        return answer

    def get(self, body: dict[str, Any]) -> dict[str, Any]:
        session = self.session(str(body.get("open_kfid", "")), str(body.get("external_userid", "")))
        return {
            "errcode": 0,
            "errmsg": "ok",
            "service_state": session.state,
            "servicer_userid": session.servicer_userid,
        }

    def on_event(self, body: dict[str, Any]) -> dict[str, Any]:
        code = str(body.get("code", ""))
        issued = self.codes.get(code)
        if issued is None or code in self.used_codes or self.now() - issued[0] > CODE_SECONDS:
            return {"errcode": BAD_CODE, "errmsg": "invalid code: unknown, used or expired"}
        if body.get("msgtype") not in ("text", "msgmenu"):
            return {"errcode": 40008, "errmsg": "invalid message type"}
        self.used_codes.add(code)
        self.event_replies.append({**body, "why": issued[2], "session": issued[1]})
        return {"errcode": 0, "errmsg": "ok", "msgid": f"evtmsg-{next(self._ids)}"}
