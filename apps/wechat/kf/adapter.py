from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import (
    ChannelAccount,
    ChannelAction,
    ChannelActionError,
    ChannelAdapter,
    ChannelState,
    CustomerProfile,
    FetchedMedia,
    Outbound,
    OutboundMedia,
    OutboundText,
    PermanentDeliveryError,
    TransientDeliveryError,
    outbound_text,
)
from apps.wechat import client, selectors
from apps.wechat.channels import WECOM_KF
from apps.wechat.client import PermanentApiError, TransientApiError
from apps.wechat.delivery import SendMedia, media_deliver, text_deliver
from apps.wechat.kf import services, session
from apps.wechat.kf.session import KfState
from apps.wechat.media import media_fetch
from apps.wechat.models import WechatAccount, WechatContact, WecomServicer
from apps.wechat.profiles import kf_customer_profile
from apps.wechat.tokens import with_access_token

HAND_TO_WECOM = "wecom-servicer"
POOL = "pool"


def _send(contact: WechatContact, outbound: OutboundText, text: str, index: int) -> None:
    try:
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
    except client.StateApiError:
        session.state_record(contact, None)  # the mirror was wrong: ask WeCom before the next move
        raise


def _upload(contact: WechatContact, outbound: OutboundMedia) -> str:
    return with_access_token(
        account=contact.account,
        call=lambda token: client.media_upload(
            api="wecom",
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
            call=lambda token: client.kf_send_media(
                access_token=token,
                open_kfid=contact.open_kfid,
                external_userid=contact.user_id,
                kind=outbound.kind,
                media_id=media_id,
                msgid=f"desk{outbound.message_id}_0",
            ),
        )
    except client.StateApiError:
        session.state_record(contact, None)
        raise


class KfAdapter(ChannelAdapter):
    """Replies through kf/send_msg, accepted only while the session is new (0) or the desk's (1)."""

    channel = WECOM_KF
    label = _("WeCom customer service")
    max_text_bytes = 2048
    media_kinds = frozenset({"image", "voice", "video", "file"})
    # The rating menu rides on the closing message's event code (kf/session.closing_send).
    asks_rating_itself = True

    def fetch_media(self, *, source: dict[str, Any], kind: str, max_bytes: int) -> FetchedMedia:
        return media_fetch(api="wecom", source=source, max_bytes=max_bytes)

    def send(self, outbound: Outbound) -> None:
        contact = session.contact_for_conversation(outbound.conversation_id)
        if contact is not None and contact.kf_state is not None and KfState(contact.kf_state) not in session.SENDABLE:
            # WeCom's own servicer or pool has the session, or it ended: the desk must not write.
            raise PermanentDeliveryError(
                f"not sent: the WeCom session is in state {contact.kf_state}", code="kf_state", hand_over=True
            )
        if isinstance(outbound, OutboundMedia):
            if outbound.kind not in self.media_kinds:
                raise PermanentDeliveryError(f"WeCom 客服 cannot send a {outbound.kind}", code="media_unsupported")
            media_deliver(outbound=outbound, send=SendMedia(upload=_upload, send=_send_media))
            return
        text_deliver(outbound=outbound_text(outbound), send=_send)

    def accounts(self) -> list[ChannelAccount]:
        return selectors.channel_accounts(kind=WechatAccount.Kind.WECOM_KF)

    def account_customers(self, *, key: str) -> QuerySet[Any, str]:
        return selectors.account_customers(kind=WechatAccount.Kind.WECOM_KF, channel=self.channel, app_id=key)

    def customer_profile(self, *, external_id: str) -> CustomerProfile | None:
        """kf/customer/batchget: nickname, and the unionid when the corp is bound to an Open Platform account."""
        return kf_customer_profile(channel=self.channel, external_id=external_id)

    def conversation_changed(self, *, conversation_id: int, mode: str, assignee_id: int | None) -> None:
        """Keep WeCom's session state where the desk's conversation is (kf/service_state/trans)."""
        try:
            services.kf_conversation_changed(conversation_id=conversation_id)
        except TransientApiError as exc:
            raise TransientDeliveryError(str(exc)) from exc
        except (PermanentApiError, session.KfMoveRefused) as exc:
            raise PermanentDeliveryError(str(exc)) from exc

    def state(self, *, conversation_id: int) -> ChannelState:
        contact = session.contact_for_conversation(conversation_id)
        if contact is None or contact.kf_state is None:
            return ChannelState()
        state = KfState(contact.kf_state)
        if state == KfState.SERVICER:
            return ChannelState(
                label=gettext("Served in WeCom by %(servicer)s") % {"servicer": contact.kf_servicer_userid},
                can_send=False,
            )
        if state == KfState.POOL:
            return ChannelState(label=gettext("Waiting in WeCom's servicer pool"), can_send=False)
        if state == KfState.ENDED:
            return ChannelState(label=gettext("The WeCom session has ended"), can_send=False)
        return ChannelState()

    def actions(self, *, conversation_id: int) -> list[ChannelAction]:
        contact = session.contact_for_conversation(conversation_id)
        if contact is None or (contact.kf_state is not None and KfState(contact.kf_state) not in session.SENDABLE):
            return []
        servicers = tuple(
            (userid, f"{username} ({userid})")
            for userid, username in WecomServicer.objects.select_related("user")
            .order_by("userid")
            .values_list("userid", "user__username")
        )
        return [
            ChannelAction(
                slug=HAND_TO_WECOM,
                label=gettext("Hand to WeCom"),
                choices=((POOL, gettext("WeCom's servicer pool")), *servicers),
            )
        ]

    def act(self, *, conversation_id: int, action: str, value: str, actor_id: int) -> None:
        if action != HAND_TO_WECOM:
            raise ChannelActionError(f"unknown action {action!r}")
        try:
            services.kf_hand_to_wecom(
                conversation_id=conversation_id, servicer_userid="" if value == POOL else value, actor_id=actor_id
            )
        except session.KfMoveRefused as exc:
            raise ChannelActionError(str(exc)) from exc
        except client.WeChatApiError as exc:
            raise ChannelActionError(gettext("WeCom refused: %(error)s") % {"error": exc}) from exc
