"""fmas-profile-networks: time whole subnets end to end and set them beside
the service's LUT-sum estimate, for calibration.

    fmas-profile-networks --server URL --space ID --device NAME --genomes N
                          [--seed S] --out FILE.csv [--cuda] [--repeats R]
                          [--warmup W] [--threads T] [--no-fold-bn] [--extremes]
                          [--torch-device cpu|cuda] [--clock wall|thread]
                          [--stat median|mean] [--interleave] [--no-post]

N random genomes (each gene uniform over its choices, seeded), plus the max
and min genomes with --extremes. Each subnet is built by fmas_twin at the
space's parameters (random weights: latency does not depend on them), in
eval mode, BatchNorm folded into the convs (as fmas-profile-layers times
them, unless --no-fold-bn), and timed on a 1 x 3 x S x S input: warm-up,
then R timed forward passes. The service's estimate for the same genomes
comes from POST /v1/spaces/{id}/estimate.

--device names the fmasd device; --torch-device where to time (cuda without
a GPU: a SKIP line, exit 77; --cuda, the older spelling, exits 1 there).
--clock thread times the timing thread's CPU time; --interleave takes the
repeats round robin over all subnets (repeat r of each before r + 1 of any)
so that a drift of a busy machine hits them alike; --stat says which
statistic is the measurement's mean (default median).

Unless --no-post, the measurements go to POST /v1/devices/NAME/measurements
as one batch ({space, genome, latency: {mean: the statistic, std, count}}),
where they calibrate the device's estimates (docs/latency.md); only for a
device in "us".

CSV columns: index, genome (JSON index array), measured_mean_us,
measured_std_us, measured_median_us, repeats, estimate_us, estimate_complete,
estimate_layers, estimate_missing, macs, params, lut_version, then
estimate_raw_us (rows + predictions, before calibration) and
estimate_predicted. estimate_us is the estimate's total (calibrated when
the device had a calibration at the time). Prints a JSON summary on stdout.
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
           "estimate_missing", "macs", "params", "lut_version", "estimate_raw_us",
           "estimate_predicted"]


def _err(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
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
    ap.add_argument("--torch-device", choices=("cpu", "cuda"), default=None,
                    help="where to time: cpu (default) or cuda (no GPU: SKIP, exit 77)")
    ap.add_argument("--clock", choices=("wall", "thread"), default="wall")
    ap.add_argument("--stat", choices=("median", "mean"), default="median")
    ap.add_argument("--interleave", action="store_true",
                    help="take the repeats round robin over all subnets")
    ap.add_argument("--no-post", action="store_true",
                    help="do not post the measurements to the device")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-fold-bn", action="store_true")
    ap.add_argument("--extremes", action="store_true", help="also the max and min genomes")
    return ap


def _models(args, builder, params, genomes, device):
    """The subnets (eval mode, BN folded unless --no-fold-bn) and their
    input, one at a time: yields (model, x)."""
    import torch
    import fmas_twin
    from . import subnet

    size = params["input_size"]
    for i, g in enumerate(genomes):
        torch.manual_seed(i)
        model = fmas_twin.build(builder, g, input_size=size, num_classes=params["num_classes"],
                                output_stride=params["output_stride"]).eval()
        if not args.no_fold_bn:
            subnet.fold_bn(model, size)
        yield model.to(device), torch.randn(1, 3, size, size, device=device)


def _time_all(args, builder, params, genomes, device):
    """Samples (us) of every subnet: one after another, or interleaved."""
    from . import profile

    if args.interleave:
        built = list(_models(args, builder, params, genomes, device))
        fns = [(lambda m=m, x=x: m(x)) for m, x in built]
        return profile.time_interleaved(fns, device, args.warmup, args.repeats, args.clock)
    out, t0 = [], time.perf_counter()
    for i, (model, x) in enumerate(_models(args, builder, params, genomes, device)):
        out.append(profile.time_fn(lambda: model(x), device, args.warmup, args.repeats,
                                   args.clock))
        _err(f"{i + 1}/{len(genomes)}: measured {statistics.median(out[-1]):.0f} us "
             f"({time.perf_counter() - t0:.1f}s)")
        del model
    return out


def _row(i, g, res, samples, args, lut_version):
    from . import profile

    lat = res.get("latency", {}).get(args.device, {})
    return {"index": i, "genome": json.dumps(g, separators=(",", ":")),
            "measured_mean_us": round(profile.statistic(samples, args.stat), 3),
            "measured_std_us": round(statistics.stdev(samples) if len(samples) > 1 else 0.0, 3),
            "measured_median_us": round(statistics.median(samples), 3),
            "repeats": len(samples),
            "estimate_us": lat.get("total"), "estimate_complete": lat.get("complete"),
            "estimate_layers": lat.get("layers"), "estimate_missing": lat.get("missing"),
            "macs": res.get("macs"), "params": res.get("params"), "lut_version": lut_version,
            "estimate_raw_us": lat.get("raw_total", lat.get("total")),
            "estimate_predicted": lat.get("predicted", 0)}


def _write_csv(path, rows) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("true" if v is True else "false" if v is False else
                            "" if v is None else v) for k, v in r.items()})
    os.replace(tmp, path)


def _post(svc, args, genomes, rows):
    """POST the measurements as one batch; the answer, or None (said why)."""
    dev = svc.device(args.device)
    if (dev or {}).get("unit") != "us":
        _err(f"not posting: device {args.device} counts in {(dev or {}).get('unit')!r}, "
             "these timings are in microseconds")
        return None
    batch = [{"name": f"{args.space}-{r['index']}", "space": args.space, "genome": g,
              "latency": {"mean": r["measured_mean_us"], "std": r["measured_std_us"],
                          "count": r["repeats"]}}
             for g, r in zip(genomes, rows)]
    return svc.request("POST", f"/v1/devices/{args.device}/measurements", batch, ok=(201,))[1]


def _check(args) -> str | None:
    if not args.server:
        return "--server is required (or set FMAS_SERVER)"
    if args.genomes < 0 or args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        return "--genomes >= 0, --repeats >= 1, --warmup >= 0, --threads >= 1"
    return None


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    bad = _check(args)
    if bad:
        _err(bad)
        return 2

    import fmas_twin
    from . import profile
    from .service import ServiceError, resolve_space

    skip = profile.cuda_skip(args, PROG)
    if skip is not None:
        return skip
    try:
        device, svc = profile.open_profiler(args.threads, args.cuda or args.torch_device == "cuda",
                                            args.server, args.token_file)
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
    t0 = time.perf_counter()
    samples = _time_all(args, builder, params, genomes, device)
    rows = [_row(i, g, res, s, args, lut_version)
            for i, (g, res, s) in enumerate(zip(genomes, est["results"], samples))]
    _write_csv(args.out, rows)
    posted = None
    if not args.no_post:
        try:
            posted = _post(svc, args, genomes, rows)
        except ServiceError as e:
            _err(f"posting the measurements: {e}")
            return 1
    json.dump({"server": svc.url, "space": args.space, "device": args.device,
               "genomes": len(rows), "out": os.path.abspath(args.out),
               "lut_version": lut_version, "input_size": params["input_size"],
               "complete": all(r["estimate_complete"] for r in rows),
               "posted": (posted or {}).get("accepted", 0),
               "seconds": round(time.perf_counter() - t0, 2)}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
