#!/usr/bin/env bash
# Installs and starts what the test suite needs beyond Python: PostgreSQL (feedback store tests)
# and Chromium (browser tests). Idempotent; writes the connection settings to .kefu/services.env.
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

cat > .kefu/services.env <<ENV
KEFU_TEST_POSTGRES_URL=postgresql+psycopg://kefu:kefu@127.0.0.1:5432/kefu_test
KEFU_TEST_CHROMIUM=/usr/bin/chromium
ENV
echo "services ready: PostgreSQL $ver on 127.0.0.1:5432, Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}')"
