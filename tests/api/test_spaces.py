"""Search spaces (docs/api.md "Search spaces", docs/spaces.md): the built-in
spaces, registering and deleting spaces, expanding genomes into layer lists,
the profiler's to-do list of layer keys, and batch costing of genomes.

Every answer is validated against schemas/ by the client (fmasapi.ROUTES).
The 4xx cases of these endpoints (bad definitions, bad genomes, wrong
methods, media types, sizes) are rows of the table in test_bad_requests.py,
which also checks that the server keeps serving and that nothing changed.
The layer lists are compared with the PyTorch twin in test_spaces_twin.py.
"""

import math
import random

import pytest

import fmasapi
from fmasapi import MBV2, X65

BUILTINS = (MBV2, X65)
DEFAULT_PARAMS = {"input_size": 513, "num_classes": 21, "output_stride": 16}
# docs/spaces.md: the genes in order, their choices and their gate.
DOC_GENES = fmasapi.SPACE_GENES
DOC_SUBNETS = {MBV2: 40960000000000, X65: 10000000000000000}
# docs/spaces.md: (params, MACs) at 513x513, output stride 16.
DOC_COSTS = {MBV2: {"max": (5225717, 16817423360), "min": (319573, 1262049792)},
             X65: {"max": (41049269, 53933060720), "min": (4443115, 12554779950)}}
DOC_MAX_LAYERS = {MBV2: 76}


def count_subnets(genes):
    """Distinct networks: each keep gene with its gated genes counts
    1 + |choices of the gated genes|; the other genes multiply."""
    gated = {}
    for name, choices, gate in genes:
        if gate:
            gated.setdefault(gate, []).append(len(choices))
    total = 1
    for name, choices, gate in genes:
        if gate:
            continue
        if name in gated:
            assert choices == [0, 1]
            total *= 1 + math.prod(gated[name])
        else:
            total *= len(choices)
    return total


def random_genome(space, rng):
    return [rng.randrange(len(g["choices"])) for g in space["genes"]]


def named(space, genome):
    return {g["name"]: g["choices"][i] for g, i in zip(space["genes"], genome)}


def no_prediction(result):
    """A space-estimate result of a space without observations, less its
    prediction members (predicted null, predicted_reason saying why)."""
    r = dict(result)
    assert r.pop("predicted") is None, result
    reason = r.pop("predicted_reason")
    assert isinstance(reason, str) and reason, result
    assert "predicted_reasons" not in r, result
    return r


def strip_name(layer):
    return {k: v for k, v in layer.items() if k != "name"}


def key_id(key):
    return fmasapi.key_id(key)


@pytest.fixture(scope="module")
def srv(shared_server):
    return shared_server


@pytest.fixture(scope="module")
def builtin(srv):
    return {sid: srv.space(sid) for sid in BUILTINS}


# ------------------------------------------------------------ built-ins

def test_list_has_both_builtins(srv):
    spaces = srv.spaces()       # validated against space-list.json (summaries)
    by_id = {s["id"]: s for s in spaces}
    assert set(BUILTINS) <= set(by_id)
    for sid in BUILTINS:
        s = by_id[sid]
        assert s["builtin"] is True
        assert s["builder"] == sid
        assert s["params"] == DEFAULT_PARAMS
        assert s["gene_count"] == len(DOC_GENES[sid])
        assert s["subnets"] == (DOC_SUBNETS[sid] if DOC_SUBNETS[sid] <= 2 ** 53
                                else str(DOC_SUBNETS[sid]))
        for absent in ("genes", "genomes", "max_layers"):
            assert absent not in s
    assert len({s["id"] for s in spaces}) == len(spaces)


@pytest.mark.parametrize("sid", BUILTINS)
def test_builtin_space_is_the_documented_one(srv, builtin, sid):
    s = builtin[sid]
    assert s["id"] == sid and s["builder"] == sid and s["builtin"] is True
    assert s["params"] == DEFAULT_PARAMS
    assert s["description"]
    doc = DOC_GENES[sid]
    assert s["gene_count"] == len(doc) == {MBV2: 33, X65: 42}[sid]
    assert [g["name"] for g in s["genes"]] == [n for n, _, _ in doc]
    for g, (name, choices, gate) in zip(s["genes"], doc):
        assert g["choices"] == choices, name
        assert g.get("gated_by") == gate, name
    # subnets: exact; a JSON integer up to 2^53, a decimal string beyond.
    assert count_subnets(doc) == DOC_SUBNETS[sid]
    if sid == MBV2:
        assert s["subnets"] == 40960000000000 and type(s["subnets"]) is int
    else:
        assert s["subnets"] == "10000000000000000"
        assert int(s["subnets"]) > 2 ** 53
    assert s["genomes"]["max"] == [len(c) - 1 for _, c, _ in doc]
    assert s["genomes"]["min"] == [0] * len(doc)
    e = srv.expand(sid, s["genomes"]["max"])
    assert s["max_layers"] == e["layer_count"]
    if sid in DOC_MAX_LAYERS:
        assert s["max_layers"] == DOC_MAX_LAYERS[sid]
    # The list's summary is the same object without the details.
    summary = next(x for x in srv.spaces() if x["id"] == sid)
    assert summary == {k: v for k, v in s.items() if k not in ("genes", "genomes", "max_layers")}


