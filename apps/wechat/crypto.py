"""Callback signatures and the AES message crypto WeChat and WeCom share (WXBizMsgCrypt).

signature     = sha1(sorted(token, timestamp, nonce))            (OA plain mode, URL check)
msg_signature = sha1(sorted(token, timestamp, nonce, Encrypt))   (safe mode, WeCom always)
AES-256-CBC, key = b64decode(EncodingAESKey + "="), IV = key[:16], PKCS#7 padded to 32 bytes;
plaintext = random(16) + len(msg) as 4 big-endian bytes + msg + receive id (AppID or CorpID).
"""

import base64
import hashlib
import hmac
import secrets
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 32


class CallbackRejected(Exception):
    """The callback is not from WeChat, or is stale: answer 403 and store nothing."""


class BadPayload(Exception):
    """The callback body cannot be read: answer 400 and store nothing."""


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8"), usedforsecurity=False).hexdigest()


def signature_check(*, signature: str, parts: tuple[str, ...]) -> None:
    if not signature or not hmac.compare_digest(sha1_signature(*parts), signature.lower()):
        raise CallbackRejected("signature mismatch")


def timestamp_check(*, timestamp: str, now: float, tolerance: int) -> None:
    try:
        sent = int(timestamp)
    except ValueError as exc:
        raise CallbackRejected("timestamp is not an integer") from exc
    if abs(now - sent) > tolerance:
        raise CallbackRejected("timestamp outside the accepted window")


class MessageCrypto:
    def __init__(self, *, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except ValueError as exc:
            raise ValueError("EncodingAESKey is not valid base64") from exc
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self._key = key
        self._token = token
        self._receive_id = receive_id.encode("utf-8")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def signature(self, *, timestamp: str, nonce: str, encrypted: str) -> str:
        return sha1_signature(self._token, timestamp, nonce, encrypted)

    def verify(self, *, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        signature_check(signature=msg_signature, parts=(self._token, timestamp, nonce, encrypted))

    def decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except ValueError as exc:
            raise BadPayload("Encrypt is not base64") from exc
        if not raw or len(raw) % 16:
            raise BadPayload("Encrypt has a bad length")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or len(plain) < 20 + pad:
            raise BadPayload("bad padding")
        content = plain[16:-pad]
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise BadPayload("bad message length")
        message, receive_id = content[4 : 4 + length], content[4 + length :]
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise CallbackRejected("message is for another AppID / CorpID")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadPayload("message is not UTF-8") from exc

    def encrypt(self, message: str) -> str:
        body = message.encode("utf-8")
        plain = secrets.token_bytes(16) + struct.pack(">I", len(body)) + body + self._receive_id
        pad = _BLOCK - len(plain) % _BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")
