"""Observations, surrogates, predictions in space estimates and screening
(docs/api.md "Observations, surrogates and screening").

Every answer is validated against schemas/ by the client (fmasapi.ROUTES):
observations-*.json, surrogate.json, screen-*.json and the predictions of
space-estimate-response.json. The 4xx cases of these endpoints (bad
observations, metric and fidelity parameters, bad screening requests) are
rows of the table in test_bad_requests.py, which also checks that a rejected
request stores no observation.

Most tests share one server (module scope, bundled example tables,
--min-observations 10, --refit-delay-ms 100); each test uses its own space
(a registered one, or the built-in mobilenetv2 for the one fixture that
observes it), so the order of the tests does not matter. Accuracies are
synthetic smooth functions of the genome, so a surrogate can learn them and
the tests can check screening against an oracle.
"""

import csv
import io
import itertools
import json
import math
import random
import threading
import time
import traceback
from datetime import datetime, timezone

import pytest

import fmasapi
from fmasapi import MBV2

MIN_OBS = 10
ARGS = ["--min-observations", str(MIN_OBS), "--refit-delay-ms", "100"]
DEVICE = "example-cpu"        # bundled: every layer of mobilenetv2 at 513, 256, 128
FIDELITY = "val-subset-500"
Z95 = 1.6448536269514715      # one-sided normal quantile of 0.95
REASONS = ("constraint", "already_observed", "dominated", "uncertain", "promising")
_ids = itertools.count()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, schemas):
    data_dir = tmp_path_factory.mktemp("fmasd-surrogate") / "data"
    proc = fmasapi.FmasdProcess(data_dir, ARGS)
    try:
        client = proc.start(schemas)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield client
    problem = proc.stop(timeout=10.0)
    if problem:
        pytest.fail(problem, pytrace=False)


# ----------------------------------------------------------------- helpers

def new_id(prefix):
    return f"{prefix}-{next(_ids)}"


def cat_space(client, prefix="cat", genes=4, choices=5):
    """A registered categorical space: genes g0.. with choices 0.5, 1, ..."""
    sid = new_id(prefix)
    return client.create_space({"id": sid, "genes": [
        {"name": f"g{i}", "choices": [0.5 * (k + 1) for k in range(choices)]} for i in range(genes)]})


def builder_space(client, prefix="mb", input_size=128):
    sid = new_id(prefix)
    return client.create_space({"id": sid, "builder": MBV2, "params": {"input_size": input_size}})


def canonical(space, genome):
    """Genes gated off by a keep gene at 0 do not change the network: 0."""
    index = {g["name"]: i for i, g in enumerate(space["genes"])}
    out = list(genome)
    for i, g in enumerate(space["genes"]):
        gate = g.get("gated_by")
        if gate and out[index[gate]] == 0:
            out[i] = 0
    return out


def fraction(space, genome):
    """Mean of the genome's choice indices scaled to 0..1 (canonical)."""
    g = canonical(space, genome)
    return sum(i / max(1, len(gene["choices"]) - 1) for i, gene in zip(g, space["genes"])) / len(g)


def smooth(space, genome):
    """A smooth synthetic accuracy of a categorical space: a quadratic bowl."""
    return 0.3 + 0.05 * genome[0] + 0.03 * genome[1] - 0.01 * (genome[2] - 2) ** 2 + 0.02 * genome[3]


def lean_accuracy(space, genome):
    """A synthetic accuracy of a builder space that falls as the network
    grows: the smallest networks are both cheap and accurate, so observing
    them dominates most candidates."""
    return 0.75 - 0.2 * fraction(space, genome)


def random_genome(space, rng, p=1.0):
    """Canonical; each gene drawn with probability p, else 0."""
    return canonical(space, [rng.randrange(len(g["choices"])) if rng.random() < p else 0
                             for g in space["genes"]])


def distinct_genomes(space, rng, n, exclude=(), p=1.0):
    seen = {tuple(g) for g in exclude}
    out = []
    while len(out) < n:
        g = random_genome(space, rng, p)
        if tuple(g) not in seen:
            seen.add(tuple(g))
            out.append(g)
    return out


def observations(space, genomes, f, metric="miou", fidelity=None, noise=0.0, rng=None, meta=None):
    out = []
    for g in genomes:
        o = {"genome": g, "metric": metric,
             "value": f(space, g) + (rng.gauss(0, noise) if noise else 0.0)}
        if fidelity is not None:
            o["fidelity"] = fidelity
        if meta is not None:
            o["meta"] = meta
        out.append(o)
    return out


def named(space, genome):
    return {g["name"]: g["choices"][i] for g, i in zip(space["genes"], genome)}


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_cv(cv):
    assert cv["folds"] >= 2
    for k in ("kendall_tau", "spearman_rho"):
        assert cv[k] is None or -1 <= cv[k] <= 1, cv
    assert cv["rmse"] is None or cv["rmse"] >= 0, cv
    for k in ("coverage_1sigma", "coverage_2sigma"):
        assert cv[k] is None or 0 <= cv[k] <= 1, cv
    if cv["coverage_1sigma"] is not None and cv["coverage_2sigma"] is not None:
        assert cv["coverage_1sigma"] <= cv["coverage_2sigma"], cv


KINDS = ("ridge", "gp", "gp_overlap", "forest", "ridge_linear", "ensemble")


def check_fitted(sur, n, distinct, metric="miou", fidelity="default"):
    assert sur["status"] == "fitted", sur
    assert sur["metric"] == metric and sur["fidelity"] == fidelity
    assert (sur["n"], sur["distinct"]) == (n, distinct), sur
    assert sur["min_observations"] == MIN_OBS
    assert sur["model"] in KINDS and "reason" not in sur
    names = [c["model"] for c in sur["candidates"]]
    assert {"gp", "ridge"} <= set(names) <= set(KINDS) and len(set(names)) == len(names), sur
    assert sur["std_scale"] >= 1
    if sur["model"] == "ensemble":
        members = sur["ensemble"]
        assert 2 <= len(members) <= 3 and abs(sum(m["weight"] for m in members) - 1) < 1e-9, sur
        assert all(m["model"] in names and m["model"] != "ensemble" for m in members), sur
    else:
        assert "ensemble" not in sur
    for c in sur["candidates"]:
        check_cv(c["cv"])
    chosen = next(c for c in sur["candidates"] if c["model"] == sur["model"])
    assert sur["cv"] == chosen["cv"], "cv is the chosen candidate's"
    assert sur["fit_seconds"] >= 0
    assert abs((datetime.now(timezone.utc) - parse_time(sur["fitted_at"])).total_seconds()) < 600


def predictions(results, metric="miou"):
    """(mean, std, model_version) of metric in every result; all results of
    one answer come from one model version (no torn read)."""
    preds = [r["predicted"][metric] for r in results]
    assert all(p is not None for p in preds), results[:3]
    versions = {p["model_version"] for p in preds}
    assert len(versions) == 1, f"one answer mixes model versions {sorted(versions)}"
    return preds, versions.pop()


def wait_for(fn, timeout=8.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def spearman(x, y):
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        for k, i in enumerate(order):
            r[i] = float(k)
        return r
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))


# ------------------------------------------------------------ observations

