"""WeCom 微信客服 callback: it only says "there are messages"; a task pulls them with sync_msg."""

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.wechat.crypto import MessageCrypto
from apps.wechat.kf.services import kf_callback_accept
from apps.wechat.models import WechatAccount
from apps.wechat.payloads import xml_fields
from apps.wechat.selectors import account_active_get
from apps.wechat.webhooks import callback_body, callback_view, plain


@csrf_exempt
@require_http_methods(["GET", "POST"])
@callback_view
def callback(request: HttpRequest, corp_id: str) -> HttpResponse:
    account = account_active_get(kind=WechatAccount.Kind.WECOM_KF, app_id=corp_id)
    if account is None or not account.encoding_aes_key:
        raise Http404("unknown account")
    crypto = MessageCrypto(token=account.token, encoding_aes_key=account.encoding_aes_key, receive_id=corp_id)
    params = request.GET
    timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
    if request.method == "GET":
        echostr = params.get("echostr", "")
        crypto.verify(
            msg_signature=params.get("msg_signature", ""), timestamp=timestamp, nonce=nonce, encrypted=echostr
        )
        return plain(crypto.decrypt(echostr))

    encrypted = xml_fields(callback_body(request)).get("Encrypt", "")
    crypto.verify(msg_signature=params.get("msg_signature", ""), timestamp=timestamp, nonce=nonce, encrypted=encrypted)
    event = xml_fields(crypto.decrypt(encrypted))
    if event.get("Event") == "kf_msg_or_event" and event.get("OpenKfId"):
        kf_callback_accept(account=account, open_kfid=event["OpenKfId"][:64], callback_token=event.get("Token", ""))
    return plain("")
