"""The inbox's Orders section (static/console/orders.js): the customer's recent orders from the shop,
and an after-sales request started by the agent. Mounted on the Lookup admin (login, staff, CSRF);
each view checks its permission, calls one service and answers JSON ({"error": ...} on refusal)."""

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.connectors import selectors, services
from apps.connectors.types import ConnectorError
from apps.conversations.models import Customer


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@require_GET
def orders(request: HttpRequest, customer_id: int) -> HttpResponse:
    if not isinstance(request.user, User) or not request.user.has_perm(selectors.ORDERS_PERMISSION):
        return _error(_("You may not see customers' orders."), 403)
    customer = get_object_or_404(Customer, pk=customer_id)
    connector = selectors.connector_active()
    if connector is None:
        return JsonResponse({"configured": False, "orders": []})
    try:
        found = services.orders_lookup(
            connector=connector, customer=customer, agent=request.user, limit=settings.DESK_CONNECTOR_ORDERS_MAX
        )
    except ConnectorError as exc:
        return _error(_("The shop did not answer (%(kind)s).") % {"kind": exc.kind}, 502)
    return JsonResponse(
        {
            "configured": True,
            "connector": connector.name,
            "orders": [order.as_json() for order in found.orders],
            "can_after_sale": request.user.has_perm(selectors.AFTER_SALE_PERMISSION),
        }
    )


@require_POST
def after_sale(request: HttpRequest) -> HttpResponse:
    if not isinstance(request.user, User) or not request.user.has_perm(selectors.AFTER_SALE_PERMISSION):
        return _error(_("You may not start after-sales requests."), 403)
    customer = get_object_or_404(Customer, pk=request.POST.get("customer", "0") or "0")
    order_no, reason = request.POST.get("order_no", "").strip(), request.POST.get("reason", "").strip()
    if not order_no or not reason:
        return _error(_("Give the order and a reason."), 400)
    connector = selectors.connector_active()
    if connector is None:
        return _error(_("No shop connector is enabled."), 409)
    try:
        request_id = services.after_sale_start(
            connector=connector, customer=customer, agent=request.user, order_no=order_no, reason=reason[:500]
        )
    except ConnectorError as exc:
        return _error(_("The shop refused or failed (%(kind)s).") % {"kind": exc.kind}, 502)
    return JsonResponse({"request_id": request_id})
