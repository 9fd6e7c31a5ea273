#!/usr/bin/env bash
# Start PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) if this machine has them but they are stopped.
# Machines without them (a laptop) skip this; the tests that need a service then fail with a clear message.
set -u
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  else
    echo "PostgreSQL is not installed here: tests marked 'services' will fail (apt-get install postgresql)"
  fi
fi
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  else
    echo "Redis is not installed here: tests marked 'services' will fail (apt-get install redis-server)"
  fi
fi
# ---- headless browser for the report tests (tests/monitoring): Debian chromium + chromedriver ----------
# Installed only when missing, non-interactively; machines without apt (or without root) just say so.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "installing chromium + chromium-driver (headless browser for the report tests)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; } || true
  else
    echo "chromium is not installed here: the browser test of the report will fail (apt-get install chromium chromium-driver)"
  fi
fi
command -v chromium >/dev/null 2>&1 && echo "chromium available ($(command -v chromium))" || echo "chromium NOT available"
pg_up && echo "PostgreSQL up on 127.0.0.1:5432" || echo "PostgreSQL NOT reachable on 127.0.0.1:5432"
redis_up && echo "Redis up on 127.0.0.1:6379" || echo "Redis NOT reachable on 127.0.0.1:6379"
exit 0
