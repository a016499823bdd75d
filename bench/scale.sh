#!/usr/bin/env bash
# Scale benchmarks (docs/benchmarks.md): the release binary on seeded generated topologies
# (`topoplan generate`, hidden), wall time (median of 5) and peak memory (GNU time), with
# bundling measured beside `cp -r` of the same output tree in the same run.
# Usage: bench/scale.sh [WORKDIR]   (default: a fresh folder under target/)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release
bin=$PWD/target/release/topoplan
work=${1:-$PWD/target/bench-scale}
rm -rf "$work" && mkdir -p "$work"
TIME=${TIME_BIN:-/usr/bin/time}

# Runs "$@" five times; prints "median_seconds peak_kb" (the third of five: wall times here swing with the
# kernel's page reclaim after large runs, see docs/benchmarks.md).
measure() {
  local t m ts=() ms=()
  for _ in 1 2 3 4 5; do
    "$TIME" -f "%e %M" -o "$work/.t" "$@" >/dev/null 2>&1
    read -r t m < "$work/.t"; ts+=("$t"); ms+=("$m")
  done
  printf '%s %s\n' "$(printf '%s\n' "${ts[@]}" | sort -g | sed -n 3p)" "$(printf '%s\n' "${ms[@]}" | sort -g | tail -1)"
}

echo "| command | topology | nodes | median | peak memory |"
echo "|---|---|---|---|---|"
for hosts in 200 2000 20000; do
  f=$work/estate-$hosts.toml
  "$bin" generate --product appm-1.1.0 --hosts "$hosts" --per-host 5 --seed 7 > "$f"
  read -r t m < <(measure "$bin" plan "$f" --format json)
  echo "| plan --format json | estate, $hosts hosts x 5 | $((hosts * 5)) | ${t} s | $((m / 1024)) MB |"
done
for n in 44 800 1500; do
  f=$work/dense-$n.toml
  "$bin" generate --product appm-1.1.0 --dense --per-host "$n" --seed 7 > "$f"
  read -r t m < <(measure "$bin" plan "$f" --format json)
  span=$("$bin" plan "$f" --format json 2>/dev/null | python3 -c 'import json,sys; h=json.load(sys.stdin)["hosts"][0]; print(h["span"], "minimal" if h["span_minimal"] else "lower bound %d" % h["span_lower_bound"])')
  echo "| plan --format json | one host of $n (span $span) | $n | ${t} s | $((m / 1024)) MB |"
done
# The clustered estate: per host, the gateway pair a cluster with a manager and the store and publisher a cluster,
# each behind a front end of its own, and one shared database (issue 17: planning and bundling stay linear).
for hosts in 200 2000; do
  f=$work/clustered-$hosts.toml
  "$bin" generate --product appm-1.2.0 --hosts "$hosts" --per-host 5 --seed 7 --clustered > "$f"
  read -r t m < <(measure "$bin" plan "$f" --format json)
  echo "| plan --format json | clustered estate, $hosts hosts x 5 | $((hosts * 5)) | ${t} s | $((m / 1024)) MB |"
  "$TIME" -f "%e %M" -o "$work/.t" "$bin" bundle "$f" -o "$work/cb" >/dev/null 2>&1
  read -r tb mb < "$work/.t"
  "$TIME" -f "%e %M" -o "$work/.t" cp -r "$work/cb" "$work/cb-copy"
  read -r tc mc < "$work/.t"
  files=$(find "$work/cb" -type f | wc -l)
  echo "| bundle (new folder) | clustered estate, $hosts hosts x 5 | $((hosts * 5)) | ${tb} s ($files files; cp -r ${tc} s) | $((mb / 1024)) MB |"
  rm -rf "$work/cb" "$work/cb-copy"
done
# The unscoped estate beside the scoped one (issue 21): only the links a node cannot do without, so every publisher
# serves every gateway and every gateway lists every store (160,000 list entries at 1,000 nodes, 16 million at
# 10,000), kept as shared lists. Same product (1.2.0) and shape for both; bundles are compared by bytes written per
# second, as an unscoped bundle writes every entry into every reader's files (it is six times larger).
for hosts in 200 2000; do
  for shape in scoped unscoped; do
    f=$work/$shape-$hosts.toml
    flag=$([ "$shape" = unscoped ] && echo --unscoped || true)
    "$bin" generate --product appm-1.2.0 --hosts "$hosts" --per-host 5 --seed 7 $flag > "$f"
    read -r t m < <(measure "$bin" plan "$f" --format json)
    echo "| plan --format json | $shape estate (1.2.0), $hosts hosts x 5 | $((hosts * 5)) | ${t} s | $((m / 1024)) MB |"
    read -r t m < <(measure "$bin" plan "$f")
    echo "| plan (text) | $shape estate (1.2.0), $hosts hosts x 5 | $((hosts * 5)) | ${t} s | $((m / 1024)) MB |"
    if [ "$hosts" = 200 ]; then
      read -r t m < <(measure "$bin" review "$f" -o "$work/review-$shape.html")
      echo "| review -o review.html | $shape estate (1.2.0), $hosts hosts x 5 | $((hosts * 5)) | ${t} s ($(( $(stat -c %s "$work/review-$shape.html") / 1024 )) KB) | $((m / 1024)) MB |"
    fi
    rm -rf "$work/ub"
    "$TIME" -f "%e %M" -o "$work/.t" "$bin" bundle "$f" -o "$work/ub" >/dev/null 2>&1
    read -r tb mb < "$work/.t"
    bytes=$(du -sb "$work/ub" | cut -f1)
    rate=$(python3 -c "print(round($bytes / 1e6 / $tb, 1))")
    echo "| bundle (new folder) | $shape estate (1.2.0), $hosts hosts x 5 | $((hosts * 5)) | ${tb} s ($((bytes / 1000000)) MB written, ${rate} MB/s) | $((mb / 1024)) MB |"
    rm -rf "$work/ub"
  done
done
for ex in topologies/*.toml; do
  read -r t m < <(measure "$bin" graph "$ex" --format svg -o "$work/g.svg")
  echo "| graph --format svg | $(basename "$ex" .toml) | | ${t} s | $((m / 1024)) MB |"
done

# Bundling 10,000 nodes beside cp -r of the tree it writes, then re-bundling unchanged.
f=$work/estate-2000.toml
"$TIME" -f "%e %M" -o "$work/.t" "$bin" bundle "$f" -o "$work/b" >/dev/null 2>&1
read -r tb mb < "$work/.t"
"$TIME" -f "%e %M" -o "$work/.t" cp -r "$work/b" "$work/b-copy"
read -r tc mc < "$work/.t"
"$TIME" -f "%e %M" -o "$work/.t" "$bin" bundle "$f" -o "$work/b" >/dev/null 2>&1
read -r tr mr < "$work/.t"
files=$(find "$work/b" -type f | wc -l)
echo "| bundle (new folder) | estate, 2000 hosts x 5 | 10000 | ${tb} s ($files files) | $((mb / 1024)) MB |"
echo "| cp -r of that bundle | | | ${tc} s | $((mc / 1024)) MB |"
echo "| bundle again (unchanged plan: nothing written) | estate, 2000 hosts x 5 | 10000 | ${tr} s | $((mr / 1024)) MB |"
