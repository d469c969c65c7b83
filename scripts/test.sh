#!/usr/bin/env bash
# Runs every test against real components: installs what is missing
# (scripts/setup.sh), starts Azurite on 127.0.0.1 in memory, runs
# `cargo test`, and stops Azurite again.
#
#   ./scripts/test.sh                 # everything
#   ./scripts/test.sh --test api      # extra arguments go to `cargo test`
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
  echo "test.sh: something already listens on 127.0.0.1:10000; using it as Azurite" >&2
else
  log="$tools/azurite.log"
  "$azurite" --silent --inMemoryPersistence --disableTelemetry --skipApiVersionCheck \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 >"$log" 2>&1 &
  azurite_pid=$!
  for _ in $(seq 1 300); do
    port_open 10000 && break
    if ! kill -0 "$azurite_pid" 2>/dev/null; then
      echo "test.sh: Azurite exited; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  port_open 10000 || { echo "test.sh: Azurite did not start within 30 s" >&2; exit 1; }
fi

cargo test "$@"