def test_post_and_list_observations(srv):
    sp = srv.create_space({"id": new_id("obs"), "genes": [
        {"name": "depth", "choices": [1, 2, 3]}, {"name": "ratio", "choices": [0.25, 0.5, 1]},
        {"name": "act", "choices": [-1.5, 2]}]})
    sid = sp["id"]
    assert srv.observations(sid) == {"space": sid, "observations": []}
    t0 = datetime.now(timezone.utc)
    tricky = "a \"quoted\", comma;\nnew line, é ✓"
    batch1 = [
        {"genome": [2, 1, 0], "metric": "miou", "value": 0.712, "fidelity": FIDELITY,
         "meta": {"evaluator": "fmas-eval 0.1", "seed": 1, "seconds": 41.2, "note": tricky}},
        {"genome": {"depth": 3, "ratio": 0.5, "act": -1.5}, "metric": "miou", "value": 0.6},
        {"genome": {"act": 2.0, "depth": 1.0, "ratio": 1}, "metric": "pixel_acc", "value": -3, "meta": 7},
        {"genome": [0, 0, 0], "metric": "miou", "value": 1e-300, "fidelity": "val-full", "meta": tricky},
        {"genome": [0, 0, 0], "metric": "miou", "value": 0.25, "fidelity": "val-full", "meta": [1, None, "x"]},
        {"genome": [1, 2, 1], "metric": "m" * 64, "value": 123456789.125, "fidelity": "f" * 64, "meta": None},
        {"genome": [1, 2, 1], "metric": "a_1", "value": 0, "meta": False},
        {"genome": [1, 2, 1], "metric": "a_1", "value": 2.5, "meta": ""},
    ]
    r = srv.post_observations(sid, batch1)
    assert r == {"space": sid, "accepted": len(batch1), "total": len(batch1), "replayed": False}
    batch2 = [{"genome": [2, 2, 1], "metric": "miou", "value": 0.7, "fidelity": FIDELITY,
               "meta": {"nested": {"deep": [1, {"x": None}]}}}]
    assert srv.post_observations(sid, batch2) == {"space": sid, "accepted": 1, "total": len(batch1) + 1,
                                                   "replayed": False}
    t1 = datetime.now(timezone.utc)

    listing = srv.observations(sid)
    assert listing["space"] == sid
    got = listing["observations"]
    sent = batch1 + batch2
    assert len(got) == len(sent)
    # Arrival order: ids increase, times do not go back, the fields are as sent.
    ids = [o["id"] for o in got]
    assert ids == sorted(set(ids)) and ids[0] >= 1
    times = [parse_time(o["observed_at"]) for o in got]
    assert times == sorted(times)
    for t in times:
        assert (t0 - t).total_seconds() < 5 and (t - t1).total_seconds() < 5, (t0, t, t1)
    for o, s in zip(got, sent):
        g = s["genome"]
        want_genome = g if isinstance(g, list) else \
            [gene["choices"].index(g[gene["name"]]) for gene in sp["genes"]]
        assert o["genome"] == want_genome
        assert o["metric"] == s["metric"]
        assert o["value"] == s["value"]
        assert o["fidelity"] == s.get("fidelity", "default")
        assert o["meta"] == s.get("meta"), "meta comes back as posted"

    # Filters.
    def only(**kw):
        return [o for o in got if all(o[k] == v for k, v in kw.items())]
    assert srv.observations(sid, metric="miou")["observations"] == only(metric="miou")
    assert srv.observations(sid, fidelity="val-full")["observations"] == only(fidelity="val-full")
    assert srv.observations(sid, metric="miou", fidelity=FIDELITY)["observations"] == \
        only(metric="miou", fidelity=FIDELITY)
    assert srv.observations(sid, metric="a_1", fidelity="default")["observations"] == \
        only(metric="a_1", fidelity="default")
    assert srv.observations(sid, metric="never_seen")["observations"] == []
    assert srv.observations(sid, fidelity="never-seen")["observations"] == []

    # CSV: the same rows.
    def csv_rows(query=""):
        r = srv.get(f"/v1/spaces/{sid}/observations{query}", headers={"Accept": "text/csv"}, expect=200)
        assert r.media_type == "text/csv", r
        reader = csv.reader(io.StringIO(r.body.decode("utf-8"), newline=""))
        rows = list(reader)
        assert rows[0] == ["id", "observed_at", "metric", "fidelity", "value", "genome", "meta"]
        out = []
        for row in rows[1:]:
            assert len(row) == 7, row
            d = dict(zip(rows[0], row))
            out.append({"id": int(d["id"]), "observed_at": d["observed_at"], "genome": json.loads(d["genome"]),
                        "metric": d["metric"], "value": float(d["value"]), "fidelity": d["fidelity"],
                        "meta": None if d["meta"] == "" else json.loads(d["meta"])})
        return out
    assert csv_rows() == got
    assert csv_rows("?metric=miou&fidelity=val-full") == only(metric="miou", fidelity="val-full")
    empty = cat_space(srv, "obs-empty")["id"]
    r = srv.get(f"/v1/spaces/{empty}/observations", headers={"Accept": "text/csv"}, expect=200)
    assert list(csv.reader(io.StringIO(r.text))) == [["id", "observed_at", "metric", "fidelity", "value",
                                                      "genome", "meta"]]


def test_an_invalid_observation_anywhere_stores_nothing(srv):
    sp = cat_space(srv, "atomic")
    sid = sp["id"]
    rng = random.Random(1)
    good = observations(sp, distinct_genomes(sp, rng, 30), smooth)
    assert srv.post_observations(sid, good[:10])["total"] == 10
    for i, bad in [(0, {"value": "0.5"}), (17, {"metric": "Bad"}), (29, {"genome": [0, 0, 0, 9]}),
                   (29, {"fidelity": ""}), (5, {"extra": 1})]:
        batch = [dict(o) for o in good]
        batch[i].update(bad)
        r = srv.post(f"/v1/spaces/{sid}/observations", {"observations": batch}, expect=422)
        assert any(e.get("pointer", "").startswith(f"/observations/{i}") for e in r.json["errors"]), r
    for raw in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        body = json.dumps({"observations": good}).encode()
        body = body.replace(json.dumps(good[3]["value"]).encode(), raw, 1)
        r = srv.request("POST", f"/v1/spaces/{sid}/observations", body=body,
                        headers={"Content-Type": "application/json"}, expect=400)
        assert r.json["type"].endswith("/malformed-body")
    assert len(srv.observations(sid)["observations"]) == 10, "a rejected batch stored something"
    assert srv.post_observations(sid, good[10:])["total"] == 30


def keyed_post(c, sid, batch, key, expect):
    return c.post(f"/v1/spaces/{sid}/observations", {"observations": batch},
                  headers={"Idempotency-Key": key}, expect=expect)


