from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import (
    ChannelAdapter,
    DeliveryDeferred,
    Outbound,
    OutboundText,
    PermanentDeliveryError,
    outbound_text,
)
from apps.wechat import client, selectors
from apps.wechat.channels import OFFICIAL_ACCOUNT
from apps.wechat.delivery import text_deliver
from apps.wechat.models import OaPassiveReply, WechatAccount, WechatContact
from apps.wechat.official_account.passive import account_passive_switch, passive_reply_park
from apps.wechat.tokens import with_access_token

# "api unauthorized": this account may not call custom-send (an unverified subscription account).
API_UNAUTHORIZED = 48001


class _CustomSendRefused(Exception):
    """Not a WeChatApiError, so text_deliver lets it through to the adapter instead of failing the reply."""


def _send(contact: WechatContact, outbound: OutboundText, text: str, index: int) -> None:
    try:
        with_access_token(
            account=contact.account,
            call=lambda token: client.oa_custom_send_text(access_token=token, openid=contact.user_id, content=text),
        )
    except client.WeChatApiError as exc:
        if exc.errcode == API_UNAUTHORIZED:
            raise _CustomSendRefused(str(exc)) from exc
        raise


class OfficialAccountAdapter(ChannelAdapter):
    """Replies through message/custom/send, or passively in the response to the customer's callback.

    A passive reply is parked here and handed out by a held callback (official_account/hold.py):
    send() raises DeliveryDeferred, and the message becomes delivered when a response carries it.
    """

    channel = OFFICIAL_ACCOUNT
    label = _("Official Account")
    max_text_bytes = 2048

    def send(self, outbound: Outbound) -> None:
        text = outbound_text(outbound)
        contact = selectors.contact_for_customer(channel=text.channel, external_id=text.customer_external_id)
        if contact is None:
            raise PermanentDeliveryError("this customer has no WeChat contact to reply to")
        # Once parked, a reply stays passive even if the account's mode changes meanwhile.
        if contact.account.replies_passively or OaPassiveReply.objects.filter(message_id=text.message_id).exists():
            self._park(contact, text)
        try:
            text_deliver(outbound=text, send=_send)
        except _CustomSendRefused as exc:
            if contact.account.reply_mode != WechatAccount.ReplyMode.AUTO:
                raise PermanentDeliveryError(f"custom-send refused, passive replies are off: {exc}") from exc
            # Nothing was sent: the reply is not lost, it waits for the customer's next callback.
            account_passive_switch(account=contact.account, reason=f"custom-send refused: {exc}")
            self._park(contact, text)

    def _park(self, contact: WechatContact, text: OutboundText) -> None:
        until = passive_reply_park(contact=contact, message_id=text.message_id)
        raise DeliveryDeferred("parked for the customer's next callback (passive reply)", until=until)
