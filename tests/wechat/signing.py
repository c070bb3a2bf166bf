"""Build callbacks exactly as WeChat's servers do, with wechatpy as the independent peer."""

import time
from urllib.parse import urlencode

import xmltodict
from django.test import Client
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.utils import WeChatSigner

from tests.wechat.conftest import AES_KEY, CORP_ID, KF_TOKEN, OA_APP_ID, OA_TOKEN


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def oa_text_xml(*, openid: str, msg_id: str, content: str, create_time: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def oa_event_xml(*, openid: str, event: str, create_time: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event></xml>"
    )


def _encrypted_envelope(crypto: WeChatCrypto | WeComCrypto, plain: str, nonce: str, timestamp: str) -> tuple[str, str]:
    reply = xmltodict.parse(crypto.encrypt_message(plain, nonce, timestamp))["xml"]
    return reply["Encrypt"], reply["MsgSignature"]


def oa_request(
    xml: str | bytes,
    *,
    aes: bool = False,
    timestamp: int | None = None,
    nonce: str = "1320562132",
    token: str = OA_TOKEN,
    app_id: str = OA_APP_ID,
) -> tuple[str, str | bytes]:
    """The path (with WeChat's query) and body of a callback, for any HTTP client."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    params = {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": "o_user"}
    body: str | bytes = xml
    if aes:
        crypto = WeChatCrypto(token, AES_KEY, app_id)
        encrypted, msg_signature = _encrypted_envelope(crypto, xml if isinstance(xml, str) else xml.decode(), nonce, ts)
        params.update({"encrypt_type": "aes", "msg_signature": msg_signature})
        body = f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return f"/wechat/oa/{OA_APP_ID}/?{urlencode(params)}", body


def oa_post(
    client: Client,
    xml: str | bytes,
    *,
    aes: bool = False,
    timestamp: int | None = None,
    nonce: str = "1320562132",
    token: str = OA_TOKEN,
    app_id: str = OA_APP_ID,
) -> object:
    path, body = oa_request(xml, aes=aes, timestamp=timestamp, nonce=nonce, token=token, app_id=app_id)
    return client.post(path, data=body, content_type="text/xml")


def kf_event_xml(*, open_kfid: str, callback_token: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><CreateTime>{int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{callback_token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
    )


def kf_post(client: Client, xml: str, *, nonce: str = "5798312", token: str = KF_TOKEN, forge: bool = False) -> object:
    ts = str(int(time.time()))
    crypto = WeComCrypto(token, AES_KEY, CORP_ID)
    encrypted, msg_signature = _encrypted_envelope(crypto, xml, nonce, ts)
    if forge:
        msg_signature = sign("not-the-token", ts, nonce, encrypted)
    params = {"msg_signature": msg_signature, "timestamp": ts, "nonce": nonce}
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><AgentID><![CDATA[]]></AgentID>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return client.post(f"/wechat/kf/{CORP_ID}/?{urlencode(params)}", data=body, content_type="text/xml")


def kf_verify_url(echo: str, *, nonce: str = "88") -> tuple[str, str]:
    """The GET WeCom sends when the callback URL is saved: (url, the plaintext it must get back)."""
    ts = str(int(time.time()))
    crypto = WeComCrypto(KF_TOKEN, AES_KEY, CORP_ID)
    encrypted, msg_signature = _encrypted_envelope(crypto, echo, nonce, ts)
    params = {"msg_signature": msg_signature, "timestamp": ts, "nonce": nonce, "echostr": encrypted}
    return f"/wechat/kf/{CORP_ID}/?{urlencode(params)}", echo


def oa_message_xml(
    *, openid: str, msg_type: str, fields: dict[str, str], msg_id: str = "", create_time: int | None = None
) -> str:
    """Any Official Account callback: image (PicUrl, MediaId), voice (MediaId, Format, Recognition),
    video/shortvideo (MediaId, ThumbMediaId), location, link, file, event (Event, EventKey)..."""
    extra = "".join(f"<{name}><![CDATA[{value}]]></{name}>" for name, value in fields.items())
    msg_id_xml = f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
    return (
        f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"{extra}{msg_id_xml}</xml>"
    )
