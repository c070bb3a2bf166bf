"""EncryptedTextField: text encrypted at rest with AES-256-GCM (apps.core.crypto).

The database only ever sees ciphertext, so SQL cannot search or compare these columns: only
``isnull`` lookups are allowed, anything else raises at query-build time instead of silently
matching nothing. Search what is stored in clear beside it (ids, statuses, timestamps), or a
BlindIndexField computed from it (keyed hashes of its words and CJK bigrams, apps.core.blind_index).
"""

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import FieldError
from django.db import models
from django.db.models import Lookup, Model

from apps.core import blind_index, crypto


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


class BlindIndexField(ArrayField):
    """The keyed blind index of another field (apps.core.blind_index): HMAC terms, never text.

    Computed from ``source`` whenever the row is saved, the way ``auto_now`` fills a timestamp:
    message bodies are written by a score of services in five apps, and a value derived in the
    field cannot be forgotten by the next one. ``save(update_fields=[...])`` that names the source
    must name this field too. Query it with ``<field>__contains=blind_index.query_parse(q).terms``
    (all terms present; Postgres ``@>``, served by a GIN index).
    """

    description = "Keyed blind index (HMAC terms)"

    def __init__(self, *args: Any, source: str = "", **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("base_field", models.IntegerField())
        kwargs.setdefault("default", list)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        return name, path, args, kwargs

    def pre_save(self, model_instance: Model, add: bool) -> Any:
        if self.source in model_instance.get_deferred_fields():
            return getattr(model_instance, self.attname)  # not loaded: not changed by this save
        value = blind_index.index_terms(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value
