"""Prometheus metrics: the port each process serves them on, and the token Prometheus sends."""

from project.settings.env import env_int, env_str

# Each process serves its registry on a port of its own, never on the public web port that the
# ingress and the TLS proxy publish (apps/core/metrics_listener.py). 0: not served. Run one
# process per port: the `worker` and `llm` processes of one box need different values.
DESK_WEB_METRICS_PORT = env_int("DESK_WEB_METRICS_PORT", 0)
DESK_WORKER_METRICS_PORT = env_int("DESK_WORKER_METRICS_PORT", 0)
# Containers listen beyond loopback so Prometheus can reach them; local.py keeps to loopback.
DESK_METRICS_HOST = env_str("DESK_METRICS_HOST", "0.0.0.0")  # noqa: S104
# Bearer token every metrics listener requires (Prometheus: authorization.credentials_file).
# Empty here, which no listener accepts: local and test settings set development values,
# production requires a real one.
DESK_METRICS_TOKEN = env_str("DESK_METRICS_TOKEN", "")