def test_unknown_space_is_404(srv):
    for path in ("/v1/spaces/nope", "/v1/spaces/nope/layers"):
        r = srv.get(path, expect=404)
        assert any(e.get("parameter") == "id" for e in r.json["errors"]), r
    r = srv.post("/v1/spaces/nope/expand", {"genome": [0]}, expect=404)
    assert any(e.get("parameter") == "id" for e in r.json["errors"]), r
    r = srv.delete("/v1/spaces/nope", expect=404)
    assert any(e.get("parameter") == "id" for e in r.json["errors"]), r


# ------------------------------------------------- registering spaces

BUILDER_CASES = [
    ("mbv2-128", MBV2, {"input_size": 128}),
    ("mbv2-256", MBV2, {"input_size": 256}),
    ("mbv2-321", MBV2, {"input_size": 321}),
    ("mbv2-os8", MBV2, {"output_stride": 8}),
    ("mbv2-32-c1", MBV2, {"input_size": 32, "num_classes": 1}),
    ("x65-321", X65, {"input_size": 321}),
    ("x65-os8-2048", X65, {"input_size": 2048, "num_classes": 1000, "output_stride": 8}),
    ("x65-defaults", X65, None),
]


@pytest.mark.parametrize("sid,builder,params", BUILDER_CASES, ids=[c[0] for c in BUILDER_CASES])
def test_register_builder_space(srv, builtin, sid, builder, params):
    body = {"id": sid, "builder": builder}
    if params is not None:
        body["params"] = params
    s = srv.create_space(body)                        # 201, validated against space.json
    try:
        want = dict(DEFAULT_PARAMS, **(params or {}))
        assert s["id"] == sid and s["builder"] == builder and s["builtin"] is False
        assert s["params"] == want
        ref = builtin[builder]
        assert s["description"] == ref["description"]  # absent: the builder's own
        for k in ("gene_count", "subnets", "genes", "genomes"):
            assert s[k] == ref[k], k
        assert srv.space(sid) == s
        assert sid in {x["id"] for x in srv.spaces()}
        e = srv.expand(sid, s["genomes"]["max"])
        assert e["space"] == sid and e["layer_count"] == s["max_layers"]
        first, last = e["layers"][0], e["layers"][-1]
        assert first["op"] == "conv2d" and first["cin"] == 3
        assert (first["h"], first["w"]) == (want["input_size"], want["input_size"])
        assert last["op"] == "upsample" and last["name"] == "upsample"
        assert (last["out_h"], last["out_w"]) == (want["input_size"], want["input_size"])
        assert last["cin"] == want["num_classes"]
        classifier = [L for L in e["layers"] if L["op"] == "conv2d" and L["bias"]]
        assert len(classifier) == 1 and classifier[0]["cout"] == want["num_classes"]
        rates = sorted(L["dilation"] for L in e["layers"]
                       if L["name"].startswith("classifier.aspp.convs.") and L["op"] == "conv2d"
                       and L["k"] == 3)
        base = [6, 12, 18] if want["output_stride"] == 16 else [12, 24, 36]
        assert rates == base
        if (want["input_size"], want["output_stride"]) != (513, 16):
            assert e["macs"] != srv.expand(builder, s["genomes"]["max"])["macs"]
        assert e["params"] == srv.expand(builder, s["genomes"]["max"])["params"] + \
            (want["num_classes"] - 21) * (256 + 1)
    finally:
        srv.delete(f"/v1/spaces/{sid}", expect=204)
    srv.get(f"/v1/spaces/{sid}", expect=404)
    srv.delete(f"/v1/spaces/{sid}", expect=404)
    assert sid not in {x["id"] for x in srv.spaces()}


def test_register_with_empty_params_and_description(srv, builtin):
    s = srv.create_space({"id": "empty-params", "builder": X65, "description": "", "params": {}})
    assert s["params"] == DEFAULT_PARAMS
    assert s["description"] == builtin[X65]["description"]
    srv.delete("/v1/spaces/empty-params", expect=204)
    s = srv.create_space({"id": "null-builder", "builder": None,
                          "genes": [{"name": "a", "choices": [3, 1, 2]}]})
    assert s["builder"] is None and s["genomes"]["max"] == [2]
    assert s["genes"][0]["choices"] == [3, 1, 2], "choices keep their order"
    srv.delete("/v1/spaces/null-builder", expect=204)


def test_register_keeps_a_description(srv):
    s = srv.create_space({"id": "described", "description": "mine, " + "d" * 1018,
                          "builder": MBV2, "params": {"input_size": 64}})
    assert s["description"] == "mine, " + "d" * 1018
    assert srv.space("described")["description"] == s["description"]
    srv.delete("/v1/spaces/described", expect=204)


