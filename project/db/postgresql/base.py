"""django_prometheus's Postgres backend with the same django_db_* metrics, for less per statement.

Its cursor resolves every metric's label child again on each execute (keyword labels, a lock and a
dict each) and copies a dict for its exception counter; at ~30 statements per message that was
about 1 % of a worker's CPU (issue 22). Here the children are resolved once per connection's
cursor class, and an exception's counter only when one is raised.
"""

import time
from typing import Any

from django.db.backends.postgresql import base as django_base
from django_prometheus.db import errors_total, execute_many_total, execute_total, query_duration_seconds
from django_prometheus.db.backends.postgresql import base


def _instrumented(cursor_class: type, alias: str, vendor: str) -> type:
    executed = execute_total.labels(alias, vendor)
    executed_many = execute_many_total.labels(alias, vendor)
    duration = query_duration_seconds.labels(alias, vendor)

    class CursorWrapper(cursor_class):
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            executed.inc()
            started = time.perf_counter()
            try:
                return super().execute(*args, **kwargs)
            except Exception as exc:
                errors_total.labels(alias, vendor, type(exc).__name__).inc()
                raise
            finally:
                duration.observe(time.perf_counter() - started)

        def executemany(self, query: Any, param_list: Any, *args: Any, **kwargs: Any) -> Any:
            count = len(param_list)
            executed.inc(count)
            executed_many.inc(count)
            started = time.perf_counter()
            try:
                return super().executemany(query, param_list, *args, **kwargs)
            except Exception as exc:
                errors_total.labels(alias, vendor, type(exc).__name__).inc()
                raise
            finally:
                duration.observe(time.perf_counter() - started)

    return CursorWrapper


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        # Django's Postgres params (skipping django_prometheus's, which would wrap the factory twice).
        params: dict[str, Any] = django_base.DatabaseWrapper.get_connection_params(self)
        params["cursor_factory"] = _instrumented(params["cursor_factory"], self.alias, self.vendor)
        return params
