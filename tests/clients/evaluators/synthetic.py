#!/usr/bin/python3
"""A synthetic evaluator for the fmas-search tests and benchmark.

It speaks the evaluator protocol (schemas/evaluator-input.json and
schemas/evaluator-output.json): one JSON object on stdin

    {"space": ID, "genome": [indices], "genome_named": {gene: value}, "fidelity": NAME}

and one JSON object on stdout with the metrics. The metrics are a documented
function of the chosen values x_0 .. x_{K-1} (genome_named, in gene order):

    miou = 1 - exp(-(sum_i (K - i) * sqrt(x_i)) / (3 K))     (to maximize)
    size = sum_i (i + 1) * x_i                                 (to minimize)

so early genes buy accuracy cheaply and late genes are expensive: the two
objectives conflict and the Pareto front is a small knapsack-like set.
At fidelity "finetuned" miou is raised by 0.05 (capped below 1).

--accuracy mbv2 computes instead a smooth synthetic accuracy of a
MobileNetV2 space genome (any space: values are normalized per gene by the
largest choice):

    miou = 0.78 - sum_i c_i * (1 - x_i / max_i)^2

with c_i = 0.02 + 0.04 * ((7 * i) mod 5) / 4 (max_i: the gene's largest
choice, given with --maxima), and no size (latency comes from the service).

Failure modes, for the tests (a genome "is hit" when the sum of its choice
indices is divisible by 4; "first attempt" is counted per genome in --state):
  --mode flaky    hit genomes exit 3 on their first attempt
  --mode hang     hit genomes sleep 1000 s on their first attempt (a timeout)
  --mode garbage  hit genomes print non-JSON on their first attempt
  --mode dead     genomes whose index sum is divisible by 5 always exit 4
Every finished call appends one JSON line to --log: the genome, fidelity,
pid, $SYNTH_TAG, the call's attempt number, the request and the answer; it
is written only after the answer reached stdout, so a call whose reader
died is not logged.
"""

import argparse
import fcntl
import json
import math
import os
import sys
import time


def synthetic(values, fidelity="val-subset"):
    """miou and size of a genome's chosen values (see the module doc)."""
    k = len(values)
    score = sum((k - i) * math.sqrt(x) for i, x in enumerate(values)) / (3.0 * k)
    miou = 1.0 - math.exp(-score)
    if fidelity == "finetuned":
        miou = min(miou + 0.05, 0.999)
    size = sum((i + 1) * x for i, x in enumerate(values))
    return {"miou": miou, "size": size}


def mbv2_accuracy(values, maxima):
    """A smooth accuracy of any genome (see the module doc)."""
    acc = 0.78
    for i, (x, m) in enumerate(zip(values, maxima)):
        c = 0.02 + 0.04 * ((7 * i) % 5) / 4.0
        r = x / m if m else 1.0
        acc -= c * (1.0 - r) ** 2
    return {"miou": acc}


def attempt_number(state_dir, genome):
    """1 for the first call with this genome, 2 for the next, ... (a file
    per genome under state_dir, updated under a lock)."""
    if not state_dir:
        return 1
    os.makedirs(state_dir, exist_ok=True)
    path = os.path.join(state_dir, "g" + "_".join(map(str, genome)))
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = len(f.read()) + 1
        f.write("x")
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log")
    ap.add_argument("--state")
    ap.add_argument("--mode", default="ok", choices=["ok", "flaky", "hang", "garbage", "dead"])
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--accuracy", default="synthetic", choices=["synthetic", "mbv2"])
    ap.add_argument("--maxima", help="mbv2: JSON list of the largest choice per gene")
    args = ap.parse_args()
    request = json.loads(sys.stdin.read())
    genome = request["genome"]
    # A named (string) choice counts as its index + 1.
    values = [v if isinstance(v, (int, float)) else genome[i] + 1
              for i, v in enumerate(request["genome_named"].values())]
    fidelity = request.get("fidelity", "val-subset")
    n = attempt_number(args.state, genome)
    hit = sum(genome) % 4 == 0
    if args.sleep:
        time.sleep(args.sleep)
    if args.mode == "dead" and sum(genome) % 5 == 0:
        print(f"synthetic: genome {genome} always fails", file=sys.stderr)
        return 4
    if hit and n == 1:
        if args.mode == "flaky":
            print(f"synthetic: flaky failure of {genome}", file=sys.stderr)
            return 3
        if args.mode == "hang":
            print(f"synthetic: hanging on {genome}", file=sys.stderr, flush=True)
            time.sleep(1000)
        if args.mode == "garbage":
            print("this is not JSON {")
            return 0
    if args.accuracy == "mbv2":
        metrics = mbv2_accuracy(values, json.loads(args.maxima))
    else:
        metrics = synthetic(values, fidelity)
    metrics["extras"] = {"pid": os.getpid(), "attempt": n}
    sys.stdout.write(json.dumps(metrics) + "\n")
    sys.stdout.flush()
    if args.log:
        line = json.dumps({"genome": genome, "fidelity": fidelity, "pid": os.getpid(),
                           "tag": os.environ.get("SYNTH_TAG", ""), "attempt": n,
                           "request": request, "answer": metrics})
        with open(args.log, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
