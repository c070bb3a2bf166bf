"""The encrypted file store: media bytes are sealed with AES-256-GCM before any storage sees them.

The storage is the attachment field's (Django's default storage: local files, or an S3-compatible
bucket through django-storages when DESK_MEDIA_STORAGE=s3), so the bucket, the disk and their
backups hold ciphertext only. The associated data binds a blob to its attachment row: a file
copied onto another attachment does not decrypt.
"""

import hashlib
import uuid

from django.core.files.base import ContentFile

from apps.conversations.media.sniff import MediaInfo
from apps.conversations.models import Attachment
from apps.core.crypto import decrypt_bytes, encrypt_bytes, key_id_of_bytes, keyring


def _context(attachment: Attachment) -> str:
    return f"conversations_attachment.file:{attachment.pk}"


def attachment_write(attachment: Attachment, *, data: bytes, info: MediaInfo) -> None:
    """Seal and store the bytes, and record what they are (the row must be saved: its id is bound in)."""
    sealed = encrypt_bytes(data, context=_context(attachment))
    # The stored name says nothing about the content: no extension, no original name.
    attachment.file.save(f"{uuid.uuid4().hex}.bin", ContentFile(sealed), save=False)
    attachment.status = Attachment.Status.STORED
    attachment.kind = info.kind
    attachment.content_type = info.content_type
    attachment.size_bytes = len(data)
    attachment.width = info.width
    attachment.height = info.height
    attachment.sha256 = hashlib.sha256(data).hexdigest()
    attachment.error_code = attachment.error = ""
    attachment.save()


def attachment_read(attachment: Attachment) -> bytes:
    """The plaintext bytes. Raises FileNotFoundError when the file is gone (purged, or never stored)."""
    if attachment.status != Attachment.Status.STORED or not attachment.file:
        raise FileNotFoundError(f"attachment {attachment.pk} holds no file ({attachment.status})")
    with attachment.file.open("rb") as handle:
        return decrypt_bytes(handle.read(), context=_context(attachment))


def attachment_rekey(attachment: Attachment) -> bool:
    """Re-seal the file under the primary key; False when it already is (rotate_keys)."""
    if attachment.status != Attachment.Status.STORED or not attachment.file:
        return False
    with attachment.file.open("rb") as handle:
        sealed = handle.read()
    if key_id_of_bytes(sealed) == keyring().primary_id:
        return False
    plain = decrypt_bytes(sealed, context=_context(attachment))
    old_name = str(attachment.file.name)
    attachment.file.save(f"{uuid.uuid4().hex}.bin", ContentFile(encrypt_bytes(plain, context=_context(attachment))))
    # The new file is committed to the row before the old one goes: a crash leaves an orphan, not a loss.
    attachment.file.storage.delete(old_name)
    return True


def attachment_discard(attachment: Attachment) -> None:
    """Delete the stored file (retention purge); the row and its record stay."""
    if attachment.file:
        attachment.file.storage.delete(str(attachment.file.name))
    attachment.file = ""
