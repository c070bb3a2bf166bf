"""Who a WeChat customer is, for the spine's ``ChannelAdapter.customer_profile(s)`` hooks.

The Official Account answers with cgi-bin/user/info/batchget (up to 100 openids: the spine asks in
batches), or user/info for one; WeCom 客服 with kf/customer/batchget (one id per call, through the
spine's default loop). Both give WeChat's unionid only when the account
is bound to a WeChat Open Platform account; that is what links one person's identities.
Runs in the spine's task, never in a callback: WeChat errors become the spine's delivery errors
(transient: retried with backoff; permanent: logged and dropped by the spine).
"""

import logging
from collections import defaultdict
from collections.abc import Sequence

from django.core.cache import cache

from apps.conversations.channels import (
    CustomerProfile,
    DeliveryError,
    PermanentDeliveryError,
    ProfileAnswer,
    TransientDeliveryError,
)
from apps.wechat import client, selectors
from apps.wechat.client import PermanentApiError, TransientApiError
from apps.wechat.models import WechatContact
from apps.wechat.tokens import with_access_token

logger = logging.getLogger(__name__)
# An unverified Official Account may not read users (48001): asked again after a day, not per customer.
NO_USER_INFO = 48001
# user/info/batchget answers 40003 for the whole call when one openid is not the account's.
INVALID_OPENID = 40003
_NO_USER_INFO_TTL_S = 86400


def _no_user_info_key(account_id: int) -> str:
    return f"wechat:oa:{account_id}:no-user-info"


def _contact(*, channel: str, external_id: str) -> WechatContact | None:
    contact = selectors.contact_for_customer(channel=channel, external_id=external_id)
    if contact is None:
        # Created with the customer's first message, in the same transaction: nothing to ask about.
        logger.info("wechat: no contact for %s customer %s; no profile asked", channel, external_id)
    return contact


def _oa_profile(external_id: str, info: client.OaUserInfo | None) -> CustomerProfile | None:
    if info is None:
        logger.info("wechat: user/info/batchget said nothing of %s; no profile", external_id)
        return None
    if not info.subscribe:
        logger.info("wechat: %s has unfollowed the Official Account; no profile", external_id)
        return None
    return CustomerProfile(display_name=info.nickname, unionid=info.unionid)


def _oa_refused(account_id: int, exc: PermanentApiError) -> PermanentDeliveryError | None:
    """None for 48001 (remembered for a day: the account may not read users), else the spine's error."""
    if exc.errcode == NO_USER_INFO:
        cache.set(_no_user_info_key(account_id), 1, _NO_USER_INFO_TTL_S)
        logger.info("wechat: account %s may not read users (48001); no profiles for a day", account_id)
        return None
    return PermanentDeliveryError(str(exc), code=str(exc.errcode or ""))


def _oa_one(contact: WechatContact, external_id: str) -> ProfileAnswer:
    """cgi-bin/user/info for one customer; WeChat's refusal as the customer's answer, not raised."""
    if cache.get(_no_user_info_key(contact.account_id)):
        return None
    try:
        info = with_access_token(
            account=contact.account,
            call=lambda token: client.oa_user_info(access_token=token, openid=contact.user_id),
        )
    except TransientApiError as exc:
        return TransientDeliveryError(str(exc))
    except PermanentApiError as exc:  # 40003 invalid openid, 48001 not allowed to read users...
        return _oa_refused(contact.account_id, exc)
    return _oa_profile(external_id, info)


def oa_customer_profile(*, channel: str, external_id: str) -> CustomerProfile | None:
    contact = _contact(channel=channel, external_id=external_id)
    if contact is None:
        return None
    answer = _oa_one(contact, external_id)
    if isinstance(answer, DeliveryError):
        raise answer
    return answer


def oa_customer_profiles(*, channel: str, external_ids: Sequence[str]) -> dict[str, ProfileAnswer]:
    """cgi-bin/user/info/batchget: one call per account and 100 customers, with user/info's rules."""
    contacts = WechatContact.objects.select_related("account", "customer").filter(
        customer__channel=channel, customer__external_id__in=external_ids
    )
    by_account: dict[int, list[WechatContact]] = defaultdict(list)
    for contact in contacts:
        by_account[contact.account_id].append(contact)
    answers: dict[str, ProfileAnswer] = {}
    size = client.OA_BATCHGET_MAX
    for account_contacts in by_account.values():
        for start in range(0, len(account_contacts), size):
            answers.update(_oa_batch(account_contacts[start : start + size]))
    for external_id in external_ids:
        if external_id not in answers:
            # Created with the customer's first message, in the same transaction: nothing to ask about.
            logger.info("wechat: no contact for %s customer %s; no profile asked", channel, external_id)
    return answers


def _oa_batch(contacts: list[WechatContact]) -> dict[str, ProfileAnswer]:
    """One account's customers (at most OA_BATCHGET_MAX) in one user/info/batchget."""
    account = contacts[0].account
    external_ids = {contact.user_id: contact.customer.external_id for contact in contacts}
    if cache.get(_no_user_info_key(account.pk)):
        return dict.fromkeys(external_ids.values())
    try:
        answer = with_access_token(
            account=account,
            call=lambda token: client.oa_user_info_batchget(access_token=token, openids=list(external_ids)),
        )
    except TransientApiError as exc:
        return dict.fromkeys(external_ids.values(), TransientDeliveryError(str(exc)))
    except PermanentApiError as exc:
        if exc.errcode == INVALID_OPENID and len(contacts) > 1:
            # One openid WeChat does not know refuses the whole call: ask one at a time to find it.
            logger.info("wechat: account %s: batchget refused an openid (40003); asking one at a time", account.pk)
            return {
                contact.customer.external_id: _oa_one(contact, contact.customer.external_id) for contact in contacts
            }
        refused = _oa_refused(account.pk, exc)
        return dict.fromkeys(external_ids.values(), refused)
    infos = {info.openid: info for info in answer.user_info_list}
    return {external_id: _oa_profile(external_id, infos.get(openid)) for openid, external_id in external_ids.items()}


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
