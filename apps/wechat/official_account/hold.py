"""Holding an Official Account callback until its passive reply is ready, without holding a thread.

WeChat waits WECHAT_OA_CALLBACK_TIMEOUT_SECONDS (5) for a response, then tries the same callback
again, WECHAT_OA_CALLBACK_TRIES (3) times in all. Each try waits here on the event loop (woken by
``wakeup``, re-reading Postgres on a thread) until the reply to its message is parked, or
WECHAT_OA_PASSIVE_WAIT_SECONDS (4.5) have passed since it arrived (it reads Postgres on arrival,
on each wake-up and just before the end; every WECHAT_OA_PASSIVE_POLL_SECONDS only while wake-ups
are down):

- the reply is ready: hand out every parked reply of the customer, oldest first, in one message;
- not ready, an earlier try: answer nothing until WeChat has given up on this try, so it tries
  again (an answer, even "success", would end the tries);
- not ready, the last try: hand out older parked replies if there are any, else the holding text;
  the reply then rides on the customer's next message;
- the message's replies already went out (a late retry): "success".

A hand-out must commit before the wait ends (checked in its transaction, so queueing for a thread
or a lock under load counts; the remaining 0.5 s carry the response): later, the reply stays parked
for the next try or message rather than go into a connection WeChat may already have dropped.
"""

import asyncio
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse

from apps.wechat.crypto import MessageCrypto
from apps.wechat.official_account.passive import PassiveState, passive_replies_hand_out, passive_state
from apps.wechat.official_account.replies import encrypted_reply_xml, text_reply_xml
from apps.wechat.official_account.wakeup import ready_watch, wakeups_working, woken
from apps.wechat.webhooks import callback_work, plain

logger = logging.getLogger(__name__)

# The last read of a wait comes this long before its end, so a reply it finds can still go out.
_LAST_LOOK_S = 0.2
# After its wait, an unanswered earlier try stays open this long past WeChat's timeout, so WeChat
# has dropped it (and sent the next try) before we close it with an empty body.
_PAST_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class PassiveHold:
    account_id: int
    openid: str
    account_user: str  # the callback's ToUserName: the account's original id, our reply's sender
    callback_key: str
    inbound_id: int | None  # None for an event (subscribe): any parked reply answers it
    try_number: int
    crypto: MessageCrypto | None  # set in safe mode: the reply is encrypted and signed
    nonce: str

    async def respond(self, *, received_at: float) -> HttpResponse:
        wait_s = settings.WECHAT_OA_PASSIVE_WAIT_SECONDS
        timeout_s = settings.WECHAT_OA_CALLBACK_TIMEOUT_SECONDS
        deadline = received_at + wait_s
        last_look = deadline - min(_LAST_LOOK_S, wait_s / 10)
        last_try = self.try_number >= settings.WECHAT_OA_CALLBACK_TRIES
        async with ready_watch(account_id=self.account_id, openid=self.openid) as wake:
            while True:
                state: PassiveState = await callback_work(
                    passive_state, account_id=self.account_id, openid=self.openid, inbound_id=self.inbound_id
                )
                if state.own_done:
                    return plain("success")
                remaining = last_look - time.monotonic()
                if state.own_ready or state.nothing_coming or remaining <= 0:
                    break
                poll = settings.WECHAT_OA_PASSIVE_POLL_SECONDS if not wakeups_working() else remaining
                await woken(wake, min(remaining, poll))

        may_hand_out = state.own_ready or state.nothing_coming or last_try or self.inbound_id is None
        # The hand-out must commit by the deadline too: the rest of WeChat's 5 s carries the response.
        text = await self._hand_out(deadline) if may_hand_out and time.monotonic() <= deadline else ""
        if text:
            return self._reply(text)
        if state.own_ready:
            # Another callback of this customer may just have taken it along with its own reply.
            state = await callback_work(
                passive_state, account_id=self.account_id, openid=self.openid, inbound_id=self.inbound_id
            )
            if state.own_done:
                return plain("success")
        if self.inbound_id is None or state.nothing_coming:
            return plain("success")
        if last_try:
            holding = settings.WECHAT_OA_PASSIVE_HOLDING_TEXT
            return self._reply(holding) if holding else plain("success")
        await asyncio.sleep(max(0.0, received_at + timeout_s + _PAST_TIMEOUT_S - time.monotonic()))
        return plain("")

    async def _hand_out(self, cutoff: float) -> str:
        work = asyncio.ensure_future(
            callback_work(
                passive_replies_hand_out,
                account_id=self.account_id,
                openid=self.openid,
                callback_key=self.callback_key,
                cutoff=cutoff,
            )
        )
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            # WeChat hung up while the hand-out ran: what it took is marked delivered and will not be
            # sent again (at most once). Say so, so a missing answer can be traced.
            work.add_done_callback(self._log_lost)
            raise

    def _log_lost(self, work: "asyncio.Future[str]") -> None:
        if not work.cancelled() and work.exception() is None and work.result():
            logger.warning("passive reply for callback %s handed out after WeChat hung up", self.callback_key)

    def _reply(self, text: str) -> HttpResponse:
        xml = text_reply_xml(to_user=self.openid, from_user=self.account_user, content=text)
        if self.crypto is not None:
            xml = encrypted_reply_xml(crypto=self.crypto, plain=xml, nonce=self.nonce)
        return HttpResponse(xml, content_type="application/xml; charset=utf-8")
