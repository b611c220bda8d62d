"""Head-of-line blocking: how long small GETs are held up while a 100k-row
LUT upload (CSV) and a 100k-row observation POST are in flight.

    /usr/bin/python3 bench/hol_bench.py FMASD [PEER_FMASD]

For each binary: a fresh server (empty data directory) with one HTTP
thread (--threads 1: every connection shares the thread that reads the big
request, so blocking shows on every round, not by chance), then per big
request the measurement of tests/api/test_hol.py (six keep-alive
connections polling GET /v1/health and GET /v1/devices/{name}; delay =
latency - the largest latency of the same GETs on the idle server just
before), three rounds each. Prints the max and p99 delay of every round
(whether a poller shares the HTTP thread of the big request is chance, so
a single round can miss the blocking); with a peer (e.g. a fmasd built
before the work queue) both are measured in the same run.
"""

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "api"))

import fmasapi  # noqa: E402
import test_hol as hol  # noqa: E402

ROUNDS = 3


def one(binary, schemas, lut_body, obs_body):
    tmp = Path(tempfile.mkdtemp(prefix="fmas-hol-"))
    proc = fmasapi.FmasdProcess(tmp / "data", ["--no-bundled", "--refit-delay-ms", "600000", "--threads", "1"],
                                binary=binary)
    try:
        c = proc.start(schemas)
        c.put_device("hol", unit="us")
        c.create_space({"id": "hol", "genes": [{"name": f"g{i}", "choices": [1, 2, 3, 4]} for i in range(8)]})
        paths = ["/v1/health", "/v1/devices/hol"]
        out = {}
        for what, path, body, ctype, status in (
                ("lut", "/v1/devices/hol/lut", lut_body, "text/csv", 200),
                ("obs", "/v1/spaces/hol/observations", obs_body, "application/json", 201)):
            rounds = []
            for _ in range(ROUNDS):
                delays, _base, took = hol.measure(c.port, paths, hol.raw_post(c.port, path, body, ctype, status))
                p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))]
                rounds.append((delays[-1], p99, took))
            out[what] = rounds
        return out
    finally:
        proc.stop(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binaries = sys.argv[1:3]
    schemas = fmasapi.Schemas()
    lut_body = fmasapi.rows_to_csv(hol.lut_rows(hol.ROWS))
    obs_body = hol.obs_body(hol.ROWS, 8)
    for b in binaries:
        r = one(b, schemas, lut_body, obs_body)
        for what, label in (("lut", "100k-row CSV LUT upload"), ("obs", "100k-row observation POST")):
            mx = " / ".join(f"{x[0] * 1e3:.1f}" for x in r[what])
            p99 = " / ".join(f"{x[1] * 1e3:.1f}" for x in r[what])
            took = " / ".join(f"{x[2]:.2f}" for x in r[what])
            print(f"{b}: {label}: GET delay max {mx} ms, p99 {p99} ms (rounds of {took} s)")


if __name__ == "__main__":
    main()
