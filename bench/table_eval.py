#!/usr/bin/python3
"""A table-lookup evaluator for the screening benchmark (bench/search_bench.py,
problem transnas): the accuracy of an architecture is read from a real table
(the TransNAS-Bench-101 macro data in ../shared/data, or any CSV with
arch_str and val_pixel_acc columns).

Evaluator protocol as tests/clients/evaluators/synthetic.py: one JSON object
on stdin ({"genome": [indices], ...}), one on stdout with the metrics:

  pixel_acc   val_pixel_acc of the architecture (to maximize)
  macs_proxy  a compute proxy of the architecture (to minimize), defined
              here, not in the table: channels c = 1 and area a = 1 at the
              stem; a block of code 2 doubles the channels, 3 halves the
              side (a / 4), 4 does both, 1 neither; each block adds
              c_in * c_out * a_out; code 0 (no block) adds nothing.

Genome: six genes of choices 0..4 (the block codes; 0 = no block). A genome
that is not an architecture of the table (about 95% of the 5^6 genomes) is
MAPPED to the table's nearest architecture: fewest differing codes, ties to
the lowest row; both metrics are those of that architecture. So every
evaluation measures a real architecture of the table, and the landscape
over all genomes is the table's, extended piecewise-constantly.
"""
import ast
import csv
import json
import sys
from functools import lru_cache


def load(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [(tuple(ast.literal_eval(r["arch_str"])), float(r["val_pixel_acc"])) for r in rows]


def macs_proxy(arch):
    c, a, total = 1.0, 1.0, 0.0
    for code in arch:
        if code == 0:
            continue
        c_out = c * (2 if code in (2, 4) else 1)
        a_out = a / (4 if code in (3, 4) else 1)
        total += c * c_out * a_out
        c, a = c_out, a_out
    return total


def nearest(table, genome):
    """The table row of genome, or the nearest (fewest differing codes,
    lowest row first)."""
    g = tuple(genome)
    best = None
    for i, (arch, acc) in enumerate(table):
        d = sum(x != y for x, y in zip(arch, g))
        if best is None or d < best[0]:
            best = (d, arch, acc)
            if d == 0:
                break
    return best[1], best[2]


def metrics(table, genome):
    arch, acc = nearest(table, genome)
    return {"pixel_acc": acc, "macs_proxy": macs_proxy(arch)}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: table_eval.py TABLE.csv < request.json")
    request = json.loads(sys.stdin.read())
    sys.stdout.write(json.dumps(metrics(load(sys.argv[1]), request["genome"])) + "\n")


if __name__ == "__main__":
    main()
