#!/usr/bin/env bash
# Installs what building and testing need, when missing: C/asm build tools
# and Chromium (Debian packages), Azurite 3.35.0 and playwright-core (npm,
# into ./.tools; playwright-core drives Debian's Chromium in the web tests and
# downloads no browser of its own). Idempotent.
#
#   ./scripts/setup.sh            # everything the tests need
#   ./scripts/setup.sh --build    # only what building needs (scripts/try.sh)
set -euo pipefail

mode=all
case "${1:-}" in
  "") ;;
  --build) mode=build ;;
  *) echo "setup.sh: unknown argument $1 (expected --build or nothing)" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

AZURITE_VERSION=3.35.0
PLAYWRIGHT_CORE_VERSION=1.65.1
tools="$root/.tools"
azurite="$tools/node_modules/.bin/azurite"

# Build tools for C dependencies (the statically linked JPEG codec).
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v nasm >/dev/null || need+=(nasm)
command -v cc >/dev/null || need+=(build-essential)
# The web page's browser tests (tests/api/web.rs) run headless Chromium.
[[ $mode == build || -x /usr/bin/chromium ]] || need+=(chromium)
if ((${#need[@]})); then
  echo "setup.sh: installing ${need[*]}" >&2
  if [[ $(id -u) -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

[[ $mode == build ]] && exit 0

has_version() { grep -q "\"version\": \"$2\"" "$tools/node_modules/$1/package.json" 2>/dev/null; }
if [[ ! -x "$azurite" ]] || ! has_version azurite "$AZURITE_VERSION" \
  || ! has_version playwright-core "$PLAYWRIGHT_CORE_VERSION"; then
  echo "setup.sh: installing azurite@$AZURITE_VERSION and playwright-core@$PLAYWRIGHT_CORE_VERSION into $tools" >&2
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" "playwright-core@$PLAYWRIGHT_CORE_VERSION" >/dev/null
fi

