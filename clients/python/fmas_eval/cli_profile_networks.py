"""fmas-profile-networks: time whole subnets end to end and set them beside
the service's LUT-sum estimate, for calibration.

    fmas-profile-networks --server URL --space ID --device NAME --genomes N
                          [--seed S] --out FILE.csv [--cuda] [--repeats R]
                          [--warmup W] [--threads T] [--no-fold-bn] [--extremes]

N random genomes (each gene uniform over its choices, seeded), plus the max
and min genomes with --extremes. Each subnet is built by fmas_twin at the
space's parameters (random weights: latency does not depend on them), in
eval mode, BatchNorm folded into the convs (as fmas-profile-layers times
them, unless --no-fold-bn), and timed on a 1 x 3 x S x S input: warm-up,
then R timed forward passes. The service's estimate for the same genomes
comes from POST /v1/spaces/{id}/estimate.

CSV columns: index, genome (JSON index array), measured_mean_us,
measured_std_us, measured_median_us, repeats, estimate_us, estimate_complete,
estimate_layers, estimate_missing, macs, params, lut_version.
Prints a JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import time

PROG = "fmas-profile-networks"
COLUMNS = ["index", "genome", "measured_mean_us", "measured_std_us", "measured_median_us",
           "repeats", "estimate_us", "estimate_complete", "estimate_layers",
           "estimate_missing", "macs", "params", "lut_version"]


def _err(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description="Measure whole subnets against the "
                                 "LUT-sum estimate.")
    ap.add_argument("--server", default=os.environ.get("FMAS_SERVER"))
    ap.add_argument("--token-file", default=None,
                    help="bearer token for fmasd (default $FMAS_TOKEN_FILE, else $FMAS_TOKEN)")
    ap.add_argument("--space", required=True)
    ap.add_argument("--device", required=True, help="the device whose LUT estimates")
    ap.add_argument("--genomes", type=int, required=True, help="random genomes to measure")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="CSV file to write")
    ap.add_argument("--cuda", action="store_true")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-fold-bn", action="store_true")
    ap.add_argument("--extremes", action="store_true", help="also the max and min genomes")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if not args.server:
        _err("--server is required (or set FMAS_SERVER)")
        return 2
    if args.genomes < 0 or args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        _err("--genomes >= 0, --repeats >= 1, --warmup >= 0, --threads >= 1")
        return 2

    import torch
    import fmas_twin
    from . import profile, subnet
    from .service import ServiceError, resolve_space

    try:
        device, svc = profile.open_profiler(args.threads, args.cuda, args.server, args.token_file)
    except profile.SetupError as e:
        _err(str(e))
        return e.status
    try:
        builder, params = resolve_space(args.space, svc.url, args.token_file)
        space = fmas_twin.get_space(builder)
        rng = random.Random(args.seed)
        genomes = [[rng.randrange(len(g.choices)) for g in space.genes]
                   for _ in range(args.genomes)]
        if args.extremes:
            genomes = [space.genes.max_genome(), space.genes.min_genome()] + genomes
        if not genomes:
            _err("no genomes to measure")
            return 2
        est = svc.space_estimate(args.space, genomes, [args.device])
    except ServiceError as e:
        hint = ""
        if e.status == 422 and "device" in str(e):
            hint = " (does the device exist? run fmas-profile-layers first)"
        _err(str(e) + hint)
        return 1
    except ValueError as e:
        _err(str(e))
        return 2
    lut_version = est.get("lut_versions", {}).get(args.device)
    size = params["input_size"]
    rows = []
    t0 = time.perf_counter()
    for i, (g, res) in enumerate(zip(genomes, est["results"])):
        torch.manual_seed(i)
        model = fmas_twin.build(builder, g, input_size=size, num_classes=params["num_classes"],
                                output_stride=params["output_stride"]).eval()
        if not args.no_fold_bn:
            subnet.fold_bn(model, size)
        model = model.to(device)
        x = torch.randn(1, 3, size, size, device=device)
        samples = profile.time_fn(lambda: model(x), device, args.warmup, args.repeats)
        lat = res.get("latency", {}).get(args.device, {})
        rows.append({
            "index": i, "genome": json.dumps(g, separators=(",", ":")),
            "measured_mean_us": round(statistics.fmean(samples), 3),
            "measured_std_us": round(statistics.stdev(samples) if len(samples) > 1 else 0.0, 3),
            "measured_median_us": round(statistics.median(samples), 3),
            "repeats": len(samples),
            "estimate_us": lat.get("total"), "estimate_complete": lat.get("complete"),
            "estimate_layers": lat.get("layers"), "estimate_missing": lat.get("missing"),
            "macs": res.get("macs"), "params": res.get("params"), "lut_version": lut_version})
        _err(f"{i + 1}/{len(genomes)}: measured {rows[-1]['measured_median_us']:.0f} us, "
             f"LUT sum {lat.get('total')} us ({time.perf_counter() - t0:.1f}s)")
        del model
    d = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(d, exist_ok=True)
    tmp = f"{args.out}.tmp{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("true" if v is True else "false" if v is False else
                            "" if v is None else v) for k, v in r.items()})
    os.replace(tmp, args.out)
    json.dump({"server": svc.url, "space": args.space, "device": args.device,
               "genomes": len(rows), "out": os.path.abspath(args.out),
               "lut_version": lut_version, "input_size": size,
               "complete": all(r["estimate_complete"] for r in rows),
               "seconds": round(time.perf_counter() - t0, 2)}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
