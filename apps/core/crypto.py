"""AES-256-GCM for data at rest, with key ids so keys can be rotated.

A stored value is ``v1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>``. Keys come from
DESK_ENCRYPTION_KEYS (or DESK_ENCRYPTION_KEYS_FILE): ``id:base64key,id:base64key``, the first
one encrypting, all of them decrypting. The column name is bound in as associated data, so a
ciphertext copied into another column (say a reply body into a query) does not decrypt.
"""

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "v1"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    pass


@dataclass(frozen=True)
class Keyring:
    primary_id: str
    keys: dict[str, bytes]

    def aead(self, key_id: str) -> AESGCM:
        try:
            return AESGCM(self.keys[key_id])
        except KeyError as exc:
            raise DecryptionError(f"no key with id {key_id!r} is configured (DESK_ENCRYPTION_KEYS)") from exc

    def mac(self, key_id: str, data: bytes) -> str:
        """HMAC-SHA256 under a key derived from ``key_id``: audit hashes cannot be recomputed by
        someone who can write to the database but holds no key. Keys that keyed audit rows must
        stay listed (as non-primary) for as long as those rows are verified."""
        try:
            base = self.keys[key_id]
        except KeyError as exc:
            raise DecryptionError(f"no key with id {key_id!r} is configured (DESK_ENCRYPTION_KEYS)") from exc
        derived = hmac.new(base, b"desk audit chain", hashlib.sha256).digest()
        return hmac.new(derived, data, hashlib.sha256).hexdigest()


def parse_keys(spec: str) -> Keyring:
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id.isalnum():
            raise ImproperlyConfigured("DESK_ENCRYPTION_KEYS entries look like <alphanumeric id>:<base64 32-byte key>")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ImproperlyConfigured(f"DESK_ENCRYPTION_KEYS key {key_id!r} is not valid base64") from exc
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"DESK_ENCRYPTION_KEYS key {key_id!r} must be 32 bytes (AES-256), not {len(raw)}"
            )
        if key_id in keys:
            raise ImproperlyConfigured(f"DESK_ENCRYPTION_KEYS names key {key_id!r} twice")
        keys[key_id] = raw
        order.append(key_id)
    if not order:
        raise ImproperlyConfigured("DESK_ENCRYPTION_KEYS holds no key")
    return Keyring(primary_id=order[0], keys=keys)


@cache
def keyring() -> Keyring:
    return parse_keys(settings.DESK_ENCRYPTION_KEYS)


def new_key_spec(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def encrypt(plaintext: str, *, context: str, ring: Keyring | None = None) -> str:
    ring = ring or keyring()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = ring.aead(ring.primary_id).encrypt(nonce, plaintext.encode("utf-8"), context.encode())
    return f"{PREFIX}:{ring.primary_id}:{base64.b64encode(nonce + sealed).decode()}"


def key_id_of(stored: str) -> str:
    prefix, _, rest = stored.partition(":")
    if prefix != PREFIX:
        raise DecryptionError("value is not encrypted with a known format")
    return rest.partition(":")[0]


def decrypt(stored: str, *, context: str, ring: Keyring | None = None) -> str:
    ring = ring or keyring()
    prefix, _, rest = stored.partition(":")
    key_id, _, payload = rest.partition(":")
    if prefix != PREFIX or not payload:
        raise DecryptionError("value is not encrypted with a known format")
    try:
        blob = base64.b64decode(payload, validate=True)
        plain = ring.aead(key_id).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context.encode())
    except (binascii.Error, InvalidTag, ValueError) as exc:
        raise DecryptionError(f"value does not decrypt with key {key_id!r} for {context}") from exc
    return plain.decode("utf-8")


# Files (customer images, voice notes) use the same key ring in a binary envelope:
# b"DM1" ‖ len(key id) ‖ key id ‖ nonce ‖ ciphertext ‖ tag. Base64 would cost a third more disk.
_FILE_MAGIC = b"DM1"


def encrypt_bytes(data: bytes, *, context: str, ring: Keyring | None = None) -> bytes:
    ring = ring or keyring()
    key_id = ring.primary_id.encode()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = ring.aead(ring.primary_id).encrypt(nonce, data, context.encode())
    return _FILE_MAGIC + bytes([len(key_id)]) + key_id + nonce + sealed


def _file_envelope(blob: bytes) -> tuple[str, bytes, bytes]:
    if not blob.startswith(_FILE_MAGIC) or len(blob) < len(_FILE_MAGIC) + 1:
        raise DecryptionError("file is not encrypted with a known format")
    size = blob[len(_FILE_MAGIC)]
    start = len(_FILE_MAGIC) + 1
    key_id = blob[start : start + size].decode("ascii", errors="replace")
    body = blob[start + size :]
    return key_id, body[:_NONCE_BYTES], body[_NONCE_BYTES:]


def key_id_of_bytes(blob: bytes) -> str:
    return _file_envelope(blob)[0]


def decrypt_bytes(blob: bytes, *, context: str, ring: Keyring | None = None) -> bytes:
    ring = ring or keyring()
    key_id, nonce, sealed = _file_envelope(blob)
    try:
        return ring.aead(key_id).decrypt(nonce, sealed, context.encode())
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError(f"file does not decrypt with key {key_id!r} for {context}") from exc