@pytest.mark.slow
def test_idempotency_key_stores_a_batch_once_also_across_restarts(fmasd_factory):
    args = ["--no-bundled"] + ARGS
    p = fmasd_factory(args)
    c = p.client
    rng = random.Random(7)
    sp, other = cat_space(c, "once"), cat_space(c, "once-other")
    sid = sp["id"]
    genomes = distinct_genomes(sp, rng, 12)
    first = observations(sp, genomes[:5], smooth, meta={"run": "a", "seconds": 1.25})
    second = observations(sp, genomes[5:], smooth)
    r = keyed_post(c, sid, first, "run-a/gen-0", 201)
    assert r.json == {"space": sid, "accepted": 5, "total": 5, "replayed": False}
    # The same key and batch again: nothing stored, the first answer's size.
    for _ in range(2):
        r = keyed_post(c, sid, first, "run-a/gen-0", 200)
        assert r.json == {"space": sid, "accepted": 5, "total": 5, "replayed": True}
    # A genome given by its names is the same batch.
    named = [dict(o, genome={g["name"]: g["choices"][i] for g, i in zip(sp["genes"], o["genome"])})
             for o in first]
    assert keyed_post(c, sid, named, "run-a/gen-0", 200).json["replayed"] is True
    # The same key with another batch (a value, the meta, the order, a
    # subset) is refused and stores nothing.
    changed = [dict(first[0], value=first[0]["value"] + 1e-9)] + first[1:]
    for batch in (changed, [dict(first[0], meta={"run": "b"})] + first[1:], first[::-1], first[:4], second):
        r = keyed_post(c, sid, batch, "run-a/gen-0", 422)
        assert r.json["type"].endswith("/idempotency-key-reused")
        assert r.json["errors"][0]["parameter"] == "Idempotency-Key"
    # Malformed keys.
    for key in ("", "has space", "x" * 256, "tab\there", "caf\u00e9"):
        raw = json.dumps({"observations": second}).encode()
        r = c.request("POST", f"/v1/spaces/{sid}/observations", body=raw,
                      headers={"Content-Type": "application/json", "Idempotency-Key": key.encode("utf-8")
                               if not key.isascii() else key}, expect=400)
        assert r.json["errors"][0]["parameter"] == "Idempotency-Key", key
    assert len(c.observations(sid)["observations"]) == 5, "a refused request stored something"
    # Keys are per space; the longest key is fine; no key stores every time.
    assert keyed_post(c, other["id"], observations(other, genomes[:2], smooth), "run-a/gen-0", 201)
    assert keyed_post(c, sid, second, "k" * 255, 201).json["total"] == 12
    assert c.post_observations(sid, second[:1])["total"] == 13
    assert c.post_observations(sid, second[:1])["total"] == 14
    before = c.observations(sid)

    # The keys are stored with their batches: a restart and a kill -9 keep them.
    assert p.stop() is None
    p = fmasd_factory(args, data_dir=p.data_dir)
    c = p.client
    assert keyed_post(c, sid, first, "run-a/gen-0", 200).json == \
        {"space": sid, "accepted": 5, "total": 14, "replayed": True}
    assert keyed_post(c, sid, second, "run-a/gen-0", 422)
    r = keyed_post(c, sid, observations(sp, genomes[:1], smooth), "run-a/gen-1", 201)
    assert r.json["total"] == 15
    p.kill9()
    p = fmasd_factory(args, data_dir=p.data_dir)
    c = p.client
    assert keyed_post(c, sid, observations(sp, genomes[:1], smooth), "run-a/gen-1", 200).json["replayed"]
    assert keyed_post(c, sid, second, "k" * 255, 200).json["accepted"] == 7
    after = c.observations(sid)["observations"]
    assert after[:14] == before["observations"] and len(after) == 15


@pytest.mark.slow
def test_observations_survive_restart_kill_and_go_with_their_space(fmasd_factory):
    args = ["--no-bundled"] + ARGS
    p = fmasd_factory(args)
    c = p.client
    rng = random.Random(2)
    sp = cat_space(c, "durable")
    sid = sp["id"]
    genomes = distinct_genomes(sp, rng, 14)
    c.post_observations(sid, observations(sp, genomes[:6], smooth, meta={"batch": 1}))
    c.post_observations(sid, observations(sp, genomes[6:12], smooth, fidelity=FIDELITY))
    mb = c.space(MBV2)
    mgen = distinct_genomes(mb, rng, 3)
    c.post_observations(MBV2, observations(mb, mgen, lean_accuracy, meta="m"))
    # The longest space id keeps its observations too.
    long_id = c.create_space({"id": "l" * 64, "builder": MBV2, "params": {"input_size": 64}})["id"]
    c.post_observations(long_id, observations(mb, mgen, lean_accuracy, fidelity="f" * 64))
    # A space that is deleted takes its observations along, also on disk;
    # one re-created under the same id (with other genes) starts empty.
    gone = cat_space(c, "gone")
    c.post_observations(gone["id"], observations(gone, distinct_genomes(gone, rng, 12), smooth))
    assert c.surrogate(gone["id"], "miou")["status"] == "fitted"
    c.delete(f"/v1/spaces/{gone['id']}", expect=204)
    c.get(f"/v1/spaces/{gone['id']}/observations", expect=404)
    c.create_space({"id": gone["id"], "genes": [{"name": "x", "choices": [1, 2]}] * 1
                    + [{"name": "y", "choices": [3]}]})
    assert c.observations(gone["id"])["observations"] == []
    c.get(f"/v1/spaces/{gone['id']}/surrogate?metric=miou", expect=404)
    est = c.space_estimate(gone["id"], [[1, 0]])["results"][0]
    assert est["predicted"] is None and est["predicted_reason"]
    kept = (sid, MBV2, gone["id"], long_id)
    before = {s: c.observations(s) for s in kept}
    assert all(before[s]["observations"] for s in (sid, MBV2, long_id))

    # Clean restart: everything is there, as it was.
    assert p.stop() is None
    p = fmasd_factory(args, data_dir=p.data_dir)
    c = p.client
    assert {s: c.observations(s) for s in kept} == before
    # The surrogate answers from the stored observations.
    assert c.surrogate(sid, "miou", fidelity="default")["status"] == "too_few"
    last_id = before[sid]["observations"][-1]["id"]

    # An acknowledged batch, then kill -9 at once: it is there after restart.
    r = c.post_observations(sid, observations(sp, genomes[12:], smooth, meta={"batch": 3}))
    assert r["total"] == 14
    p.kill9()
    p = fmasd_factory(args, data_dir=p.data_dir)
    c = p.client
    after = c.observations(sid)["observations"]
    assert after[:12] == before[sid]["observations"]
    assert [o["genome"] for o in after[12:]] == genomes[12:]
    assert [o["meta"] for o in after[12:]] == [{"batch": 3}] * 2
    assert all(o["id"] > last_id for o in after[12:])
    assert c.observations(gone["id"])["observations"] == []
    assert c.observations(long_id) == before[long_id]
    # New observations get new ids after a restart.
    more = c.post_observations(sid, observations(sp, genomes[:1], smooth))
    assert more["total"] == 15
    ids = [o["id"] for o in c.observations(sid)["observations"]]
    assert len(set(ids)) == 15 and ids == sorted(ids)


def test_deleting_a_space_deletes_its_observations(srv):
    sp = cat_space(srv, "del")
    sid = sp["id"]
    rng = random.Random(14)
    srv.post_observations(sid, observations(sp, distinct_genomes(sp, rng, 12), smooth))
    assert srv.fit(sid, "miou")["status"] == "fitted"
    srv.delete(f"/v1/spaces/{sid}", expect=204)
    for path in ("observations", "surrogate?metric=miou"):
        r = srv.get(f"/v1/spaces/{sid}/{path}", expect=404)
        assert any(e.get("parameter") == "id" for e in r.json["errors"])
    srv.post(f"/v1/spaces/{sid}/observations", {"observations": [{"genome": [0, 0, 0, 0], "metric": "miou",
                                                                 "value": 1}]}, expect=404)
    # The same id again (the same genes): a space without observations.
    again = srv.create_space({"id": sid, "genes": [{"name": g["name"], "choices": g["choices"]}
                                                   for g in sp["genes"]]})
    assert again["id"] == sid
    assert srv.observations(sid) == {"space": sid, "observations": []}
    srv.get(f"/v1/spaces/{sid}/surrogate?metric=miou", expect=404)
    r = srv.space_estimate(sid, [[0, 0, 0, 0]])["results"][0]
    assert r["predicted"] is None and r["predicted_reason"]
    assert srv.post_observations(sid, observations(sp, [[1, 1, 1, 1]], smooth))["total"] == 1


# --------------------------------------------------------------- surrogate