def test_categorical_space(srv):
    body = {"id": "toy", "description": "a toy",
            "genes": [{"name": "depth", "choices": [1, 2, 3]},
                      {"name": "ratio", "choices": [0.25, 0.5, 1]},
                      {"name": "Act_fn-2", "choices": [-1.5]}]}
    s = srv.create_space(body)
    try:
        assert s["builder"] is None and s["params"] is None and s["builtin"] is False
        assert "max_layers" not in s
        assert s["description"] == "a toy"
        assert s["gene_count"] == 3 and s["subnets"] == 9
        assert [(g["name"], g["choices"]) for g in s["genes"]] == \
            [(g["name"], g["choices"]) for g in body["genes"]]
        assert all("gated_by" not in g for g in s["genes"])
        assert s["genomes"] == {"max": [2, 2, 0], "min": [0, 0, 0]}
        assert srv.space("toy") == s
        summary = next(x for x in srv.spaces() if x["id"] == "toy")
        assert summary["builder"] is None and summary["params"] is None
        # No layers: expand is 422, the to-do list is empty.
        r = srv.post("/v1/spaces/toy/expand", {"genome": [0, 0, 0]}, expect=422)
        assert r.json["type"].endswith("/invalid-field")
        lay = srv.space_layers("toy")
        assert lay == {"space": "toy", "count": 0, "layers": []}
        # Costing: genome only, devices must be empty.
        est = srv.space_estimate("toy", [[0, 0, 0], {"depth": 3, "ratio": 0.5, "Act_fn-2": -1.5},
                                         [2, 2, 0], {"depth": 2.0, "ratio": 1, "Act_fn-2": -1.5}])
        assert est["space"] == "toy" and est["lut_versions"] == {}
        # No observations: every result says there is no prediction, and why.
        assert [no_prediction(r) for r in est["results"]] == \
            [{"genome": [0, 0, 0]}, {"genome": [2, 1, 0]}, {"genome": [2, 2, 0]}, {"genome": [1, 2, 0]}]
        srv.put_device("toydev")
        lay = srv.space_layers("toy", device="toydev")
        assert (lay["count"], lay["present"], lay["missing"], lay["layers"]) == (0, 0, 0, [])
        assert lay["coverage"] == 1.0
        r = srv.post("/v1/spaces/toy/estimate", {"devices": ["toydev"], "genomes": [[0, 0, 0]]},
                     expect=422)
        assert any(e.get("pointer", "").startswith("/devices") for e in r.json["errors"]), r
        srv.delete("/v1/devices/toydev", expect=204)
    finally:
        srv.delete("/v1/spaces/toy", expect=204)
    srv.get("/v1/spaces/toy", expect=404)


@pytest.mark.parametrize("n,subnets", [(53, 2 ** 53), (54, str(2 ** 54)), (1024, str(2 ** 1024))])
def test_categorical_subnets_integer_up_to_2_53_string_beyond(srv, n, subnets):
    sid = f"bits-{n}"
    s = srv.create_space({"id": sid, "genes": [{"name": f"b{i}", "choices": [0, 1]}
                                               for i in range(n)]})
    try:
        assert s["subnets"] == subnets and type(s["subnets"]) is type(subnets)
        assert s["gene_count"] == n
    finally:
        srv.delete(f"/v1/spaces/{sid}", expect=204)


# ------------------------------------------- string choices and "ordered"

OPS = ["none", "skip", "conv1x1", "conv3x3"]
NAMED_GENES = [{"name": "op", "choices": OPS},                                # strings: unordered
               {"name": "size", "choices": ["small", "medium", "large"], "ordered": True},
               {"name": "width", "choices": [16, 32, 64], "ordered": False},
               {"name": "depth", "choices": [1, 2, 3]},                       # numbers: ordered
               {"name": "kind", "choices": ["x" * 64, "é ✓", "a b"], "ordered": False}]


def test_categorical_space_with_string_choices_and_ordered(srv):
    body = {"id": "named-choices", "genes": NAMED_GENES}
    s = srv.create_space(body)
    try:
        assert s["gene_count"] == 5 and s["subnets"] == 4 * 3 * 3 * 3 * 3
        assert [(g["name"], g["choices"]) for g in s["genes"]] == \
            [(g["name"], g["choices"]) for g in NAMED_GENES], "choices as given"
        # ordered: as given, else true for numbers and false for strings.
        assert [g["ordered"] for g in s["genes"]] == [False, True, False, True, False]
        assert s["genomes"] == {"max": [3, 2, 2, 2, 2], "min": [0, 0, 0, 0, 0]}
        assert srv.space("named-choices") == s
        # Genomes: indices as today, or values: strings for string genes.
        by_value = {"op": "conv1x1", "size": "large", "width": 32, "depth": 3.0, "kind": "é ✓"}
        est = srv.space_estimate("named-choices", [[2, 2, 1, 2, 1], by_value])
        assert [r["genome"] for r in est["results"]] == [[2, 2, 1, 2, 1]] * 2, "answers give indices"
        # Numeric genes keep their own rule: "ordered" does not change values.
        assert srv.space_estimate("named-choices", [dict(by_value, width=32.0)])["results"][0]["genome"] == \
            [2, 2, 1, 2, 1]
    finally:
        srv.delete("/v1/spaces/named-choices", expect=204)
    # Builder genes are ordered numbers.
    assert all(g["ordered"] is True for g in srv.space(MBV2)["genes"])


def bad_gene(gene):
    return {"id": "bad-named", "genes": [{"name": "ok", "choices": ["a", "b"]}, gene]}


