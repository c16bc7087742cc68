#!/usr/bin/env bash
# Make sure the real services the tests talk to are up: start PostgreSQL and Redis where they are
# installed but stopped, install Debian's Chromium for the browser tests where apt can, and say
# clearly what is missing otherwise.
set -u
missing=()

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is stopped: starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || missing+=("PostgreSQL on 127.0.0.1:5432 (install postgresql, trust auth for user postgres)")
fi

if ! (command -v redis-cli >/dev/null 2>&1 && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG); then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is stopped: starting it"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && break; sleep 0.5; done
  fi
  redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG || missing+=("Redis on 127.0.0.1:6379 (install redis-server)")
fi

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests"
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/tmp/qeval-apt.log 2>&1 || true
  fi
  [ -x /usr/bin/chromium ] || missing+=("Chromium at /usr/bin/chromium (apt-get install chromium)")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "The test suite needs these and they are missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "services: PostgreSQL, Redis and Chromium are ready"
