"""Who WeChat's users are, for the fake WeChat API (peers/fake_wechat.py).

Official Account cgi-bin/user/info: only for an OpenID of that account (40003 otherwise, 40001 for a
token that is not an Official Account's), {"subscribe": 0, "openid"} alone once the user unfollowed,
nickname "" (WeChat stopped giving it in 2021; a test may still set one), unionid only when the test
bound the user to one. cgi-bin/user/info/batchget: the same answer per user, 1 to 100 openids
(40032 otherwise), and the whole call refused with 40003 when one openid is not the account's.
WeCom kf/customer/batchget: 1 to 100 ids (40058 otherwise), 40096 for an id that cannot be an
external_userid, and ids the corp's kf has not seen listed in invalid_external_userid.
"""

import re
from dataclasses import dataclass, field
from typing import Any

INVALID_CREDENTIAL = {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
INVALID_OPENID = 40003
# WeChat's global code for "invalid openid list size" (不合法的openid列表长度). Not confirmed against a
# live user/info/batchget, which documents only its limit of 100; the code the desk sees is the same.
INVALID_OPENID_LIST_SIZE = 40032
INVALID_PARAMETER = 40058
INVALID_EXTERNAL_USERID = 40096
BATCHGET_MAX = 100
_EXTERNAL_USERID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


@dataclass
class OaUser:
    subscribed: bool = True
    unionid: str = ""
    nickname: str = ""


@dataclass
class KfCustomer:
    nickname: str = ""
    unionid: str = ""


@dataclass
class FakeUsers:
    oa: dict[tuple[str, str], OaUser] = field(default_factory=dict)  # (app_id, openid)
    kf: dict[tuple[str, str], KfCustomer] = field(default_factory=dict)  # (corp_id, external_userid)
    # Every profile look-up that reached the fake, ("user/info", openid) or ("kf/customer/batchget", ids).
    calls: list[tuple[str, Any]] = field(default_factory=list)
    # Benches make openids up per run: True has every openid follow every Official Account, as real
    # users who wrote to it do, instead of the 40003 a test's unknown user gets.
    follow_everyone: bool = False

    # --- what the tests tell the fake ---------------------------------------------------------------
    def follow(self, app_id: str, openid: str, *, unionid: str = "", nickname: str = "") -> None:
        self.oa[(app_id, openid)] = OaUser(unionid=unionid, nickname=nickname)

    def unfollow(self, app_id: str, openid: str) -> None:
        self.oa[(app_id, openid)].subscribed = False

    def kf_customer(self, corp_id: str, external_userid: str, *, nickname: str = "", unionid: str = "") -> None:
        self.kf[(corp_id, external_userid)] = KfCustomer(nickname=nickname, unionid=unionid)

    # --- the API ------------------------------------------------------------------------------------
    def user_info(self, api: str, app_id: str, query: dict[str, str]) -> dict[str, Any]:
        openid = query.get("openid", "")
        self.calls.append(("user/info", openid))
        if api != "oa":
            return INVALID_CREDENTIAL
        user = self._oa_get(app_id, openid)
        if user is None:
            return {"errcode": INVALID_OPENID, "errmsg": "invalid openid"}
        return self._oa_user(openid, user, query.get("lang", "zh_CN"))

    def user_info_batchget(self, api: str, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
        entries = body.get("user_list")
        openids = [str(e.get("openid", "")) if isinstance(e, dict) else "" for e in entries or []]
        self.calls.append(("user/info/batchget", openids))
        if api != "oa":
            return INVALID_CREDENTIAL
        if not isinstance(entries, list) or not 1 <= len(entries) <= BATCHGET_MAX:
            return {"errcode": INVALID_OPENID_LIST_SIZE, "errmsg": "invalid openid list size"}
        users = [self._oa_get(app_id, openid) for openid in openids]
        if any(user is None for user in users):  # one openid not the account's refuses them all
            return {"errcode": INVALID_OPENID, "errmsg": "invalid openid"}
        return {
            "user_info_list": [
                self._oa_user(openid, user, entry.get("lang", "zh_CN"))
                for openid, user, entry in zip(openids, users, entries, strict=True)
                if user is not None
            ]
        }

    def _oa_get(self, app_id: str, openid: str) -> OaUser | None:
        user = self.oa.get((app_id, openid))
        return OaUser() if user is None and self.follow_everyone and openid else user

    @staticmethod
    def _oa_user(openid: str, user: OaUser, lang: str) -> dict[str, Any]:
        if not user.subscribed:
            return {"subscribe": 0, "openid": openid}
        answer: dict[str, Any] = {
            "subscribe": 1,
            "openid": openid,
            "nickname": user.nickname,
            "sex": 0,
            "language": lang,
            "headimgurl": "",
            "subscribe_time": 1_700_000_000,
            "remark": "",
            "groupid": 0,
            "tagid_list": [],
            "subscribe_scene": "ADD_SCENE_QR_CODE",
            "qr_scene": 0,
            "qr_scene_str": "",
        }
        if user.unionid:
            answer["unionid"] = user.unionid
        return answer

    def batchget(self, api: str, corp_id: str, body: dict[str, Any]) -> dict[str, Any]:
        ids = body.get("external_userid_list")
        self.calls.append(("kf/customer/batchget", ids))
        if api != "wecom":
            return INVALID_CREDENTIAL
        if not isinstance(ids, list) or not 1 <= len(ids) <= BATCHGET_MAX:
            return {"errcode": INVALID_PARAMETER, "errmsg": f"external_userid_list takes 1 to {BATCHGET_MAX} ids"}
        if any(not isinstance(i, str) or not _EXTERNAL_USERID.match(i) for i in ids):
            return {"errcode": INVALID_EXTERNAL_USERID, "errmsg": "invalid external_userid"}
        found, invalid = [], []
        for external_userid in ids:
            customer = self.kf.get((corp_id, external_userid))
            if customer is None:
                invalid.append(external_userid)
                continue
            row = {"external_userid": external_userid, "nickname": customer.nickname, "avatar": "", "gender": 0}
            if customer.unionid:
                row["unionid"] = customer.unionid
            found.append(row)
        return {"errcode": 0, "errmsg": "ok", "customer_list": found, "invalid_external_userid": invalid}
