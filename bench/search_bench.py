#!/usr/bin/python3
"""Screening benchmark of fmas-search: real evaluations needed to reach 98%
of the final hypervolume of plain NSGA-II (--no-screen), with and without
screening, median over seeds. Run by bench/search_bench.sh.

Two problems, each searched by both modes with every seed, each run on a
space of its own (so that no run sees another's observations):

  synthetic  a categorical space of 6 genes x 4 values (4096 genomes) and the
             synthetic evaluator (tests/clients/evaluators/synthetic.py):
             miou:max, size:min, both measured; its Pareto front is known by
             brute force (24 genomes), and the normalization of the
             hypervolume uses the exact ranges over the whole space.
  mbv2       the DeepLabV3+ MobileNetV2 space (513x513) with the synthetic
             accuracy of a genome (synthetic.py --accuracy mbv2) and the
             bundled example-cpu latency table: miou:max,
             latency@example-cpu:min; the normalization uses the ranges over
             every genome measured by any run.
  transnas   a real accuracy table (--table, default the TransNAS-Bench-101
             macro segmentation data in ../shared/data): six unordered genes
             of block codes 0..4, the evaluator a lookup (bench/table_eval.py:
             pixel_acc:max and its macs_proxy:min; a genome not in the table
             is mapped to the table's nearest architecture). The table's own
             front is the true front; the normalization uses the ranges over
             the table.

The hypervolume is computed here, after every successful evaluation in
journal order, on objectives turned to minimization and normalized to [0, 1]
by the problem's fixed ranges, with reference point (1.1, 1.1). For each
seed the target is 98% of the plain run's final hypervolume; the figure of a
run is the number of evaluations after which its hypervolume first reaches
the target (a run that never reaches it is reported as such).

--variant NAME='ARGS' with --modes screen,NAME compares screened variants
(other --pool, --budget, --init) side by side. Plain runs are the slow part
(every offspring is evaluated): --reuse DIR keeps their journals and reuses
them, and --first-seed splits the seeds among several benches sharing DIR.
"""

import argparse
import fcntl
import http.client
import itertools
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYNTH = ROOT / "tests" / "clients" / "evaluators" / "synthetic.py"
sys.path.insert(0, str(SYNTH.parent))
import synthetic  # noqa: E402

PYTHON = "/usr/bin/python3"
REF = 1.1
TARGET = 0.98


# ------------------------------------------------------------- the service

