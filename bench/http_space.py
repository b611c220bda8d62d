#!/usr/bin/python3
"""Space costing over HTTP: start fmasd with the bundled example table, add a
second device (the same rows, latencies x1.7), then POST batches of random
MobileNetV2-space genomes to /v1/spaces/{id}/estimate with both devices.
Prints 'http_space genomes_per_s N'."""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import call, fmasd, throughput  # noqa: E402
from peer_space import GENES  # noqa: E402

SPACE = "deeplabv3plus-mobilenetv2"


def main(binary, batch=1000, clients=2):
    rnd = random.Random(5)
    with fmasd(binary, bundled=True) as (port, c):
        rows = call(c, "GET", "/v1/devices/example-cpu/lut", headers={"Accept": "text/csv"}).decode().splitlines()
        mi = rows[0].split(",").index("latency_mean")
        scaled = [rows[0]] + [",".join(f"{float(x) * 1.7:.3f}" if i == mi else x
                                       for i, x in enumerate(r.split(","))) for r in rows[1:]]
        call(c, "PUT", "/v1/devices/example-gpu", json.dumps({"unit": "us"}))
        call(c, "POST", "/v1/devices/example-gpu/lut", "\n".join(scaled), {"Content-Type": "text/csv"})
        bodies = [json.dumps({"devices": ["example-cpu", "example-gpu"],
                              "genomes": [[rnd.randrange(len(ch)) for _, ch in GENES] for _ in range(batch)]}).encode()
                  for _ in range(8)]
        rate = throughput(port, f"/v1/spaces/{SPACE}/estimate", bodies, batch, "results", clients)
        print(f"http_space genomes_per_s {rate:.0f} (batch {batch}, {clients} clients, 2 devices)")


if __name__ == "__main__":
    main(sys.argv[1])
