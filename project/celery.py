"""The Celery app. Configuration is read from Django settings (CELERY_* names)."""

import os
from collections.abc import Iterator, Mapping
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")


class _CelerySettings(Mapping[str, Any]):
    """The CELERY_* Django settings, copied into a dict when Celery first reads its configuration.

    Celery looks settings up on every publish (~35 keys, several spellings each); through
    ``django.conf:settings`` each look-up goes through LazySettings and a miss raises
    AttributeError, which made publishing a task a quarter slower. Settings do not change in a
    running process; a test changes ``app.conf`` itself.
    """

    def __init__(self) -> None:
        self._values: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._values is None:
            from django.conf import settings

            self._values = {name: getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")}
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


app = Celery("project")
app.config_from_object(_CelerySettings(), namespace="CELERY")
app.autodiscover_tasks()
