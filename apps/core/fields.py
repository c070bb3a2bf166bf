"""EncryptedTextField: text encrypted at rest with AES-256-GCM (apps.core.crypto).

The database only ever sees ciphertext, so SQL cannot search or compare these columns: only
``isnull`` lookups are allowed, anything else raises at query-build time instead of silently
matching nothing. Search what is stored in clear beside it (ids, statuses, timestamps).
"""

from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.models import Lookup, Model

from apps.core import crypto


class EncryptedTextField(models.TextField):
    description = "Text encrypted with AES-256-GCM"

    def contribute_to_class(self, cls: type[Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        self.crypto_context = f"{cls._meta.db_table}.{self.column}"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return crypto.encrypt(str(value), context=self.crypto_context)

    def from_db_value(self, value: str | None, expression: object, connection: object) -> str | None:
        if value is None:
            return None
        return crypto.decrypt(value, context=self.crypto_context)

    def get_lookup(self, lookup_name: str) -> type[Lookup[Any]] | None:
        if lookup_name != "isnull":
            raise FieldError(
                f"{self.model.__name__}.{self.name} is encrypted at rest; it cannot be filtered with {lookup_name!r}"
            )
        return super().get_lookup(lookup_name)
