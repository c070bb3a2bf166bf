"""Our WXBizMsgCrypt against wechatpy's, in both directions."""

import pytest
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from apps.wechat.crypto import BadPayload, CallbackRejected, MessageCrypto, signature_check, timestamp_check
from apps.wechat.payloads import xml_fields
from tests.wechat.conftest import AES_KEY, CORP_ID, OA_APP_ID, OA_TOKEN
from tests.wechat.signing import sign

PLAIN = "<xml><Content><![CDATA[你好，世界 hello]]></Content></xml>"


def ours(receive_id: str = OA_APP_ID) -> MessageCrypto:
    return MessageCrypto(token=OA_TOKEN, encoding_aes_key=AES_KEY, receive_id=receive_id)


def test_it_decrypts_what_wechatpy_encrypts() -> None:
    envelope = xml_fields(WeChatCrypto(OA_TOKEN, AES_KEY, OA_APP_ID).encrypt_message(PLAIN, "nonce1", "1700000000"))
    ours().verify(
        msg_signature=envelope["MsgSignature"], timestamp="1700000000", nonce="nonce1", encrypted=envelope["Encrypt"]
    )
    assert ours().decrypt(envelope["Encrypt"]) == PLAIN


def test_wechatpy_decrypts_what_we_encrypt() -> None:
    crypto = ours(CORP_ID)
    encrypted = crypto.encrypt(PLAIN)
    signature = crypto.signature(timestamp="1700000000", nonce="n", encrypted=encrypted)
    peer = WeComCrypto(OA_TOKEN, AES_KEY, CORP_ID)
    assert peer.decrypt_message({"Encrypt": encrypted}, signature, "1700000000", "n") == PLAIN


def test_it_rejects_a_message_encrypted_for_another_app() -> None:
    encrypted = xml_fields(WeChatCrypto(OA_TOKEN, AES_KEY, "wxanotherapp000000").encrypt_message(PLAIN, "n", "1"))
    with pytest.raises(CallbackRejected):
        ours().decrypt(encrypted["Encrypt"])


@pytest.mark.parametrize("garbage", ["not base64!", "", "QUJD", "A" * 44])
def test_it_refuses_garbage_ciphertext_cleanly(garbage: str) -> None:
    with pytest.raises((BadPayload, CallbackRejected)):
        ours().decrypt(garbage)


def test_its_signature_matches_wechatpys() -> None:
    signature_check(signature=sign(OA_TOKEN, "1700000000", "abc"), parts=(OA_TOKEN, "1700000000", "abc"))
    with pytest.raises(CallbackRejected):
        signature_check(signature=sign("forged", "1700000000", "abc"), parts=(OA_TOKEN, "1700000000", "abc"))


@pytest.mark.parametrize("timestamp", ["1699999000", "1700000700", "soon", ""])
def test_it_refuses_stale_future_or_bogus_timestamps(timestamp: str) -> None:
    with pytest.raises(CallbackRejected):
        timestamp_check(timestamp=timestamp, now=1_700_000_000, tolerance=300)
