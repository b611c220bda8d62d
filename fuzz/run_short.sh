#!/usr/bin/env bash
# A short run of one harness over its seed corpus (CTest fuzz.<name>):
#   fuzz/run_short.sh HARNESS FUZZ_DIR NAME [RUNS]
# New inputs go to a temporary directory, never into the seed corpus.
set -euo pipefail
harness=$1 dir=$2 name=$3 runs=${4:-${FMAS_FUZZ_RUNS:-20000}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(-runs="$runs" -max_total_time="${FMAS_FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$work/")
[ -f "$dir/dict/$name.dict" ] && args+=(-dict="$dir/dict/$name.dict")
status=0
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$harness" "${args[@]}" "$work" "$dir/corpus/$name" >"$work/log" 2>&1 || status=$?
grep -E '^stat::number_of_executed_units|^Done|ERROR|SUMMARY' "$work/log" || true
if [ "$status" -ne 0 ]; then
    tail -n 60 "$work/log"
    for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
        [ -e "$f" ] && { echo "== $f (base64):"; base64 "$f"; }
    done
    exit "$status"
fi
