"""The XML of a passive reply, as WeChat expects it in the response to a callback.

<xml><ToUserName>openid</ToUserName><FromUserName>the account's original id (gh_…, the callback's
ToUserName)</FromUserName><CreateTime>…</CreateTime><MsgType>text</MsgType><Content>…</Content></xml>;
in safe mode that XML is encrypted and wrapped with its msg_signature, timestamp and nonce.
"""

import re
import time

from apps.wechat.crypto import MessageCrypto

# Characters XML 1.0 forbids: an answer carrying one would make WeChat's parser drop the reply.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside one CDATA section: close it, and open a new one after "]]".
    return "<![CDATA[" + _NOT_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(*, to_user: str, from_user: str, content: str, now: int | None = None) -> str:
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{now if now is not None else int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content>{_cdata(content)}</Content></xml>"
    )


def encrypted_reply_xml(*, crypto: MessageCrypto, plain: str, nonce: str, timestamp: str | None = None) -> str:
    timestamp = timestamp or str(int(time.time()))
    encrypted = crypto.encrypt(plain)
    signature = crypto.signature(timestamp=timestamp, nonce=nonce, encrypted=encrypted)
    return (
        f"<xml><Encrypt>{_cdata(encrypted)}</Encrypt><MsgSignature>{_cdata(signature)}</MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{_cdata(nonce)}</Nonce></xml>"
    )
