"""Official Account callback: verify, decrypt, store, answer "success" at once.

The reply goes out later through the custom-send API, so WeChat's 5 s timeout and its
three retries never race the answerer.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.wechat.crypto import BadPayload, MessageCrypto, signature_check
from apps.wechat.models import WechatAccount
from apps.wechat.official_account.services import OaCallback, oa_callback_accept
from apps.wechat.payloads import xml_fields
from apps.wechat.selectors import account_active_get
from apps.wechat.webhooks import callback_body, callback_view, plain


@csrf_exempt
@require_http_methods(["GET", "POST"])
@callback_view
def callback(request: HttpRequest, app_id: str) -> HttpResponse:
    account = account_active_get(kind=WechatAccount.Kind.OFFICIAL_ACCOUNT, app_id=app_id)
    if account is None:
        raise Http404("unknown account")
    timestamp, nonce = request.GET.get("timestamp", ""), request.GET.get("nonce", "")
    signature_check(signature=request.GET.get("signature", ""), parts=(account.token, timestamp, nonce))
    if request.method == "GET":
        return plain(request.GET.get("echostr", ""))

    fields = xml_fields(callback_body(request))
    if request.GET.get("encrypt_type", "raw") == "aes":
        if not account.encoding_aes_key:
            raise BadPayload("encrypted callback for an account without an EncodingAESKey")
        crypto = MessageCrypto(token=account.token, encoding_aes_key=account.encoding_aes_key, receive_id=app_id)
        encrypted = fields.get("Encrypt", "")
        crypto.verify(
            msg_signature=request.GET.get("msg_signature", ""), timestamp=timestamp, nonce=nonce, encrypted=encrypted
        )
        fields = xml_fields(crypto.decrypt(encrypted))
    oa_callback_accept(
        account=account, callback=OaCallback.from_fields(fields), client_ip=request.META.get("REMOTE_ADDR")
    )
    return plain("success")
