#!/usr/bin/env bash
# Screening benchmark of fmas-search (issue: fmas-search / Benchmark):
# real evaluations needed to reach 98% of plain NSGA-II's final hypervolume,
# with and without screening, median over 10 seeds, on a synthetic problem
# with a known front, on the MobileNetV2 space with the example-cpu table, and
# (--problems transnas) on a real accuracy table, the evaluator a lookup.
#
#   bash bench/search_bench.sh [--seeds N] [--pop N] [--gens N] [--screen-gens N] [-j N]
#                              [--problems synthetic,mbv2,transnas]
#   (--screen-gens: generations of the screened runs, default --gens)
#
# Builds a release build (build-bench), starts its fmasd on a free loopback
# port with a temporary data directory, and prints one line per problem;
# per-seed figures go to bench/out/search_bench.json.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFMAS_TESTS=OFF >/dev/null
cmake --build build-bench -j "$(nproc 2>/dev/null || echo 2)" --target fmasd fmas-search >/dev/null
exec /usr/bin/python3 bench/search_bench.py --build build-bench "$@"
