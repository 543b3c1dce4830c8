#!/usr/bin/env bash
# Browser tests: start `huiyin serve --demo` on a fresh data directory (the binary the test
# build made), walk the pages in headless Chromium, save screenshots under target/screenshots/.
# Installs Debian's chromium and CJK fonts and the pinned playwright-core when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
  echo "installing chromium and CJK fonts (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)

BIN=${HUIYIN_BIN:-$ROOT/target/debug/huiyin}
[ -x "$BIN" ] || cargo build -p huiyin
DATA=$(mktemp -d)
PORT=${HUIYIN_E2E_PORT:-18080}
LOG="$DATA/serve.log"
export HUIYIN_DEMO_PASSWORD=${HUIYIN_DEMO_PASSWORD:-Demo-Pass-2026}
"$BIN" serve --demo --data "$DATA" --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 1 240); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG"; echo "huiyin serve exited" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$LOG"; exit 1; }

export HUIYIN_E2E_BASE="http://127.0.0.1:$PORT"
export HUIYIN_E2E_SHOTS="$ROOT/target/screenshots"
export HUIYIN_E2E_LOG="$LOG"
status=0
for t in e2e/tests/${E2E_ONLY:-*}.mjs; do
  echo "-- $t"
  (cd e2e && node "../$t") || status=1
done
exit $status
