from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import (
    ChannelAdapter,
    Outbound,
    OutboundText,
    PermanentDeliveryError,
    TransientDeliveryError,
    outbound_text,
)
from apps.wechat import client
from apps.wechat.channels import WECOM_KF
from apps.wechat.client import PermanentApiError, TransientApiError
from apps.wechat.delivery import text_deliver
from apps.wechat.kf.services import kf_state_mirror
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


class KfAdapter(ChannelAdapter):
    """Replies through kf/send_msg, allowed while the session is new (0) or bot-handled (1)."""

    channel = WECOM_KF
    label = _("WeCom customer service")
    max_text_bytes = 2048

    def send(self, outbound: Outbound) -> None:
        text_deliver(outbound=outbound_text(outbound), send=_send)

    def conversation_changed(self, *, conversation_id: int, mode: str, assignee_id: int | None) -> None:
        """Mirror who serves the customer to WeCom, so WeChat shows it (kf/service_state/trans)."""
        try:
            kf_state_mirror(conversation_id=conversation_id)
        except TransientApiError as exc:
            raise TransientDeliveryError(str(exc)) from exc
        except PermanentApiError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
