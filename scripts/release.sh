#!/usr/bin/env bash
# Release build for the Azure Functions Linux image, in one command:
#
#   ./scripts/release.sh            # -> target/dist/photosync, photosync-flex.zip,
#                                   #    photosync-polling.zip, SHA256SUMS
#
# The Functions Linux hosts run an older glibc than our build machines, so
# the binary is linked with zig's linker against glibc 2.31 symbols
# (cargo-zigbuild, target x86_64-unknown-linux-gnu.2.31): it runs on any
# x86-64 Linux with glibc 2.31 or newer. The C dependencies (aws-lc for TLS,
# the JPEG codec) are compiled by `zig cc` for that same glibc. Afterwards
# the script proves it: no dynamic symbol may need a GLIBC version above
# 2.31, and the binary must run here.
#
# Installs what is missing, only then: zig and cargo-zigbuild from PyPI into
# .tools/release-venv (both ship prebuilt binaries as wheels), and binutils
# (objdump, strip) from Debian. Uses its own target directory
# (target/release-glibc), so it never fights `cargo build` over locks.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

GLIBC_MAX=2.31
TARGET=x86_64-unknown-linux-gnu
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
venv="$root/.tools/release-venv"
out="$root/target/dist"
export CARGO_TARGET_DIR="$root/target/release-glibc"

while (($#)); do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "release.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# --- tools -------------------------------------------------------------------
if ! command -v objdump >/dev/null || ! command -v strip >/dev/null; then
  echo "release.sh: installing binutils" >&2
  if [[ $(id -u) -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binutils >/dev/null
fi
if [[ ! -x "$venv/bin/cargo-zigbuild" || ! -x "$venv/bin/python-zig" ]]; then
  echo "release.sh: installing ziglang $ZIGLANG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
fi
export PATH="$venv/bin:$PATH"

# --- build -------------------------------------------------------------------
cargo zigbuild --release --locked --target "$TARGET.$GLIBC_MAX"
built="$CARGO_TARGET_DIR/$TARGET/release/photosync"

mkdir -p "$out"
binary="$out/photosync"
cp "$built" "$binary"
strip --strip-all "$binary"

# --- prove it ----------------------------------------------------------------
needed=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u -V || true)
newest=$(printf '%s\n' "$needed" | sed 's/GLIBC_//' | sort -V | tail -n1)
if [[ -n "$newest" ]] && [[ "$(printf '%s\n%s\n' "$newest" "$GLIBC_MAX" | sort -V | tail -n1)" != "$GLIBC_MAX" ]]; then
  echo "release.sh: $binary needs GLIBC_$newest, newer than $GLIBC_MAX:" >&2
  objdump -T "$binary" | grep "GLIBC_$newest" >&2
  exit 1
fi
interpreter=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
libraries=$(readelf -d "$binary" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
version=$("$binary" --version)

# --- packages ----------------------------------------------------------------
"$binary" package --out "$out/photosync-flex.zip" --binary "$binary" --trigger-source eventgrid >/dev/null
"$binary" package --out "$out/photosync-polling.zip" --binary "$binary" --trigger-source polling >/dev/null
(cd "$out" && sha256sum photosync photosync-flex.zip photosync-polling.zip >SHA256SUMS)

cat >&2 <<EOF
release.sh: $version for $TARGET, glibc >= $GLIBC_MAX
  newest glibc symbol version needed: GLIBC_${newest:-none}
  interpreter: ${interpreter:-none (static)}
  shared libraries: ${libraries:-none}
  $(du -h "$binary" | cut -f1)  $binary
  $(du -h "$out/photosync-flex.zip" | cut -f1)  $out/photosync-flex.zip      (Flex Consumption: Event Grid blob trigger)
  $(du -h "$out/photosync-polling.zip" | cut -f1)  $out/photosync-polling.zip   (Consumption / Premium: polling blob trigger)
EOF
