from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import ChannelAdapter, Outbound, OutboundText, outbound_text
from apps.wechat import client
from apps.wechat.channels import OFFICIAL_ACCOUNT
from apps.wechat.delivery import text_deliver
from apps.wechat.models import WechatContact
from apps.wechat.tokens import with_access_token


def _send(contact: WechatContact, outbound: OutboundText, text: str, index: int) -> None:
    with_access_token(
        account=contact.account,
        call=lambda token: client.oa_custom_send_text(access_token=token, openid=contact.user_id, content=text),
    )


class OfficialAccountAdapter(ChannelAdapter):
    """Replies through message/custom/send: the passive reply would have to beat WeChat's 5 s timeout."""

    channel = OFFICIAL_ACCOUNT
    label = _("Official Account")
    max_text_bytes = 2048

    def send(self, outbound: Outbound) -> None:
        text_deliver(outbound=outbound_text(outbound), send=_send)
