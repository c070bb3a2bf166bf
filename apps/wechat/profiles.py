"""Who a WeChat customer is, for the spine's ``ChannelAdapter.customer_profile`` hook.

The Official Account answers with cgi-bin/user/info, WeCom 客服 with kf/customer/batchget (one id
per call: the spine asks once per new customer). Both give WeChat's unionid only when the account
is bound to a WeChat Open Platform account; that is what links one person's identities.
Runs in the spine's task, never in a callback: WeChat errors become the spine's delivery errors
(transient: retried with backoff; permanent: logged and dropped by the spine).
"""

import logging

from django.core.cache import cache

from apps.conversations.channels import CustomerProfile, PermanentDeliveryError, TransientDeliveryError
from apps.wechat import client, selectors
from apps.wechat.client import PermanentApiError, TransientApiError
from apps.wechat.models import WechatContact
from apps.wechat.tokens import with_access_token

logger = logging.getLogger(__name__)
# An unverified Official Account may not read users (48001): asked again after a day, not per customer.
NO_USER_INFO = 48001
_NO_USER_INFO_TTL_S = 86400


def _no_user_info_key(account_id: int) -> str:
    return f"wechat:oa:{account_id}:no-user-info"


def _contact(*, channel: str, external_id: str) -> WechatContact | None:
    contact = selectors.contact_for_customer(channel=channel, external_id=external_id)
    if contact is None:
        # Created with the customer's first message, in the same transaction: nothing to ask about.
        logger.info("wechat: no contact for %s customer %s; no profile asked", channel, external_id)
    return contact


def oa_customer_profile(*, channel: str, external_id: str) -> CustomerProfile | None:
    contact = _contact(channel=channel, external_id=external_id)
    if contact is None or cache.get(_no_user_info_key(contact.account_id)):
        return None
    try:
        info = with_access_token(
            account=contact.account,
            call=lambda token: client.oa_user_info(access_token=token, openid=contact.user_id),
        )
    except TransientApiError as exc:
        raise TransientDeliveryError(str(exc)) from exc
    except PermanentApiError as exc:  # 40003 invalid openid, 48001 not allowed to read users...
        if exc.errcode == NO_USER_INFO:
            cache.set(_no_user_info_key(contact.account_id), 1, _NO_USER_INFO_TTL_S)
            logger.info("wechat: account %s may not read users (48001); no profiles for a day", contact.account_id)
            return None
        raise PermanentDeliveryError(str(exc), code=str(exc.errcode or "")) from exc
    if not info.subscribe:
        logger.info("wechat: %s has unfollowed the Official Account; no profile", external_id)
        return None
    return CustomerProfile(display_name=info.nickname, unionid=info.unionid)


def kf_customer_profile(*, channel: str, external_id: str) -> CustomerProfile | None:
    contact = _contact(channel=channel, external_id=external_id)
    if contact is None:
        return None
    try:
        answer = with_access_token(
            account=contact.account,
            call=lambda token: client.kf_customer_batchget(access_token=token, external_userids=[contact.user_id]),
        )
    except TransientApiError as exc:
        raise TransientDeliveryError(str(exc)) from exc
    except PermanentApiError as exc:  # 40096 invalid external_userid...
        raise PermanentDeliveryError(str(exc), code=str(exc.errcode or "")) from exc
    found = next((c for c in answer.customer_list if c.external_userid == contact.user_id), None)
    if found is None:
        # In invalid_external_userid: unknown to WeCom, or silent for over 48 h.
        logger.info("wechat: WeCom has no profile for %s (invalid_external_userid)", external_id)
        return None
    return CustomerProfile(display_name=found.nickname, unionid=found.unionid)