BAD_NAMED = [
    ("duplicate-string", {"name": "g", "choices": ["a", "b", "a"]}, "/genes/1/choices/2"),
    ("empty-string", {"name": "g", "choices": ["a", ""]}, "/genes/1/choices/1"),
    ("string-then-number", {"name": "g", "choices": ["a", 1]}, "/genes/1/choices/1"),
    ("number-then-string", {"name": "g", "choices": [1, 2, "a"]}, "/genes/1/choices/2"),
    ("string-then-bool", {"name": "g", "choices": ["a", True]}, "/genes/1/choices/1"),
    ("string-then-null", {"name": "g", "choices": ["a", None]}, "/genes/1/choices/1"),
    ("string-then-array", {"name": "g", "choices": ["a", ["b"]]}, "/genes/1/choices/1"),
    ("too-long", {"name": "g", "choices": ["a", "x" * 65]}, "/genes/1/choices/1"),
    ("too-long-utf8", {"name": "g", "choices": ["é" * 33]}, "/genes/1/choices/0"),
    ("control-char", {"name": "g", "choices": ["a\nb"]}, "/genes/1/choices/0"),
    ("number-in-quotes", {"name": "g", "choices": ["a", "6"]}, "/genes/1/choices/1"),
    ("real-in-quotes", {"name": "g", "choices": ["-0.5e3"]}, "/genes/1/choices/0"),
    ("ordered-string", {"name": "g", "choices": ["a"], "ordered": "false"}, "/genes/1/ordered"),
    ("ordered-number", {"name": "g", "choices": [1, 2], "ordered": 0}, "/genes/1/ordered"),
    ("ordered-null", {"name": "g", "choices": [1, 2], "ordered": None}, "/genes/1/ordered"),
    ("unknown-field", {"name": "g", "choices": ["a"], "unordered": True}, "/genes/1/unordered"),
    ("257-strings", {"name": "g", "choices": [f"c{i}" for i in range(257)]}, "/genes/1/choices"),
]


@pytest.mark.parametrize("case,gene,pointer", BAD_NAMED, ids=[c[0] for c in BAD_NAMED])
def test_bad_string_choices_and_ordered_are_422(srv, case, gene, pointer):
    r = srv.post("/v1/spaces", bad_gene(gene), expect=422)
    assert r.json["type"].endswith("/invalid-field")
    assert r.json["errors"][0]["pointer"] == pointer, r.json
    srv.get("/v1/spaces/bad-named", expect=404)


def test_too_many_one_hot_features_is_422(srv):
    # 16 unordered genes of 256 choices make 4096 features, the most a
    # space may have; any gene after them is one too many.
    wide = [{"name": f"g{i}", "choices": [f"c{k}" for k in range(256)]} for i in range(16)]
    s = srv.create_space({"id": "wide", "genes": wide})
    assert s["gene_count"] == 16
    srv.delete("/v1/spaces/wide", expect=204)
    for extra in ({"name": "n", "choices": [1, 2, 3]}, {"name": "u", "choices": ["a", "b"]}):
        r = srv.post("/v1/spaces", {"id": "wide", "genes": wide + [extra]}, expect=422)
        assert r.json["errors"][0]["pointer"] == "/genes/16"
    # Ordered genes make one feature each.
    narrow = [{"name": f"g{i}", "choices": [f"c{k}" for k in range(256)], "ordered": True} for i in range(17)]
    assert srv.create_space({"id": "wide", "genes": narrow})["gene_count"] == 17
    srv.delete("/v1/spaces/wide", expect=204)


def test_genomes_by_string_value(srv):
    srv.create_space({"id": "by-value", "genes": NAMED_GENES})
    good = {"op": "skip", "size": "small", "width": 64, "depth": 1, "kind": "a b"}
    try:
        assert srv.space_estimate("by-value", [good])["results"][0]["genome"] == [1, 0, 2, 0, 2]
        bad = [
            (dict(good, op="conv5x5"), "/genomes/0/op", ['"none", "skip", "conv1x1", "conv3x3"', "conv5x5"]),
            (dict(good, op=1), "/genomes/0/op", ['"none", "skip", "conv1x1", "conv3x3"']),
            (dict(good, op="Skip"), "/genomes/0/op", ["Skip"]),
            (dict(good, width="64"), "/genomes/0/width", ["number"]),
            (dict(good, depth=4), "/genomes/0/depth", ["depth"]),
            ({k: v for k, v in good.items() if k != "size"}, "/genomes/0/size", ["size"]),
        ]
        for genome, pointer, words in bad:
            r = srv.post("/v1/spaces/by-value/estimate", {"devices": [], "genomes": [genome]}, expect=422)
            err = r.json["errors"][0]
            assert err["pointer"] == pointer, (genome, r.json)
            for w in words:
                assert w in err["reason"], (genome, err)
        # The index form is unchanged: the string gene's index, not its name.
        r = srv.post("/v1/spaces/by-value/estimate", {"devices": [], "genomes": [[4, 0, 0, 0, 0]]}, expect=422)
        assert r.json["errors"][0]["pointer"] == "/genomes/0/0"
    finally:
        srv.delete("/v1/spaces/by-value", expect=204)


@pytest.mark.slow
def test_string_choices_survive_restart(fmasd_factory):
    p = fmasd_factory()
    s = p.client.create_space({"id": "named", "genes": NAMED_GENES})
    assert p.stop() is None
    c = fmasd_factory(data_dir=p.data_dir).client
    assert c.space("named") == s
    assert c.space_estimate("named", [{"op": "conv3x3", "size": "medium", "width": 16, "depth": 2,
                                       "kind": "x" * 64}])["results"][0]["genome"] == [3, 1, 0, 1, 0]


def test_duplicate_id_is_409(srv, builtin):
    s = srv.create_space({"id": "dup", "builder": MBV2, "params": {"input_size": 96}})
    try:
        for body in ({"id": "dup", "builder": MBV2, "params": {"input_size": 128}},
                     {"id": "dup", "builder": X65},
                     {"id": "dup", "genes": [{"name": "a", "choices": [1]}]}):
            r = srv.post("/v1/spaces", body, expect=409)
            assert r.json["type"] == fmasapi.PROBLEM_BASE + "conflict"
            assert any(e.get("pointer") == "/id" for e in r.json["errors"]), r
        assert srv.space("dup") == s                  # unchanged
        for sid in BUILTINS:
            r = srv.post("/v1/spaces", {"id": sid, "builder": sid}, expect=409)
            assert any(e.get("pointer") == "/id" for e in r.json["errors"]), r
            assert srv.space(sid) == builtin[sid]
    finally:
        srv.delete("/v1/spaces/dup", expect=204)


