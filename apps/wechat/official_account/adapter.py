from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import (
    ChannelAccount,
    ChannelAdapter,
    CustomerProfile,
    DeliveryDeferred,
    FetchedMedia,
    MediaUnavailable,
    Outbound,
    OutboundMedia,
    OutboundText,
    PermanentDeliveryError,
    ProfileAnswer,
    outbound_text,
)
from apps.wechat import client, selectors
from apps.wechat.channels import OFFICIAL_ACCOUNT
from apps.wechat.delivery import SendMedia, media_deliver, text_deliver
from apps.wechat.media import media_fetch
from apps.wechat.models import WechatAccount, WechatContact
from apps.wechat.official_account.passive import account_passive_switch, passive_reply_park
from apps.wechat.profiles import oa_customer_profile, oa_customer_profiles
from apps.wechat.tokens import with_access_token

# "api unauthorized": this account may not call custom-send (an unverified subscription account).
API_UNAUTHORIZED = 48001


class _CustomSendRefused(Exception):
    """Not a WeChatApiError, so text_deliver lets it through to the adapter instead of failing the reply."""

    def __init__(self, message: str, *, contact: WechatContact) -> None:
        super().__init__(message)
        self.contact = contact  # as the delivery read it, under the customer's lock


def _send(contact: WechatContact, outbound: OutboundText, text: str, index: int) -> None:
    try:
        with_access_token(
            account=contact.account,
            call=lambda token: client.oa_custom_send_text(access_token=token, openid=contact.user_id, content=text),
        )
    except client.WeChatApiError as exc:
        if exc.errcode == API_UNAUTHORIZED:
            raise _CustomSendRefused(str(exc), contact=contact) from exc
        raise


def _upload(contact: WechatContact, outbound: OutboundMedia) -> str:
    return with_access_token(
        account=contact.account,
        call=lambda token: client.media_upload(
            api="oa",
            access_token=token,
            kind=outbound.kind,
            data=outbound.data,
            filename=outbound.filename,
            content_type=outbound.content_type,
        ),
    )


def _send_media(contact: WechatContact, outbound: OutboundMedia, media_id: str) -> None:
    try:
        with_access_token(
            account=contact.account,
            call=lambda token: client.oa_custom_send_media(
                access_token=token, openid=contact.user_id, kind=outbound.kind, media_id=media_id
            ),
        )
    except client.WeChatApiError as exc:
        if exc.errcode == API_UNAUTHORIZED:
            raise _CustomSendRefused(str(exc), contact=contact) from exc
        raise


class OfficialAccountAdapter(ChannelAdapter):
    """Replies through message/custom/send, or passively in the response to the customer's callback.

    A passive reply is parked here and handed out by a held callback (official_account/hold.py):
    send() raises DeliveryDeferred, and the message becomes delivered when a response carries it.
    """

    channel = OFFICIAL_ACCOUNT
    label = _("Official Account")
    max_text_bytes = 2048
    # message/custom/send carries no file; a passive reply carries text only (see _media_send).
    media_kinds = frozenset({"image", "voice", "video"})

    def fetch_media(self, *, source: dict[str, Any], kind: str, max_bytes: int) -> FetchedMedia:
        if not source.get("media_id") and source.get("file_key"):
            # A file a customer sent from a chat: WeChat gives a FileKey, and no API hands it out.
            raise MediaUnavailable("an Official Account cannot download files customers send", code="unavailable")
        return media_fetch(api="oa", source=source, max_bytes=max_bytes)

    def accounts(self) -> list[ChannelAccount]:
        return selectors.channel_accounts(kind=WechatAccount.Kind.OFFICIAL_ACCOUNT)

    def account_customers(self, *, key: str) -> QuerySet[Any, str]:
        return selectors.account_customers(kind=WechatAccount.Kind.OFFICIAL_ACCOUNT, channel=self.channel, app_id=key)

    def customer_profile(self, *, external_id: str) -> CustomerProfile | None:
        """cgi-bin/user/info: the unionid when the account is bound to an Open Platform account."""
        return oa_customer_profile(channel=self.channel, external_id=external_id)

    def customer_profiles(self, *, external_ids: Sequence[str]) -> dict[str, ProfileAnswer]:
        """cgi-bin/user/info/batchget: up to 100 customers of an account in one call."""
        return oa_customer_profiles(channel=self.channel, external_ids=external_ids)

    def send(self, outbound: Outbound) -> None:
        if isinstance(outbound, OutboundMedia):
            self._media_send(outbound)
            return
        text = outbound_text(outbound)

        def gate(contact: WechatContact, parked: bool) -> None:
            # Once parked, a reply stays passive even if the account's mode changes meanwhile.
            if contact.account.replies_passively or parked:
                self._park(contact, text)

        try:
            text_deliver(outbound=text, send=_send, gate=gate)
        except _CustomSendRefused as exc:
            contact = exc.contact
            if contact.account.reply_mode != WechatAccount.ReplyMode.AUTO:
                raise PermanentDeliveryError(f"custom-send refused, passive replies are off: {exc}") from exc
            # Nothing was sent: the reply is not lost, it waits for the customer's next callback.
            account_passive_switch(account=contact.account, reason=f"custom-send refused: {exc}")
            self._park(contact, text)

    def _park(self, contact: WechatContact, text: OutboundText) -> None:
        until = passive_reply_park(contact=contact, message_id=text.message_id)
        raise DeliveryDeferred("parked for the customer's next callback (passive reply)", until=until)

    def _media_send(self, outbound: OutboundMedia) -> None:
        if outbound.kind not in self.media_kinds:
            raise PermanentDeliveryError(f"an Official Account cannot send a {outbound.kind}", code="media_unsupported")

        def gate(contact: WechatContact, _parked: bool) -> None:
            # A passive reply would have to upload and answer within the callback's 5 s: text only.
            if contact.account.replies_passively:
                raise PermanentDeliveryError(
                    "this Official Account replies passively, which carries text only", code="media_unsupported"
                )

        try:
            media_deliver(outbound=outbound, send=SendMedia(upload=_upload, send=_send_media), gate=gate)
        except _CustomSendRefused as exc:
            if exc.contact.account.reply_mode == WechatAccount.ReplyMode.AUTO:
                account_passive_switch(account=exc.contact.account, reason=f"custom-send refused: {exc}")
            raise PermanentDeliveryError(
                f"custom-send refused, and passive replies carry text only: {exc}", code="media_unsupported"
            ) from exc
