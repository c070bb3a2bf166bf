"""Official Account callback: verify, decrypt, store, then answer.

An account that replies through custom-send answers "success" at once, so WeChat's 5 s timeout
and its three tries never race the answerer. One that replies passively (unverified, or switched
after custom-send was refused) hands back a PassiveHold: the callback then waits, on the event
loop, for the reply to ride on its response (hold.py).
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.wechat.crypto import BadPayload, MessageCrypto, signature_check
from apps.wechat.models import WechatAccount
from apps.wechat.official_account.hold import PassiveHold
from apps.wechat.official_account.passive import account_replies_passively, callback_try
from apps.wechat.official_account.services import OaCallback, oa_callback_accept
from apps.wechat.payloads import xml_fields
from apps.wechat.selectors import account_active_get
from apps.wechat.webhooks import callback_body, callback_view, plain


@csrf_exempt
@require_http_methods(["GET", "POST"])
@callback_view
def callback(request: HttpRequest, app_id: str) -> HttpResponse | PassiveHold:
    account = account_active_get(kind=WechatAccount.Kind.OFFICIAL_ACCOUNT, app_id=app_id)
    if account is None:
        raise Http404("unknown account")
    timestamp, nonce = request.GET.get("timestamp", ""), request.GET.get("nonce", "")
    signature_check(signature=request.GET.get("signature", ""), parts=(account.token, timestamp, nonce))
    if request.method == "GET":
        return plain(request.GET.get("echostr", ""))

    fields = xml_fields(callback_body(request))
    crypto = None
    if request.GET.get("encrypt_type", "raw") == "aes":
        if not account.encoding_aes_key:
            raise BadPayload("encrypted callback for an account without an EncodingAESKey")
        crypto = MessageCrypto(token=account.token, encoding_aes_key=account.encoding_aes_key, receive_id=app_id)
        encrypted = fields.get("Encrypt", "")
        crypto.verify(
            msg_signature=request.GET.get("msg_signature", ""), timestamp=timestamp, nonce=nonce, encrypted=encrypted
        )
        fields = xml_fields(crypto.decrypt(encrypted))
    oa_callback = OaCallback.from_fields(fields)
    received = oa_callback_accept(account=account, callback=oa_callback, client_ip=request.META.get("REMOTE_ADDR"))
    # Events other than a subscribe with a greeting to carry have no reply to wait for.
    waits = received is not None or (oa_callback.event == "subscribe" and bool(settings.WECHAT_SUBSCRIBE_GREETING))
    if not waits or not account_replies_passively(account):
        return plain("success")
    return PassiveHold(
        account_id=account.pk,
        openid=oa_callback.openid,
        account_user=oa_callback.account_user,
        callback_key=oa_callback.key,
        inbound_id=received.message.pk if received is not None else None,
        try_number=callback_try(account_id=account.pk, callback_key=oa_callback.key),
        crypto=crypto,
        nonce=nonce,
    )