def test_delete_registered_then_404_and_builtin_409(srv, builtin):
    srv.create_space({"id": "gone", "builder": X65, "params": {"input_size": 64}})
    r = srv.delete("/v1/spaces/gone", expect=204)
    assert r.body == b""
    for m, path in (("GET", "/v1/spaces/gone"), ("DELETE", "/v1/spaces/gone"),
                    ("GET", "/v1/spaces/gone/layers")):
        srv.request(m, path, expect=404)
    srv.post("/v1/spaces/gone/expand", {"genome": [0]}, expect=404)
    srv.post("/v1/spaces/gone/estimate", {"devices": [], "genomes": [[0]]}, expect=404)
    # The id is free again.
    srv.create_space({"id": "gone", "genes": [{"name": "a", "choices": [1, 2]}]})
    srv.delete("/v1/spaces/gone", expect=204)
    for sid in BUILTINS:
        r = srv.delete(f"/v1/spaces/{sid}", expect=409)
        assert r.json["type"] == fmasapi.PROBLEM_BASE + "conflict"
        assert any(e.get("parameter") == "id" for e in r.json["errors"]), r
        assert srv.space(sid) == builtin[sid]


@pytest.mark.slow
def test_registered_spaces_survive_restart(fmasd_factory):
    p = fmasd_factory()
    c = p.client
    mb = c.create_space({"id": "mbv2-321", "builder": MBV2, "params": {"input_size": 321}})
    toy = c.create_space({"id": "toy", "description": "t",
                          "genes": [{"name": "a", "choices": [1, 2.5]}, {"name": "b", "choices": [7]}]})
    x = c.create_space({"id": "x65-os8", "builder": X65,
                        "params": {"output_stride": 8, "input_size": 97, "num_classes": 3}})
    c.create_space({"id": "short-lived", "builder": MBV2})
    c.delete("/v1/spaces/short-lived", expect=204)
    gen = [i % 2 for i in range(len(mb["genes"]))]
    expanded = c.expand("mbv2-321", gen)
    listing = c.spaces()
    assert p.stop() is None
    p2 = fmasd_factory(data_dir=p.data_dir)
    c2 = p2.client
    assert c2.spaces() == listing
    assert c2.space("mbv2-321") == mb
    assert c2.space("toy") == toy
    assert c2.space("x65-os8") == x
    c2.get("/v1/spaces/short-lived", expect=404)
    assert c2.expand("mbv2-321", gen) == expanded
    c2.post("/v1/spaces", {"id": "toy", "genes": [{"name": "a", "choices": [1]}]}, expect=409)
    # An acknowledged registration or deletion survives kill -9.
    c2.delete("/v1/spaces/toy", expect=204)
    c2.create_space({"id": "after-crash", "builder": MBV2, "params": {"input_size": 64}})
    p2.kill9()
    p3 = fmasd_factory(data_dir=p.data_dir)
    c3 = p3.client
    ids = {s["id"] for s in c3.spaces()}
    assert ids == set(BUILTINS) | {"mbv2-321", "x65-os8", "after-crash"}
    assert c3.space("after-crash")["params"]["input_size"] == 64
    c3.delete("/v1/spaces/x65-os8", expect=204)
    c3.delete(f"/v1/spaces/{MBV2}", expect=409)


# ---------------------------------------------------------------- expand

@pytest.mark.parametrize("sid", BUILTINS)
@pytest.mark.parametrize("which", ["max", "min"])
def test_expand_documented_costs(srv, builtin, sid, which):
    s = builtin[sid]
    genome = s["genomes"][which]
    e = srv.expand(sid, genome)
    params, macs = DOC_COSTS[sid][which]
    assert (e["params"], e["macs"]) == (params, macs)
    assert e["flops"] == 2 * macs
    assert e["space"] == sid
    assert e["genome"] == genome
    assert e["genome_named"] == named(s, genome)
    assert e["layer_count"] == len(e["layers"])
    if sid == MBV2 and which == "max":
        assert e["layer_count"] == 76
    names = [L["name"] for L in e["layers"]]
    assert len(set(names)) == len(names), "layer names are unique module paths"
    assert names[-1] == "upsample"
    # The min genome keeps only convs.0 of the ASPP: nothing to concatenate.
    assert ("classifier.aspp.concat" in names) == (which == "max")


def test_expand_max_mbv2_at_513(srv, builtin):
    e = srv.expand(MBV2, builtin[MBV2]["genomes"]["max"])
    assert e["params"] == 5225717 and e["layer_count"] == 76 == len(e["layers"])
    first = e["layers"][0]
    assert strip_name(first) == {"op": "conv2d", "cin": 3, "cout": 32, "k": 3, "stride": 2,
                                 "dilation": 1, "groups": 1, "pad": 0, "h": 513, "w": 513,
                                 "bias": False, "bn": True, "dtype": "fp32"}
    assert first["name"] == "backbone.low_level_features.0.0"


