#!/usr/bin/env bash
# Installs and starts what the test suite needs beyond Python: PostgreSQL (feedback store tests),
# Chromium (browser tests), Redis and nginx (cluster tests, `make cluster`). Idempotent; writes the
# connection settings to .kefu/services.env. Daemons are started directly (no systemd needed), on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .kefu

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Without a CJK font, screenshots of the Chinese UI show boxes.
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v curl >/dev/null 2>&1 || need+=(curl)  # scripts/cluster.sh waits on /readyz with it
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL: start the first cluster on loopback and make a test database.
ver=$(ls /etc/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
  $SUDO pg_ctlcluster "$ver" main start
fi
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -q && break
  sleep 1
done
as_postgres psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='kefu'" | grep -q 1 \
  || as_postgres psql -qc "CREATE ROLE kefu LOGIN PASSWORD 'kefu'"
as_postgres psql -qtAc "SELECT 1 FROM pg_database WHERE datname='kefu_test'" | grep -q 1 \
  || as_postgres psql -qc "CREATE DATABASE kefu_test OWNER kefu"
as_postgres psql -qtAc "SELECT 1 FROM pg_database WHERE datname='kefu_cluster'" | grep -q 1 \
  || as_postgres psql -qc "CREATE DATABASE kefu_cluster OWNER kefu"

# Redis: shared rate limits across replicas; in memory only (no snapshots), loopback only.
REDIS_PORT=${KEFU_REDIS_PORT:-6379}
if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no \
    --dir /tmp --logfile "$PWD/.kefu/redis.log" --pidfile "$PWD/.kefu/redis.pid"
fi
for _ in $(seq 1 30); do
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.2
done

cat > .kefu/services.env <<ENV
KEFU_TEST_POSTGRES_URL=postgresql+psycopg://kefu:kefu@127.0.0.1:5432/kefu_test
KEFU_TEST_CHROMIUM=/usr/bin/chromium
KEFU_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/15
KEFU_TEST_NGINX=/usr/sbin/nginx
KEFU_CLUSTER_DATABASE_URL=postgresql+psycopg://kefu:kefu@127.0.0.1:5432/kefu_cluster
KEFU_CLUSTER_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/1
ENV
echo "services ready: PostgreSQL $ver on 127.0.0.1:5432, Redis on 127.0.0.1:$REDIS_PORT," \
  "Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), $(/usr/sbin/nginx -v 2>&1)"
