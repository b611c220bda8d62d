#!/usr/bin/python3
"""A short tour of a running fmasd: its devices, and the cost of a small
network on every device it knows. Standard library only."""
import argparse
import json
import sys
import urllib.error
import urllib.request


def call(server, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        problem = json.loads(e.read() or b"{}")
        sys.exit(f"{method} {path}: {e.code} {problem.get('detail', '')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", default="http://127.0.0.1:8080")
    args = ap.parse_args()
    devices = call(args.server, "GET", "/v1/devices")["devices"]
    print("devices:")
    for d in devices:
        kind = "measured" if d["measured"] else "example/modeled"
        print(f"  {d['name']:<16} {d['unit']:<7} {d['entries']:>6} rows  v{d['lut_version']}  {kind}")
    # A small MobileNetV2-style stem: conv, depthwise, pointwise, add.
    net = {"name": "demo-stem", "layers": [
        {"op": "conv2d", "cin": 3, "cout": 32, "k": 3, "stride": 2, "pad": 0, "h": 513, "w": 513, "bn": True},
        {"op": "conv2d", "cin": 32, "cout": 32, "k": 3, "groups": 32, "pad": 0, "h": 258, "w": 258, "bn": True},
        {"op": "conv2d", "cin": 32, "cout": 16, "k": 1, "h": 256, "w": 256, "bn": True},
    ]}
    est = call(args.server, "POST", "/v1/estimate",
               {"devices": [d["name"] for d in devices], "networks": [net]})
    r = est["results"][0]
    print(f"\n{r['name']}: {r['macs']:,} MACs, {r['params']:,} params")
    for dev, lat in r["latency"].items():
        ms = "n/a" if lat["ms"] is None else f"{lat['ms']:.3f} ms"
        print(f"  {dev:<16} {ms:>12}  hits {lat['hits']}/{lat['layers']}"
              f"{'' if lat['complete'] else '  (incomplete: missing rows)'}")


if __name__ == "__main__":
    main()