def test_surrogate_with_too_few_observations(srv):
    sp = cat_space(srv, "few")
    sid = sp["id"]
    rng = random.Random(3)
    genomes = distinct_genomes(sp, rng, 5)
    obs = observations(sp, genomes, smooth) + observations(sp, [genomes[0]] * 3, smooth, noise=0.01, rng=rng)
    srv.post_observations(sid, obs)
    sur = srv.surrogate(sid, "miou")
    assert sur["status"] == "too_few", sur
    assert sur["model"] is None and sur["cv"] is None
    assert isinstance(sur["reason"], str) and sur["reason"]
    assert (sur["n"], sur["distinct"], sur["min_observations"]) == (8, 5, MIN_OBS)
    assert sur["space"] == sid and sur["metric"] == "miou" and sur["fidelity"] == "default"
    fit = srv.fit(sid, "miou")
    assert fit["status"] == "too_few" and fit["version"] > sur["version"]
    # Predictions: the metric is there, without a prediction, and says why.
    for r in srv.space_estimate(sid, genomes + [[4, 4, 4, 4]])["results"]:
        assert r["predicted"] == {"miou": None}, r
        assert set(r["predicted_reasons"]) == {"miou"} and r["predicted_reasons"]["miou"]
        assert "predicted_reason" not in r
    # Nine distinct genomes are still too few; the tenth makes a model.
    more = distinct_genomes(sp, rng, 5, exclude=genomes)
    srv.post_observations(sid, observations(sp, more[:4], smooth))
    assert srv.fit(sid, "miou")["status"] == "too_few"
    srv.post_observations(sid, observations(sp, more[4:], smooth))
    check_fitted(srv.fit(sid, "miou"), n=13, distinct=10)


def test_distinct_genomes_are_distinct_networks(srv):
    """Genomes that differ only in genes of a skipped block are one network:
    one distinct genome for the surrogate (their values averaged)."""
    sp = builder_space(srv, "spell", input_size=64)
    sid = sp["id"]
    keeps = [i for i, g in enumerate(sp["genes"]) if g["name"].endswith(".keep")]
    rng = random.Random(15)
    base = distinct_genomes(sp, rng, 6)
    obs = []
    for g in base:
        g = list(g)
        g[keeps[0]] = 0                      # block skipped: its expand gene does not matter
        for expand in range(4):
            spelled = list(g)
            spelled[keeps[0] + 1] = expand
            obs.append({"genome": spelled, "metric": "miou", "value": 0.5 + 0.01 * expand})
    srv.post_observations(sid, obs)
    sur = srv.surrogate(sid, "miou")
    nets = {tuple(canonical(sp, o["genome"])) for o in obs}
    assert (sur["n"], sur["distinct"]) == (len(obs), len(nets)), sur
    assert sur["status"] == "too_few"
    # Listing keeps every observation as posted.
    assert [o["genome"] for o in srv.observations(sid)["observations"]] == [o["genome"] for o in obs]


def test_surrogate_fits_a_smooth_function_of_a_categorical_space(srv):
    sp = cat_space(srv, "smooth")
    sid = sp["id"]
    rng = random.Random(4)
    train = distinct_genomes(sp, rng, 40)
    srv.post_observations(sid, observations(sp, train, smooth, noise=0.002, rng=rng))
    fits = [srv.fit(sid, "miou") for _ in range(3)]
    for f in fits:
        check_fitted(f, n=40, distinct=40)
    versions = [f["version"] for f in fits]
    assert versions[0] < versions[1] < versions[2], versions
    assert fits[-1]["cv"]["kendall_tau"] > 0.6, fits[-1]["cv"]
    # GET answers the current model without refitting... or a newer one.
    assert srv.surrogate(sid, "miou")["version"] >= versions[-1]

    # Predictions of unseen genomes follow the function, in every result.
    test = distinct_genomes(sp, rng, 30, exclude=train)
    est = srv.space_estimate(sid, test)
    preds, version = predictions(est["results"])
    assert version >= versions[-1]
    for g, r, p in zip(test, est["results"], preds):
        assert r["genome"] == g and "predicted_reasons" not in r and "predicted_reason" not in r
        assert set(r["predicted"]) == {"miou"}
        assert p["fidelity"] == "default"
        assert p["std"] > 0 and math.isfinite(p["mean"])
        assert abs(p["mean"] - smooth(sp, g)) < 0.05, (g, p, smooth(sp, g))
    assert spearman([p["mean"] for p in preds], [smooth(sp, g) for g in test]) > 0.8
    # The object form of a genome predicts the same.
    named_est = srv.space_estimate(sid, [named(sp, g) for g in test[:5]])
    if predictions(named_est["results"])[1] == version:
        assert [r["predicted"] for r in named_est["results"]] == [r["predicted"] for r in est["results"][:5]]

    # Screening with metric objectives only (a categorical space has no
    # costs): an observed genome whose observed value beats the optimistic
    # bound of a candidate dominates it.
    observed = {tuple(o["genome"]): o["value"] for o in srv.observations(sid)["observations"]}
    for goal in ("max", "min"):
        objectives = [{"metric": "miou", "goal": goal}]
        sc = srv.screen(sid, {"genomes": test + train[:3], "objectives": objectives})
        assert sc["lut_versions"] == {} and abs(sc["z"] - Z95) < 1e-3
        assert not any("costs" in r for r in sc["results"])
        counts = screen_oracle(sc, observed, objectives)
        assert counts["dominated"] > 0 and counts["already_observed"] == 3, counts


def kendall_tau_b(x, y):
    """Kendall tau-b, ties in either vector handled (O(n^2): test sizes)."""
    conc = disc = tx = ty = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tx += 1
            elif dy == 0:
                ty += 1
            elif (dx > 0) == (dy > 0):
                conc += 1
            else:
                disc += 1
    denom = math.sqrt((conc + disc + tx) * (conc + disc + ty))
    return (conc - disc) / denom if denom else None


def test_heldout_predictions_are_the_ones_cv_reports(srv):
    sp = cat_space(srv, "heldout")
    sid = sp["id"]
    rng = random.Random(9)
    train = distinct_genomes(sp, rng, 30)
    obs = observations(sp, train, smooth, noise=0.01, rng=rng)
    obs += observations(sp, train[:5], smooth, noise=0.01, rng=rng)  # repeats
    srv.post_observations(sid, obs)
    fit = srv.fit(sid, "miou")
    check_fitted(fit, n=35, distinct=30)
    assert "heldout" not in fit and "heldout" not in srv.surrogate(sid, "miou")
    sur = srv.get(f"/v1/spaces/{sid}/surrogate?metric=miou&heldout=true").json
    assert sur["version"] == fit["version"], "no refit in between"
    rows = sur["heldout"]
    assert len(rows) == 30
    assert sorted(map(tuple, (r["genome"] for r in rows))) == sorted(map(tuple, train))
    means = {}
    for o in obs:
        means.setdefault(tuple(o["genome"]), []).append(o["value"])
    for r in rows:
        values = means[tuple(r["genome"])]
        assert r["count"] == len(values)
        assert abs(r["observed"] - sum(values) / len(values)) < 1e-12
        assert r["std"] > 0 and math.isfinite(r["mean"])
    # The figures of cv come from exactly these rows.
    y, m = [r["observed"] for r in rows], [r["mean"] for r in rows]
    assert abs(kendall_tau_b(y, m) - sur["cv"]["kendall_tau"]) < 1e-9
    rmse = math.sqrt(sum((a - b) ** 2 for a, b in zip(y, m)) / len(rows))
    assert abs(rmse - sur["cv"]["rmse"]) < 1e-9
    inside = sum(abs(a - b) <= 2 * r["std"] for a, b, r in zip(y, m, rows)) / len(rows)
    assert abs(inside - sur["cv"]["coverage_2sigma"]) < 1e-9
    # Held out, not in-sample: they differ from the fitted model's answers.
    est = srv.space_estimate(sid, [r["genome"] for r in rows])
    fitted, _ = predictions(est["results"])
    assert max(abs(p["mean"] - h) for p, h in zip(fitted, m)) > 1e-6
    assert srv.get(f"/v1/spaces/{sid}/surrogate?metric=miou&heldout=false").json.get("heldout") is None


