#!/usr/bin/env bash
# The dashboard's load times, against its target of one second on loopback:
# a release fmasd seeded over REST (a small space, then 10,000
# observations), the page opened in headless Chromium by
# tests/web/dashboard.mjs, and the timings it records printed as a share of
# the target. Needs what tests/run installs (Node.js, web/node_modules,
# Chromium).   bash bench/web_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/deps.sh
fmas_deps
(cd web && { [ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null; } && npm run -s build >/dev/null)
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFMAS_TESTS=OFF >/dev/null
cmake --build build-bench -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
out=bench/out/web
mkdir -p "$out"
FMASD=build-bench/fmasd FMAS_ROOT=$PWD FMAS_BUILD=$PWD/build-bench FMAS_WEB_ARTIFACTS=$PWD/$out \
    node --test-reporter=dot tests/web/dashboard.mjs >/dev/null
/usr/bin/python3 - "$out/timings.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
rows = [("load_best", "page ready, best of 3 (every view drawn)"),
        ("load_first", "page ready, first load in a fresh browser"),
        ("first_points_10k", "10,000 observations: first points drawn"),
        ("load_10k", "10,000 observations: every view drawn"),
        ("switch_axis_10k", "10,000 observations: switching the x axis"),
        ("hover_10k", "10,000 observations: hover read-out"),
        ("live_refresh", "a new observation shown without reload")]
print("== dashboard on loopback (target: 1000 ms)")
for key, what in rows:
    if key in t:
        print(f"  {what:48s} {t[key]:8.0f} ms   {t[key] / 1000:.2f}x the target")
PY
