#!/usr/bin/env bash
# The long run: every harness (or those named) to RUNS executions, split
# over JOBS parallel processes, each with its own working corpus seeded from
# fuzz/corpus/<harness>. Prints per harness the executions reached, exec/s
# and any crash, leak or sanitizer report (kept in build-fuzz/fuzz-work).
#
#   fuzz/run_long.sh [-n RUNS] [-j JOBS] [-t SECONDS] [-T SECONDS] [harness ...]
#     -n  executions per harness (default 10000000)
#     -j  parallel processes per harness (default: the core count)
#     -t  stop a harness after this many seconds anyway (default: none)
#     -T  libFuzzer's per-input timeout, wall clock (default 10); raise it
#         when the run is niced on a busy machine, where a starved process
#         can take that long over an input that needs milliseconds
# Needs clang with its libFuzzer runtime (Debian: clang, libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10000000 jobs=$(nproc 2>/dev/null || echo 2) secs=0 input_secs=10
while getopts n:j:t:T: o; do
    case $o in
    n) runs=$OPTARG ;; j) jobs=$OPTARG ;; t) secs=$OPTARG ;; T) input_secs=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(api batch genome key media query)

build=${FMAS_FUZZ_BUILD:-build-fuzz}
if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=clang cmake -S . -B "$build" -DFMAS_FUZZ=ON -DFMAS_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target fuzz_all -j "$jobs" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
for h in "${harnesses[@]}"; do
    work="$build/fuzz-work/$h"
    mkdir -p "$work/corpus" "$work/artifacts"
    rm -f "$work"/fuzz-*.log
    args=(-runs=$(( (runs + jobs - 1) / jobs )) -timeout="$input_secs" -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$PWD/$work/artifacts/")
    [ "$secs" -gt 0 ] && args+=(-max_total_time="$secs")
    [ -f "fuzz/dict/$h.dict" ] && args+=(-dict="$PWD/fuzz/dict/$h.dict")
    start=$(date +%s)
    status=0
    (cd "$work" && "$OLDPWD/$build/fuzz/fuzz_$h" "${args[@]}" -jobs="$jobs" -workers="$jobs" \
        corpus "$OLDPWD/fuzz/corpus/$h" >/dev/null 2>&1) || status=$?
    wall=$(( $(date +%s) - start ))
    execs=$(cat "$work"/fuzz-*.log 2>/dev/null | awk '/^stat::number_of_executed_units/ {s += $2} END {print s + 0}')
    crashes=$(find "$work/artifacts" -type f | wc -l)
    printf '%-8s %12s executions %8s exec/s %5ss  corpus %5s  reports %s\n' "$h" "$execs" \
        $(( execs / (wall > 0 ? wall : 1) )) "$wall" "$(ls "$work/corpus" | wc -l)" "$crashes"
    if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ] || grep -qs 'ERROR: \|runtime error' "$work"/fuzz-*.log; then
        failed=1
        grep -hs -m3 'ERROR: \|runtime error\|SUMMARY' "$work"/fuzz-*.log || true
        ls "$work/artifacts"
    fi
done
exit "$failed"
