"""The default human-request detector in a test: its setting, the shipped examples (a transactional
test elsewhere may have flushed them) and a fresh version of them, so this process refits on what
the test's database holds."""

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps as django_apps
from django.core.cache import cache

from apps.knowledge.selectors import HUMAN_REQUEST_VERSION_KEY

EXAMPLE_DETECTOR = "apps.knowledge.human_request.ExampleDetector"
_seed = importlib.import_module("apps.knowledge.migrations.0003_human_request_examples")


@contextmanager
def example_detector(settings: Any) -> Iterator[None]:
    settings.DESK_HUMAN_REQUEST_DETECTOR = EXAMPLE_DETECTOR
    settings.KNOWLEDGE_RELOAD_SECONDS = 0
    _seed.examples_seed(django_apps)
    cache.delete(HUMAN_REQUEST_VERSION_KEY)
    try:
        yield
    finally:
        # Rows roll back between tests, Redis does not: the next test refits on its own rows.
        cache.delete(HUMAN_REQUEST_VERSION_KEY)
