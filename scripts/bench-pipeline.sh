#!/usr/bin/env bash
# Photo pipeline benchmark: our nine-size render against libvips'
# `vipsthumbnail` making ONE 648 thumbnail, side by side in the same run,
# single core, many files per process so start-up is amortised; plus the
# 1/8-scale decode floor (in-process) and peak RSS for a 24 MP JPEG.
# Usage: scripts/bench-pipeline.sh [ROUNDS]   (prints a Markdown report)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
copies=10

need=()
command -v vipsthumbnail >/dev/null || need+=(libvips-tools)
[ -x /usr/bin/time ] || need+=(time)
command -v cmake >/dev/null || need+=(cmake)
command -v nasm >/dev/null || need+=(nasm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

inputs="$PWD/target/bench-inputs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet --bin photosync
bin="$PWD/target/release/photosync"

echo "## In-process, one core (cargo bench --bench pipeline)"
echo
taskset -c 1 cargo bench --quiet --bench pipeline -- "$inputs" 2>/dev/null
echo

now_ns() { date +%s%N; }
# Median over rounds of wall-clock ms per file for "$@" run on $copies files.
per_file_ms() {
  local times=() start
  for _ in $(seq "$rounds"); do
    rm -rf "$work/out" && mkdir -p "$work/out"
    start=$(now_ns)
    "$@" >/dev/null 2>&1
    times+=($(( ($(now_ns) - start) / copies / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

echo "## Processes, one core, $copies files per process, median of $rounds rounds"
echo
echo "photosync makes all nine sizes (and, with PHOTOSYNC_CROP=face, the default, detects faces);"
echo "vipsthumbnail makes one 648 thumbnail and detects nothing."
echo
echo "| input | photosync, crop=face (ms/file) | photosync, crop=top (ms/file) | vipsthumbnail, one 648 (ms/file) | face / vips | top / vips |"
echo "|---|---|---|---|---|---|"
for name in photo-12mp.jpg photo-12mp-face.jpg photo-24mp.jpg photo-12mp-progressive.jpg photo-12mp.png; do
  files=()
  for i in $(seq "$copies"); do
    ln -f "$inputs/$name" "$work/$i-$name"
    files+=("$work/$i-$name")
  done
  # A noisy 12 MP PNG (~26 MB) is over the default PHOTOSYNC_MAX_BYTES.
  big=(PHOTOSYNC_MAX_BYTES=67108864 PHOTOSYNC_MEMORY_MB=1024)
  face=$(per_file_ms env "${big[@]}" PHOTOSYNC_CROP=face taskset -c 1 "$bin" thumbnail "${files[@]}" --out "$work/out")
  top=$(per_file_ms env "${big[@]}" PHOTOSYNC_CROP=top taskset -c 1 "$bin" thumbnail "${files[@]}" --out "$work/out")
  vips=$(per_file_ms env VIPS_CONCURRENCY=1 taskset -c 1 vipsthumbnail --size 648x648 \
    --smartcrop centre -o "$work/out/%s.jpg[Q=85,strip]" "${files[@]}")
  echo "| $name | $face | $top | $vips | $(awk "BEGIN {printf \"%.2f\", $face / $vips}")x | $(awk "BEGIN {printf \"%.2f\", $top / $vips}")x |"
  rm -f "${files[@]}"
done
echo

# HEIC, 12 MP, written by an independent encoder (pillow-heif: libheif + x265)
# as iPhones write it: a grid of 512x512 tiles. Fewer files: it is slow.
if python3 -c "import pillow_heif" 2>/dev/null || pip install -q pillow-heif==1.8.1 >/dev/null 2>&1; then
  heic="$inputs/photo-12mp-face.heic"
  [ -f "$heic" ] || python3 -c "
import sys, pillow_heif
from PIL import Image
pillow_heif.from_pillow(Image.open(sys.argv[1])).save(sys.argv[2], quality=75, tile_size=512)
" "$inputs/photo-12mp-face.jpg" "$heic"
  copies_saved=$copies; copies=3
  files=()
  for i in $(seq "$copies"); do ln -f "$heic" "$work/$i.heic"; files+=("$work/$i.heic"); done
  ours=$(per_file_ms taskset -c 1 "$bin" thumbnail "${files[@]}" --out "$work/out")
  vips=$(per_file_ms env VIPS_CONCURRENCY=1 taskset -c 1 vipsthumbnail --size 648x648 \
    --smartcrop centre -o "$work/out/%s.jpg[Q=85,strip]" "${files[@]}" || echo "-")
  echo "## HEIC, 12 MP grid ($(du -h "$heic" | cut -f1)), $copies files per process"
  echo
  echo "- photosync thumbnail, 9 sizes + face crop (heifer): $ours ms/file"
  echo "- vipsthumbnail, one 648 (libheif + libde265): $vips ms/file"
  echo "- photosync peak RSS: $(( $(/usr/bin/time -f %M "$bin" thumbnail "$heic" --out "$work/out" 2>&1 >/dev/null | tail -1) / 1024 )) MB"
  echo
  copies=$copies_saved
  rm -f "${files[@]}"
fi

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
echo "## Peak RSS, one 24 MP JPEG ($(du -h "$inputs/photo-24mp.jpg" | cut -f1))"
echo
echo "- photosync thumbnail, 9 sizes: $(( $(rss "$bin" thumbnail "$inputs/photo-24mp.jpg" --out "$work/out") / 1024 )) MB"
echo "- vipsthumbnail, one 648: $(( $(rss vipsthumbnail --size 648x648 --smartcrop centre \
  -o "$work/out/%s.jpg[Q=85,strip]" "$inputs/photo-24mp.jpg") / 1024 )) MB"
