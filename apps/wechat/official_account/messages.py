"""What an Official Account callback carries, by MsgType: text, a file to fetch, or words to show.

Images, voice notes and videos arrive as media ids (fetched later by the processing task);
locations and links become readable text; menu clicks (CLICK, VIEW events) become a message
with the menu key, which a configured MenuReply answers (apps/wechat/menus.py).
"""

from dataclasses import dataclass, field

from apps.conversations.media.receive import InboundMedia
from apps.wechat.media import media_source
from apps.wechat.models import WechatAccount

# What is stored for kinds the desk does not read (a music message, a future type...).
_OTHER = "[{kind}]"
_MEDIA_KINDS = {"image": "image", "voice": "voice", "video": "video", "shortvideo": "video", "file": "file"}
MENU_EVENTS = frozenset({"click", "view"})


@dataclass(frozen=True)
class OaContent:
    body: str
    kind: str = ""  # image | voice | video | file; "" when the message is text only
    # The callback's own reference: MediaId, PicUrl, ThumbMediaId, a file's FileKey...
    refs: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    channel_text: str = ""  # a voice note's Recognition
    menu_key: str = ""  # a menu click's EventKey

    def media(self, account: WechatAccount) -> InboundMedia | None:
        if not self.kind:
            return None
        refs = dict(self.refs)
        thumb = refs.pop("thumb_media_id", "")
        return InboundMedia(
            kind=self.kind,
            source=media_source(account=account, media_id=refs.pop("media_id", ""), **refs),
            filename=self.filename,
            thumb_source=media_source(account=account, media_id=thumb) if thumb else {},
            channel_text=self.channel_text,
        )


def _field(fields: dict[str, str], name: str, limit: int = 512) -> str:
    return fields.get(name, "").strip()[:limit]


def oa_content(*, msg_type: str, event: str, fields: dict[str, str]) -> OaContent:
    if msg_type == "text":
        return OaContent(body=fields.get("Content", ""))
    kind = _MEDIA_KINDS.get(msg_type)
    if kind == "file":
        # Files sent from a chat: WeChat documents Title/FileKey/FileMd5/FileTotalLen and no MediaId.
        title = _field(fields, "Title", 255) or _field(fields, "FileName", 255)
        refs = {
            "media_id": _field(fields, "MediaId", 128),
            "file_key": _field(fields, "FileKey", 128),
            "file_md5": _field(fields, "FileMd5", 64),
            "size": _field(fields, "FileTotalLen", 20),
        }
        media = InboundMedia(kind="file", filename=title)
        return OaContent(body=media.body(), kind="file", refs=refs, filename=title)
    if kind is not None:
        refs = {"media_id": _field(fields, "MediaId", 128)}
        if kind == "image":
            refs["pic_url"] = _field(fields, "PicUrl", 1024)
        elif kind == "voice":
            refs["format"] = _field(fields, "Format", 16)
        else:
            refs["thumb_media_id"] = _field(fields, "ThumbMediaId", 128)
        # Present when the account has speech recognition switched on.
        recognition = _field(fields, "Recognition", 2000) if kind == "voice" else ""
        return OaContent(body=InboundMedia(kind=kind).body(), kind=kind, refs=refs, channel_text=recognition)
    if msg_type == "location":
        return OaContent(body=location_text(fields))
    if msg_type == "link":
        parts = [_field(fields, "Title", 200), _field(fields, "Description", 500), _field(fields, "Url", 1024)]
        return OaContent(body="\n".join(["[链接] " + parts[0], *parts[1:]]).strip())
    if msg_type == "event" and event in MENU_EVENTS:
        key = _field(fields, "EventKey", 1024)
        body = f"[菜单] {key}" if event == "click" else f"[菜单] 打开链接 {key}"
        return OaContent(body=body, menu_key=key)
    return OaContent(body=_OTHER.format(kind=msg_type[:20]))


def location_text(fields: dict[str, str]) -> str:
    """ "[位置] label (纬度 x, 经度 y)": the customer's pin, readable by a person and by the bot."""
    label = _field(fields, "Label", 200)
    latitude, longitude = _field(fields, "Location_X", 20), _field(fields, "Location_Y", 20)
    where = f"(纬度 {latitude}, 经度 {longitude})" if latitude and longitude else ""
    return " ".join(part for part in ("[位置]", label, where) if part)
