"""fmas-search end to end: the real fmasd, the real binary, the synthetic
evaluator (tests/clients/evaluators/synthetic.py, a documented function of
the genome).

- the search finds the exact Pareto front known by brute force (plain
  NSGA-II, and with screening once fmasd has POST .../screen);
- the same seed gives the same search with -j 1 and -j 4;
- kill -9 in the middle of a generation, resume from the journal: no
  recorded evaluation is repeated and the front equals the uninterrupted
  run's;
- evaluators that fail, hang past the deadline, print garbage, or always
  fail; fmasd killed and restarted during a search; fmasd down; bad answers;
- --finetune, --launcher, quoting, cost objectives and constraints on a
  builder space with the bundled example-cpu table, the progress line.
"""

import json
import os
import pty
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import clientlib as cl
import fmasapi


def expect_exact_front(out_dir, genes=cl.TOY_GENES, exclude=lambda g: False):
    got, doc = cl.front_genomes(out_dir)
    want = cl.brute_front(genes, exclude)
    assert got == want, f"front differs from brute force: missing {sorted(want - got)}, extra {sorted(got - want)}"
    return doc


def no_repeats(records):
    ok = [tuple(r["genome"]) for r in cl.evals(records, ok=True)]
    assert len(ok) == len(set(ok)), "a genome was measured twice"


# ------------------------------------------------------------ the front

def test_exact_front_plain_nsga2(fmasd, tmp_path, schemas):
    space = cl.create_toy(fmasd.client, "toy")
    log = tmp_path / "calls.jsonl"
    p = cl.run(cl.search_args(fmasd.port, space, tmp_path, evaluator=cl.evaluator_cmd("--log", log)))
    doc = expect_exact_front(tmp_path / "out")
    records = cl.journal(tmp_path / "journal.jsonl")
    no_repeats(records)
    calls = cl.log_calls(log)
    assert len(calls) == len(cl.evals(records, ok=True)) == doc["evaluations"]
    assert len({tuple(c["genome"]) for c in calls}) == len(calls), "the evaluator ran a genome twice"
    assert doc["evaluations"] <= 16 * 13 and doc["pruned"] == 0
    # The evaluator protocol: every request and answer fits its schema.
    for c in calls:
        schemas.validate(c["request"], "evaluator-input.json", "evaluator input")
        schemas.validate(c["answer"], "evaluator-output.json", "evaluator output")
        assert c["request"]["space"] == "toy" and c["request"]["fidelity"] == "val-subset"
        assert list(c["request"]["genome_named"].values()) == cl.values_of(cl.TOY_GENES, c["request"]["genome"])
    # Every measured value went back to fmasd as an observation.
    if cl.has_route(fmasd.port, "GET", f"/v1/spaces/{space}/observations"):
        status, answer = cl.raw(fmasd.port, "GET", f"/v1/spaces/{space}/observations?metric=miou")
        assert status == 200
        obs = answer["observations"]
        assert sorted(map(tuple, (o["genome"] for o in obs))) == sorted(tuple(c["genome"]) for c in calls)
    # Outputs: front.csv mirrors front.json; history.csv one row per generation.
    rows = cl.read_csv(tmp_path / "out" / "front.csv")
    assert [json.loads(r["genome"]) for r in rows] == [m["genome"] for m in doc["front"]]
    assert list(rows[0].keys())[:7] == ["genome", "a", "b", "c", "d", "miou", "size"]
    for r, m in zip(rows, doc["front"]):
        assert float(r["miou"]) == m["metrics"]["miou"] and float(r["size"]) == m["metrics"]["size"]
        assert [int(r[g]) for g in "abcd"] == cl.values_of(cl.TOY_GENES, m["genome"])
    hist = cl.read_csv(tmp_path / "out" / "history.csv")
    assert [int(h["generation"]) for h in hist] == list(range(13))
    hv = [float(h["hypervolume"]) for h in hist]
    assert hv == sorted(hv) and 0 < hv[-1] <= 1.21
    assert int(hist[-1]["evaluations"]) == doc["evaluations"]
    head = (tmp_path / "out" / "history.csv").read_text().splitlines()[0]
    assert head.startswith("# hypervolume") and "reference point (1.1, 1.1)" in head
    assert b"front: 15 genomes" in p.stdout


def screen_available(fmasd, space):
    return cl.has_route(fmasd.port, "POST", f"/v1/spaces/{space}/screen")