@pytest.mark.parametrize("sid", BUILTINS)
def test_expanded_layers_post_to_estimate_unchanged(srv, builtin, sid):
    s = builtin[sid]
    rng = random.Random(f"post-{sid}")
    genomes = [s["genomes"]["max"], s["genomes"]["min"]] + [random_genome(s, rng) for _ in range(6)]
    expansions = [srv.expand(sid, g) for g in genomes]
    nets = [{"name": f"g{i}", "layers": e["layers"]} for i, e in enumerate(expansions)]
    est = srv.estimate({"devices": [], "networks": nets}, detail="layers")
    for e, r in zip(expansions, est["results"]):
        assert (r["macs"], r["params"], r["flops"]) == (e["macs"], e["params"], e["flops"])
        assert len(r["layers"]) == e["layer_count"]
        for L, d in zip(e["layers"], r["layers"]):
            assert d["key"] == strip_name(L), "expand answers canonical keys"
            assert d["name"] == L["name"]
        assert sum(d["macs"] for d in r["layers"]) == e["macs"]
        assert sum(d["params"] for d in r["layers"]) == e["params"]


@pytest.mark.parametrize("sid", BUILTINS)
def test_genome_object_form_gives_the_same_answer(srv, builtin, sid):
    s = builtin[sid]
    rng = random.Random(f"named-{sid}")
    for genome in [s["genomes"]["max"], s["genomes"]["min"]] + \
            [random_genome(s, rng) for _ in range(4)]:
        by_index = srv.expand(sid, genome)
        obj = named(s, genome)
        assert srv.expand(sid, obj) == by_index
        # Any key order; values compared as numbers (6 == 6.0).
        shuffled = list(obj.items())
        rng.shuffle(shuffled)
        assert srv.expand(sid, {k: float(v) for k, v in shuffled}) == by_index
        assert by_index["genome_named"] == obj


@pytest.mark.parametrize("sid", BUILTINS)
def test_gated_genes_do_not_change_a_skipped_block(srv, builtin, sid):
    s = builtin[sid]
    g = list(s["genomes"]["max"])
    names = [x["name"] for x in s["genes"]]
    for i, gene in enumerate(s["genes"]):
        if gene.get("gated_by"):
            g[names.index(gene["gated_by"])] = 0
    base = srv.expand(sid, g)
    for i, gene in enumerate(s["genes"]):
        if gene.get("gated_by"):
            g[i] = 0
    other = srv.expand(sid, g)
    assert strip_genome(other) == strip_genome(base)


def strip_genome(e):
    return {k: v for k, v in e.items() if k not in ("genome", "genome_named")}


# ---------------------------------------------------------------- layers