def test_space_estimate_without_predictions(srv):
    sp = cat_space(srv, "nopredict")
    sid = sp["id"]
    rng = random.Random(3)
    train = distinct_genomes(sp, rng, 20)
    srv.post_observations(sid, observations(sp, train, smooth))
    srv.fit(sid, "miou")
    body = {"devices": [], "genomes": train[:4]}
    with_pred = srv.post(f"/v1/spaces/{sid}/estimate?predict=true", body).json
    assert all(r["predicted"]["miou"] is not None for r in with_pred["results"])
    assert with_pred == srv.post(f"/v1/spaces/{sid}/estimate", body).json, "true is the default"
    without = srv.post(f"/v1/spaces/{sid}/estimate?predict=false", body).json
    for a, b in zip(with_pred["results"], without["results"]):
        assert b["genome"] == a["genome"] and b["predicted"] is None
        assert "predict=false" in b["predicted_reason"] and "predicted_reasons" not in b


def test_heldout_is_empty_without_a_model(srv):
    sp = cat_space(srv, "heldout-few")
    sid = sp["id"]
    srv.post_observations(sid, observations(sp, distinct_genomes(sp, random.Random(2), 3), smooth))
    sur = srv.get(f"/v1/spaces/{sid}/surrogate?metric=miou&heldout=true").json
    assert sur["status"] == "too_few" and sur["heldout"] == []


def test_default_fidelity_is_the_one_with_most_observations(srv):
    sp = cat_space(srv, "fid")
    sid = sp["id"]
    rng = random.Random(5)
    gs = distinct_genomes(sp, rng, 40)
    srv.post_observations(sid, observations(sp, gs[:12], smooth, fidelity="val-subset-100"))
    srv.post_observations(sid, observations(sp, gs[12:32], lambda s, g: smooth(s, g) + 0.1, fidelity="val-full"))
    assert srv.surrogate(sid, "miou")["fidelity"] == "val-full"
    small = srv.fit(sid, "miou", fidelity="val-subset-100")
    check_fitted(small, n=12, distinct=12, fidelity="val-subset-100")
    full = srv.fit(sid, "miou")
    check_fitted(full, n=20, distinct=20, fidelity="val-full")
    srv.get(f"/v1/spaces/{sid}/surrogate?metric=miou&fidelity=val-other", expect=404)

    # Estimates predict at the busiest fidelity, or at ?fidelity=.
    probe = gs[32:]
    default = srv.space_estimate(sid, probe)
    preds, v = predictions(default["results"])
    assert {p["fidelity"] for p in preds} == {"val-full"} and v >= full["version"]
    r = srv.post(f"/v1/spaces/{sid}/estimate?fidelity=val-subset-100",
                 {"devices": [], "genomes": probe}, expect=200).json
    preds_small, v_small = predictions(r["results"])
    assert {p["fidelity"] for p in preds_small} == {"val-subset-100"} and v_small >= small["version"]
    # The two fidelities are different models (val-full is 0.1 higher).
    assert sum(a["mean"] for a in preds) / len(preds) > sum(b["mean"] for b in preds_small) / len(preds) + 0.05
    # A fidelity without observations: no prediction, and why.
    r = srv.post(f"/v1/spaces/{sid}/estimate?fidelity=finetuned", {"devices": [], "genomes": probe[:2]},
                 expect=200).json
    for res in r["results"]:
        assert res["predicted"] == {"miou": None} and res["predicted_reasons"]["miou"]

    # More observations at val-subset-100 make it the busiest.
    srv.post_observations(sid, observations(sp, gs[:10], smooth, fidelity="val-subset-100"))
    assert srv.surrogate(sid, "miou")["fidelity"] == "val-subset-100"
    assert srv.fit(sid, "miou")["fidelity"] == "val-subset-100"


def test_background_refit_after_new_observations(srv):
    """--refit-delay-ms 100: an accepted batch refits its model shortly,
    without anyone asking."""
    sp = cat_space(srv, "bg")
    sid = sp["id"]
    rng = random.Random(6)
    gs = distinct_genomes(sp, rng, 30)
    srv.post_observations(sid, observations(sp, gs[:15], smooth))
    first = wait_for(lambda: (lambda s: s if s["status"] == "fitted" and s["n"] == 15 else None)(
        srv.surrogate(sid, "miou")), what="the first fit")
    time.sleep(0.3)  # let the refit of the first batch land
    v0 = srv.surrogate(sid, "miou")["version"]
    assert v0 >= first["version"]
    srv.post_observations(sid, observations(sp, gs[15:], smooth))
    t = time.monotonic()
    sur = wait_for(lambda: (lambda s: s if s["version"] > v0 and s["n"] == 30 else None)(
        srv.surrogate(sid, "miou")), timeout=5.0, what="a background refit of the new observations")
    assert time.monotonic() - t < 5.0
    check_fitted(sur, n=30, distinct=30)
    # Estimates use it.
    _, v = predictions(srv.space_estimate(sid, gs[:3])["results"])
    assert v >= sur["version"]


def test_surrogate_metric_parameter(srv):
    sp = cat_space(srv, "param")
    sid = sp["id"]
    srv.post_observations(sid, observations(sp, [[0, 0, 0, 0]], smooth))
    r = srv.get(f"/v1/spaces/{sid}/surrogate", expect=400)
    assert r.json["type"].endswith("/invalid-parameter")
    assert any(e.get("parameter") == "metric" for e in r.json["errors"])
    r = srv.post(f"/v1/spaces/{sid}/surrogate:fit", expect=400)
    assert any(e.get("parameter") == "metric" for e in r.json["errors"])
    for path in (f"/v1/spaces/{sid}/surrogate?metric=pixel_acc", f"/v1/spaces/{sid}/surrogate:fit?metric=pixel_acc"):
        r = srv.request("GET" if "fit" not in path else "POST", path, expect=404)
        assert any(e.get("parameter") == "metric" for e in r.json["errors"])
    assert srv.surrogate(sid, "miou")["status"] == "too_few"


# ----------------------------------------------- the built-in mobilenetv2

@pytest.fixture(scope="module")
def mbv2(srv):
    """40 observations of lean_accuracy on the built-in mobilenetv2 at
    FIDELITY (the smallest genome and some near it among them), fitted."""
    sp = srv.space(MBV2)
    rng = random.Random(7)
    lean = [[0] * len(sp["genes"])] + distinct_genomes(sp, rng, 7, exclude=[[0] * len(sp["genes"])], p=0.1)
    genomes = lean + distinct_genomes(sp, rng, 32, exclude=lean)
    obs = observations(sp, genomes, lean_accuracy, fidelity=FIDELITY, noise=0.002, rng=rng)
    assert srv.post_observations(MBV2, obs)["total"] == 40
    fits = [srv.fit(MBV2, "miou", fidelity=FIDELITY) for _ in range(2)]
    return {"space": sp, "genomes": genomes, "fits": fits, "rng": rng,
            "observed": {tuple(o["genome"]): o["value"] for o in obs}}


