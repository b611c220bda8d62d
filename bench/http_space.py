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
from http_bench import add_second_device, fmasd, throughput  # noqa: E402
from peer_space import GENES  # noqa: E402

SPACE = "deeplabv3plus-mobilenetv2"


def main(binary, batch=1000, clients=2):
    rnd = random.Random(5)
    with fmasd(binary, bundled=True) as (port, c):
        add_second_device(c)
        bodies = [json.dumps({"devices": ["example-cpu", "example-gpu"],
                              "genomes": [[rnd.randrange(len(ch)) for _, ch in GENES] for _ in range(batch)]}).encode()
                  for _ in range(8)]
        rate = throughput(port, f"/v1/spaces/{SPACE}/estimate", bodies, batch, "results", clients)
        print(f"http_space genomes_per_s {rate:.0f} (batch {batch}, {clients} clients, 2 devices)")


if __name__ == "__main__":
    main(sys.argv[1])
