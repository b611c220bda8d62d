#!/usr/bin/python3
"""The HTTP estimate paths of one fmasd, end to end on this machine.

  http_speed.py FMASD prepare OUTDIR   start FMASD, write the wrk bodies
  http_speed.py FMASD batch OUTDIR [FORMAT ...]

`batch` starts FMASD with the bundled table plus a second device (the same
rows, latencies x1.7), then POSTs 10,000 and 100,000 random MobileNetV2-space
genomes on both devices to /v1/spaces/{id}/estimate in each format, best of
a few tries, and prints one line per case:
  batch FORMAT N genomes_per_s RATE seconds S bytes B
FORMAT is json (the default answer), fields (JSON with
?fields=macs,params,latency), csv (Accept: text/csv) or ndjson (Accept:
application/x-ndjson); a server that does not know a format answers 4xx and
the line says 'unsupported'. Every answer is checked: status 200 and one
result per genome.
"""
import csv
import http.client
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import add_second_device, fmasd  # noqa: E402
from peer_space import GENES  # noqa: E402

SPACE = "deeplabv3plus-mobilenetv2"
PATH = f"/v1/spaces/{SPACE}/estimate"
FORMATS = {
    "json": ("", "application/json"),
    "fields": ("&fields=macs,params,latency", "application/json"),
    "csv": ("", "text/csv"),
    "ndjson": ("", "application/x-ndjson"),
}


def genomes(rnd, n):
    return [[rnd.randrange(len(ch)) for _, ch in GENES] for _ in range(n)]


def count_results(fmt, data):
    if fmt in ("json", "fields"):
        return len(json.loads(data)["results"])
    lines = data.decode().splitlines()
    return len(lines) - 1 if fmt == "csv" else len(lines)


def timed(c, fmt, body, n, tries):
    query, accept = FORMATS[fmt]
    best, size = None, 0
    for t in range(tries):
        t0 = time.perf_counter()
        c.request("POST", PATH + "?predict=true" + query, body,
                  {"Content-Type": "application/json", "Accept": accept})
        r = c.getresponse()
        data = r.read()
        dt = time.perf_counter() - t0
        if r.status != 200:
            return None, 0
        if t == 0:
            got = count_results(fmt, data)
            assert got == n, (fmt, n, got)
        size = len(data)
        best = dt if best is None else min(best, dt)
    return best, size


def batch(binary, formats):
    rnd = random.Random(7)
    with fmasd(binary, bundled=True) as (port, c):
        add_second_device(c)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for n, tries in ((10000, 5), (100000, 3)):
            body = json.dumps({"devices": ["example-cpu", "example-gpu"], "genomes": genomes(rnd, n)}).encode()
            for fmt in formats:
                dt, size = timed(c, fmt, body, n, tries)
                if dt is None:
                    print(f"batch {fmt} {n} unsupported")
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                else:
                    print(f"batch {fmt} {n} genomes_per_s {n / dt:.0f} seconds {dt:.4f} bytes {size}", flush=True)


def table_layers(n):
    """n conv2d rows of the bundled table as layer keys (all hits)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lut", "data", "example-cpu.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    names = ("cin", "cout", "k", "stride", "dilation", "groups", "h", "w", "pad", "bn")
    return [dict({"op": "conv2d", "bn": r["bn"] == "1"}, **{a: int(r[a]) for a in names if a != "bn"})
            for r in rows if r["op"] == "conv2d"][:n]


def prepare(outdir):
    """The bodies of the single-estimate runs: one genome, one small network."""
    rnd = random.Random(3)
    os.makedirs(outdir, exist_ok=True)
    one = {"devices": ["example-cpu"], "genomes": genomes(rnd, 1)}
    net = {"devices": ["example-cpu"], "networks": [{"name": "small", "layers": table_layers(6)}]}
    for name, body in (("genome", one), ("network", net)):
        with open(os.path.join(outdir, f"single_{name}.json"), "w") as f:
            json.dump(body, f)


if __name__ == "__main__":
    if sys.argv[2] == "prepare":
        prepare(sys.argv[3])
    else:
        batch(sys.argv[1], sys.argv[4:] or list(FORMATS))