def test_surrogate_fits_mobilenetv2(srv, mbv2):
    sp = mbv2["space"]
    f1, f2 = mbv2["fits"]
    check_fitted(f1, n=40, distinct=40, fidelity=FIDELITY)
    check_fitted(f2, n=40, distinct=40, fidelity=FIDELITY)
    assert f2["version"] > f1["version"]
    assert f2["space"] == MBV2
    assert srv.surrogate(MBV2, "miou")["fidelity"] == FIDELITY
    # Predictions with costs (example-cpu), and with devices [] (MACs,
    # FLOPs and params only).
    rng = random.Random(8)
    test = distinct_genomes(sp, rng, 30, exclude=mbv2["genomes"])
    with_dev = srv.space_estimate(MBV2, test, devices=[DEVICE])
    no_dev = srv.space_estimate(MBV2, test)
    assert no_dev["lut_versions"] == {} and set(with_dev["lut_versions"]) == {DEVICE}
    p_dev, v_dev = predictions(with_dev["results"])
    p_no, v_no = predictions(no_dev["results"])
    for a, b in zip(with_dev["results"], no_dev["results"]):
        assert set(a["latency"]) == {DEVICE} and a["latency"][DEVICE]["complete"]
        assert b["latency"] == {}
        assert (a["macs"], a["flops"], a["params"]) == (b["macs"], b["flops"], b["params"])
        assert a["predicted"]["miou"]["fidelity"] == FIDELITY
    if v_dev == v_no:
        assert p_dev == p_no, "the same model predicts the same, whatever the devices"
    assert spearman([p["mean"] for p in p_no], [lean_accuracy(sp, g) for g in test]) > 0.6
    # Genomes that spell the same network predict the same (gated genes).
    keep = next(i for i, g in enumerate(sp["genes"]) if g["name"].endswith(".keep"))
    g0 = list(test[0])
    g0[keep] = 0
    g1 = list(g0)
    g1[keep + 1] = 3
    r = srv.space_estimate(MBV2, [g0, g1])["results"]
    assert r[0]["predicted"] == r[1]["predicted"]


# ---------------------------------------------------------- concurrency

