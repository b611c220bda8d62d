#!/usr/bin/env bash
# Surrogate benchmark: the C library (bench_sur) against scikit-learn
# (bench/peer_sur.py) on the same data and the same 5 CV folds, in the same
# run, for n = 100, 300, 1000 genomes of the MobileNetV2 space. Prints both
# sides' lines, then per size and model the CV Kendall tau of each side and
# the time of CV + final fit (wall and CPU; ratio = scikit-learn / C), and
# the same for model selection (both CVs + the winner's refit). Each side
# times the best of up to 3 rounds, fewer once its rounds took 5 s.
#
#   bench/sur_bench.sh [BUILD_DIR]     (default build-bench)
#
# Needs bench_sur linked with the sur library (the top-level CMakeLists.txt
# links it). The data (bench/out/sur_data.csv) is made once by
# `peer_sur.py gen`, which uses the PyTorch twin for real MACs and params
# (about a minute); delete the file to make it again.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
out=bench/out
py=/usr/bin/python3
mkdir -p "$out"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFMAS_TESTS=OFF >/dev/null
cmake --build "$build" --target bench_sur -j 2 >/dev/null
[ -s "$out/sur_data.csv" ] || $py bench/peer_sur.py gen "$out"

c=$("$build/bench/bench_sur" "$out")
p=$($py bench/peer_sur.py run "$out")
echo "$c"
echo "$p"

# The value of key in the line of $1 (sur or peer) that contains $2.
field() {
    awk -v who="$1" -v sel="$2" -v key="$3" '$1 == who && index($0, sel) {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }'
}
get() { echo "$1" | field "$2" "$3" "$4"; }

echo
echo "== surrogate fit, C library vs scikit-learn: same data, same folds"
echo "   time = 5-fold CV + final fit (select: every candidate's CV + the winner's refit; its tau the winner's CV tau);"
echo "   ratio = scikit-learn time / C time"
printf "%5s %-6s | %9s %9s %6s | %9s %9s %6s | %7s %7s %8s\n" n model \
    "C wall" "sk wall" ratio "C cpu" "sk cpu" ratio "C tau" "sk tau" "C-sk tau"
for n in 100 300 1000; do
    for kind in ridge gp select; do
        if [ "$kind" = select ]; then
            cb=$(get "$c" sur "n=$n best=" best); pb=$(get "$p" peer "n=$n best=" best)
            cw=$(get "$c" sur "n=$n best=" total_s); pw=$(get "$p" peer "n=$n best=" total_s)
            cc=$(get "$c" sur "n=$n best=" total_cpu); pc=$(get "$p" peer "n=$n best=" total_cpu)
            ct=$(get "$c" sur "n=$n best=" tau); pt=$(get "$p" peer "n=$n kind=$pb " tau)
            note="  (C picked $cb, scikit-learn $pb)"
        else
            sel="n=$n kind=$kind "
            cw=$(awk -v a="$(get "$c" sur "$sel" cv_s)" -v b="$(get "$c" sur "$sel" fit_s)" 'BEGIN { print a + b }')
            pw=$(awk -v a="$(get "$p" peer "$sel" cv_s)" -v b="$(get "$p" peer "$sel" fit_s)" 'BEGIN { print a + b }')
            cc=$(awk -v a="$(get "$c" sur "$sel" cv_cpu)" -v b="$(get "$c" sur "$sel" fit_cpu)" 'BEGIN { print a + b }')
            pc=$(awk -v a="$(get "$p" peer "$sel" cv_cpu)" -v b="$(get "$p" peer "$sel" fit_cpu)" 'BEGIN { print a + b }')
            ct=$(get "$c" sur "$sel" tau); pt=$(get "$p" peer "$sel" tau)
            note=""
        fi
        awk -v n="$n" -v k="$kind" -v cw="$cw" -v pw="$pw" -v cc="$cc" -v pc="$pc" \
            -v ct="$ct" -v pt="$pt" -v note="$note" 'BEGIN {
            printf "%5d %-6s | %8.3fs %8.3fs %5.1fx | %8.3fs %8.3fs %5.1fx | %7.4f %7.4f %+8.4f%s\n",
                   n, k, cw, pw, pw / cw, cc, pc, pc / cc, ct, pt, ct - pt, note }'
    done
done
