#!/usr/bin/python3
"""Regenerate the bundled EXAMPLE table (example-cpu.csv) from a running
fmasd: every distinct layer of the built-in DeepLabV3+ spaces at input sizes
513, 256 and 128, with a MODELED latency (not a measurement):

    latency_us = 4 + macs / 2000 + bytes / 8000

i.e. 2 GMAC/s of compute, 8 GB/s of memory traffic (fp32 input, output and
weights) and 4 us of per-layer overhead: the rough shape of one x86 core.
Usage: make_example.py --server http://127.0.0.1:8080"""
import argparse
import csv
import json
import os
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
COLS = ["op", "cin", "cout", "k", "stride", "dilation", "groups", "h", "w", "pad",
        "out_h", "out_w", "bias", "bn", "dtype", "latency_mean", "latency_std", "count"]


def call(server, method, path, body=None):
    req = urllib.request.Request(server + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return json.loads(data) if data else None


def out_size(n, k, s, d, p):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def modeled_us(key, macs):
    cin, cout = key.get("cin", 0), key.get("cout", key.get("cin", 0))
    h, w = key.get("h", 1), key.get("w", 1)
    if key["op"] == "conv2d":
        oh = out_size(h, key["k"], key["stride"], key["dilation"], key["pad"])
        ow = out_size(w, key["k"], key["stride"], key["dilation"], key["pad"])
        weights = cout * (cin // key["groups"]) * key["k"] ** 2
    elif key["op"] == "upsample":
        oh, ow, weights = key["out_h"], key["out_w"], 0
    elif key["op"] == "global_avgpool":
        oh, ow, weights = 1, 1, 0
    else:
        oh, ow, weights = h, w, 0
    inputs = cin * h * w * (2 if key["op"] == "add" else 1)
    moved = 4 * (inputs + cout * oh * ow + weights)
    return 4.0 + macs / 2000.0 + moved / 8000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="http://127.0.0.1:8080")
    args = ap.parse_args()
    rows = {}
    for builder in ("deeplabv3plus-mobilenetv2", "deeplabv3plus-xception65"):
        for size in (513, 256, 128):
            sid = f"tmp-example-{builder.split('-')[1]}-{size}"
            try:
                call(args.server, "DELETE", f"/v1/spaces/{sid}")
            except Exception:
                pass
            call(args.server, "POST", "/v1/spaces",
                 {"id": sid, "builder": builder, "params": {"input_size": size}})
            for item in call(args.server, "GET", f"/v1/spaces/{sid}/layers")["layers"]:
                key = item["key"]
                text = json.dumps(key, sort_keys=True)
                rows[text] = (key, modeled_us(key, item["macs"]))
            call(args.server, "DELETE", f"/v1/spaces/{sid}")
    with open(os.path.join(HERE, "example-cpu.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(COLS)
        for text in sorted(rows):
            key, us = rows[text]
            wr.writerow([key.get(c, "") if not isinstance(key.get(c), bool) else int(key[c]) for c in COLS[:15]]
                        + [f"{us:.3f}", "0", "1"])
    print(f"wrote {len(rows)} rows")


if __name__ == "__main__":
    main()
