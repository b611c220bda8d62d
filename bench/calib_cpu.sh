#!/usr/bin/env bash
# End-to-end calibration on this machine's CPU (docs/latency.md): profile
# the layers of the MobileNetV2 DeepLabV3+ space at a small input, measure
# random subnets end to end, post them, and print the share of held-out
# networks within +-10 % for the raw layer sum and the calibrated total, and
# the leave-one-network-out accuracy of predicted missing layers.
#   bash bench/calib_cpu.sh [BUILD_DIR] [bench/calib_cpu.py options]
# (default build; e.g. --size 64 --networks 60 --repeats 15)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build=$1; shift; fi
cmake --build "$build" -j 2 --target fmasd >/dev/null
tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
"$build/fmasd" --listen 127.0.0.1:0 --data-dir "$tmp/data" --no-bundled \
    --port-file "$tmp/port" >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "fmasd did not start:"; cat "$tmp/log"; exit 1; }
/usr/bin/python3 bench/calib_cpu.py --server "http://127.0.0.1:$(cat "$tmp/port")" "$@"
