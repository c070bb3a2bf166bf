"""Who a customer is: Official Account cgi-bin/user/info (and its batchget), WeCom 客服 kf/customer/batchget."""

from pydantic import BaseModel

from apps.wechat.client.http import _oa, _parse, _request, _wecom

KF_BATCHGET_MAX = 100  # external_userids per kf/customer/batchget
OA_BATCHGET_MAX = 100  # openids per cgi-bin/user/info/batchget


class OaUserInfo(BaseModel):
    """An unfollowed user is {"subscribe": 0, "openid"} alone; nickname is "" since 2021; unionid only
    when the account is bound to a WeChat Open Platform account (the same for a kf customer)."""

    subscribe: int = 0
    openid: str
    nickname: str = ""
    unionid: str = ""


class OaUserInfoList(BaseModel):
    """user/info/batchget: one entry per openid asked, each shaped like user/info's answer."""

    user_info_list: list[OaUserInfo] = []


class KfCustomer(BaseModel):
    external_userid: str
    nickname: str = ""
    unionid: str = ""


class KfCustomers(BaseModel):
    customer_list: list[KfCustomer] = []
    invalid_external_userid: list[str] = []  # unknown, or silent for over 48 h


def oa_user_info(*, access_token: str, openid: str) -> OaUserInfo:
    params = {"access_token": access_token, "openid": openid, "lang": "zh_CN"}
    return _parse(OaUserInfo, _request("GET", _oa("user/info"), params=params))


def oa_user_info_batchget(*, access_token: str, openids: list[str]) -> OaUserInfoList:
    """Several users in one call. WeChat refuses the whole call (40003) if one openid is not the account's."""
    if not 1 <= len(openids) <= OA_BATCHGET_MAX:
        raise ValueError(f"user/info/batchget takes 1 to {OA_BATCHGET_MAX} openids, not {len(openids)}")
    payload = {"user_list": [{"openid": openid, "lang": "zh_CN"} for openid in openids]}
    data = _request("POST", _oa("user/info/batchget"), params={"access_token": access_token}, json=payload)
    return _parse(OaUserInfoList, data)


def kf_customer_batchget(*, access_token: str, external_userids: list[str]) -> KfCustomers:
    if not 1 <= len(external_userids) <= KF_BATCHGET_MAX:
        raise ValueError(f"kf/customer/batchget takes 1 to {KF_BATCHGET_MAX} ids, not {len(external_userids)}")
    payload = {"external_userid_list": external_userids, "need_enter_session_context": 0}
    data = _request("POST", _wecom("kf/customer/batchget"), params={"access_token": access_token}, json=payload)
    return _parse(KfCustomers, data)
