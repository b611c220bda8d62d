#!/usr/bin/env bash
# The HTTP estimate paths of fmasd against the previous fmasd (main at
# 52d633d, built from `git archive` into a temporary directory), both
# measured in this run on this machine:
#   single estimates: wrk (keep-alive, 1 thread, 16 connections) POSTing one
#     small network to /v1/estimate and one genome to
#     /v1/spaces/{id}/estimate (bench/http_speed.lua);
#   batches: 10,000 and 100,000 genomes on 2 devices in JSON, JSON with
#     fields=macs,params,latency, CSV and NDJSON (bench/http_speed.py).
# Prints each figure, its ratio to the peer, and the targets (100k genomes/s;
# 25k requests/s with p99 <= 5 ms).
#   bash bench/http_speed.sh [BUILD_DIR]   (default build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/deps.sh
fmas_deps
fmas_bench_deps
build=${1:-build-bench}
peer_rev=52d633d
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFMAS_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target fmasd >/dev/null
tmp=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$tmp/peer"
git archive "$peer_rev" | tar -x -C "$tmp/peer"
cmake -S "$tmp/peer" -B "$tmp/peer/build" -DCMAKE_BUILD_TYPE=Release -DFMAS_TESTS=OFF >/dev/null
cmake --build "$tmp/peer/build" -j "$(nproc 2>/dev/null || echo 2)" --target fmasd >/dev/null
/usr/bin/python3 bench/http_speed.py - prepare "$tmp/bodies"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wrk against a fresh fmasd: prints "requests_per_s p99_ms errors".
single() {
    local bin=$1 path=$2 body=$3 port data pid
    port=$(free_port)
    data=$(mktemp -d -p "$tmp")
    "$bin" --listen "127.0.0.1:$port" --data-dir "$data" 2>/dev/null &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v1/health" >/dev/null && break; sleep 0.05; done
    FMAS_BODY=$body wrk -t1 -c16 -d2s -s bench/http_speed.lua "http://127.0.0.1:$port$path" >/dev/null
    FMAS_BODY=$body wrk -t1 -c16 -d5s --timeout 5s -s bench/http_speed.lua "http://127.0.0.1:$port$path" |
        awk '/^wrk_result/ {print $3, $7, $9}'
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

echo "== single estimates over keep-alive connections (wrk -t1 -c16, 5 s)"
for case in "network /v1/estimate" "genome /v1/spaces/deeplabv3plus-mobilenetv2/estimate"; do
    set -- $case
    new=$(single "$build/fmasd" "$2" "$tmp/bodies/single_$1.json")
    old=$(single "$tmp/peer/build/fmasd" "$2" "$tmp/bodies/single_$1.json")
    echo "$new $old" | awk -v name="$1" '{
      printf "  one %-8s fmasd %8.0f req/s p99 %6.2f ms | peer %8.0f req/s p99 %6.2f ms | %.2fx | target 25000 req/s, p99 5 ms: %s%s\n",
        name, $1, $2, $4, $5, ($4 > 0 ? $1 / $4 : 0), ($1 >= 25000 && $2 <= 5 ? "met" : "missed"),
        ($3 + $6 > 0 ? " (errors " $3 "/" $6 ")" : "")
    }'
done

echo "== batches of genomes on 2 devices (best of 5 / 3 tries)"
new=$(/usr/bin/python3 bench/http_speed.py "$build/fmasd" batch "$tmp")
old=$(/usr/bin/python3 bench/http_speed.py "$tmp/peer/build/fmasd" batch "$tmp" json)
awk -v old="$old" 'BEGIN {
    n = split(old, lines, "\n")
    for (i = 1; i <= n; i++) { split(lines[i], f, " "); if (f[4] == "genomes_per_s") peer[f[3]] = f[5] }
  }
  $4 == "genomes_per_s" {
    p = peer[$3]
    printf "  %6d genomes %-7s fmasd %9.0f genomes/s (%6.3f s, %5.1f MB) | peer json %9.0f genomes/s | %.2fx | target 100000/s: %s\n",
      $3, $2, $5, $7, $9 / 1e6, p, (p > 0 ? $5 / p : 0), ($5 >= 100000 ? "met" : "missed")
  }
  $4 == "unsupported" { printf "  %6d genomes %-7s unsupported\n", $3, $2 }' <<< "$new"