def test_exact_front_with_screening(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    if not screen_available(fmasd, space):
        pytest.skip("this fmasd has no POST /v1/spaces/{id}/screen yet")
    log = tmp_path / "calls.jsonl"
    cl.run(cl.search_args(fmasd.port, space, tmp_path, screen=True, gens=20,
                          evaluator=cl.evaluator_cmd("--log", log)))
    doc = expect_exact_front(tmp_path / "out")
    records = cl.journal(tmp_path / "journal.jsonl")
    no_repeats(records)
    screens = [r for r in records if r["type"] == "screen"]
    assert all(s["mode"] == "screen" for s in screens if s["results"])
    # Screening is the point: far fewer evaluations than plain NSGA-II's
    # 16 per generation (which needs about 200 to find this front).
    assert doc["evaluations"] < 100, doc["evaluations"]
    pruned = sum(not x["keep"] for s in screens for x in s["results"])
    assert pruned == doc["pruned"]
    assert len(cl.log_calls(log)) == doc["evaluations"]


def test_same_seed_same_search_any_j(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    runs = []
    for jobs in (1, 4):
        d = tmp_path / f"j{jobs}"
        cl.run(cl.search_args(fmasd.port, space, d, jobs=jobs, pop=10, gens=5))
        runs.append(cl.journal(d / "journal.jsonl"))
    key = lambda recs: [(r["gen"], r["population"], r["rng"]) for r in recs if r["type"] == "generation"]
    assert key(runs[0]) == key(runs[1])
    scr = lambda recs: [r["results"] for r in recs if r["type"] == "screen"]
    assert scr(runs[0]) == scr(runs[1])
    assert cl.front_genomes(tmp_path / "j1" / "out")[0] == cl.front_genomes(tmp_path / "j4" / "out")[0]
    # Another seed makes another search.
    cl.run(cl.search_args(fmasd.port, space, tmp_path / "s2", seed=2, pop=10, gens=5))
    assert key(cl.journal(tmp_path / "s2" / "journal.jsonl")) != key(runs[0])


# ------------------------------------------------------------ pre-selection

SIX_GENES = [{"name": f"g{i}", "choices": [1, 2, 3, 4]} for i in range(6)]


def screen_calls(port):
    """POST .../screen requests fmasd has answered so far (its /metrics)."""
    import http.client
    import re
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return sum(int(v) for v in re.findall(r'fmas_http_requests_total\{method="POST",route="/v1/spaces/\{id\}/screen",'
                                          r'status="\d+"\} (\d+)', text))


def test_pool_is_screened_in_one_call_and_the_budget_holds(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "six", SIX_GENES)
    if not screen_available(fmasd, space):
        pytest.skip("this fmasd has no POST /v1/spaces/{id}/screen yet")
    pop, gens, pool, budget, init = 12, 6, 3, 4, 10
    calls0 = screen_calls(fmasd.port)
    log = tmp_path / "calls.jsonl"
    cl.run(cl.search_args(fmasd.port, space, tmp_path, screen=True, pop=pop, gens=gens,
                          evaluator=cl.evaluator_cmd("--log", log),
                          extra=["--pool", str(pool), "--budget", str(budget), "--init", str(init)]))
    # One screen request per generation, whatever the pool's size.
    assert screen_calls(fmasd.port) - calls0 == gens + 1
    records = cl.journal(tmp_path / "journal.jsonl")
    config = records[0]
    assert config["pool"] == pool and config["budget"] == budget and config["init"] == init
    no_repeats(records)
    screens = {r["gen"]: r for r in records if r["type"] == "screen"}
    assert sorted(screens) == list(range(gens + 1))
    measured = {}
    for r in cl.evals(records, ok=True):
        measured.setdefault(r["gen"], []).append(r["genome"])
    # Generation 0: pop random genomes, of which the first --init (there is
    # nothing to rank them by yet) are evaluated.
    res0 = screens[0]["results"]
    assert len(res0) == pop and all(x["keep"] for x in res0)
    assert screens[0]["order"] == list(range(init))
    assert [x["chosen"] for x in res0] == [True] * init + [False] * (pop - init)
    assert sorted(measured[0]) == sorted(x["genome"] for x in res0[:init])
    for g in range(1, gens + 1):
        res = screens[g]["results"]
        assert len(res) == pool * pop, (g, len(res))
        kept = [i for i, x in enumerate(res) if x["keep"]]
        chosen = [i for i in kept if res[i]["chosen"]]
        assert all("chosen" not in x for x in res if not x["keep"])
        assert len(chosen) == min(budget, len(kept))
        assert sorted(screens[g]["order"]) == chosen
        # Exactly the chosen ones were evaluated, in the order the record gives
        # (with -j 2, two may finish in either order).
        assert sorted(measured.get(g, [])) == sorted(res[i]["genome"] for i in chosen)
        assert len(measured.get(g, [])) <= budget
    # The outranked ones were not evaluated; one may come back in a later pool.
    doc = json.loads((tmp_path / "out" / "front.json").read_text())
    assert doc["search"]["pool"] == pool and doc["search"]["budget"] == budget
    hist = cl.read_csv(tmp_path / "out" / "history.csv")
    evals = [int(h["evaluations"]) for h in hist]
    assert evals[0] == init and all(0 <= b - a <= budget for a, b in zip(evals, evals[1:]))
    assert int(hist[-1]["outranked"]) == doc["outranked"] > 0
    assert int(hist[-1]["pruned"]) == doc["pruned"]
    assert len(cl.log_calls(log)) == doc["evaluations"] == evals[-1]


def test_preselection_is_deterministic_any_j(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "six-a", SIX_GENES)
    if not screen_available(fmasd, space):
        pytest.skip("this fmasd has no POST /v1/spaces/{id}/screen yet")
    cl.create_toy(fmasd.client, "six-b", SIX_GENES)
    runs = []
    for jobs, sp in ((1, "six-a"), (4, "six-b")):
        d = tmp_path / f"j{jobs}"
        cl.run(cl.search_args(fmasd.port, sp, d, screen=True, jobs=jobs, pop=10, gens=5))
        runs.append(cl.journal(d / "journal.jsonl"))
    key = lambda recs: [(r["gen"], r["population"], r["rng"]) for r in recs if r["type"] == "generation"]

    def scr(recs):
        # The same predictions and choices (the service's model_version
        # counts its refits, which background refits may add to).
        out = []
        for r in recs:
            if r["type"] != "screen":
                continue
            for x in r["results"]:
                for p in (x.get("predicted") or {}).values():
                    if p:
                        p.pop("model_version", None)
            out.append((r["results"], r.get("order")))
        return out
    assert key(runs[0]) == key(runs[1])
    assert scr(runs[0]) == scr(runs[1])


def test_journal_without_pool_resumes_as_it_was_made(fmasd, tmp_path):
    """A journal written before --pool and --budget (every kept offspring
    evaluated) resumes with the default options as the search it was."""
    ref_space = cl.create_toy(fmasd.client, "old-ref")
    if not screen_available(fmasd, ref_space):
        pytest.skip("this fmasd has no POST /v1/spaces/{id}/screen yet")
    old_space = cl.create_toy(fmasd.client, "old")
    pop, gens = 8, 4
    # The reference: the old behaviour spelled out.
    cl.run(cl.search_args(fmasd.port, ref_space, tmp_path / "ref", screen=True, pop=pop, gens=gens,
                          extra=["--pool", "1", "--budget", str(pop), "--init", str(pop)]))
    ref = cl.journal(tmp_path / "ref" / "journal.jsonl")
    # The same search stopped after generation 1, its journal as the old
    # client wrote it (no pool, budget, init, chosen, order, outranked).
    d = tmp_path / "old"
    cl.run(cl.search_args(fmasd.port, old_space, d, screen=True, pop=pop, gens=1,
                          extra=["--pool", "1", "--budget", str(pop), "--init", str(pop)]))
    lines = []
    for r in cl.journal(d / "journal.jsonl"):
        for k in ("pool", "budget", "init", "order", "outranked"):
            r.pop(k, None)
        for x in r.get("results", []):
            x.pop("chosen", None)
        lines.append(json.dumps(r) + "\n")
    (d / "journal.jsonl").write_text("".join(lines))
    p = cl.run(cl.search_args(fmasd.port, old_space, d, screen=True, pop=pop, gens=gens))
    assert b"resuming from" in p.stderr
    after = cl.journal(d / "journal.jsonl")
    gen = lambda recs: [(r["gen"], r["population"], r["rng"]) for r in recs if r["type"] == "generation"]
    assert gen(after) == gen(ref)
    assert cl.front_genomes(d / "out")[0] == cl.front_genomes(tmp_path / "ref" / "out")[0]
    # Options that would make another search are refused.
    p = cl.run(cl.search_args(fmasd.port, old_space, d, screen=True, pop=pop, gens=gens, extra=["--pool", "3"]),
               check=False)
    assert p.returncode == 1 and b"belongs to another search" in p.stderr and b"pool" in p.stderr


# ------------------------------------------------------------ kill -9

def kill_mid_generation(args, journal_path, env, min_evals):
    """Start a search, SIGKILL it once the journal holds min_evals
    evaluations and its last record is an evaluation (mid-generation)."""
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **env})
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the search ended before the kill: {proc.stderr.read().decode()[-2000:]}"
            if journal_path.exists():
                lines = journal_path.read_text().splitlines()
                n = sum('"type":"eval"' in l for l in lines)
                if n >= min_evals and lines and '"type":"eval"' in lines[-1]:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return
            time.sleep(0.01)
        raise AssertionError("no mid-generation moment to kill at")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("screen", [False, True], ids=["plain", "screen"])
