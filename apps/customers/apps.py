from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "apps.customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from apps.conversations.signals import customer_identified
        from apps.customers.receivers import customer_identified_link

        customer_identified.connect(customer_identified_link, dispatch_uid="customers.customer_identified_link")
