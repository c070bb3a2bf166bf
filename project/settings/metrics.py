"""Prometheus metrics: the port each process serves them on, and the token Prometheus sends."""

from django.core.exceptions import ImproperlyConfigured

from project.settings.env import env_bool, env_int, env_list, env_str

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

# Garbage collection of the long-running processes (apps/core/gc_policy.py): freeze what start-up built
# when a worker or the web server is ready, and again after each delay (seconds), once the lazily loaded
# models are in memory, so full collections stop walking it with the GIL held.
DESK_GC_FREEZE = env_bool("DESK_GC_FREEZE", True)
try:
    DESK_GC_FREEZE_AFTER_S = [float(s) for s in env_list("DESK_GC_FREEZE_AFTER_S", ["60", "600"])]
except ValueError as exc:
    raise ImproperlyConfigured("DESK_GC_FREEZE_AFTER_S must be seconds separated by commas, e.g. 60,600") from exc
if any(delay < 0 for delay in DESK_GC_FREEZE_AFTER_S):
    raise ImproperlyConfigured("DESK_GC_FREEZE_AFTER_S cannot be negative")

# glibc malloc arenas per process (apps/core/memory.py). glibc's own default, 8 per core, lets a threads
# pool keep the high-water mark of the encoder's tensors in each of up to 16 arenas on two cores: an llm
# worker held 800 MB freed but not returned. 0 leaves glibc's default (and its MALLOC_ARENA_MAX).
DESK_MALLOC_ARENAS = env_int("DESK_MALLOC_ARENAS", 2)
if DESK_MALLOC_ARENAS < 0:
    raise ImproperlyConfigured("DESK_MALLOC_ARENAS must be 0 (glibc's default) or a number of arenas")
# After each batch of the sentence encoder, give its freed tensors back to the system (malloc_trim),
# so a worker's RSS does not keep the high-water mark of every batch size it has seen.
DESK_MALLOC_TRIM = env_bool("DESK_MALLOC_TRIM", True)
