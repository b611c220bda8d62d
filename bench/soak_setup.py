#!/usr/bin/python3
"""Setup of the soak benchmark (bench/soak.sh): against a running fmasd with
the bundled example table, makes per load thread i a device soak-dev-i and a
categorical space soak-i, and writes the request bodies the wrk script
(bench/soak.lua) sends into DIR:

  estimate.json       POST /v1/estimate, one network of 40 example-cpu layers
  space_one.json      POST /v1/spaces/{builtin}/estimate, one genome
  space_batch.json    the same with 100 genomes
  lut.csv, lut.json   LUT uploads (60 rows as CSV, 20 as a JSON array)
  device.json         PUT /v1/devices/soak-dev-i
  space_def_<i>.json  the definition of soak-i (re-registered after deletes)
  screen.json         POST /v1/spaces/soak-i/screen, 30 genomes

  soak_setup.py PORT THREADS DIR
"""
import json
import os
import random
import sys
import urllib.request

BUILTIN = "deeplabv3plus-mobilenetv2"
GENES = [("depth", [1, 2, 3, 4]), ("width", [0.5, 0.75, 1.0]), ("kernel", [3, 5, 7]),
         ("ratio", [2, 4, 6, 8]), ("skip", [0, 1])]


def call(port, method, path, body=None, ctype="application/json"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers={"Content-Type": ctype} if body is not None else {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def write(d, name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def main(port, threads, out):
    rnd = random.Random(11)
    rows = call(port, "GET", "/v1/devices/example-cpu/lut?limit=200").decode()
    entries = json.loads(rows)["entries"]
    keys = [e["key"] for e in entries]
    write(out, "estimate.json", json.dumps(
        {"devices": ["example-cpu"], "networks": [{"name": "soak", "layers": keys[:40]}]}))
    space = json.loads(call(port, "GET", f"/v1/spaces/{BUILTIN}"))
    sizes = [len(g["choices"]) for g in space["genes"]]

    def genome():
        return [rnd.randrange(n) for n in sizes]

    write(out, "space_one.json", json.dumps({"devices": ["example-cpu"], "genomes": [genome()]}))
    write(out, "space_batch.json", json.dumps(
        {"devices": ["example-cpu"], "genomes": [genome() for _ in range(100)]}))
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/devices/example-cpu/lut?limit=60",
                                 headers={"Accept": "text/csv"})
    with urllib.request.urlopen(req, timeout=60) as r:
        csv = r.read().decode()
    write(out, "lut.csv", csv)
    write(out, "lut.json", json.dumps([{"key": e["key"], "latency": e["latency"]}
                                       for e in entries[100:120]]))
    device = json.dumps({"unit": "us", "kind": "cpu", "description": "soak benchmark"})
    write(out, "device.json", device)
    write(out, "screen.json", json.dumps(
        {"genomes": [[rnd.randrange(len(ch)) for _, ch in GENES] for _ in range(30)],
         "objectives": [{"metric": "miou", "goal": "max"}], "confidence": 0.9}))
    for i in range(threads):
        d = json.dumps({"id": f"soak-{i}", "description": "soak benchmark",
                        "genes": [{"name": n, "choices": ch} for n, ch in GENES]})
        write(out, f"space_def_{i}.json", d)
        call(port, "PUT", f"/v1/devices/soak-dev-{i}", device.encode())
        call(port, "POST", f"/v1/devices/soak-dev-{i}/lut", csv.encode(), "text/csv")
        call(port, "POST", "/v1/spaces", d.encode())


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