class Service:
    def __init__(self, fmasd, workdir):
        self.data = Path(workdir) / "data"
        port_file = Path(workdir) / "port"
        self.log = open(Path(workdir) / "fmasd.log", "ab")
        self.proc = subprocess.Popen([str(fmasd), "--listen", "127.0.0.1:0", "--data-dir", str(self.data),
                                      "--port-file", str(port_file)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("fmasd did not start; see " + str(Path(workdir) / "fmasd.log"))
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = conn.getresponse()
        text = r.read()
        conn.close()
        if r.status >= 300:
            raise SystemExit(f"{method} {path}: {r.status} {text[:500]!r}")
        return json.loads(text) if text else None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


# ------------------------------------------------------------- problems

SYN_GENES = [{"name": f"g{i}", "choices": [1, 2, 3, 4]} for i in range(6)]


def synthetic_problem(svc):
    pts = []
    for idx in itertools.product(range(4), repeat=len(SYN_GENES)):
        r = synthetic.synthetic([SYN_GENES[i]["choices"][c] for i, c in enumerate(idx)])
        pts.append((-r["miou"], r["size"]))
    lo = [min(p[k] for p in pts) for k in range(2)]
    hi = [max(p[k] for p in pts) for k in range(2)]
    front = pareto_points(pts)

    def make_space(name):
        svc.call("POST", "/v1/spaces", {"id": name, "genes": SYN_GENES})
        return name

    return {
        "name": "synthetic",
        "objectives": "miou:max,size:min",
        "evaluator": f"{PYTHON} {SYNTH}",
        "make_space": make_space,
        "bounds": (lo, hi),
        "true_hv": hypervolume(normalize(front, lo, hi)),
        "front_size": len(front),
        "space_size": len(pts),
    }


def mbv2_problem(svc):
    space = svc.call("GET", "/v1/spaces/deeplabv3plus-mobilenetv2")
    maxima = json.dumps([max(g["choices"]) for g in space["genes"]], separators=(",", ":"))

    def make_space(name):
        svc.call("POST", "/v1/spaces", {"id": name, "builder": "deeplabv3plus-mobilenetv2"})
        return name

    return {
        "name": "mbv2",
        "objectives": "miou:max,latency@example-cpu:min",
        "evaluator": f"{PYTHON} {SYNTH} --accuracy mbv2 --maxima {maxima}",
        "make_space": make_space,
        "bounds": None,   # from every run's measurements
        "space_size": int(space["subnets"]),
    }


TABLE_EVAL = ROOT / "bench" / "table_eval.py"
# ../shared/data beside the checkout (or beside the directory of worktrees)
DEFAULT_TABLE = next((p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared")
                      if (p / "data").is_dir()), ROOT.parent / "shared") / "data" / \
    "transnas101_macro_segmentsemantic.csv"


def table_problem(svc, table_path):
    sys.path.insert(0, str(TABLE_EVAL.parent))
    import table_eval
    table = table_eval.load(table_path)
    pts = [(-acc, table_eval.macs_proxy(arch)) for arch, acc in table]
    lo = [min(p[k] for p in pts) for k in range(2)]
    hi = [max(p[k] for p in pts) for k in range(2)]
    front = pareto_points(pts)
    genes = [{"name": f"b{i}", "choices": [0, 1, 2, 3, 4], "ordered": False} for i in range(6)]

    def make_space(name):
        svc.call("POST", "/v1/spaces", {"id": name, "genes": genes})
        return name

    return {
        "name": "transnas",
        "objectives": "pixel_acc:max,macs_proxy:min",
        "evaluator": f"{PYTHON} {TABLE_EVAL} {table_path}",
        "make_space": make_space,
        "bounds": (lo, hi),
        "true_hv": hypervolume(normalize(front, lo, hi)),
        "front_size": len(front),
        "space_size": 5 ** len(genes),
    }


# ------------------------------------------------------------- hypervolume

def pareto_points(pts):
    pts = sorted(set(pts))
    front, best = [], float("inf")
    for x, y in pts:            # sorted by x, then y: keep strict improvements in y
        if y < best:
            front.append((x, y))
            best = y
    return front


def normalize(pts, lo, hi):
    return [tuple((p[k] - lo[k]) / (hi[k] - lo[k]) if hi[k] > lo[k] else 0.0 for k in range(2)) for p in pts]


def hypervolume(pts):
    """Exact 2-D hypervolume (minimization) with reference (REF, REF)."""
    front = [p for p in pareto_points(pts) if p[0] < REF and p[1] < REF]
    hv, prev_y = 0.0, REF
    for x, y in front:          # x ascending, y descending
        hv += (REF - x) * (prev_y - y)
        prev_y = y
    return hv


class Trace:
    """The objective vectors (minimized) of a run's successful evaluations,
    in the order the journal recorded them."""

    def __init__(self, journal):
        records = [json.loads(line) for line in Path(journal).read_text().splitlines() if line.strip()]
        config = records[0]
        self.objectives = [o.rsplit(":", 1) for o in config["objectives"]]
        costs = {}
        self.pruned = 0
        for r in records:
            if r["type"] == "screen":
                for x in r["results"]:
                    costs[tuple(x["genome"])] = x.get("costs") or {}
                    self.pruned += not x["keep"]
        self.points = []
        for r in records:
            if r["type"] != "eval" or not r["ok"] or r.get("phase"):
                continue
            v = []
            for name, goal in self.objectives:
                if name.startswith("latency@"):
                    x = costs[tuple(r["genome"])]["latency"][name.split("@", 1)[1]]["ms"]
                else:
                    x = r["output"][name]
                v.append(-x if goal == "max" else x)
            self.points.append(tuple(v))
        self.attempts = sum(1 for r in records if r["type"] == "eval" and not r.get("phase"))

    def hv_curve(self, lo, hi):
        curve, seen = [], []
        for p in self.points:
            seen.append(p)
            curve.append(hypervolume(normalize(seen, lo, hi)))
        return curve


def evaluations_to(curve, target):
    for i, hv in enumerate(curve):
        if hv >= target:
            return i + 1
    return None


# ------------------------------------------------------------- runs

def finished(journal, gens):
    try:
        lines = Path(journal).read_text().splitlines()
    except OSError:
        return False
    last = [json.loads(x) for x in lines if '"type":"generation"' in x]
    return bool(last) and last[-1]["gen"] == gens


def mode_gens(args, mode):
    """Generations of a run: --gens, or --screen-gens for a screened one."""
    return args.gens if mode == "plain" or not args.screen_gens else args.screen_gens


def run_search(args, svc, problem, seed, mode, workdir):
    """mode: "plain" (--no-screen) or "screen"."""
    name = f"{problem['name']}-s{seed}-{mode}"
    gens = mode_gens(args, mode)
    d = Path(workdir) / name
    lock = None
    if args.reuse and (mode == "plain" or args.reuse_all):
        # A search is a function of its seed (and of the binary): a finished
        # journal of the same problem, seed, mode, pop and gens is that run.
        # An unfinished plain one is resumed (plain NSGA-II asks the service
        # for costs only); an unfinished screened one starts over, since the
        # observations it screened against are gone with its service. One
        # bench at a time per journal.
        d = Path(args.reuse) / f"{name}-p{args.pop}-g{gens}"
        d.mkdir(parents=True, exist_ok=True)
        lock = open(d / "lock", "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        if finished(d / "journal.jsonl", gens):
            lock.close()
            trace = Trace(d / "journal.jsonl")
            trace.seconds = float("nan")
            return trace
        if mode != "plain":
            for f in ("journal.jsonl", "out"):
                if (d / f).is_dir():
                    shutil.rmtree(d / f)
                elif (d / f).exists():
                    (d / f).unlink()
    space = problem["make_space"](name)
    cmd = [str(args.search), "--server", svc.url, "--space", space, "--objectives", problem["objectives"],
           "--pop", str(args.pop), "--gens", str(gens), "--seed", str(seed), "--evaluator", problem["evaluator"],
           "-j", str(args.jobs), "--journal", str(d / "journal.jsonl"), "--out", str(d / "out")]
    if mode == "plain":
        cmd.append("--no-screen")
    cmd += args.variants.get(mode, [])
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if lock:
        lock.close()
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)}\nexited {p.returncode}:\n{p.stderr.decode()[-3000:]}")
    trace = Trace(d / "journal.jsonl")
    trace.seconds = time.monotonic() - t0
    return trace


def bench_problem(args, svc, problem, workdir, report):
    modes = ["plain"] + args.modes
    traces = {}
    for seed in args.seed_list:
        for mode in modes:
            t = run_search(args, svc, problem, seed, mode, workdir)
            traces[seed, mode] = t
            print(f"  {problem['name']} seed {seed:2d} {mode:10s}: {len(t.points):4d} evaluations, "
                  f"{t.pruned:4d} pruned, {t.seconds:6.1f} s", file=sys.stderr)
    if problem["bounds"]:
        lo, hi = problem["bounds"]
    else:
        allp = [p for t in traces.values() for p in t.points]
        lo = [min(p[k] for p in allp) for k in range(2)]
        hi = [max(p[k] for p in allp) for k in range(2)]
    rows = []
    for seed in args.seed_list:
        curves = {m: traces[seed, m].hv_curve(lo, hi) for m in modes}
        target = TARGET * curves["plain"][-1]
        row = {"seed": seed, "target_hv": target}
        for m in modes:
            row[m] = {"evals_to_target": evaluations_to(curves[m], target), "total_evals": len(curves[m]),
                      "final_hv": curves[m][-1], "pruned": traces[seed, m].pruned,
                      "seconds": traces[seed, m].seconds}
        rows.append(row)
    summary = {"problem": problem["name"], "seeds": args.seeds, "pop": args.pop, "gens": args.gens,
               "screen_gens": mode_gens(args, "screen"),
               "objectives": problem["objectives"], "bounds": [lo, hi], "modes": {}, "rows": rows}
    med_plain = statistics.median(r["plain"]["evals_to_target"] for r in rows)
    for m in modes:
        e = [r[m]["evals_to_target"] for r in rows]
        med = statistics.median(x if x is not None else float("inf") for x in e)
        per_seed = [r["plain"]["evals_to_target"] / x if x else 0.0 for r, x in zip(rows, e)]
        info = {"median_evals_to_target": med,
                "ratio_of_medians": med_plain / med if med not in (0, float("inf")) else None,
                "median_ratio_per_seed": statistics.median(per_seed),
                "reached_target": f"{sum(x is not None for x in e)}/{len(e)}",
                "median_total_evals": statistics.median(r[m]["total_evals"] for r in rows),
                "median_seconds": statistics.median(r[m]["seconds"] for r in rows)}
        if "true_hv" in problem:
            info["median_final_hv_of_true_front"] = statistics.median(r[m]["final_hv"] for r in rows) / \
                problem["true_hv"]
        summary["modes"][m] = info
    if "true_hv" in problem:
        summary["true_front_hv"] = problem["true_hv"]
        summary["true_front_size"] = problem["front_size"]
    report.append(summary)
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build-bench"))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=1, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--pop", type=int, default=40)     # the example command line
    ap.add_argument("--gens", type=int, default=30)
    ap.add_argument("--screen-gens", type=int, default=0, metavar="N",
                    help="generations of the screened runs (default --gens): a screened run evaluates only "
                         "--budget offspring per generation, so more generations give it room to reach the "
                         "target where --gens leaves it far fewer evaluations than plain NSGA-II")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--problems", default="synthetic,mbv2", help="comma-separated: synthetic, mbv2, transnas")
    ap.add_argument("--table", default=str(DEFAULT_TABLE), help="transnas: the accuracy table (arch_str, "
                    "val_pixel_acc)")
    ap.add_argument("--modes", default="screen",
                    help="variants to compare with plain NSGA-II (comma-separated): screen (the defaults), or "
                         "the name of a --variant")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS",
                    help="a screened variant: NAME runs fmas-search with screening and the extra arguments ARGS "
                         "(e.g. --variant 'pool8=--pool 8 --budget 5' --modes screen,pool8)")
    ap.add_argument("--reuse", metavar="DIR",
                    help="keep the plain runs' journals in DIR and reuse finished ones, resume unfinished ones "
                         "(plain NSGA-II is a function of its seed: the same problem, seed, pop and gens give the "
                         "same run); several benches may share DIR, e.g. one per range of seeds")
    ap.add_argument("--reuse-all", action="store_true",
                    help="with --reuse: the screened runs' finished journals too (valid while fmas-search and "
                         "fmasd stay the same build)")
    ap.add_argument("--workdir", metavar="DIR", help="where the temporary directory of the runs goes")
    ap.add_argument("--keep", action="store_true", help="keep the runs' journals (in the temporary directory)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "search_bench.json"))
    args = ap.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    args.seed_list = list(range(args.first_seed, args.first_seed + args.seeds))
    args.variants = {}
    for v in args.variant:
        name, sep, extra = v.partition("=")
        if not sep or not name or name in ("plain", "screen"):
            raise SystemExit(f"--variant {v!r}: NAME=ARGS, NAME not plain or screen")
        args.variants[name] = shlex.split(extra)
    for m in args.modes:
        if m not in ("screen", *args.variants):
            raise SystemExit(f"--modes: {m!r} is neither screen nor a --variant")
    build = Path(args.build)
    args.search = build / "clients" / "c" / "fmas-search"
    fmasd = build / "fmasd"
    for b in (args.search, fmasd):
        if not os.access(b, os.X_OK):
            raise SystemExit(f"{b} is missing: build it first (bash bench/search_bench.sh does)")
    report = []
    with tempfile.TemporaryDirectory(prefix="fmas-search-bench-", dir=args.workdir) as work:
        svc = Service(fmasd, work)
        try:
            for name in args.problems.split(","):
                if name == "transnas":
                    problem = table_problem(svc, args.table)
                else:
                    problem = synthetic_problem(svc) if name == "synthetic" else mbv2_problem(svc)
                print(f"== {name}: {problem['objectives']}, pop {args.pop}, gens {args.gens} "
                      f"(screened {mode_gens(args, 'screen')}), "
                      f"{args.seeds} seeds", file=sys.stderr)
                s = bench_problem(args, svc, problem, work, report)
                print(f"{name}: evaluations to reach 98% of plain NSGA-II's final hypervolume, median of "
                      f"{args.seeds} seeds (pop {args.pop}, gens {args.gens}, screened {mode_gens(args, 'screen')}):")
                for m, info in s["modes"].items():
                    ratio = info["ratio_of_medians"]
                    text = f"{ratio:.2f}x fewer" if ratio else "target not reached in most seeds"
                    extra = ""
                    if "median_final_hv_of_true_front" in info:
                        extra = f", final hypervolume {info['median_final_hv_of_true_front']:.3f} of the true front's"
                    print(f"  {m:10s} {info['median_evals_to_target']:7g}  {'(baseline)' if m == 'plain' else text}"
                          f"  [per-seed median {info['median_ratio_per_seed']:.2f}x, reached {info['reached_target']}, "
                          f"{info['median_total_evals']:g} evaluations in all, {info['median_seconds']:.0f} s{extra}]")
        finally:
            svc.stop()
            if args.keep:
                kept = Path(tempfile.mkdtemp(prefix="fmas-search-bench-kept-", dir=args.workdir))
                for d in Path(work).iterdir():
                    if d.is_dir() and (d / "journal.jsonl").exists():
                        shutil.copytree(d, kept / d.name)
                print(f"journals kept in {kept}", file=sys.stderr)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"details: {args.out}")


if __name__ == "__main__":
    main()
