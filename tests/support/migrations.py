"""Migrating a real test database to a point in its history and back, for data-migration tests."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

Targets = list[tuple[str, str]]


def migrate(targets: Targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def latest() -> Targets:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@contextmanager
def migrated_back_to(targets: Targets) -> Iterator[None]:
    """The database at ``targets`` for the block, and at the latest migrations again after it."""
    migrate(targets)
    try:
        yield
    finally:
        migrate(latest())