def test_kill9_and_resume(fmasd, tmp_path, screen):
    # Screening evaluates few genomes per generation (--init, then --budget,
    # chosen from pools of 4 * pop): a larger space, more generations, so
    # that there is a middle of a generation to kill at twice; the pools and
    # their outranked genomes are replayed too.
    genes = SIX_GENES if screen else cl.TOY_GENES
    ref_space = cl.create_toy(fmasd.client, "toy-ref", genes)
    crash_space = cl.create_toy(fmasd.client, "toy-crash", genes)
    if screen and not screen_available(fmasd, ref_space):
        pytest.skip("this fmasd has no POST /v1/spaces/{id}/screen yet")
    pop, gens = 12, 7
    extra = []
    if screen:
        gens, extra = 10, ["--budget", "4"]
    # The uninterrupted run.
    cl.run(cl.search_args(fmasd.port, ref_space, tmp_path / "ref", screen=screen, pop=pop, gens=gens, extra=extra))
    ref = cl.journal(tmp_path / "ref" / "journal.jsonl")
    # The same search, killed twice mid-generation, resumed each time.
    log = tmp_path / "calls.jsonl"
    d = tmp_path / "crash"
    args = cl.search_args(fmasd.port, crash_space, d, screen=screen, pop=pop, gens=gens, extra=extra,
                          evaluator=cl.evaluator_cmd("--log", log, "--sleep", "0.05"))
    jpath = d / "journal.jsonl"
    kill_mid_generation(args, jpath, {"SYNTH_TAG": "first"}, 15)
    before = cl.journal(jpath)
    kill_mid_generation(args, jpath, {"SYNTH_TAG": "second"}, len(cl.evals(before)) + 15)
    middle = cl.journal(jpath)
    p = cl.run(args, env={"SYNTH_TAG": "third"})
    assert b"resuming from" in p.stderr
    after = cl.journal(jpath)
    # Nothing recorded before a kill was evaluated again after it.
    calls = cl.log_calls(log)
    for recorded, tags in ((before, ("second", "third")), (middle, ("third",))):
        done = {tuple(r["genome"]) for r in cl.evals(recorded, ok=True)}
        again = [c["genome"] for c in calls if c["tag"] in tags and tuple(c["genome"]) in done]
        assert not again, f"recorded evaluations repeated after resume: {again}"
    no_repeats(after)
    # The same search as the uninterrupted one: same generations, same front.
    gen = lambda recs: [(r["gen"], r["population"], r["rng"]) for r in recs if r["type"] == "generation"]
    assert gen(after) == gen(ref)
    assert cl.front_genomes(d / "out")[0] == cl.front_genomes(tmp_path / "ref" / "out")[0]
    # The service holds each measurement once, whenever the kills fell
    # (also between storing a batch and journaling it).
    assert stored_genomes(fmasd, crash_space) == stored_genomes(fmasd, ref_space)


