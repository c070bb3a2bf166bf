#!/usr/bin/env bash
# Make sure Postgres and Redis answer on 127.0.0.1, starting the local ones if they are down,
# and create the desk's database. On a machine without them, say how to get them.
set -euo pipefail
DB_NAME="${DESK_DB_NAME:-desk}"

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "Starting PostgreSQL…"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  else
    echo "PostgreSQL is not running on 127.0.0.1:5432. Start it, or run: docker compose up -d postgres redis" >&2
    exit 1
  fi
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Starting Redis…"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  else
    echo "Redis is not running on 127.0.0.1:6379. Start it, or run: docker compose up -d postgres redis" >&2
    exit 1
  fi
fi

PSQL=(psql -h 127.0.0.1 -U "${PGUSER:-postgres}" -d postgres -tAq)
if ! "${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME}'" | grep -q 1; then
  echo "Creating database ${DB_NAME}…"
  "${PSQL[@]}" -c "CREATE DATABASE \"${DB_NAME}\""
fi
echo "Postgres and Redis are up."
