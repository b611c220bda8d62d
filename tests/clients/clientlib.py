"""Helpers of the client tests: where the binaries are, running a search,
reading its journal and outputs, and the brute-force Pareto front of the
synthetic evaluator."""

import csv
import io
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("FMAS_ROOT") or HERE.parents[1])
SYNTH = HERE / "evaluators" / "synthetic.py"
PYTHON = "/usr/bin/python3"

sys.path.insert(0, str(HERE / "evaluators"))
import synthetic  # noqa: E402


def binary(name, env):
    if os.environ.get(env):
        return Path(os.environ[env])
    if os.environ.get("FMAS_BUILD"):
        return Path(os.environ["FMAS_BUILD"]) / "clients" / "c" / name
    return ROOT / "build" / "clients" / "c" / name


FMAS_SEARCH = binary("fmas-search", "FMAS_SEARCH")
FMAS_LUT = binary("fmas-lut", "FMAS_LUT")

# The small categorical space of the search tests: 4 genes of 4 values,
# 256 genomes; the synthetic function's front has 15 of them.
TOY_GENES = [{"name": n, "choices": [1, 2, 3, 4]} for n in ("a", "b", "c", "d")]


def create_toy(client, space_id, genes=TOY_GENES):
    client.create_space({"id": space_id, "genes": genes})
    return space_id


def all_genomes(genes):
    return [list(g) for g in itertools.product(*[range(len(x["choices"])) for x in genes])]


def values_of(genes, genome):
    return [genes[i]["choices"][c] for i, c in enumerate(genome)]


def pareto(points):
    """points: {key: (miou, size)} -> set of keys non-dominated (miou max, size min)."""
    front = set()
    for k, (m, s) in points.items():
        dominated = any(m2 >= m and s2 <= s and (m2, s2) != (m, s) for m2, s2 in points.values())
        if not dominated:
            front.add(k)
    return front


def brute_front(genes, exclude=lambda g: False):
    pts = {}
    for g in all_genomes(genes):
        if exclude(g):
            continue
        r = synthetic.synthetic(values_of(genes, g))
        pts[tuple(g)] = (r["miou"], r["size"])
    return pareto(pts)


def evaluator_cmd(*args):
    words = [PYTHON, str(SYNTH), *map(str, args)]
    return " ".join(shell_quote(w) for w in words)


def shell_quote(w):
    if w and all(c.isalnum() or c in "/._-=,:@" for c in w):
        return w
    return "'" + w.replace("'", "'\\''") + "'"


def search_args(port, space, tmp, *, pop=16, gens=12, seed=1, screen=False, objectives="miou:max,size:min",
                evaluator=None, jobs=2, journal=None, out=None, extra=()):
    args = [str(FMAS_SEARCH), "--server", f"http://127.0.0.1:{port}", "--space", space,
            "--objectives", objectives, "--pop", str(pop), "--gens", str(gens), "--seed", str(seed),
            "--evaluator", evaluator or evaluator_cmd(), "-j", str(jobs),
            "--journal", str(journal or (Path(tmp) / "journal.jsonl")),
            "--out", str(out or (Path(tmp) / "out")), *extra]
    if not screen:
        args.append("--no-screen")
    return args


def run(args, timeout=600, env=None, check=True):
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.monotonic()
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=e)
    p.seconds = time.monotonic() - t0
    if check and p.returncode != 0:
        raise AssertionError(f"{args[0]} exited {p.returncode}\nstdout:\n{p.stdout.decode()[-3000:]}\n"
                             f"stderr:\n{p.stderr.decode()[-5000:]}")
    return p


def journal(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def evals(records, ok=None, phase=None):
    out = []
    for r in records:
        if r.get("type") != "eval" or r.get("phase") != phase:
            continue
        if ok is not None and r["ok"] != ok:
            continue
        out.append(r)
    return out


def front_genomes(out_dir):
    doc = json.loads((Path(out_dir) / "front.json").read_text())
    return {tuple(m["genome"]) for m in doc["front"]}, doc


def read_csv(path):
    lines = [l for l in Path(path).read_text().splitlines(keepends=True) if not l.startswith("#")]
    return list(csv.DictReader(io.StringIO("".join(lines))))


def log_calls(path):
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def raw(port, method, path, body=None):
    """(status, parsed JSON or None) of one request, unchecked."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        r = conn.getresponse()
        text = r.read()
    finally:
        conn.close()
    try:
        return r.status, json.loads(text) if text else None
    except ValueError:
        return r.status, None


def has_route(port, method, path):
    """True when fmasd knows the route: its 404 for an unknown route says
    "no route for ..."; any other answer means the route is there."""
    status, doc = raw(port, method, path, {} if method == "POST" else None)
    return not (status == 404 and "no route" in ((doc or {}).get("detail") or ""))
