#!/usr/bin/env bash
# Soak benchmark: fmasd under ten minutes of mixed load at about 80 % of its
# peak, with its memory watched.
#   bash bench/soak.sh
#   SOAK_SECONDS=60 bash bench/soak.sh        a short run
# Environment: SOAK_SECONDS (steady phase, default 600), SOAK_PEAK_SECONDS
# (peak measurement, default 20), SOAK_LOAD (fraction of the peak, default
# 0.8), SOAK_THREADS (wrk threads of the peak phase, one keep-alive
# connection each, default 4), SOAK_STEADY_THREADS (those of the paced phase,
# default twice SOAK_THREADS: a paced connection that waits on a slow synced
# write must not hold the whole phase below its target),
# SOAK_FMASD (a built fmasd; default: the Release build of bench/run in
# build-bench).
#
# Builds a Release build as bench/run does, starts fmasd on a fresh data
# directory with the bundled example table, makes per load thread a device
# and a categorical space (bench/soak_setup.py), then runs wrk with
# bench/soak.lua twice: as fast as fmasd answers for SOAK_PEAK_SECONDS (the
# peak), then paced at SOAK_LOAD of that peak for SOAK_SECONDS (the steady
# phase). The mix: single estimates (/v1/estimate, a space estimate of one
# genome), batch space estimates (100 genomes), LUT uploads (PUT device,
# CSV replace, JSON merge), observations (4 a post; they schedule background
# refits), surrogate reads, screens, and GETs of devices, health and metrics;
# each thread deletes and registers its space again every 25 observation
# posts, so stored data stays bounded.
#
# fmasd's VmRSS and RssAnon (/proc/PID/status) are sampled every 5 s of the
# steady phase. "End" is the last sample under load; "start" is the first
# one after the phase's first tenth (60 s of the default 600): by then
# every space has been deleted and registered again at least once, every
# kind has run thousands of times, and the allocator's per-thread arenas,
# LMDB's reader slots and the mapped pages of the data file have reached
# their working size; growth after that would be a leak or an unbounded
# structure. Prints throughput per kind, errors and RSS; exits 1 when any
# request failed unexpectedly (a non-2xx that is not listed as expected in
# bench/soak.lua, a connection error or timeout) or when VmRSS at the end
# is not within 10 % of VmRSS at the start.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SOAK_SECONDS:-600} peak_secs=${SOAK_PEAK_SECONDS:-20} load=${SOAK_LOAD:-0.8}
threads=${SOAK_THREADS:-4}
steady_threads=${SOAK_STEADY_THREADS:-$((threads * 2))}
setup_threads=$(( steady_threads > threads ? steady_threads : threads ))
fmasd=${SOAK_FMASD:-}
if [ -z "$fmasd" ]; then
    . .ci/deps.sh
    fmas_deps
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFMAS_TESTS=OFF >/dev/null
    cmake --build build-bench -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
    fmasd=build-bench/fmasd
fi
command -v wrk >/dev/null || { echo "soak: wrk is not installed (Debian: apt-get install wrk)" >&2; exit 2; }

work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/data" "$work/bodies"
"$fmasd" --listen 127.0.0.1:0 --port-file "$work/port" --data-dir "$work/data" 2>"$work/fmasd.log" &
pid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
url=http://127.0.0.1:$port
/usr/bin/python3 bench/soak_setup.py "$port" "$setup_threads" "$work/bodies"

rss() { awk '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} END {print r, a}' "/proc/$pid/status"; }
echo "== soak: fmasd $fmasd, peak ${peak_secs}s on $threads connections, steady ${secs}s at $load of the peak on $steady_threads"
echo "   RSS after setup: $(rss | awk '{printf "%d KiB (anon %d KiB)", $1, $2}')"

wrk -t "$threads" -c "$threads" -d "${peak_secs}s" --timeout 10s -s bench/soak.lua "$url" \
    -- "$work/bodies" 0 "$threads" >"$work/peak.txt" 2>"$work/peak.err"
peak=$(awk '/^total/ {print $4}' "$work/peak.txt")
rate=$(awk -v p="$peak" -v l="$load" 'BEGIN {printf "%.0f", p * l}')
echo "== peak: $peak req/s over ${peak_secs}s; steady phase at $rate req/s"
sed 's/^/   /' "$work/peak.txt"

warm=$(( secs / 10 > 5 ? secs / 10 : 5 ))
(
    t=0
    while kill -0 "$pid" 2>/dev/null; do
        echo "$t $(rss)"
        sleep 5
        t=$((t + 5))
    done
) >"$work/rss.txt" &
sampler=$!
wrk -t "$steady_threads" -c "$steady_threads" -d "${secs}s" --timeout 10s -s bench/soak.lua "$url" \
    -- "$work/bodies" "$rate" "$steady_threads" >"$work/steady.txt" 2>"$work/steady.err"
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
after=$(rss)

echo "== steady phase: ${secs}s paced at $rate req/s, answered" \
     "$(awk -v p="$peak" '/^total/ {printf "%s req/s (%.0f %% of the peak)", $4, $4 * 100 / p}' "$work/steady.txt")"
sed 's/^/   /' "$work/steady.txt"
if [ -s "$work/steady.err" ] || [ -s "$work/peak.err" ]; then
    echo "   unexpected answers (first ones):"
    cat "$work/peak.err" "$work/steady.err" | head -n 20 | sed 's/^/     /'
fi
echo "   RSS every 5 s (seconds VmRSS-KiB RssAnon-KiB):"
awk '{printf "%s%s:%d/%d", (NR % 6 == 1 ? "     " : " "), $1, $2, $3} NR % 6 == 0 {print ""}
     END {if (NR % 6) print ""}' "$work/rss.txt"
# Both ends under load (the sampler's clock drifts a little, hence 10 s
# before the end): once the load stops, idle threads give memory back and
# VmRSS drops by some 10 %, which says nothing of a leak.
start=$(awk -v w="$warm" '$1 >= w {print $1, $2, $3; exit}' "$work/rss.txt")
end=$(awk -v s="$secs" '$1 <= s - 10 {e = $1 " " $2 " " $3} END {print e}' "$work/rss.txt")
errs=$(cat "$work/peak.txt" "$work/steady.txt" |
       awk '/^total/ {n += $9 + $11 + $13 + $15 + $17} END {print n + 0}')
read -r s_t s_rss s_anon <<<"$start"
read -r e_t e_rss e_anon <<<"$end"
growth=$(awk -v s="$s_rss" -v e="$e_rss" 'BEGIN {printf "%+.1f", (e - s) * 100 / s}')
echo "== errors $errs; VmRSS at ${s_t}s $s_rss KiB (anon $s_anon), at ${e_t}s $e_rss KiB (anon $e_anon): $growth %;" \
     "after the load stopped $(awk '{printf "%d KiB (anon %d)", $1, $2}' <<<"$after")"
status=0
[ "$errs" -eq 0 ] || { echo "soak: FAIL: $errs requests failed"; status=1; }
awk -v g="$growth" 'BEGIN {exit !(g <= 10 && g >= -10)}' ||
    { echo "soak: FAIL: VmRSS moved $growth % after warm-up (limit 10 %)"; status=1; }
[ "$status" -eq 0 ] && echo "soak: OK"
exit "$status"