@pytest.mark.parametrize("sid", BUILTINS)
def test_layers_cover_every_expansion(srv, builtin, sid):
    s = builtin[sid]
    lay = srv.space_layers(sid)
    assert lay["space"] == sid
    assert lay["count"] == len(lay["layers"]) > 0
    keys = {}
    for item in lay["layers"]:
        kid = key_id(item["key"])
        assert kid not in keys, f"key listed twice: {item['key']}"
        keys[kid] = item
    rng = random.Random(f"layers-{sid}")
    genomes = [s["genomes"]["max"], s["genomes"]["min"]] + [random_genome(s, rng) for _ in range(50)]
    used = set()
    for g in genomes:
        for L in srv.expand(sid, g)["layers"]:
            kid = key_id(strip_name(L))
            assert kid in keys, f"{L['name']}: key of an expansion is not in the layer set: {L}"
            used.add(kid)
    # macs and params of each key are those of /v1/estimate.
    sample = lay["layers"][:: max(1, len(lay["layers"]) // 40)]
    est = srv.estimate({"devices": [], "networks": [{"layers": [it["key"] for it in sample]}]},
                       detail="layers")
    for it, d in zip(sample, est["results"][0]["layers"]):
        assert d["key"] == it["key"]
        assert (d["macs"], d["params"]) == (it["macs"], it["params"])


def test_layers_of_a_registered_size_differ(srv):
    srv.create_space({"id": "lay-321", "builder": MBV2, "params": {"input_size": 321}})
    try:
        lay = srv.space_layers("lay-321")
        assert lay["space"] == "lay-321"
        stems = [it["key"] for it in lay["layers"] if it["key"]["cin"] == 3]
        assert stems and all(k["h"] == 321 and k["w"] == 321 for k in stems)
        base = {key_id(it["key"]) for it in srv.space_layers(MBV2)["layers"]}
        # Every conv on a map larger than 1x1 changed size (the pooled 1x1 ones did not).
        assert not base & {key_id(it["key"]) for it in lay["layers"]
                           if it["key"]["op"] == "conv2d" and it["key"]["h"] > 1}
    finally:
        srv.delete("/v1/spaces/lay-321", expect=204)


@pytest.mark.parametrize("sid", BUILTINS)
def test_layers_with_a_device(srv, sid):
    dev = f"lay-{sid[-5:]}"
    srv.put_device(dev, unit="cycles", clock_mhz=175.0)
    try:
        lay = srv.space_layers(sid)
        # Empty table: nothing present.
        empty = srv.space_layers(sid, device=dev)
        assert (empty["device"], empty["lut_version"]) == (dev, 0)
        assert (empty["present"], empty["missing"], empty["coverage"]) == (0, lay["count"], 0.0)
        assert all(it["present"] is False for it in empty["layers"])
        # Every third key, plus a key the space never uses.
        held = lay["layers"][::3]
        rows = [{"key": it["key"], "latency": {"mean": 10.0 + i}} for i, it in enumerate(held)]
        rows.append(fmasapi.conv(7, 7, 7))
        up = srv.upload(dev, rows).json
        got = srv.space_layers(sid, device=dev)
        assert got["space"] == sid and got["device"] == dev
        assert got["lut_version"] == up["lut_version"] == srv.device(dev)["lut_version"]
        assert got["count"] == lay["count"] == len(got["layers"])
        assert [it["key"] for it in got["layers"]] == [it["key"] for it in lay["layers"]]
        held_ids = {key_id(it["key"]) for it in held}
        for it in got["layers"]:
            assert it["present"] is (key_id(it["key"]) in held_ids), it
        assert got["present"] == len(held) == sum(it["present"] for it in got["layers"])
        assert got["missing"] == got["count"] - got["present"]
        assert got["coverage"] == pytest.approx(got["present"] / got["count"], rel=1e-12)
        # Without ?device the answer has no per-device fields.
        assert srv.space_layers(sid) == lay
    finally:
        srv.delete(f"/v1/devices/{dev}", expect=204)


def test_layers_unknown_device_is_404(srv):
    for dev in ("nope", "Bad_Name", ""):
        r = srv.get(f"/v1/spaces/{MBV2}/layers?device={fmasapi.urlquote(dev)}", expect=404)
        assert r.json["type"] == fmasapi.PROBLEM_BASE + "not-found"
        assert any(e.get("parameter") == "device" for e in r.json["errors"]), r


# -------------------------------------------------------------- estimate

def expected_missing_keys(layers, held_ids):
    out, seen = [], set()
    for L in layers:
        kid = key_id(strip_name(L))
        if kid in held_ids or kid in seen:
            continue
        seen.add(kid)
        out.append(strip_name(L))
        if len(out) == 20:
            break
    return out


def check_latency(lat, layers, unit):
    assert lat["unit"] == unit
    assert lat["layers"] == layers
    assert lat["hits"] + lat.get("predicted", 0) + lat["missing"] == layers
    assert lat["complete"] is (lat["missing"] == 0)
    assert len(lat["missing_keys"]) <= 20
    assert len({key_id(k) for k in lat["missing_keys"]}) == len(lat["missing_keys"])


@pytest.fixture(scope="module")
def full_devices(srv, builtin):
    """Two devices ("us" and "cycles") holding every layer key of the mobilenetv2 space."""
    keys = [it["key"] for it in srv.space_layers(MBV2)["layers"]]
    rng = random.Random("full")
    srv.put_device("full-us", unit="us")
    srv.put_device("full-cyc", unit="cycles", clock_mhz=175.0)
    srv.upload("full-us", [{"key": k, "latency": {"mean": rng.uniform(0.1, 900.0)}} for k in keys])
    srv.upload("full-cyc", [{"key": k, "latency": {"mean": rng.uniform(1e3, 1e7)}} for k in keys])
    yield ["full-us", "full-cyc"]
    srv.delete("/v1/devices/full-us", expect=204)
    srv.delete("/v1/devices/full-cyc", expect=204)


def test_estimate_10000_genomes_two_devices(srv, builtin, full_devices):
    s = builtin[MBV2]
    rng = random.Random("batch")
    genomes = [random_genome(s, rng) for _ in range(10000)]
    genomes[0], genomes[1] = s["genomes"]["max"], s["genomes"]["min"]
    sent = list(genomes)
    for i in range(2, 10000, 97):             # some in object form
        sent[i] = named(s, genomes[i])
    est = srv.space_estimate(MBV2, sent, devices=full_devices)
    assert est["space"] == MBV2
    versions = {d: srv.device(d)["lut_version"] for d in full_devices}
    assert est["lut_versions"] == versions
    res = est["results"]
    assert len(res) == 10000
    units = {"full-us": "us", "full-cyc": "cycles"}
    for g, r in zip(genomes, res):
        assert r["genome"] == g
        assert r["flops"] == 2 * r["macs"]
        assert set(r["latency"]) == set(full_devices)
        n = r["latency"]["full-us"]["layers"]
        for d in full_devices:
            lat = r["latency"][d]
            check_latency(lat, n, units[d])
            assert lat["missing"] == 0 and lat["complete"] is True and lat["missing_keys"] == []
    assert res[0]["params"] == 5225717 and res[0]["macs"] == 16817423360
    assert res[1]["params"] == 319573 and res[1]["macs"] == 1262049792
    # A few genomes against /expand and /v1/estimate of the expanded layers.
    for i in [0, 1, 2] + rng.sample(range(3, 10000), 7):
        e = srv.expand(MBV2, genomes[i])
        r = res[i]
        assert (r["macs"], r["params"]) == (e["macs"], e["params"])
        ref = srv.estimate({"devices": full_devices,
                            "networks": [{"name": "x", "layers": e["layers"]}]})
        assert ref["lut_versions"] == versions
        ref = ref["results"][0]
        assert (ref["macs"], ref["params"]) == (e["macs"], e["params"])
        for d in full_devices:
            a, b = r["latency"][d], ref["latency"][d]
            assert a["layers"] == b["layers"] == e["layer_count"]
            assert (a["hits"], a["missing"], a["complete"]) == (b["hits"], b["missing"], b["complete"])
            assert a["total"] == pytest.approx(b["total"], rel=1e-9, abs=0)
            assert a["ms"] == pytest.approx(b["ms"], rel=1e-9, abs=0)


def test_estimate_lists_missing_keys(srv, builtin):
    s = builtin[X65]
    keys = [it["key"] for it in srv.space_layers(X65)["layers"]]
    held = keys[::2]
    held_ids = {key_id(k) for k in held}
    srv.put_device("half", unit="us")
    srv.put_device("none", unit="cycles", clock_mhz=50.0)
    try:
        srv.upload("half", [{"key": k, "latency": {"mean": 1.0 + i / 7}} for i, k in enumerate(held)])
        rng = random.Random("missing")
        genomes = [s["genomes"]["max"], s["genomes"]["min"]] + [random_genome(s, rng) for _ in range(150)]
        est = srv.space_estimate(X65, genomes, devices=["half", "none"], strict=True)
        assert est["lut_versions"] == {"half": srv.device("half")["lut_version"], "none": 0}
        for i, (g, r) in enumerate(zip(genomes, est["results"])):
            n = r["latency"]["half"]["layers"]
            check_latency(r["latency"]["half"], n, "us")
            check_latency(r["latency"]["none"], n, "cycles")
            none = r["latency"]["none"]
            assert (none["hits"], none["missing"], none["total"]) == (0, n, 0)
            assert none["complete"] is False and len(none["missing_keys"]) == 20
            for k in r["latency"]["half"]["missing_keys"]:
                assert key_id(k) not in held_ids, "a listed missing key is in the table"
            if i < 25:
                e = srv.expand(X65, g)
                assert n == e["layer_count"]
                half = r["latency"]["half"]
                assert half["missing_keys"] == expected_missing_keys(e["layers"], held_ids)
                assert none["missing_keys"] == expected_missing_keys(e["layers"], set())
                assert half["missing"] == sum(key_id(strip_name(L)) not in held_ids
                                              for L in e["layers"])
                ref = srv.estimate({"devices": ["half", "none"],
                                    "networks": [{"layers": e["layers"]}]}, strict=True)["results"][0]
                for d in ("half", "none"):
                    a, b = r["latency"][d], ref["latency"][d]
                    assert a["missing_keys"] == b["missing_keys"]
                    assert (a["hits"], a["missing"]) == (b["hits"], b["missing"])
                    assert a["total"] == pytest.approx(b["total"], rel=1e-9, abs=0)
                    assert "predicted" not in a and "raw_total" not in a
        # Without strict, the space path and /v1/estimate predict the same
        # layers the same way.
        est = srv.space_estimate(X65, genomes[:6], devices=["half", "none"])
        for g, r in zip(genomes[:6], est["results"]):
            e = srv.expand(X65, g)
            ref = srv.estimate({"devices": ["half", "none"],
                                "networks": [{"layers": e["layers"]}]})["results"][0]
            for d in ("half", "none"):
                a, b = r["latency"][d], ref["latency"][d]
                assert (a["hits"], a["predicted"], a["missing"]) == \
                    (b["hits"], b["predicted"], b["missing"])
                assert a["missing_keys"] == b["missing_keys"]
                assert a["total"] == pytest.approx(b["total"], rel=1e-9, abs=0)
                assert a["std"] == pytest.approx(b["std"], rel=1e-9, abs=1e-12)
            assert r["latency"]["half"]["predicted"] > 0 and r["latency"]["half"]["missing"] == 0
            assert r["latency"]["none"]["predicted"] == 0
    finally:
        srv.delete("/v1/devices/half", expect=204)
        srv.delete("/v1/devices/none", expect=204)


def test_estimate_reports_the_current_lut_version(srv, builtin):
    s = builtin[MBV2]
    keys = [it["key"] for it in srv.space_layers(MBV2)["layers"]]
    srv.put_device("ver", unit="us")
    try:
        g = s["genomes"]["max"]
        a = srv.space_estimate(MBV2, [g], devices=["ver"])
        assert a["lut_versions"] == {"ver": 0}
        assert a["results"][0]["latency"]["ver"]["hits"] == 0
        v1 = srv.upload("ver", [{"key": k, "latency": {"mean": 2.0}} for k in keys]).json["lut_version"]
        b = srv.space_estimate(MBV2, [g], devices=["ver"])
        assert b["lut_versions"] == {"ver": v1}
        lat = b["results"][0]["latency"]["ver"]
        assert lat["complete"] is True and lat["total"] == 2.0 * 76
        assert lat["ms"] == pytest.approx(2.0 * 76 / 1000, rel=1e-12)
        v2 = srv.upload("ver", [{"key": keys[0], "latency": {"mean": 5.0}}]).json["lut_version"]
        c = srv.space_estimate(MBV2, [g], devices=["ver"])
        assert c["lut_versions"] == {"ver": v2} and v2 > v1
        assert c["results"][0]["latency"]["ver"]["total"] == 2.0 * 75 + 5.0
    finally:
        srv.delete("/v1/devices/ver", expect=204)


@pytest.mark.parametrize("sid", BUILTINS)
def test_estimate_without_devices_matches_expand(srv, builtin, sid):
    s = builtin[sid]
    rng = random.Random(f"nodev-{sid}")
    genomes = [random_genome(s, rng) for _ in range(40)]
    est = srv.space_estimate(sid, genomes)
    assert est["lut_versions"] == {}
    for g, r in zip(genomes, est["results"]):
        e = srv.expand(sid, g)
        assert no_prediction(r) == {"genome": g, "macs": e["macs"], "flops": e["flops"],
                                    "params": e["params"], "latency": {}}
