#!/usr/bin/env bash
# Runs every test against real components: installs what is missing
# (scripts/setup.sh), starts Azurite on 127.0.0.1 in memory, runs
# `cargo test`, and stops Azurite again.
#
#   ./scripts/test.sh                 # everything
#   ./scripts/test.sh --test api      # extra arguments go to `cargo test`
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$root/scripts/with-azurite.sh" cargo test "$@"
