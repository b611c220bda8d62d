#!/usr/bin/python3
"""Estimate throughput over HTTP: start fmasd, upload the benchmark LUT,
then POST /v1/estimate batches of networks on keep-alive connections.
Prints 'http_estimate networks_per_s N' (batch size and clients stated)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import call, fmasd, throughput  # noqa: E402


def load_networks(d):
    nets, cur = [], []
    for line in open(f"{d}/networks.txt"):
        line = line.strip()
        if not line:
            nets.append({"layers": cur})
            cur = []
            continue
        p = line.split(",")
        cur.append({"op": p[0], "cin": int(p[1]), "cout": int(p[2]), "k": int(p[3]), "stride": int(p[4]),
                    "dilation": int(p[5]), "groups": int(p[6]), "h": int(p[7]), "w": int(p[8])})
    return nets


def main(binary, d, batch=100, clients=2):
    with fmasd(binary) as (port, c):
        call(c, "PUT", "/v1/devices/bench", json.dumps({"unit": "us"}))
        call(c, "POST", "/v1/devices/bench/lut", open(f"{d}/lut.csv", "rb").read(), {"Content-Type": "text/csv"})
        nets = load_networks(d)
        bodies = [json.dumps({"devices": ["bench"], "networks": nets[i:i + batch]}).encode()
                  for i in range(0, len(nets), batch)]
        rate = throughput(port, "/v1/estimate", bodies, batch, "results", clients)
        print(f"http_estimate networks_per_s {rate:.0f} (batch {batch}, {clients} clients, 100-layer networks)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
