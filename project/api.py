"""The one NinjaAPI. Each app contributes a Router; docs are for staff only."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from apps.conversations.api import router as conversations_router
from apps.conversations.attachments import ImageRejected
from apps.core.api import StrictJsonParser, install_error_handlers
from apps.wechat.api import router as wechat_router

api = NinjaAPI(
    title="WeChat AI customer-service desk",
    version="1",
    docs_url="/docs",
    docs_decorator=staff_member_required,
    parser=StrictJsonParser(),
    urls_namespace="api",
)
api.add_router("/inbound", conversations_router)
api.add_router("/simulator", wechat_router)
install_error_handlers(api)


@api.exception_handler(ImageRejected)
def _image_rejected(request: HttpRequest, exc: ImageRejected) -> HttpResponse:
    # Every image route refuses the same way: the status and reason the checks chose.
    return api.create_response(request, {"detail": exc.detail}, status=exc.status)