@pytest.mark.slow
def test_refits_under_concurrent_estimates(srv):
    """Estimators and a screener read predictions while observations arrive
    and refits swap models in: no error, one model version per answer, and
    versions never go back for a reader."""
    sp = builder_space(srv, "race", input_size=64)
    sid = sp["id"]
    rng = random.Random(9)
    pool = distinct_genomes(sp, rng, 75)
    srv.post_observations(sid, observations(sp, pool[:15], lean_accuracy, noise=0.002, rng=rng))
    v0 = srv.fit(sid, "miou")["version"]
    probes = distinct_genomes(sp, rng, 16, exclude=pool)

    failures = []
    done = threading.Event()
    seen = []            # every model version a reader saw
    fit_versions = []
    lock = threading.Lock()

    def guarded(fn):
        def run(*a):
            try:
                fn(*a)
            except BaseException:  # noqa: B902 - report anything from a thread
                failures.append(traceback.format_exc())
                done.set()
        return run

    @guarded
    def estimator(k):
        last = 0
        while not done.is_set():
            r = srv.space_estimate(sid, probes[k:] + probes[:k], expect=200)
            assert all(x["predicted"]["miou"]["fidelity"] == "default" for x in r["results"])
            _, v = predictions(r["results"])
            assert v >= last, f"model version went back from {last} to {v}"
            last = v
            with lock:
                seen.append(v)

    @guarded
    def screener():
        last = 0
        while not done.is_set():
            r = srv.screen(sid, {"genomes": probes, "objectives": [{"metric": "miou", "goal": "max"},
                                                                   {"cost": "params", "goal": "min"}]})
            _, v = predictions(r["results"])
            assert v >= last
            last = v
            with lock:
                seen.append(v)

    @guarded
    def writer():
        try:
            for k in range(12):
                batch = pool[15 + 5 * k: 20 + 5 * k]
                r = srv.post_observations(sid, observations(sp, batch, lean_accuracy, noise=0.002, rng=rng))
                assert r["total"] == 20 + 5 * k
                if k % 3 == 2:
                    fit_versions.append(srv.fit(sid, "miou")["version"])
                time.sleep(0.05)
        finally:
            done.set()

    threads = [threading.Thread(target=estimator, args=(k,)) for k in range(3)]
    threads += [threading.Thread(target=screener), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    assert not failures, failures[0]
    assert fit_versions == sorted(set(fit_versions)) and fit_versions[0] > v0
    final = srv.surrogate(sid, "miou")
    check_fitted(final, n=75, distinct=75)
    assert max(seen) <= final["version"]
    assert len(set(seen)) >= 2, f"the readers saw one model only ({set(seen)}): no refit raced them"


# -------------------------------------------------------------- screening

def screen_oracle(sc, observed, objectives):
    """Check every verdict of a screening answer against docs/api.md.

    observed: canonical genome -> mean observed metric (the one metric
    objective, "miou", whose goal the objectives say). With cost objectives,
    every observed genome must be among the candidates: their answers carry
    their costs, which the check compares."""
    z = sc["z"]
    goal = next(o["goal"] for o in objectives if "metric" in o)
    sign = 1 if goal == "max" else -1
    costs = {tuple(r["genome"]): r.get("costs") for r in sc["results"]}
    if any("cost" in o for o in objectives):
        assert set(observed) <= set(costs), "put the observed genomes among the candidates"

    def cost(c, o):
        if o["cost"] == "latency":
            lat = c["latency"][o["device"]]
            assert lat["complete"]
            return lat["ms"]
        return c[o["cost"]]

    def no_worse(obs_costs, cand_costs):
        for o in objectives:
            if "cost" in o:
                a, b = cost(obs_costs, o), cost(cand_costs, o)
                if not (a <= b if o["goal"] == "min" else a >= b):
                    return False
        return True

    counts = dict.fromkeys(REASONS, 0)
    for r in sc["results"]:
        counts[r["reason"]] += 1
        g = tuple(r["genome"])
        if g in observed:
            assert r["reason"] == "already_observed", r
            continue
        p = r["predicted"]["miou"]
        # The optimistic bound: mean + z*std for max, mean - z*std for min.
        bound = p["mean"] + sign * z * p["std"]
        rivals = [o for o in observed if no_worse(costs.get(o), costs[g])]
        if r["reason"] == "dominated":
            d = tuple(r["dominated_by"])
            assert d in observed and d in rivals, r
            assert sign * observed[d] > sign * bound, (observed[d], bound)
        else:
            assert not any(sign * observed[o] > sign * bound for o in rivals), (r, bound)
            want = "uncertain" if any(sign * observed[o] > sign * p["mean"] for o in rivals) else "promising"
            assert r["reason"] == want, (r, [observed[o] for o in rivals])
    assert sc["summary"]["by_reason"] == counts
    assert sc["summary"]["kept"] == counts["uncertain"] + counts["promising"]
    assert sc["summary"]["pruned"] == len(sc["results"]) - sc["summary"]["kept"]
    return counts


def test_screen_prunes_dominated_candidates(srv, mbv2):
    sp = mbv2["space"]
    rng = random.Random(10)
    observed = mbv2["observed"]
    candidates = distinct_genomes(sp, rng, 60, exclude=observed) \
        + distinct_genomes(sp, rng, 10, exclude=list(observed), p=0.1) + [list(g) for g in observed]
    candidates = [list(g) for g in dict.fromkeys(tuple(c) for c in candidates)]
    objectives = [{"metric": "miou", "goal": "max"}, {"cost": "macs", "goal": "min"},
                  {"cost": "latency", "device": DEVICE, "goal": "min"}]
    sc = srv.screen(MBV2, {"genomes": candidates, "objectives": objectives})
    assert sc["space"] == MBV2 and sc["confidence"] == 0.95 and abs(sc["z"] - Z95) < 1e-3
    assert set(sc["lut_versions"]) == {DEVICE}
    assert [r["genome"] for r in sc["results"]] == candidates
    _, version = predictions(sc["results"])
    assert version >= mbv2["fits"][-1]["version"]
    counts = screen_oracle(sc, observed, objectives)
    assert counts["already_observed"] == len(observed)
    assert counts["dominated"] >= 10, counts
    assert counts["constraint"] == 0
    # Costs are those of an estimate.
    est = srv.space_estimate(MBV2, candidates[:10], devices=[DEVICE])
    for r, e in zip(sc["results"], est["results"]):
        assert r["costs"]["macs"] == e["macs"] and r["costs"]["flops"] == e["flops"]
        assert r["costs"]["params"] == e["params"]
        assert r["costs"]["latency"] == {DEVICE: {"ms": pytest.approx(e["latency"][DEVICE]["ms"], rel=1e-12),
                                                  "complete": True}}
        if e["predicted"]["miou"]["model_version"] == version:
            assert r["predicted"] == e["predicted"]

    # A higher confidence widens the bound: fewer (never more) are dominated.
    sc99 = srv.screen(MBV2, {"genomes": candidates, "objectives": objectives, "confidence": 0.999,
                             "fidelity": FIDELITY})
    assert abs(sc99["z"] - 3.090232306167813) < 1e-3 and sc99["confidence"] == 0.999
    screen_oracle(sc99, observed, objectives)
    if predictions(sc99["results"])[1] == version:
        dom95 = {tuple(r["genome"]) for r in sc["results"] if r["reason"] == "dominated"}
        dom99 = {tuple(r["genome"]) for r in sc99["results"] if r["reason"] == "dominated"}
        assert dom99 <= dom95

    # An objective the observed genomes are worse at: params max (bigger
    # is "better") — the small observed networks dominate nothing.
    objectives_max = [{"metric": "miou", "goal": "max"}, {"cost": "params", "goal": "max"}]
    scm = srv.screen(MBV2, {"genomes": candidates, "objectives": objectives_max})
    screen_oracle(scm, observed, objectives_max)


def test_screen_with_too_few_observations_prunes_nothing_as_dominated(srv):
    sp = builder_space(srv, "few-scr", input_size=128)
    sid = sp["id"]
    rng = random.Random(11)
    gs = distinct_genomes(sp, rng, 20)
    body = {"genomes": gs, "objectives": [{"metric": "miou", "goal": "max"}, {"cost": "macs", "goal": "min"}]}
    # No observations at all.
    sc = srv.screen(sid, body)
    assert {r["reason"] for r in sc["results"]} <= {"uncertain", "promising"}
    for r in sc["results"]:
        assert r["keep"] is True and r["dominated_by"] is None
        assert r["predicted"] is None and r["predicted_reason"]
    # Five observations (the smallest networks, the best ones): still no model.
    observed = sorted(gs, key=lambda g: fraction(sp, g))[:5]
    srv.post_observations(sid, observations(sp, observed, lean_accuracy))
    # The same networks spelled otherwise are the observed ones.
    keep = next(i for i, g in enumerate(sp["genes"]) if g["name"].endswith(".keep"))
    spelled = list(observed[0])
    spelled[keep] = 0
    spelled_too = list(spelled)
    spelled_too[keep + 1] = 3
    srv.post_observations(sid, observations(sp, [spelled], lean_accuracy))
    candidates = gs + [spelled_too, named(sp, observed[1])]
    sc = srv.screen(sid, dict(body, genomes=candidates))
    obs_set = {tuple(canonical(sp, g)) for g in observed + [spelled]}
    for r, g in zip(sc["results"], candidates):
        if isinstance(g, dict):
            g = [c["choices"].index(g[c["name"]]) for c in sp["genes"]]
        assert r["genome"] == canonical(sp, g)
        if tuple(canonical(sp, g)) in obs_set:
            assert r["reason"] == "already_observed" and r["keep"] is False and r["dominated_by"] is None
        else:
            assert r["reason"] in ("uncertain", "promising") and r["keep"] is True
        assert r["predicted"] == {"miou": None} and r["predicted_reasons"]["miou"]
    assert sc["summary"]["by_reason"]["dominated"] == 0
    canon = [r["genome"] for r in sc["results"]]
    assert sc["summary"]["by_reason"]["already_observed"] == sum(tuple(g) in obs_set for g in canon) >= 7
    # Observed only for another metric objective or at another fidelity:
    # not "already observed".
    both = dict(body, genomes=observed, objectives=body["objectives"] + [{"metric": "pixel_acc", "goal": "max"}])
    sc = srv.screen(sid, both)
    assert {r["reason"] for r in sc["results"]} <= {"uncertain", "promising"}
    srv.post_observations(sid, observations(sp, observed[:1], lean_accuracy, metric="pixel_acc"))
    srv.post_observations(sid, observations(sp, observed[1:2], lean_accuracy, fidelity="val-full"))
    sc = srv.screen(sid, dict(body, genomes=observed[:2], fidelity="val-full"))
    assert [r["reason"] for r in sc["results"]][1] == "already_observed"
    assert sc["results"][0]["reason"] != "already_observed"
    sc = srv.screen(sid, dict(both, genomes=observed[:2]))
    assert sc["results"][0]["reason"] == "already_observed"
    assert sc["results"][1]["reason"] != "already_observed"


def test_screen_constraints_on_the_example_cpu(srv):
    sp = builder_space(srv, "cons", input_size=128)
    sid = sp["id"]
    rng = random.Random(12)
    gs = distinct_genomes(sp, rng, 30)
    est = srv.space_estimate(sid, gs, devices=[DEVICE])
    ms = [r["latency"][DEVICE]["ms"] for r in est["results"]]
    macs = [r["macs"] for r in est["results"]]
    assert all(r["latency"][DEVICE]["complete"] for r in est["results"])
    limit = sorted(ms)[len(ms) // 2]
    mlimit = sorted(macs)[len(macs) // 3]
    objectives = [{"metric": "miou", "goal": "max"}, {"cost": "latency", "device": DEVICE, "goal": "min"}]

    def verdicts(constraints):
        sc = srv.screen(sid, {"genomes": gs, "objectives": objectives, "constraints": constraints})
        assert sc["lut_versions"] == est["lut_versions"]
        for r, e in zip(sc["results"], est["results"]):
            assert r["costs"]["latency"][DEVICE]["ms"] == pytest.approx(e["latency"][DEVICE]["ms"], rel=1e-12)
            assert r["costs"]["macs"] == e["macs"]
        return [(r["reason"], r.get("constraint")) for r in sc["results"]], sc

    lat_ms, sc = verdicts([{"cost": "latency", "device": DEVICE, "max": limit}])
    assert lat_ms == [("constraint", 0) if m > limit else ("uncertain", None) for m in ms]
    assert all(r["keep"] is (r["reason"] != "constraint") for r in sc["results"])
    assert sc["summary"]["by_reason"]["constraint"] == sum(m > limit for m in ms) > 0
    # The same limit in the device's own unit (us), and explicitly in ms.
    assert verdicts([{"cost": "latency", "device": DEVICE, "max": limit * 1000, "unit": "us"}])[0] == lat_ms
    assert verdicts([{"cost": "latency", "device": DEVICE, "max": limit, "unit": "ms"}])[0] == lat_ms
    # MACs, then both: the first violated constraint is named.
    by_macs, _ = verdicts([{"cost": "macs", "max": mlimit}])
    assert by_macs == [("constraint", 0) if m > mlimit else ("uncertain", None) for m in macs]
    both, _ = verdicts([{"cost": "macs", "max": mlimit}, {"cost": "latency", "device": DEVICE, "max": limit}])
    assert both == [("constraint", 0) if m > mlimit else ("constraint", 1) if t > limit else ("uncertain", None)
                    for m, t in zip(macs, ms)]
    flops, _ = verdicts([{"cost": "flops", "max": 2 * mlimit}, {"cost": "params", "max": 10 ** 9}])
    assert flops == by_macs


def test_screen_constraints_on_a_cycles_device_with_missing_rows(srv):
    """A cycles device (limit in cycles or ms), and one missing rows: the
    known part of the latency is a lower bound, pruned only when even that
    exceeds the limit."""
    sp = builder_space(srv, "mcu", input_size=64)
    sid = sp["id"]
    layers = srv.space_layers(sid)["layers"]
    full, part = new_id("mcu-full"), new_id("mcu-part")
    srv.put_device(full, unit="cycles", clock_mhz=100.0)
    srv.put_device(part, unit="cycles", clock_mhz=100.0)
    rows = [{"key": l["key"], "latency": {"mean": 1000.0 + l["macs"] / 100}} for l in layers]
    srv.upload(full, rows)
    # The partial table lacks every depthwise convolution.
    srv.upload(part, [r for r in rows if r["key"]["groups"] == 1])
    rng = random.Random(13)
    gs = distinct_genomes(sp, rng, 20)
    est = srv.space_estimate(sid, gs, devices=[full, part], strict=True)
    full_ms = [r["latency"][full]["ms"] for r in est["results"]]
    part_ms = [r["latency"][part]["ms"] for r in est["results"]]
    assert all(r["latency"][full]["complete"] for r in est["results"])
    assert not any(r["latency"][part]["complete"] for r in est["results"])
    limit = sorted(full_ms)[len(full_ms) // 2]
    objectives = [{"metric": "miou", "goal": "max"}]

    def reasons(constraint):
        sc = srv.screen(sid, {"genomes": gs, "objectives": objectives, "constraints": [constraint]})
        return [r["reason"] for r in sc["results"]], sc

    in_ms, sc = reasons({"cost": "latency", "device": full, "max": limit})
    assert in_ms == ["constraint" if t > limit else "uncertain" for t in full_ms]
    for r, t in zip(sc["results"], full_ms):
        assert r["costs"]["latency"] == {full: {"ms": pytest.approx(t, rel=1e-12), "complete": True}}
    in_cycles, _ = reasons({"cost": "latency", "device": full, "max": limit * 100.0 * 1000, "unit": "cycles"})
    assert in_cycles == in_ms
    # Missing rows: the known part is below the full latency; a candidate
    # whose full latency exceeds the limit but whose known part does not is
    # kept; one whose known part exceeds it is pruned.
    plimit = sorted(part_ms)[len(part_ms) // 2]
    lower, sc = reasons({"cost": "latency", "device": part, "max": plimit})
    assert lower == ["constraint" if t > plimit else "uncertain" for t in part_ms]
    assert any(f > plimit >= t for f, t in zip(full_ms, part_ms)), "pick a limit between the two"
    for r, t in zip(sc["results"], part_ms):
        assert r["costs"]["latency"][part]["complete"] is False
        assert r["costs"]["latency"][part]["ms"] == pytest.approx(t, rel=1e-12)


# ------------------------------------------------- string choices, one-hot

OPS = ["none", "skip", "conv1x1", "conv3x3"]
OP_ACC = [0.70, 0.45, 0.75, 0.50]   # non-monotone in the index: 2 > 0 > 3 > 1
WIDTHS = [1, 2, 3, 4]


def zigzag(op, w):
    return OP_ACC[op] + 0.02 * w


def test_string_choices_are_one_hot_and_rank_a_zigzag(srv):
    """op is a gene of named choices (unordered, so one-hot encoded) whose
    accuracy zigzags over its index: a scaled index could give at best a
    parabola per width, which cannot order 2 > 0 > 3 > 1. Observed by
    value on the 12 genomes off the diagonal, the fitted model ranks the
    ops at every width, the held-out diagonal included."""
    sid = new_id("ops")
    sp = srv.create_space({"id": sid, "genes": [{"name": "op", "choices": OPS},
                                                {"name": "w", "choices": WIDTHS}]})
    assert [g["ordered"] for g in sp["genes"]] == [False, True]
    rng = random.Random(21)
    train = [(o, w) for o in range(4) for w in range(4) if o != w]
    obs = [{"genome": {"op": OPS[o], "w": WIDTHS[w]}, "metric": "acc",
            "value": zigzag(o, w) + rng.gauss(0, 0.003)} for o, w in train for _ in range(2)]
    assert srv.post_observations(sid, obs)["accepted"] == 24
    # Echoed as indices, as ever.
    listed = srv.observations(sid)["observations"]
    assert [o["genome"] for o in listed] == [[o, w] for o, w in train for _ in range(2)]
    check_fitted(srv.fit(sid, "acc"), n=24, distinct=12, metric="acc")

    every = [(o, w) for w in range(4) for o in range(4)]
    est = srv.space_estimate(sid, [{"op": OPS[o], "w": WIDTHS[w]} for o, w in every])
    preds, version = predictions(est["results"], "acc")
    assert [r["genome"] for r in est["results"]] == [[o, w] for o, w in every]
    mean = {ow: p["mean"] for ow, p in zip(every, preds)}
    truth_order = sorted(range(4), key=lambda o: -OP_ACC[o])
    for w in range(4):
        assert sorted(range(4), key=lambda o: -mean[(o, w)]) == truth_order, (w, mean)
        assert abs(mean[(w, w)] - zigzag(w, w)) < 0.03, (w, mean[(w, w)])

    # Screening takes the same genomes by value and answers indices.
    sc = srv.screen(sid, {"genomes": [{"op": "conv1x1", "w": 3}, {"op": "skip", "w": 1}, [3, 3]],
                          "objectives": [{"metric": "acc", "goal": "max"}]})
    assert [r["genome"] for r in sc["results"]] == [[2, 2], [1, 0], [3, 3]]
    if sc["results"][0]["predicted"]["acc"]["model_version"] == version:
        assert sc["results"][0]["predicted"]["acc"]["mean"] == mean[(2, 2)]
    assert sc["results"][1]["reason"] == "already_observed"


def test_an_unknown_string_value_is_422_and_stores_nothing(srv):
    sid = new_id("ops-bad")
    srv.create_space({"id": sid, "genes": [{"name": "op", "choices": OPS}, {"name": "w", "choices": WIDTHS}]})
    good = {"genome": {"op": "skip", "w": 2}, "metric": "acc", "value": 0.5}
    for genome, pointer in [({"op": "conv5x5", "w": 2}, "/observations/1/genome/op"),
                            ({"op": 1, "w": 2}, "/observations/1/genome/op"),
                            ({"op": "skip", "w": "2"}, "/observations/1/genome/w")]:
        r = srv.post(f"/v1/spaces/{sid}/observations",
                     {"observations": [good, dict(good, genome=genome)]}, expect=422)
        err = r.json["errors"][0]
        assert err["pointer"] == pointer, r.json
        if pointer.endswith("/op"):
            assert '["none", "skip", "conv1x1", "conv3x3"]' in err["reason"], err
    r = srv.post(f"/v1/spaces/{sid}/screen", {"genomes": [{"op": "Skip", "w": 2}],
                                              "objectives": [{"metric": "acc", "goal": "max"}]}, expect=422)
    assert r.json["errors"][0]["pointer"] == "/genomes/0/op"
    assert srv.observations(sid)["observations"] == []
