#!/usr/bin/env bash
# Surrogate on a real accuracy table: the C library (bench_sur_table, the
# served selection and each kind alone) against scikit-learn peers
# (bench/peer_sur_table.py) on the same 5 seeded splits, in the same run:
# fit on 100 and on 300 architectures, rank the rest. Prints per size the
# median Kendall tau of every method, the served model's margin over the
# best peer, the share of held-out truths within +-2 std, and the time of
# fmas's fit + selection (5-fold CV of every kind, the winner's refit)
# against the peers' fits together (each peer fitted once, no CV).
#
#   bench/sur_table_bench.sh [BUILD_DIR] [TABLE]
#     (defaults build-bench, ../shared/data/transnas101_macro_segmentsemantic.csv)
# Last, `peer_sur_table.py ceiling`: how far 100 rows can go on the table
# at all (the best combination of the peers chosen on the answers, and a
# learning curve of the best single peer up to every other row).
# Both sides run on one thread (OPENBLAS_NUM_THREADS=1 and OMP_NUM_THREADS=1
# hold numpy to one where its BLAS would use more); the BLAS library each
# side calls is printed first.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
table=${2:-../shared/data/transnas101_macro_segmentsemantic.csv}
[ -s "$table" ] || [ $# -ge 2 ] || table=../../shared/data/transnas101_macro_segmentsemantic.csv
out=bench/out
py=/usr/bin/python3
mkdir -p "$out"
[ -s "$table" ] || { echo "sur_table_bench: no table $table" >&2; exit 1; }

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFMAS_TESTS=OFF >/dev/null
cmake --build "$build" --target bench_sur_table -j 2 >/dev/null
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
echo "== BLAS: fmas $(ldd "$build/bench/bench_sur_table" | awk '/openblas|gslcblas/ {print $3; exit}'); numpy $($py bench/peer_sur_table.py blas)"
$py bench/peer_sur_table.py prep "$table" "$out/sur_table.csv"
"$build/bench/bench_sur_table" "$out/sur_table.csv" > "$out/sur_table_c.txt"
$py bench/peer_sur_table.py run "$out/sur_table.csv" > "$out/sur_table_peer.txt"
cat "$out/sur_table_c.txt" "$out/sur_table_peer.txt"
echo
$py - "$out/sur_table_c.txt" "$out/sur_table_peer.txt" <<'PY'
import collections, statistics as st, sys
tau, cov, sec, best = (collections.defaultdict(list) for _ in range(4))
for path in sys.argv[1:]:
    for line in open(path):
        who, *kv = line.split()
        kv = dict(x.split("=", 1) for x in kv)
        key = (int(kv["n"]), "fmas" if who == "sur_table" else "peer", kv["model"])
        tau[key].append(float(kv["tau"]))
        cov[key].append(float(kv["cov2"]))
        if "fit_s" in kv:
            sec[key].append(float(kv["fit_s"]))
        if "best" in kv:
            best[key].append(kv["best"])
print("== surrogate on a real table: median Kendall tau over splits (fit on n, rank the rest)")
for n in sorted({k[0] for k in tau}):
    print(f"n={n}")
    for key in sorted(k for k in tau if k[0] == n):
        c = st.median(cov[key])
        extra = f"  +-2sd coverage {c:.3f}" if c >= 0 else ""
        if best[key]:
            extra += "  (won: " + ",".join(best[key]) + ")"
        print(f"  {key[1]:4s} {key[2]:15s} tau {st.median(tau[key]):.4f}{extra}")
    served = st.median(tau[n, "fmas", "select"])
    peers = {k[2]: st.median(v) for k, v in tau.items() if k[0] == n and k[1] == "peer"}
    top = max(peers, key=peers.get)
    t_c = sum(sec[n, "fmas", "select"])
    t_p = sum(sum(v) for k, v in sec.items() if k[0] == n and k[1] == "peer")
    print(f"  served model: tau {served:.4f}, margin over the best peer ({top} {peers[top]:.4f}) "
          f"{served - peers[top]:+.4f}; +-2sd coverage (median) {st.median(cov[n, 'fmas', 'select']):.3f}, "
          f"min {min(cov[n, 'fmas', 'select']):.3f}")
    print(f"  time over the splits: fmas fit+selection {t_c:.2f} s, scikit-learn peers' fits together "
          f"{t_p:.2f} s: {t_p / t_c:.1f}x")
PY
echo
echo "== ceiling: what 100 rows can give on this table (peer_sur_table.py ceiling)"
$py bench/peer_sur_table.py ceiling "$out/sur_table.csv" > "$out/sur_table_ceiling.txt"
grep '^==' "$out/sur_table_ceiling.txt"
