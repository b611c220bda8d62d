"""End-to-end calibration on this machine's CPU (docs/latency.md), against
a running fmasd (bench/calib_cpu.sh starts one):

1. fmas-profile-layers times every distinct layer key of the MobileNetV2
   DeepLabV3+ space at a small input on the CPU and uploads them;
2. fmas-profile-networks measures N random subnets end to end and posts
   the measurements to the device (which fits the calibration);
3. prints the share of networks within +-10 % of the measured latency for
   the raw layer sum and for the calibrated total, both held out (the
   service's leave-one-out figures), and
4. leave-one-network-out prediction of missing layers: for K of the
   networks, the device's table without any row of that network's layers
   (a scratch device), the network's estimate then made of predictions
   only, against the sum of the rows it replaces.

    python3 bench/calib_cpu.py --server URL [--size 64] [--networks 60]
        [--repeats 15] [--layer-repeats 30] [--loo 20] [--out DIR]

Writes DIR/calib_cpu.json (every figure), DIR/networks.csv and
DIR/table_and_networks.json (the table and each measured network's layers).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
BUILDER = "deeplabv3plus-mobilenetv2"
DEVICE = "cpu-calib"


def call(server, method, path, body=None, ok=(200, 201, 204)):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            raw = r.read()
            return json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        if e.code in ok:
            return None
        raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:400]!r}") from e


def tool(name, *args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "clients", "python"),
               OMP_NUM_THREADS="1")
    p = subprocess.run([PY, "-m", f"fmas_eval.cli_{name}", *map(str, args)], env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{name} exited {p.returncode}: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def loo_missing_layers(server, space, genomes, tol=0.10):
    """Per network: its estimate on the table without its layers' rows
    (so every one of its layers is predicted) against its rows' sum."""
    rows = call(server, "GET", f"/v1/devices/{DEVICE}/lut?limit=10000")["entries"]
    out = []
    for g in genomes:
        layers = call(server, "POST", f"/v1/spaces/{space}/expand", {"genome": g})["layers"]
        net = {"layers": [{k: v for k, v in L.items() if k != "name"} for L in layers]}
        mine = {json.dumps(L, sort_keys=True) for L in net["layers"]}
        keep = [r for r in rows if json.dumps(r["key"], sort_keys=True) not in mine]
        # A fresh device: an upload replaces rows key by key, not the table.
        call(server, "DELETE", "/v1/devices/loo-scratch", ok=(204, 404))
        call(server, "PUT", "/v1/devices/loo-scratch", {"unit": "us"})
        call(server, "POST", "/v1/devices/loo-scratch/lut?mode=replace", keep)
        full = call(server, "POST", "/v1/estimate?strict=true",
                    {"devices": [DEVICE], "networks": [net]})["results"][0]["latency"][DEVICE]
        pred = call(server, "POST", "/v1/estimate", {"devices": ["loo-scratch"], "networks": [net]}
                    )["results"][0]["latency"]["loo-scratch"]
        ok = pred["missing"] == 0 and abs(pred["total"] / full["total"] - 1) <= tol
        out.append({"genome": g, "rows_sum": full["total"], "predicted": pred["total"],
                    "predicted_layers": pred["predicted"], "missing": pred["missing"],
                    "within10": ok})
    call(server, "DELETE", "/v1/devices/loo-scratch")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--networks", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--layer-repeats", type=int, default=30)
    ap.add_argument("--loo", type=int, default=20)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "calib_cpu"))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    space = f"calib-mbv2-{args.size}"
    t0 = time.perf_counter()
    call(args.server, "POST", "/v1/spaces",
         {"id": space, "builder": BUILDER, "params": {"input_size": args.size}}, ok=(201, 409))
    lay = tool("profile_layers", "--server", args.server, "--space", space, "--device", DEVICE,
               "--repeats", args.layer_repeats, "--warmup", 5, "--threads", 1,
               "--clock", "thread")
    print(f"layers: {lay['measured']} keys timed, coverage {lay['coverage']} "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    csv_path = os.path.join(args.out, "networks.csv")
    net = tool("profile_networks", "--server", args.server, "--space", space, "--device", DEVICE,
               "--genomes", args.networks, "--seed", args.seed, "--out", csv_path,
               "--repeats", args.repeats, "--warmup", 2, "--threads", 1, "--clock", "thread",
               "--interleave", "--stat", "median")
    print(f"networks: {net['genomes']} measured and {net['posted']} posted "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    meas = call(args.server, "GET", f"/v1/devices/{DEVICE}/measurements")
    cal = meas["calibration"]
    acc = call(args.server, "GET", f"/v1/devices/{DEVICE}/accuracy")
    # The table and every measured network's layers, for analysis offline.
    table = call(args.server, "GET", f"/v1/devices/{DEVICE}/lut?limit=10000")["entries"]
    nets = [{"genome": m["genome"], "measured": m["latency"],
             "layers": call(args.server, "POST", f"/v1/spaces/{space}/expand",
                            {"genome": m["genome"]})["layers"]} for m in meas["measurements"]]
    with open(os.path.join(args.out, "table_and_networks.json"), "w", encoding="utf-8") as f:
        json.dump({"table": table, "networks": nets}, f)
    genomes = [m["genome"] for m in meas["measurements"]][:args.loo]
    loo = loo_missing_layers(args.server, space, genomes)
    n_ok = sum(r["within10"] for r in loo)
    report = {"input_size": args.size, "networks": net["genomes"], "calibration": cal,
              "layer_accuracy": acc["overall"], "loo_missing_layers": loo,
              "loo_within10": n_ok, "loo_networks": len(loo),
              "seconds": round(time.perf_counter() - t0, 1)}
    with open(os.path.join(args.out, "calib_cpu.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(f"end to end, held out, {cal['networks']} networks: within +-10 %: "
          f"raw sum {100 * cal['raw_within10']:.1f} %, calibrated ({cal['model']}) "
          f"{100 * cal['cv_within10']:.1f} %  (relative RMSE raw {100 * cal['raw_rel_rmse']:.1f} %, "
          f"calibrated {100 * cal['cv_rel_rmse']:.1f} %)")
    print(f"layer rows, leave-one-out: {100 * acc['overall']['within10']:.1f} % within +-10 %")
    print(f"missing layers, leave one network out: {n_ok}/{len(loo)} networks "
          f"({100 * n_ok / max(1, len(loo)):.0f} %) within +-10 % of their rows' sum")
    print(f"targets: calibrated >= 95 %, missing-layer >= 90 %; {report['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
