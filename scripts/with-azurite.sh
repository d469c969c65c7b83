#!/usr/bin/env bash
# Runs a command with Azurite listening on 127.0.0.1 (in memory), started
# here and stopped afterwards; an Azurite already listening is reused.
#
#   ./scripts/with-azurite.sh cargo bench --bench reconcile
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/setup.sh"
tools="$root/.tools"
azurite="$tools/node_modules/.bin/azurite"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

azurite_pid=""
cleanup() {
  if [[ -n "$azurite_pid" ]]; then
    kill "$azurite_pid" 2>/dev/null || true
    wait "$azurite_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if port_open 10000; then
  echo "with-azurite.sh: something already listens on 127.0.0.1:10000; using it as Azurite" >&2
else
  log="$tools/azurite.log"
  "$azurite" --silent --inMemoryPersistence --disableTelemetry --skipApiVersionCheck \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 >"$log" 2>&1 &
  azurite_pid=$!
  for _ in $(seq 1 300); do
    port_open 10000 && break
    if ! kill -0 "$azurite_pid" 2>/dev/null; then
      echo "with-azurite.sh: Azurite exited; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  port_open 10000 || { echo "with-azurite.sh: Azurite did not start within 30 s" >&2; exit 1; }
fi

"$@"
