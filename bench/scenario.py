"""One fault run: a fresh database (copied from a migrated template), the stack, its peers, a crowd.

Timers are scaled down so a scenario takes a minute, not an afternoon; the code paths are the
production ones: the sweeper every 2 s instead of 15, a 6 s processing lease renewed every 2 s
instead of 60/20, a 5 s grace for unqueued messages instead of 30, a 1-5 s breaker cooldown.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from bench import harness
from bench.private_servers import PrivatePostgres, PrivateRedis

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "desk_faults_template"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"

FAST_TIMERS = {
    "DESK_SWEEP_INTERVAL_SECONDS": "2",
    "DESK_RECEIVED_GRACE_SECONDS": "5",
    "DESK_PROCESSING_LEASE_SECONDS": "6",
    "DESK_PROCESSING_LEASE_RENEW_SECONDS": "2",
    "LLM_COOLDOWN_MIN_S": "1",
    "LLM_COOLDOWN_MAX_S": "5",
    "LLM_PROBE_INTERVAL_S": "2",
    "LLM_ENDPOINTS_CACHE_S": "1",
}


def template_ready(env: dict[str, str]) -> None:
    """Migrate the template database once per code version; every run copies it in a second."""
    with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    migrate_env = {**env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{TEMPLATE}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=migrate_env,
                   check=True)  # fmt: skip


@dataclass
class Run:
    """Everything one scenario owns; ``close()`` gives it all back."""

    name: str
    private_redis: bool = False
    private_postgres: bool = False
    llm_count: int = 1
    llm_latency_s: float = 0.5
    env_extra: dict[str, str] = field(default_factory=dict)
    db_name: str = ""
    env: dict[str, str] = field(default_factory=dict)
    redis: PrivateRedis | None = None
    postgres: PrivatePostgres | None = None
    llms: list[harness.FakeLLM] = field(default_factory=list)
    stack: harness.Stack | None = None

    @property
    def dsn(self) -> str:
        port = self.postgres.port if self.postgres else 5432
        return f"host=127.0.0.1 port={port} user=postgres dbname={self.db_name}"

    def open(self, base_env: dict[str, str], *, queue_prefix: str, redis_db: int) -> None:
        self.db_name = f"desk_fault_{self.name.replace('-', '_')}"
        env = {**base_env, **FAST_TIMERS, **self.env_extra, "CELERY_QUEUE_PREFIX": queue_prefix}
        for key in ("REDIS_CACHE_DB", "REDIS_BROKER_DB", "REDIS_CHANNELS_DB"):
            env[key] = str(redis_db)
        template_ready(env)
        if self.private_redis:
            self.redis = PrivateRedis()
            self.redis.start()
            env["REDIS_URL"] = self.redis.url
        else:
            redis.Redis(db=redis_db).flushdb()
        if self.private_postgres:
            self.postgres = PrivatePostgres()
            self.postgres.start()
            self._copy_template_to_private()
        else:
            with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.db_name}" TEMPLATE "{TEMPLATE}"')
        port = self.postgres.port if self.postgres else 5432
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{port}/{self.db_name}"
        self.env = env
        self.llms = [harness.FakeLLM(latency_s=self.llm_latency_s, chunk_delay_s=0.01) for _ in range(self.llm_count)]
        for llm in self.llms:
            llm.start()

    def _copy_template_to_private(self) -> None:
        assert self.postgres is not None
        with psycopg.connect(f"host=127.0.0.1 port={self.postgres.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:  # fmt: skip
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        dump = subprocess.run(
            [str(self.postgres.bin / "pg_dump"), "-h", "127.0.0.1", "-U", "postgres", "--no-owner", TEMPLATE],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(
            [str(self.postgres.bin / "psql"), "-q", "-h", "127.0.0.1", "-p", str(self.postgres.port), "-U", "postgres",
             "-d", self.db_name, "-v", "ON_ERROR_STOP=1"],
            input=dump, check=True, capture_output=True,
        )  # fmt: skip

    def seed(self, seeder: str) -> None:
        """Run ``seeder()`` with Django on this run's database (a child process: settings are per process)."""
        code = f"import django; django.setup(); from bench import faults; faults.{seeder}({self.llm_urls!r})"
        env = {**self.env, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)

    @property
    def llm_urls(self) -> list[str]:
        return [llm.url for llm in self.llms]

    def start(self) -> harness.Stack:
        self.stack = harness.Stack(env=self.env, llm_concurrency=64)
        self.stack.start(supervise=True)
        return self.stack

    def close(self, *, show_logs: bool = False, keep: bool = False) -> None:
        """Stop everything; ``keep`` leaves the database (shared cluster only) and the logs for a look."""
        if self.stack is not None:
            self.stack.stop(show_logs=show_logs)
        for llm in self.llms:
            llm.proc.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.destroy()
        elif not keep:
            with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        for proc in [*(self.stack.procs.values() if self.stack else []), *(llm.proc for llm in self.llms)]:
            if keep and proc.log_path is not None:
                print(f"   kept: {proc.name} log {proc.log_path}")
            elif proc.log_path is not None and not show_logs:
                proc.log_path.unlink(missing_ok=True)


def run_prefix() -> str:
    return f"f{uuid.uuid4().hex[:6]}"
