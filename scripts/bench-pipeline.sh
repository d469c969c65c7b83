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
taskset -c 0 cargo bench --quiet --bench pipeline -- "$inputs" 2>/dev/null
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
echo "| input | photosync thumbnail, 9 sizes (ms/file) | vipsthumbnail, one 648 (ms/file) | ratio |"
echo "|---|---|---|---|"
for name in photo-12mp.jpg photo-24mp.jpg photo-12mp-progressive.jpg photo-12mp.png; do
  files=()
  for i in $(seq "$copies"); do
    ln -f "$inputs/$name" "$work/$i-$name"
    files+=("$work/$i-$name")
  done
  ours=$(per_file_ms taskset -c 0 "$bin" thumbnail "${files[@]}" --out "$work/out")
  vips=$(per_file_ms env VIPS_CONCURRENCY=1 taskset -c 0 vipsthumbnail --size 648x648 \
    --smartcrop centre -o "$work/out/%s.jpg[Q=85,strip]" "${files[@]}")
  echo "| $name | $ours | $vips | $(awk "BEGIN {printf \"%.2f\", $ours / $vips}")x |"
  rm -f "${files[@]}"
done
echo

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
echo "## Peak RSS, one 24 MP JPEG ($(du -h "$inputs/photo-24mp.jpg" | cut -f1))"
echo
echo "- photosync thumbnail, 9 sizes: $(( $(rss "$bin" thumbnail "$inputs/photo-24mp.jpg" --out "$work/out") / 1024 )) MB"
echo "- vipsthumbnail, one 648: $(( $(rss vipsthumbnail --size 648x648 --smartcrop centre \
  -o "$work/out/%s.jpg[Q=85,strip]" "$inputs/photo-24mp.jpg") / 1024 )) MB"