def stored_genomes(fmasd, space):
    """{metric: sorted genomes of its observations} (repeats kept)."""
    out = {}
    for o in fmasd.client.observations(space)["observations"]:
        out.setdefault(o["metric"], []).append(o["genome"])
    return {m: sorted(g) for m, g in out.items()}


def test_a_batch_stored_but_not_journaled_is_not_stored_again(fmasd, tmp_path):
    # A search killed after the service stored a generation's observations
    # and before its journal said so posts that batch again when resumed:
    # its Idempotency-Key makes the service store it once.
    space = cl.create_toy(fmasd.client, "toy-once")
    args = cl.search_args(fmasd.port, space, tmp_path, pop=6, gens=3)
    cl.run(args)
    jpath = tmp_path / "journal.jsonl"
    lines = jpath.read_text().splitlines(keepends=True)
    assert len(json.loads(lines[0])["run"]) == 32
    done = cl.journal(jpath)
    last_posted = max(i for i, r in enumerate(done) if r["type"] == "posted")
    before = stored_genomes(fmasd, space)
    assert all(len(g) == len({tuple(x) for x in g}) for g in before.values())
    jpath.write_text("".join(lines[:last_posted]))
    p = cl.run(args)
    assert b"resuming from" in p.stderr
    assert stored_genomes(fmasd, space) == before
    again = cl.journal(jpath)
    assert [r for r in again if r["type"] == "generation"] == [r for r in done if r["type"] == "generation"]
    assert again[last_posted]["type"] == "posted" and again[last_posted]["count"] == done[last_posted]["count"]


