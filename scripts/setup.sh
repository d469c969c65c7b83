#!/usr/bin/env bash
# Installs what building and testing need, when missing: C/asm build tools
# (Debian packages) and Azurite 3.35.0 (npm, into ./.tools). Idempotent.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

AZURITE_VERSION=3.35.0
tools="$root/.tools"
azurite="$tools/node_modules/.bin/azurite"

# Build tools for C dependencies (the statically linked JPEG codec).
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v nasm >/dev/null || need+=(nasm)
if ((${#need[@]})); then
  echo "setup.sh: installing ${need[*]}" >&2
  if [[ $(id -u) -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [[ ! -x "$azurite" ]] || ! grep -q "\"version\": \"$AZURITE_VERSION\"" \
  "$tools/node_modules/azurite/package.json" 2>/dev/null; then
  echo "setup.sh: installing azurite@$AZURITE_VERSION into $tools" >&2
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" >/dev/null
fi

