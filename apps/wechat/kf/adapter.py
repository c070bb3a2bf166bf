from apps.wechat import client
from apps.wechat.adapters.base import OutboundText
from apps.wechat.delivery import text_deliver
from apps.wechat.models import WechatContact
from apps.wechat.tokens import with_access_token


def _send(contact: WechatContact, outbound: OutboundText, text: str, index: int) -> None:
    with_access_token(
        account=contact.account,
        call=lambda token: client.kf_send_text(
            access_token=token,
            open_kfid=contact.open_kfid,
            external_userid=contact.user_id,
            content=text,
            msgid=f"desk{outbound.message_id}_{index}",
        ),
    )


class KfAdapter:
    """Replies through kf/send_msg, allowed while the session is new (0) or bot-handled (1)."""

    channel = "wecom_kf"
    max_text_bytes = 2048

    def send(self, outbound: OutboundText) -> None:
        text_deliver(outbound=outbound, send=_send)