def test_journal_of_another_search_is_refused(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    cl.run(cl.search_args(fmasd.port, space, tmp_path, gens=1, pop=4))
    p = cl.run(cl.search_args(fmasd.port, space, tmp_path, gens=1, pop=4, seed=7), check=False)
    assert p.returncode == 1
    assert b"belongs to another search" in p.stderr and b"seed" in p.stderr
    # A finished search resumed with more generations goes on.
    p = cl.run(cl.search_args(fmasd.port, space, tmp_path, gens=3, pop=4))
    gens = [r["gen"] for r in cl.journal(tmp_path / "journal.jsonl") if r["type"] == "generation"]
    assert gens == [0, 1, 2, 3]


# ------------------------------------------------------------ evaluators

def test_flaky_evaluator(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    ev = cl.evaluator_cmd("--mode", "flaky", "--state", tmp_path / "state")
    p = cl.run(cl.search_args(fmasd.port, space, tmp_path / "flaky", evaluator=ev, pop=8, gens=4,
                              extra=["--retries", "1"]))
    records = cl.journal(tmp_path / "flaky" / "journal.jsonl")
    failed = cl.evals(records, ok=False)
    assert failed and all(r["error"] == "exit status 3" and "flaky failure" in r["stderr"] for r in failed)
    assert all(sum(r["genome"]) % 4 == 0 and r["attempt"] == 1 for r in failed)
    assert b"retrying" in p.stderr
    # Every failure was mended by its retry: the same search as without them.
    cl.run(cl.search_args(fmasd.port, space, tmp_path / "clean", pop=8, gens=4))
    gen = lambda recs: [(r["gen"], r["population"], r["rng"]) for r in recs if r["type"] == "generation"]
    assert gen(records) == gen(cl.journal(tmp_path / "clean" / "journal.jsonl"))


def test_hanging_evaluator_is_killed(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    state = tmp_path / "state"
    ev = cl.evaluator_cmd("--mode", "hang", "--state", state)
    t0 = time.monotonic()
    cl.run(cl.search_args(fmasd.port, space, tmp_path, evaluator=ev, pop=8, gens=2, jobs=8,
                          extra=["--eval-timeout", "5", "--retries", "1"]))
    records = cl.journal(tmp_path / "journal.jsonl")
    timed_out = cl.evals(records, ok=False)
    assert timed_out and all("timed out after 5 s" in r["error"] for r in timed_out)
    assert all("hanging on" in r["stderr"] for r in timed_out)
    assert time.monotonic() - t0 < 120
    # Every hit genome was measured on its second attempt.
    ok = {tuple(r["genome"]) for r in cl.evals(records, ok=True)}
    assert {tuple(r["genome"]) for r in timed_out} <= ok
    # The killed process groups left nothing behind.
    time.sleep(0.5)
    leftovers = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert str(state) not in leftovers


def test_garbage_output(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    ev = cl.evaluator_cmd("--mode", "garbage", "--state", tmp_path / "state")
    cl.run(cl.search_args(fmasd.port, space, tmp_path, evaluator=ev, pop=8, gens=3))
    bad = cl.evals(cl.journal(tmp_path / "journal.jsonl"), ok=False)
    assert bad and all(r["error"].startswith("malformed output") for r in bad)
    assert all("this is not JSON" in r["error"] for r in bad)


def test_missing_metric_is_a_failure(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    p = cl.run(cl.search_args(fmasd.port, space, tmp_path, pop=4, gens=1, objectives="miou:max,latency_x:min",
                              extra=["--retries", "0"]), check=False)
    assert p.returncode == 1
    bad = cl.evals(cl.journal(tmp_path / "journal.jsonl"), ok=False)
    assert len(bad) == 4 and all('no number "latency_x"' in r["error"] for r in bad)
    assert b"dropped after 1 failed attempt" in p.stderr
    assert b"every evaluation failed" in p.stderr and b"the evaluator seems broken" in p.stderr


def test_broken_evaluator_stops_then_resumes_when_mended(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    args = cl.search_args(fmasd.port, space, tmp_path, pop=8, gens=3, evaluator="/bin/false")
    p = cl.run(args, check=False)
    assert p.returncode == 1 and b"exit status 1" in p.stderr and b"run the same command again" in p.stderr
    records = cl.journal(tmp_path / "journal.jsonl")
    assert len(cl.evals(records, ok=False)) == 8 * 3 and not [r for r in records if r["type"] == "generation"]
    p = cl.run(args[:args.index("--evaluator") + 1] + [cl.evaluator_cmd()] + args[args.index("--evaluator") + 2:])
    records = cl.journal(tmp_path / "journal.jsonl")
    ok = cl.evals(records, ok=True)
    assert [r["attempt"] for r in ok if r["gen"] == 0] == [4] * 8
    assert [r["gen"] for r in records if r["type"] == "generation"] == [0, 1, 2, 3]
    # Unknown commands fail like any other attempt, with the reason.
    p = cl.run(cl.search_args(fmasd.port, space, tmp_path / "x", pop=4, gens=1, evaluator="/no/such/evaluator",
                              extra=["--retries", "0"]), check=False)
    assert p.returncode == 1 and b"cannot execute /no/such/evaluator: No such file or directory" in p.stderr


def test_dead_genomes_are_dropped_for_good(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    log = tmp_path / "calls.jsonl"
    ev = cl.evaluator_cmd("--mode", "dead", "--log", log)
    p = cl.run(cl.search_args(fmasd.port, space, tmp_path, evaluator=ev, extra=["--retries", "2"]))
    dead = lambda g: sum(g) % 5 == 0
    expect_exact_front(tmp_path / "out", exclude=dead)
    records = cl.journal(tmp_path / "journal.jsonl")
    failed = cl.evals(records, ok=False)
    per = {}
    for r in failed:
        per.setdefault(tuple(r["genome"]), []).append(r["attempt"])
    assert per and all(dead(g) and a == [1, 2, 3] for g, a in per.items())
    assert not any(dead(c["genome"]) for c in cl.log_calls(log))
    doc = json.loads((tmp_path / "out" / "front.json").read_text())
    assert doc["failed"] == len(per)
    assert b"dropped after 3 failed attempts" in p.stderr


def test_quoting_launcher_and_finetune(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    odd = tmp_path / "evals with 'quotes' and spaces"
    odd.mkdir()
    script = odd / "synth.py"
    script.write_text(cl.SYNTH.read_text())
    log = tmp_path / "a log.jsonl"
    # Double quotes (with single quotes inside), and backslash-escaped spaces.
    escaped_log = str(log).replace(" ", "\\ ")
    ev = f'{cl.PYTHON} "{odd}/synth.py" --log {escaped_log}'
    args = cl.search_args(fmasd.port, space, tmp_path, evaluator=ev, pop=8, gens=4,
                          extra=["--launcher", "env SYNTH_TAG=launched", "--finetune", ev])
    p = cl.run(args)
    calls = cl.log_calls(log)
    assert calls and all(c["tag"] == "launched" for c in calls)
    front, doc = cl.front_genomes(tmp_path / "out")
    tuned = [c for c in calls if c["fidelity"] == "finetuned"]
    assert sorted(tuple(c["genome"]) for c in tuned) == sorted(front)
    for m in doc["front"]:
        assert m["finetuned"]["miou"] == pytest.approx(min(m["metrics"]["miou"] + 0.05, 0.999))
    rows = cl.read_csv(tmp_path / "out" / "front.csv")
    assert all(float(r["finetuned_miou"]) > float(r["miou"]) for r in rows)
    assert b"finetuned" in p.stdout
    # Resuming a finished search runs nothing again.
    cl.run(args)
    assert len(cl.log_calls(log)) == len(calls)


# ------------------------------------------------------------ the service

def start_fixed(binary, data_dir, port, log):
    return subprocess.Popen([str(binary), "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir),
                             "--no-bundled"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def test_server_killed_and_restarted_during_search(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    port, data_dir = fmasd.port, fmasd.data_dir
    args = cl.search_args(port, space, tmp_path, evaluator=cl.evaluator_cmd("--sleep", "0.05"), pop=10, gens=8)
    search = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    jpath = tmp_path / "journal.jsonl"
    while not (jpath.exists() and jpath.read_text().count('"type":"generation"') >= 2):
        assert search.poll() is None, search.stderr.read().decode()
        time.sleep(0.02)
    fmasd.kill9()
    time.sleep(4.0)     # longer than a generation: a request of the search meets no service
    with open(tmp_path / "fmasd2.log", "ab") as log:
        server = start_fixed(fmasd.binary, data_dir, port, log)
    try:
        out, err = search.communicate(timeout=300)
        assert search.returncode == 0, err.decode()[-3000:]
        assert b"retry" in err and f"http://127.0.0.1:{port}".encode() in err
        records = cl.journal(tmp_path / "journal.jsonl")
        assert [r["gen"] for r in records if r["type"] == "generation"] == list(range(9))
        no_repeats(records)
        # Every measurement reached the restarted service (none lost with the first).
        status, answer = cl.raw(port, "GET", f"/v1/spaces/{space}/observations?metric=miou")
        assert status == 200
        posted = {tuple(o["genome"]) for o in answer["observations"]}
        assert posted == {tuple(r["genome"]) for r in cl.evals(records, ok=True)}
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0


def test_server_down_is_named(tmp_path):
    port = fmasapi.free_port()
    args = cl.search_args(port, "toy", tmp_path, extra=["--server-retries", "2"])
    p = cl.run(args, check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert f"cannot reach the fmas service at http://127.0.0.1:{port}" in err
    assert "gave up after 3 attempts" in err and "retry 1 of 2" in err


def test_unknown_space_problem_detail(fmasd, tmp_path):
    p = cl.run(cl.search_args(fmasd.port, "no-such-space", tmp_path), check=False)
    assert p.returncode == 1
    assert b"404 Not found: space \"no-such-space\" not found" in p.stderr


class BadServer(BaseHTTPRequestHandler):
    """Answers GET /v1/spaces/toy with whatever the test put in .answer."""
    answer = (200, "application/json", b"{}")

    def log_message(self, *a):
        pass

    def do_GET(self):
        status, ctype, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("answer,message", [
    ((200, "text/html", b"<html>hello</html>"), b"is text/html, not JSON: <html>hello</html>"),
    ((200, "application/json", b"{\"genes\": [1, 2"), b"is not valid JSON"),
    ((200, "application/json", b"{\"a\": 1, \"a\": 2}"), b"duplicate object key"),
    ((200, "application/json", b"{\"genes\": 7}"), b"the space has no \"genes\" array"),
    ((200, "application/json", b"{\"genes\": [{\"name\": 1}]}"), b"genes[0] is not"),
    ((418, "application/problem+json",
      b"{\"type\": \"x\", \"title\": \"Teapot\", \"status\": 418, \"detail\": \"short and stout\", \"errors\": []}"),
     b"with 418 Teapot: short and stout"),
    ((404, "text/plain", b"nothing here"), b"with 404 (text/plain: nothing here)"),
], ids=["html", "truncated", "duplicate-key", "wrong-shape", "bad-gene", "problem", "plain-404"])
def test_bad_answers_are_reported(tmp_path, answer, message):
    handler = type("H", (BadServer,), {"answer": answer})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        p = cl.run(cl.search_args(httpd.server_address[1], "toy", tmp_path), check=False)
    finally:
        httpd.shutdown()
    assert p.returncode == 1, p.stderr
    assert message in p.stderr, p.stderr


def test_bad_command_lines(tmp_path):
    base = cl.search_args(1, "toy", tmp_path)
    cases = [
        (["--objectives", "miou"], b"needs a goal"),
        (["--objectives", "miou:up"], b"the goal is max or min"),
        (["--objectives", "macs:min"], b"at least one objective must be a metric"),
        (["--objectives", "latency:min,miou:max"], b"latency needs a device"),
        (["--objectives", "Bad-Name:max"], b"metric names are"),
        (["--constraint", "latency@gap8<40ms"], b"write COST<=LIMIT"),
        (["--constraint", "miou<=3"], b"only costs"),
        (["--constraint", "latency@gap8<=4 parsecs"], b"latency unit"),
        (["--pop", "1"], b"--pop"),
        (["--confidence", "0.4"], b"--confidence"),
        (["--evaluator", "python3 'unterminated"], b"unterminated single quote"),
        (["--frobnicate"], b"unknown option --frobnicate"),
        (["--pool", "0"], b"--pool"),
        (["--budget", "0"], b"--budget"),
        (["--pool", "2"], b"do not go with --no-screen"),
        (["--init", "3"], b"do not go with --no-screen"),
    ]
    for extra, message in cases:
        p = cl.run(base + extra, check=False)
        assert p.returncode == 2 and message in p.stderr, (extra, p.stderr)


# ------------------------------------------------------------ builder space

def test_costs_and_constraint_on_a_builder_space(bundled_fmasd, tmp_path):
    client = bundled_fmasd.client
    client.create_space({"id": "mbv2-128", "builder": "deeplabv3plus-mobilenetv2", "params": {"input_size": 128}})
    space = client.space("mbv2-128")
    maxima = json.dumps([max(g["choices"]) for g in space["genes"]])
    probe = client.space_estimate("mbv2-128", [space["genomes"]["min"], space["genomes"]["max"]], ["example-cpu"])
    lo, hi = (r["latency"]["example-cpu"]["ms"] for r in probe["results"])
    limit = lo + 0.4 * (hi - lo)
    ev = cl.evaluator_cmd("--accuracy", "mbv2", "--maxima", maxima)
    cl.run(cl.search_args(bundled_fmasd.port, "mbv2-128", tmp_path, evaluator=ev, pop=12, gens=4, jobs=4,
                          objectives="miou:max,latency@example-cpu:min,params:min",
                          extra=["--constraint", f"latency@example-cpu<={limit}ms"]))
    front, doc = cl.front_genomes(tmp_path / "out")
    assert front
    for m in doc["front"]:
        assert m["costs"]["latency"]["example-cpu"]["ms"] <= limit
        assert m["objectives"]["latency@example-cpu"] == m["costs"]["latency"]["example-cpu"]["ms"]
        assert m["objectives"]["params"] == m["costs"]["params"]
    # The costs are the service's own.
    check = client.space_estimate("mbv2-128", [m["genome"] for m in doc["front"]], ["example-cpu"])
    for m, r in zip(doc["front"], check["results"]):
        assert r["macs"] == m["costs"]["macs"] and r["latency"]["example-cpu"]["ms"] == \
            m["costs"]["latency"]["example-cpu"]["ms"]
    rows = cl.read_csv(tmp_path / "out" / "front.csv")
    assert "latency_ms@example-cpu" in rows[0] and "macs" in rows[0]
    # Genomes are canonical: a skipped block's gated genes are 0.
    gates = {g["name"]: i for i, g in enumerate(space["genes"])}
    for m in doc["front"]:
        for i, g in enumerate(space["genes"]):
            if g.get("gated_by") and m["genome"][gates[g["gated_by"]]] == 0:
                assert m["genome"][i] == 0
    # Infeasible genomes were measured (plain NSGA-II) but kept out of the front.
    records = cl.journal(tmp_path / "journal.jsonl")
    lat = [x["costs"]["latency"]["example-cpu"]["ms"] for r in records if r["type"] == "screen"
           for x in r["results"]]
    assert any(v > limit for v in lat)


def test_incomplete_latency_is_warned_about(bundled_fmasd, tmp_path):
    client = bundled_fmasd.client
    client.create_space({"id": "mbv2-96", "builder": "deeplabv3plus-mobilenetv2", "params": {"input_size": 96}})
    layers = client.space_layers("mbv2-96")["layers"]
    client.put_device("half", unit="us")
    client.upload("half", [{"key": l["key"], "latency": {"mean": 1.0}} for l in layers[::2]])
    maxima = json.dumps([max(g["choices"]) for g in client.space("mbv2-96")["genes"]])
    p = cl.run(cl.search_args(bundled_fmasd.port, "mbv2-96", tmp_path, pop=4, gens=1,
                              objectives="miou:max,latency@half:min",
                              evaluator=cl.evaluator_cmd("--accuracy", "mbv2", "--maxima", maxima)))
    assert p.stderr.count(b"latency is a lower bound") == 1
    assert b"fmas-lut coverage --space mbv2-96 --device half" in p.stderr


def test_named_choices_reach_the_evaluator_and_the_outputs(fmasd, tmp_path):
    ops = ["none", "skip", "conv1x1", "conv3x3"]
    genes = [{"name": "op", "choices": ops}, {"name": "w", "choices": [1, 2, 3]}]
    space = cl.create_toy(fmasd.client, "named", genes)
    log = tmp_path / "calls.jsonl"
    cl.run(cl.search_args(fmasd.port, space, tmp_path, pop=4, gens=2,
                          evaluator=cl.evaluator_cmd("--log", str(log))))
    calls = cl.log_calls(log)
    assert calls
    for c in calls:
        assert c["request"]["genome_named"] == {"op": ops[c["genome"][0]], "w": [1, 2, 3][c["genome"][1]]}
    front, doc = cl.front_genomes(tmp_path / "out")
    assert front
    for m in doc["front"]:
        assert m["genome_named"]["op"] == ops[m["genome"][0]]
    rows = cl.read_csv(tmp_path / "out" / "front.csv")
    assert sorted(r["op"] for r in rows) == sorted(ops[g[0]] for g in front)


def test_cost_objective_on_categorical_space_is_refused(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    p = cl.run(cl.search_args(fmasd.port, space, tmp_path, objectives="miou:max,macs:min"), check=False)
    assert p.returncode == 2 and b"categorical" in p.stderr


# ------------------------------------------------------------ the terminal

def test_progress_line_on_a_terminal(fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy")
    master, slave = pty.openpty()
    args = cl.search_args(fmasd.port, space, tmp_path, pop=8, gens=3,
                          evaluator=cl.evaluator_cmd("--sleep", "0.2"))
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.communicate(timeout=120)
    os.close(master)
    assert proc.returncode == 0
    assert b"\r\x1b[Kgen " in seen and b"ETA" in seen and b"running" in seen and b"pruned" in seen
