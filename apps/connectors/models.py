"""Shop connectors (configured by admins, no code) and the audit of every look-up through them."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedTextField

# The desk's own protocol (docs/connectors.md): what a shop implements to need no mapping at all.
# Per operation: the path under base_url, the JSON body (a string that is exactly "{order_no}",
# "{customer}", "{phone_last4}" or "{reason}" is replaced) and where each field is in the answer
# (dotted paths; "root" for one object, "list" for a list of them).
_ORDER_FIELDS = {
    "order_no": "order_no",
    "status": "status",
    "owner": "buyer_id",
    "phone_last4": "phone_tail",
    "title": "title",
    "carrier": "logistics.company",
    "tracking_no": "logistics.tracking_no",
    "eta": "logistics.eta",
    "placed_at": "created_at",
}


def default_operations() -> dict[str, Any]:
    who = {"customer": "{customer}", "phone_last4": "{phone_last4}"}
    return {
        "order": {
            "path": "/desk/orders/lookup",
            "body": {"order_no": "{order_no}", **who},
            "fields": {"root": "data.order", **_ORDER_FIELDS},
        },
        "orders": {
            "path": "/desk/orders/by-customer",
            "body": {"customer": "{customer}"},
            "fields": {"list": "data.orders", **_ORDER_FIELDS},
        },
        "trail": {
            "path": "/desk/orders/trail",
            "body": {"order_no": "{order_no}", **who},
            "fields": {"list": "data.events", "time": "time", "text": "desc"},
        },
        "after_sale": {
            "path": "/desk/after-sales",
            "body": {"order_no": "{order_no}", "customer": "{customer}", "reason": "{reason}"},
            "fields": {"id": "data.request_id"},
        },
    }


ORDER_NUMBER_REGEX = r"(?<![A-Za-z0-9])(?:[A-Z]{1,3}\d{10,20}|\d{14,24})(?![A-Za-z0-9])"
ORDER_INTENT_REGEX = r"订单|单号|下单|买的|购买|order"
LOGISTICS_INTENT_REGEX = r"到哪|物流|快递|发货|运单|配送|派送|签收|到货|什么时候到|几天到|还没到|没收到"
AFTER_SALE_INTENT_REGEX = r"退货|退款|换货|售后|退换|坏了|破损|少发|漏发|发错"


class Connector(models.Model):
    class Kind(models.TextChoices):
        HTTP = "http", _("HTTPS endpoint of the shop (no code)")
        PYTHON = "python", _("Python class (custom connector)")

    name = models.CharField(_("name"), max_length=100, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.HTTP)
    entry_point = models.CharField(
        _("Python class"), max_length=200, blank=True, help_text=_("Dotted path of a ShopConnector, for kind python.")
    )
    base_url = models.URLField(_("base URL"), blank=True)
    secret = EncryptedTextField(_("signing secret"), blank=True, help_text=_("HMAC-SHA256 key for request signatures."))
    operations = models.JSONField(_("operations"), default=default_operations, blank=True)
    connect_timeout_s = models.FloatField(_("connect timeout (s)"), default=1.0)
    timeout_s = models.FloatField(_("total timeout (s)"), default=3.0)
    order_number_regex = models.CharField(_("order number pattern"), max_length=300, default=ORDER_NUMBER_REGEX)
    order_intent_regex = models.CharField(_("order question pattern"), max_length=500, default=ORDER_INTENT_REGEX)
    logistics_intent_regex = models.CharField(
        _("logistics question pattern"), max_length=500, default=LOGISTICS_INTENT_REGEX
    )
    after_sale_intent_regex = models.CharField(
        _("after-sales question pattern"), max_length=500, default=AFTER_SALE_INTENT_REGEX
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("shop connector")
        verbose_name_plural = _("shop connectors")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class Lookup(models.Model):
    """One question to a shop: who asked (a customer, or an agent for one), which order, what came back."""

    class Operation(models.TextChoices):
        ORDER = "order", _("order by number")
        ORDERS = "orders", _("orders of the customer")
        TRAIL = "trail", _("logistics trail")
        AFTER_SALE = "after_sale", _("after-sales request")

    class Result(models.TextChoices):
        FOUND = "found", _("found")
        NOT_FOUND = "not_found", _("not found")
        REFUSED = "refused", _("someone else's order: refused")
        RATE_LIMITED = "rate_limited", _("rate limited")
        FAILED = "failed", _("shop failed")
        CREATED = "created", _("created")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    connector = models.ForeignKey(Connector, null=True, on_delete=models.SET_NULL, related_name="+")
    customer = models.ForeignKey(
        "conversations.Customer", null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("customer")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    operation = models.CharField(_("operation"), max_length=12, choices=Operation.choices)
    order_no = models.CharField(_("order number"), max_length=64, blank=True)
    result = models.CharField(_("result"), max_length=14, choices=Result.choices)
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    ms = models.PositiveIntegerField(_("ms"), default=0)

    class Meta:
        verbose_name = _("shop look-up")
        verbose_name_plural = _("shop look-ups")
        ordering = ["-created_at"]
        permissions = [
            ("see_orders", "Can see a customer's orders in the console"),
            ("start_after_sale", "Can start an after-sales request for a customer"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.result}"
