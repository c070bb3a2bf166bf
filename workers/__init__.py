"""Long-running processes that are neither web requests nor Celery tasks."""
