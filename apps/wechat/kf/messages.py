"""What a WeCom 客服 message carries, by msgtype: text, a file to fetch, or words to show.

Images, voice notes, videos and files arrive as media ids (fetched later by the processing task
through cgi-bin/media/get); locations, links, mini programs, business cards and 视频号 posts
become readable text; a click on a msgmenu item is a text message naming the item (menu_id).
"""

from dataclasses import dataclass
from typing import Any

from apps.conversations.media.receive import InboundMedia
from apps.wechat.client import KfMessage
from apps.wechat.media import media_source
from apps.wechat.models import WechatAccount

_MEDIA_KINDS = frozenset({"image", "voice", "video", "file"})
# 视频号 sub_type: 1 a post, 2 a live stream, 3 the channel's card.
_CHANNELS_SUB_TYPES = {"1": "动态", "2": "直播", "3": "名片"}


@dataclass(frozen=True)
class KfContent:
    body: str
    media: InboundMedia | None = None
    menu_key: str = ""  # the msgmenu item's id when the customer clicked one


def _part(message: KfMessage, name: str) -> dict[str, Any]:
    value = getattr(message, name, None)  # extra="allow": every msgtype's object is an attribute
    return value if isinstance(value, dict) else {}


def _text(value: object, limit: int = 500) -> str:
    return str(value or "").strip()[:limit]


def kf_content(message: KfMessage, *, account: WechatAccount | None = None) -> KfContent:
    """``account``: the kf account the message came to, for a medium's source (None: body only)."""
    kind = message.msgtype
    part = _part(message, kind)
    if kind == "text":
        return KfContent(body=str(part.get("content", "")), menu_key=_text(part.get("menu_id"), 128))
    if kind in _MEDIA_KINDS:
        label_only = InboundMedia(kind=kind)
        if account is None:
            return KfContent(body=label_only.body())
        media = InboundMedia(kind=kind, source=media_source(account=account, media_id=_text(part.get("media_id"), 256)))
        return KfContent(body=media.body(), media=media)
    return KfContent(body=readable(kind, part))


def readable(kind: str, part: dict[str, Any]) -> str:
    """The text a person (and the bot) reads for a message that carries no file."""
    if kind == "location":
        name, address = _text(part.get("name"), 200), _text(part.get("address"), 300)
        latitude, longitude = _text(part.get("latitude"), 20), _text(part.get("longitude"), 20)
        where = f"(纬度 {latitude}, 经度 {longitude})" if latitude and longitude else ""
        return " ".join(p for p in ("[位置]", name, address, where) if p)
    if kind == "link":
        lines = [f"[链接] {_text(part.get('title'), 200)}", _text(part.get("desc")), _text(part.get("url"), 1024)]
        return "\n".join(line for line in lines if line.strip())
    if kind == "miniprogram":
        title, appid = _text(part.get("title"), 200), _text(part.get("appid"), 64)
        page = _text(part.get("pagepath"), 500)
        return "\n".join(line for line in (f"[小程序] {title}", f"AppID: {appid}" if appid else "", page) if line)
    if kind == "business_card":
        return f"[名片] {_text(part.get('userid'), 64)}".strip()
    if kind == "channels":
        sub_type = _CHANNELS_SUB_TYPES.get(_text(part.get("sub_type"), 4), "")
        head = f"[视频号{sub_type}] {_text(part.get('nickname'), 100)}".strip()
        title = _text(part.get("title"), 300)
        return f"{head}\n{title}" if title else head
    return f"[{kind[:20]}]"
