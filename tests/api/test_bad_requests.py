"""Bad requests, as a table: each case is a request and what the answer must
say. Every case checks: the status; Content-Type application/problem+json;
a body valid against problem.json whose status equals the HTTP status and
whose type is the one for that status; errors[] non-empty and naming the
expected pointer / row / line / parameter / field; and, after the case, that
the server still answers /v1/health and that nothing changed (devices, their
lut_hash/lut_version/entries, and their rows, the spaces, and the
observations of every space): a rejected request changes nothing."""

import json
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

import fmasapi

DEV = "dev"      # a "us" device with three rows
CYC = "cyc"      # a "cycles" device, empty
NEW = "newdev"   # does not exist; a bad PUT must not create it
LUT = f"/v1/devices/{DEV}/lut"
EST = "/v1/estimate"

JSON_CT = {"Content-Type": "application/json"}
CSV_CT = {"Content-Type": "text/csv"}
ND_CT = {"Content-Type": "application/x-ndjson"}


class Prefix(str):
    """Matches a string value that starts with this."""


class Sub(str):
    """Matches a string value that contains this."""


@dataclass
class Case:
    id: str
    method: str
    path: str
    body: Optional[bytes]
    headers: dict
    status: int
    ptype: str
    # One dict (some error item has all these) or a list of dicts (any of them).
    expect: Any = None
    allow: Optional[set] = None      # 405: methods the Allow header must list
    server: str = "main"             # "main" or "small" (--max-body 1024)
    chunked: bool = False
    notes: str = ""
    xfail: str = ""                  # a known server bug: the case must fail (strict xfail)


PTYPE = {404: "not-found", 405: "method-not-allowed", 409: "conflict", 413: "body-too-large",
         415: "unsupported-media-type", 422: "invalid-field"}


def J(obj):
    return json.dumps(obj).encode("utf-8")


def good_key(**changes):
    k = {"op": "conv2d", "cin": 32, "cout": 64, "k": 3, "h": 56, "w": 56}
    for a, v in changes.items():
        if v is DROP:
            k.pop(a, None)
        else:
            k[a] = v
    return k


DROP = object()
G0 = {"key": {"op": "conv2d", "cin": 7, "cout": 7, "h": 7, "w": 7}, "latency": {"mean": 1.0}}
G2 = {"key": {"op": "relu", "cin": 7, "h": 7, "w": 7}, "latency": {"mean": 2.0, "std": 0.5, "count": 4}}


def bad_entry(key=None, **entry_changes):
    e = {"key": key if key is not None else good_key(),
         "latency": {"mean": 812.5, "std": 3.1, "count": 20}}
    if key is DROP:
        del e["key"]
    for a, v in entry_changes.items():
        if v is DROP:
            e.pop(a, None)
        else:
            e[a] = v
    return e


def lut_case(id, bad, status, expect, ptype=None, query="", dev=DEV, notes=""):
    """A JSON batch whose row 1 is bad (rows 0 and 2 are fine)."""
    body = J([G0, bad, G2])
    return Case(id, "POST", f"/v1/devices/{dev}/lut{query}", body, JSON_CT, status,
                ptype or PTYPE[status], expect, notes=notes)


def key_case(id, key, attr, status=422):
    """Row 1 has this key; the error names /1/key/<attr>, row 1, field attr."""
    return lut_case(id, bad_entry(key), status,
                    {"pointer": f"/1/key/{attr}", "row": 1, "field": attr})


def raw_case(id, method, path, body, headers, status, ptype, expect=None, **kw):
    if isinstance(body, str):
        body = body.encode("utf-8")
    return Case(id, method, path, body, headers, status, ptype, expect, **kw)


def malformed(id, body, path=LUT, headers=JSON_CT, method="POST", expect=None):
    return raw_case(id, method, path, body, headers, 400, "malformed-body",
                    expect if expect is not None else {"pointer": ""})


def csv_case(id, text, status, expect, ptype=None):
    body = text if isinstance(text, bytes) else text.encode("utf-8")
    return Case(id, "POST", LUT, body, CSV_CT, status, ptype or PTYPE.get(status, ""), expect)


def nd_case(id, text, status, expect, ptype=None):
    body = text if isinstance(text, bytes) else text.encode("utf-8")
    return Case(id, "POST", LUT, body, ND_CT, status, ptype or PTYPE.get(status, ""), expect)


def put_case(id, body, status, expect, name=NEW, ptype=None, headers=JSON_CT):
    raw = body if isinstance(body, bytes) else J(body)
    return Case(id, "PUT", f"/v1/devices/{name}", raw, headers, status,
                ptype or PTYPE[status], expect)


GOOD_LAYER = {"op": "conv2d", "cin": 7, "cout": 7, "h": 7, "w": 7}


def est_body(**changes):
    b = {"devices": [DEV], "networks": [{"name": "n", "layers": [GOOD_LAYER, GOOD_LAYER]}]}
    b.update(changes)
    return b


def est_layer_body(layer):
    return est_body(networks=[{"name": "n", "layers": [layer, GOOD_LAYER]}])


def est_case(id, body, status, expect, query="", ptype=None):
    raw = body if isinstance(body, bytes) else J(body)
    return Case(id, "POST", EST + query, raw, JSON_CT, status, ptype or PTYPE[status], expect)


def param_case(id, method, path, param, body=None, headers=None):
    return Case(id, method, path, body, headers or {}, 400, "invalid-parameter",
                {"parameter": param})


def method_case(id, method, path, allow, body=None):
    return Case(id, method, path, body, JSON_CT if body else {}, 405,
                "method-not-allowed", None, allow=set(allow))


# ------------------------------------------------------- search spaces

MBV2 = fmasapi.MBV2
X65 = fmasapi.X65
SPACES = "/v1/spaces"
SPACE_CAT = "seeded-toy"       # a categorical space the seed registers
SPACE_REG = "seeded-mbv2-64"   # a builder space the seed registers
NEW_SPACE = "newspace"         # does not exist; a bad POST must not create it
MAXG = fmasapi.max_genome(MBV2)                  # 33 indices
MAXN = fmasapi.genome_values(MBV2, MAXG)         # gene name -> value
X65N = fmasapi.genome_values(X65, fmasapi.max_genome(X65))
GENE5 = "features.5.expand"                      # gene 5 of mobilenetv2, choices 2 3 4 6


def g_at(i, v, base=MAXG):
    g = list(base)
    g[i] = v
    return g


def g_named(base=MAXN, **changes):
    """The object form with changes; names use __ for '.', DROP removes."""
    g = dict(base)
    for k, v in changes.items():
        k = k.replace("__", ".")
        if v is DROP:
            g.pop(k, None)
        else:
            g[k] = v
    return g


def space_case(id, body, status, expect, xfail="", method="POST", path=SPACES):
    raw = body if isinstance(body, bytes) else J(body)
    return Case(id, method, path, raw, JSON_CT, status, PTYPE[status], expect, xfail=xfail)


def builder_def(**params):
    d = {"id": NEW_SPACE, "builder": MBV2}
    if params:
        d["params"] = params
    return d


def cat_def(*genes, **top):
    d = {"id": NEW_SPACE, "genes": [{"name": "ok", "choices": [1, 2]}] + list(genes)}
    d.update(top)
    return d


def expand_case(id, genome, expect, space=MBV2, status=422, body=None):
    b = body if body is not None else {"genome": genome}
    return space_case(id, b, status, expect, path=f"{SPACES}/{space}/expand")


def sest_case(id, genome, expect, space=MBV2, status=422, body=None):
    """A batch whose genome 1 is bad (genome 0 is fine)."""
    b = body if body is not None else {"devices": [DEV], "genomes": [MAXG, genome]}
    return space_case(id, b, status, expect, path=f"{SPACES}/{space}/estimate")


def gene_err(pointer, gene=None):
    """An error at pointer whose reason names the gene."""
    want = {"pointer": pointer}
    if gene:
        want["reason"] = Sub(gene)
    return want


SPACE_CASES = [
    # ------------------------------------------ POST /v1/spaces: definitions
    space_case("space-id-uppercase", dict(builder_def(), id="Bad"), 422, {"pointer": "/id"}),
    space_case("space-id-too-long", dict(builder_def(), id="a" * 65), 422, {"pointer": "/id"}),
    space_case("space-id-empty", dict(builder_def(), id=""), 422, {"pointer": "/id"}),
    space_case("space-id-slash", dict(builder_def(), id="a/b"), 422, {"pointer": "/id"}),
    space_case("space-id-number", dict(builder_def(), id=5), 422, {"pointer": "/id"}),
    space_case("space-id-missing", {"builder": MBV2}, 422, {"pointer": "/id"}),
    space_case("space-unknown-builder", dict(builder_def(), builder="resnet50"), 422,
               {"pointer": "/builder"}),
    space_case("space-builder-number", dict(builder_def(), builder=5), 422, {"pointer": "/builder"}),
    space_case("space-input-size-31", builder_def(input_size=31), 422, {"pointer": "/params/input_size"}),
    space_case("space-input-size-4096", builder_def(input_size=4096), 422,
               {"pointer": "/params/input_size"}),
    space_case("space-input-size-2049", builder_def(input_size=2049), 422,
               {"pointer": "/params/input_size"}),
    space_case("space-input-size-zero", builder_def(input_size=0), 422, {"pointer": "/params/input_size"}),
    space_case("space-input-size-float", builder_def(input_size=128.5), 422,
               {"pointer": "/params/input_size"}),
    space_case("space-input-size-string", builder_def(input_size="128"), 422,
               {"pointer": "/params/input_size"}),
    space_case("space-num-classes-0", builder_def(num_classes=0), 422, {"pointer": "/params/num_classes"}),
    space_case("space-num-classes-1001", builder_def(num_classes=1001), 422,
               {"pointer": "/params/num_classes"}),
    space_case("space-output-stride-32", builder_def(output_stride=32), 422,
               {"pointer": "/params/output_stride"}),
    space_case("space-output-stride-4", builder_def(output_stride=4), 422,
               {"pointer": "/params/output_stride"}),
    space_case("space-unknown-param", builder_def(stride=8), 422, {"pointer": "/params/stride"}),
    space_case("space-params-array", dict(builder_def(), params=[513]), 422, {"pointer": "/params"}),
    space_case("space-params-null", dict(builder_def(), params=None), 422, {"pointer": "/params"}),
    space_case("space-builder-and-genes", dict(builder_def(), genes=[{"name": "a", "choices": [1]}]),
               422, [{"pointer": "/genes"}, {"pointer": "/builder"}]),
    space_case("space-neither-builder-nor-genes", {"id": NEW_SPACE, "description": "x"}, 422,
               [{"pointer": "/builder"}, {"pointer": "/genes"}, {"pointer": ""}]),
    space_case("space-unknown-field", dict(builder_def(), colour="red"), 422, {"pointer": "/colour"}),
    space_case("space-description-1025", dict(builder_def(), description="d" * 1025), 422,
               {"pointer": "/description"}),
    space_case("space-description-number", dict(builder_def(), description=5), 422,
               {"pointer": "/description"}),
    space_case("space-body-array", [builder_def()], 422, {"pointer": ""}),
    space_case("space-genes-duplicate-name", cat_def({"name": "ok", "choices": [3]}), 422,
               [{"pointer": "/genes/1"}, {"pointer": "/genes/1/name"}]),
    space_case("space-genes-empty", cat_def(genes=[]), 422, {"pointer": "/genes"}),
    space_case("space-genes-object", cat_def(genes={"name": "a", "choices": [1]}), 422,
               {"pointer": "/genes"}),
    space_case("space-genes-1025", cat_def(genes=[{"name": f"g{i}", "choices": [0]} for i in range(1025)]),
               422, {"pointer": "/genes"}),
    space_case("space-gene-empty-choices", cat_def({"name": "b", "choices": []}), 422,
               {"pointer": "/genes/1/choices"}),
    space_case("space-gene-257-choices", cat_def({"name": "b", "choices": list(range(257))}), 422,
               {"pointer": "/genes/1/choices"}),
    space_case("space-gene-string-choice", cat_def({"name": "b", "choices": [1, 2, "3"]}), 422,
               {"pointer": "/genes/1/choices/2"}),
    space_case("space-gene-null-choice", cat_def({"name": "b", "choices": [None]}), 422,
               {"pointer": "/genes/1/choices/0"}),
    space_case("space-gene-bool-choice", cat_def({"name": "b", "choices": [0, True]}), 422,
               {"pointer": "/genes/1/choices/1"}),
    space_case("space-gene-duplicate-choice", cat_def({"name": "b", "choices": [1, 2, 1.0]}), 422,
               {"pointer": Prefix("/genes/1")}),
    space_case("space-gene-bad-name", cat_def({"name": "a b", "choices": [1]}), 422,
               {"pointer": "/genes/1/name"}),
    space_case("space-gene-name-32", cat_def({"name": "n" * 32, "choices": [1]}), 422,
               {"pointer": "/genes/1/name"}),
    space_case("space-gene-no-name", cat_def({"choices": [1]}), 422, {"pointer": Prefix("/genes/1")}),
    space_case("space-gene-unknown-field", cat_def({"name": "b", "choices": [1], "gated_by": "ok"}), 422,
               {"pointer": Prefix("/genes/1")}),
    space_case("space-gene-not-object", cat_def(5), 422, {"pointer": "/genes/1"}),
    space_case("space-categorical-with-params", cat_def(params={"input_size": 64}, id="xfail-params"), 422,
               {"pointer": "/params"}),
    space_case("space-exists-builtin", {"id": MBV2, "builder": MBV2}, 409, {"pointer": "/id"}),
    space_case("space-exists-registered", {"id": SPACE_REG, "builder": X65}, 409, {"pointer": "/id"}),
    space_case("space-exists-categorical", {"id": SPACE_CAT, "genes": [{"name": "a", "choices": [1]}]},
               409, {"pointer": "/id"}),

    # ------------------------------------------------ delete, get, not found
    space_case("space-delete-builtin", None, 409, {"parameter": "id"}, method="DELETE",
               path=f"{SPACES}/{MBV2}"),
    space_case("space-delete-builtin-x65", None, 409, {"parameter": "id"}, method="DELETE",
               path=f"{SPACES}/{X65}"),
    space_case("space-delete-unknown", None, 404, {"parameter": "id"}, method="DELETE",
               path=f"{SPACES}/nope-space"),
    space_case("space-get-unknown", None, 404, {"parameter": "id"}, method="GET", path=f"{SPACES}/nope"),
    space_case("space-get-bad-id", None, 404, {"parameter": "id"}, method="GET", path=f"{SPACES}/BAD%20ID"),
    space_case("space-layers-unknown-space", None, 404, {"parameter": "id"}, method="GET",
               path=f"{SPACES}/nope/layers"),
    space_case("space-layers-unknown-device", None, 404, {"parameter": "device"}, method="GET",
               path=f"{SPACES}/{MBV2}/layers?device=nope"),
    space_case("space-layers-bad-device-name", None, 404, {"parameter": "device"}, method="GET",
               path=f"{SPACES}/{MBV2}/layers?device=Bad%20Name"),
    expand_case("expand-unknown-space", MAXG, {"parameter": "id"}, space="nope", status=404),
    sest_case("space-estimate-unknown-space", MAXG, {"parameter": "id"}, space="nope", status=404),

    # ------------------------------------------------- expand: bad genomes
    expand_case("expand-genome-short", MAXG[:-1], [{"pointer": "/genome"}, {"pointer": "/genome/32"}]),
    expand_case("expand-genome-long", MAXG + [0], [{"pointer": "/genome"}, {"pointer": "/genome/33"}]),
    expand_case("expand-genome-empty-array", [], [{"pointer": "/genome"}, {"pointer": "/genome/0"}]),
    expand_case("expand-index-out-of-range", g_at(1, 2), gene_err("/genome/1", "features.3.keep")),
    expand_case("expand-index-4-of-4", g_at(5, 4), gene_err("/genome/5", GENE5)),
    expand_case("expand-index-negative", g_at(5, -1), gene_err("/genome/5", GENE5)),
    expand_case("expand-index-2^40", g_at(5, 2 ** 40), gene_err("/genome/5", GENE5)),
    expand_case("expand-index-2^63", g_at(5, 2 ** 63 - 1), gene_err("/genome/5", GENE5)),
    expand_case("expand-index-string", g_at(5, "1"), gene_err("/genome/5", GENE5)),
    expand_case("expand-index-float", g_at(5, 1.5), gene_err("/genome/5", GENE5)),
    expand_case("expand-index-real-1.0", g_at(5, 1.0), gene_err("/genome/5", GENE5)),
    expand_case("expand-index-null", g_at(5, None), gene_err("/genome/5", GENE5)),
    expand_case("expand-index-bool", g_at(5, True), gene_err("/genome/5", GENE5)),
    expand_case("expand-index-array", g_at(5, [1]), gene_err("/genome/5", GENE5)),
    expand_case("expand-last-gene-out-of-range", g_at(32, 4), gene_err("/genome/32", "decoder.width")),
    expand_case("expand-object-unknown-gene", g_named(bogus=1), {"pointer": "/genome/bogus"}),
    expand_case("expand-object-not-a-choice", g_named(features__5__expand=5),
                gene_err(f"/genome/{GENE5}", GENE5)),
    expand_case("expand-object-index-not-value", g_named(aspp__width=3),
                gene_err("/genome/aspp.width", "aspp.width")),
    expand_case("expand-object-string-value", g_named(features__5__expand="6"),
                gene_err(f"/genome/{GENE5}", GENE5)),
    expand_case("expand-object-null-value", g_named(features__5__expand=None),
                gene_err(f"/genome/{GENE5}", GENE5)),
    expand_case("expand-object-bool-value", g_named(features__3__keep=True),
                gene_err("/genome/features.3.keep", "features.3.keep")),
    expand_case("expand-object-missing-gene", g_named(aspp__width=DROP),
                gene_err("/genome/aspp.width", "aspp.width")),
    expand_case("expand-object-empty", {}, {"pointer": Prefix("/genome/")}),
    expand_case("expand-object-pointer-escape", g_named(**{"a/b~c": 1}), {"pointer": "/genome/a~1b~0c"}),
    expand_case("expand-x65-width-not-a-choice", g_named(X65N, middle__0__width=0.3),
                gene_err("/genome/middle.0.width", "middle.0.width"), space=X65),
    expand_case("expand-x65-short", fmasapi.max_genome(X65)[:10],
                [{"pointer": "/genome"}, {"pointer": "/genome/10"}], space=X65),
    expand_case("expand-x65-index-out-of-range", g_at(1, 4, fmasapi.max_genome(X65)),
                gene_err("/genome/1", "middle.0.width"), space=X65),
    expand_case("expand-genome-string", "3,1,3", {"pointer": "/genome"}),
    expand_case("expand-genome-number", 3, {"pointer": "/genome"}),
    expand_case("expand-genome-null", None, {"pointer": "/genome"}),
    expand_case("expand-genome-missing", None, {"pointer": "/genome"}, body={}),
    expand_case("expand-unknown-field", None, {"pointer": "/devices"}, body={"genome": MAXG, "devices": []}),
    expand_case("expand-body-array", None, {"pointer": ""}, body=[MAXG]),
    expand_case("expand-categorical-space", [0, 0], None, space=SPACE_CAT),

    # -------------------------------------- space estimate: bad genomes, body
    sest_case("space-estimate-genome-short", MAXG[:-1],
              [{"pointer": "/genomes/1"}, {"pointer": "/genomes/1/32"}]),
    sest_case("space-estimate-genome-long", MAXG + [1],
              [{"pointer": "/genomes/1"}, {"pointer": "/genomes/1/33"}]),
    sest_case("space-estimate-index-out-of-range", g_at(1, 2), gene_err("/genomes/1/1", "features.3.keep")),
    sest_case("space-estimate-index-negative", g_at(5, -1), gene_err("/genomes/1/5", GENE5)),
    sest_case("space-estimate-index-string", g_at(5, "1"), gene_err("/genomes/1/5", GENE5)),
    sest_case("space-estimate-index-float", g_at(5, 1.5), gene_err("/genomes/1/5", GENE5)),
    sest_case("space-estimate-index-null", g_at(5, None), gene_err("/genomes/1/5", GENE5)),
    sest_case("space-estimate-index-bool", g_at(5, False), gene_err("/genomes/1/5", GENE5)),
    sest_case("space-estimate-object-unknown-gene", g_named(bogus=1), {"pointer": "/genomes/1/bogus"}),
    sest_case("space-estimate-object-not-a-choice", g_named(features__5__expand=5),
              gene_err(f"/genomes/1/{GENE5}", GENE5)),
    sest_case("space-estimate-object-string-value", g_named(features__5__expand="6"),
              gene_err(f"/genomes/1/{GENE5}", GENE5)),
    sest_case("space-estimate-object-null-value", g_named(features__5__expand=None),
              gene_err(f"/genomes/1/{GENE5}", GENE5)),
    sest_case("space-estimate-object-missing-gene", g_named(decoder__width=DROP),
              gene_err("/genomes/1/decoder.width", "decoder.width")),
    sest_case("space-estimate-genome-number", 5, {"pointer": "/genomes/1"}),
    sest_case("space-estimate-genome-null", None, {"pointer": "/genomes/1"}),
    sest_case("space-estimate-later-genome-bad", None, gene_err("/genomes/7/5", GENE5),
              body={"devices": [], "genomes": [MAXG] * 7 + [g_at(5, 9)] + [MAXG] * 3}),
    sest_case("space-estimate-x65-not-a-choice", None, gene_err("/genomes/1/middle.3.width", "middle.3.width"),
              space=X65, body={"devices": [], "genomes": [X65N, g_named(X65N, middle__3__width=2)]}),
    sest_case("space-estimate-no-genomes", None, {"pointer": "/genomes"}, body={"devices": [], "genomes": []}),
    sest_case("space-estimate-genomes-missing", None, {"pointer": "/genomes"}, body={"devices": []}),
    sest_case("space-estimate-genomes-object", None, {"pointer": "/genomes"},
              body={"devices": [], "genomes": {"0": MAXG}}),
    sest_case("space-estimate-100001-genomes", None, {"pointer": "/genomes"}, space=SPACE_CAT,
              body={"devices": [], "genomes": [[0, 0]] * 100001}),
    sest_case("space-estimate-devices-missing", None, {"pointer": "/devices"}, body={"genomes": [MAXG]}),
    sest_case("space-estimate-devices-string", None, {"pointer": "/devices"},
              body={"devices": DEV, "genomes": [MAXG]}),
    sest_case("space-estimate-unknown-device", None, {"pointer": "/devices/1"},
              body={"devices": [DEV, "nope"], "genomes": [MAXG]}),
    sest_case("space-estimate-duplicate-device", None, {"pointer": "/devices/1"},
              body={"devices": [DEV, DEV], "genomes": [MAXG]}),
    sest_case("space-estimate-unknown-field", None, {"pointer": "/networks"},
              body={"devices": [], "genomes": [MAXG], "networks": []}),
    sest_case("space-estimate-body-array", None, {"pointer": ""}, body=[MAXG]),
    sest_case("space-estimate-categorical-with-devices", None, {"pointer": Prefix("/devices")},
              space=SPACE_CAT, body={"devices": [DEV], "genomes": [[0, 0]]}),
    sest_case("space-estimate-categorical-bad-genome", None, gene_err("/genomes/0/1", "width"),
              space=SPACE_CAT, body={"devices": [], "genomes": [[0, 3]]}),

    # ---------------------------------------------- methods, media, sizes
    Case("method-put-spaces", "PUT", SPACES, J(builder_def()), JSON_CT, 405, "method-not-allowed",
         allow={"GET", "POST"}),
    Case("method-delete-spaces", "DELETE", SPACES, None, {}, 405, "method-not-allowed",
         allow={"GET", "POST"}),
    Case("method-post-space", "POST", f"{SPACES}/{MBV2}", J(builder_def()), JSON_CT, 405,
         "method-not-allowed", allow={"GET", "DELETE"}),
    Case("method-put-space", "PUT", f"{SPACES}/{SPACE_REG}", J(builder_def()), JSON_CT, 405,
         "method-not-allowed", allow={"GET", "DELETE"}),
    Case("method-get-expand", "GET", f"{SPACES}/{MBV2}/expand", None, {}, 405, "method-not-allowed",
         allow={"POST"}),
    Case("method-post-space-layers", "POST", f"{SPACES}/{MBV2}/layers", J({}), JSON_CT, 405,
         "method-not-allowed", allow={"GET"}),
    Case("method-get-space-estimate", "GET", f"{SPACES}/{MBV2}/estimate", None, {}, 405,
         "method-not-allowed", allow={"POST"}),
    Case("method-delete-space-estimate", "DELETE", f"{SPACES}/{MBV2}/estimate", None, {}, 405,
         "method-not-allowed", allow={"POST"}),
    Case("unknown-route-space-deeper", "GET", f"{SPACES}/{MBV2}/layers/x", None, {}, 404, "not-found"),
    Case("ctype-space-csv", "POST", SPACES, b"id,builder\nx,y\n", CSV_CT, 415, "unsupported-media-type"),
    Case("ctype-space-text", "POST", SPACES, J(builder_def()), {"Content-Type": "text/plain"}, 415,
         "unsupported-media-type"),
    Case("ctype-expand-ndjson", "POST", f"{SPACES}/{MBV2}/expand", J({"genome": MAXG}), ND_CT, 415,
         "unsupported-media-type"),
    Case("ctype-space-estimate-csv", "POST", f"{SPACES}/{MBV2}/estimate", b"genome\n1\n", CSV_CT, 415,
         "unsupported-media-type"),
    malformed("space-truncated", J(builder_def())[:-1], path=SPACES),
    malformed("space-empty-body", b"", path=SPACES),
    malformed("space-duplicate-key", b'{"id": "a", "id": "b", "builder": "' + MBV2.encode() + b'"}',
              path=SPACES),
    malformed("space-nan-choice", b'{"id": "a", "genes": [{"name": "g", "choices": [NaN]}]}', path=SPACES),
    malformed("expand-duplicate-key", b'{"genome": [0], "genome": [1]}', path=f"{SPACES}/{MBV2}/expand"),
    malformed("expand-int-2^70", b'{"genome": [1180591620717411303424]}', path=f"{SPACES}/{MBV2}/expand"),
    malformed("expand-empty-body", b"", path=f"{SPACES}/{MBV2}/expand"),
    malformed("expand-object-duplicate-gene",
              J({"genome": MAXN})[:-2] + b', "aspp.width": 64}}', path=f"{SPACES}/{MBV2}/expand"),
    malformed("space-estimate-nan", b'{"devices": [], "genomes": [{"aspp.width": NaN}]}',
              path=f"{SPACES}/{MBV2}/estimate"),
    malformed("space-estimate-not-json", b"genomes", path=f"{SPACES}/{MBV2}/estimate"),
    Case("too-large-space", "POST", SPACES, J(dict(builder_def(), description="d" * 1000)), JSON_CT, 413,
         "body-too-large", server="small"),
    Case("too-large-expand", "POST", f"{SPACES}/{MBV2}/expand", J({"genome": MAXN}) + b" " * 1024, JSON_CT, 413,
         "body-too-large", server="small"),
    Case("too-large-space-estimate", "POST", f"{SPACES}/{MBV2}/estimate",
         J({"devices": [], "genomes": [MAXG] * 20}), JSON_CT, 413, "body-too-large", server="small"),
    Case("too-large-space-estimate-chunked", "POST", f"{SPACES}/{MBV2}/estimate",
         J({"devices": [], "genomes": [MAXG] * 20}), JSON_CT, 413, "body-too-large", server="small",
         chunked=True),
]


CSV_HEAD = "op,cin,cout,k,h,w,latency_mean,latency_std,count,bias"
CSV_OK0 = "conv2d,7,7,1,7,7,1.0,0,1,0"
CSV_OK2 = "relu,7,,,7,7,2.0,0.5,4,"


def csv_rows(bad_row, head=CSV_HEAD):
    """CSV with data row 1 (line 3) bad."""
    return f"{head}\n{CSV_OK0}\n{bad_row}\n{CSV_OK2}\n"


def csv_row_case(id, bad_row, field_name, status=422):
    return csv_case(id, csv_rows(bad_row), status, {"row": 1, "line": 3, "field": field_name})


ND0 = json.dumps(G0)
ND2 = json.dumps(G2)


CASES = [
    # ---------------------------------------------- bodies that do not parse
    malformed("json-syntax-error", b'[{"key": {"op": "conv2d",}, "latency": {"mean": 1}}]'),
    malformed("json-truncated", b'[{"key": {"op": "conv2d", "cin": 3'),
    malformed("json-truncated-array", J([G0, G2])[:-1]),
    malformed("json-trailing-garbage", J([G0]) + b" x"),
    malformed("json-two-documents", J([G0]) + J([G2])),
    malformed("json-single-quotes", b"[{'key': {'op': 'relu'}, 'latency': {'mean': 1}}]"),
    malformed("json-comment", b'[/* rows */ ' + J(G0) + b"]"),
    malformed("json-empty-body", b""),
    malformed("json-duplicate-key-in-key",
              b'[{"key": {"op": "relu", "cin": 3, "cin": 4, "h": 1, "w": 1}, "latency": {"mean": 1}}]'),
    malformed("json-duplicate-key-in-entry",
              b'[{"key": {"op": "relu", "cin": 3, "h": 1, "w": 1}, "latency": {"mean": 1},'
              b' "latency": {"mean": 2}}]'),
    malformed("json-nan", b'[{"key": {"op": "relu", "cin": 1, "h": 1, "w": 1}, "latency": {"mean": NaN}}]'),
    malformed("json-infinity",
              b'[{"key": {"op": "relu", "cin": 1, "h": 1, "w": 1}, "latency": {"mean": Infinity}}]'),
    malformed("json-minus-infinity",
              b'[{"key": {"op": "relu", "cin": 1, "h": 1, "w": 1}, "latency": {"mean": 1, "std": -Infinity}}]'),
    malformed("json-int-2^70",
              b'[{"key": {"op": "conv2d", "cin": 1180591620717411303424, "cout": 1, "h": 1, "w": 1},'
              b' "latency": {"mean": 1}}]'),
    malformed("json-count-2^70",
              b'[{"key": {"op": "relu", "cin": 1, "h": 1, "w": 1},'
              b' "latency": {"mean": 1, "count": 1180591620717411303424}}]'),
    malformed("json-invalid-utf8",
              b'[{"key": {"op": "relu", "cin": 1, "h": 1, "w": 1, "name": "\xff\xfe"}, "latency": {"mean": 1}}]'),
    malformed("json-overlong-utf8",
              b'[{"key": {"op": "relu", "cin": 1, "h": 1, "w": 1, "name": "\xc0\xaf"}, "latency": {"mean": 1}}]'),
    malformed("json-utf8-surrogate",
              b'[{"key": {"op": "relu", "cin": 1, "h": 1, "w": 1, "name": "\xed\xa0\x80"}, "latency": {"mean": 1}}]'),
    malformed("put-duplicate-key", b'{"unit": "us", "unit": "cycles"}',
              path=f"/v1/devices/{NEW}", method="PUT"),
    malformed("put-truncated", b'{"unit": "us"', path=f"/v1/devices/{CYC}", method="PUT"),
    malformed("put-empty-body", b"", path=f"/v1/devices/{NEW}", method="PUT"),
    malformed("put-invalid-utf8", b'{"unit": "us", "description": "caf\xe9"}',
              path=f"/v1/devices/{NEW}", method="PUT"),
    malformed("estimate-not-json", b"hello", path=EST),
    malformed("estimate-empty-body", b"", path=EST),
    malformed("estimate-duplicate-key",
              b'{"devices": [], "devices": [], "networks": [{"layers": [{"op": "relu"}]}]}', path=EST),
    malformed("estimate-nan",
              b'{"devices": [], "networks": [{"layers": [{"op": "relu", "cin": NaN, "h": 1, "w": 1}]}]}',
              path=EST),
    malformed("estimate-int-2^70",
              b'{"devices": [], "networks": [{"layers": [{"op": "relu", "cin": 1180591620717411303424,'
              b' "h": 1, "w": 1}]}]}', path=EST),
    malformed("ndjson-bad-line", f"{ND0}\n{{\"key\": \n{ND2}\n", headers=ND_CT,
              expect=[{"row": 1}, {"line": 2}]),
    malformed("ndjson-duplicate-key",
              f'{ND0}\n{{"key": {{"op": "relu", "op": "add", "cin": 1, "h": 1, "w": 1}}, '
              f'"latency": {{"mean": 1}}}}\n', headers=ND_CT, expect=[{"row": 1}, {"line": 2}]),
    malformed("ndjson-nan", f'{ND0}\n{{"key": {{"op": "relu", "cin": 1, "h": 1, "w": 1}}, '
              f'"latency": {{"mean": NaN}}}}\n', headers=ND_CT, expect=[{"row": 1}, {"line": 2}]),
    malformed("ndjson-invalid-utf8",
              (ND0 + "\n").encode() + b'{"key": {"op": "relu", "cin": 1, "h": 1, "w": 1, "name": "\xff"},'
              b' "latency": {"mean": 1}}\n', headers=ND_CT, expect=[{"row": 1}, {"line": 2}, {"pointer": ""}]),
    malformed("csv-unterminated-quote", f'{CSV_HEAD}\n{CSV_OK0}\n"relu,7,,,7,7,2.0,0,1,\n',
              headers=CSV_CT, expect=[{"row": 1}, {"line": 3}, {"pointer": ""}]),
    malformed("csv-invalid-utf8",
              (f"{CSV_HEAD},dtype\n{CSV_OK0},fp32\n").encode() + b"relu,7,,,7,7,2.0,0,1,,fp\xff32\n",
              headers=CSV_CT, expect=[{"row": 1}, {"line": 3}, {"pointer": ""}]),

    # ------------------------------------------------------------ wrong types
    key_case("type-string-cin", good_key(cin="32"), "cin"),
    key_case("type-float-k", good_key(k=3.5), "k"),
    key_case("type-bool-cin", good_key(cin=True), "cin"),
    key_case("type-object-op", good_key(op={}), "op"),
    key_case("type-number-op", good_key(op=5), "op"),
    key_case("type-null-cin", good_key(cin=None), "cin"),
    key_case("type-string-bias", good_key(bias="yes"), "bias"),
    key_case("type-int-bias", good_key(bias=1), "bias"),
    key_case("type-number-dtype", good_key(dtype=16), "dtype"),
    key_case("type-array-h", good_key(h=[56]), "h"),
    lut_case("type-string-mean", bad_entry(latency={"mean": "fast"}), 422,
             {"pointer": "/1/latency/mean", "row": 1}),
    lut_case("type-float-count", bad_entry(latency={"mean": 1, "count": 1.5}), 422,
             {"pointer": "/1/latency/count", "row": 1}),
    lut_case("type-latency-number", bad_entry(latency=5), 422, {"pointer": "/1/latency", "row": 1}),
    lut_case("type-key-string", bad_entry(key="conv2d"), 422, {"pointer": "/1/key", "row": 1}),
    lut_case("type-float-macs", bad_entry(macs=1.5), 422, {"pointer": "/1/macs", "row": 1}),
    lut_case("type-entry-number", 5, 422, {"pointer": "/1", "row": 1}),
    raw_case("type-body-object", "POST", LUT, J({"key": good_key(), "latency": {"mean": 1}}),
             JSON_CT, 422, "invalid-field", {"pointer": ""}),
    put_case("type-string-clock", {"unit": "cycles", "clock_mhz": "175"}, 422, {"pointer": "/clock_mhz"}),
    put_case("type-string-measured", {"unit": "us", "measured": "yes"}, 422, {"pointer": "/measured"}),
    put_case("type-number-unit", {"unit": 5}, 422, {"pointer": "/unit"}),
    put_case("type-number-kind", {"unit": "us", "kind": 3}, 422, {"pointer": "/kind"}),
    put_case("type-body-array", [{"unit": "us"}], 422, {"pointer": ""}),
    est_case("type-devices-string", est_body(devices=DEV), 422, {"pointer": "/devices"}),
    est_case("type-devices-number-item", est_body(devices=[5]), 422, {"pointer": "/devices/0"}),
    est_case("type-networks-object", est_body(networks={"layers": [GOOD_LAYER]}), 422,
             {"pointer": "/networks"}),
    est_case("type-layers-object", est_body(networks=[{"name": "n", "layers": GOOD_LAYER}]), 422,
             {"pointer": "/networks/0/layers"}),
    est_case("type-network-name", est_body(networks=[{"name": 5, "layers": [GOOD_LAYER]}]), 422,
             {"pointer": "/networks/0/name"}),
    est_case("type-layer-string-cin", est_layer_body(dict(GOOD_LAYER, cin="7")), 422,
             {"pointer": "/networks/0/layers/0/cin"}),
    est_case("type-estimate-body-array", [est_body()], 422, {"pointer": ""}),

    # ------------------------------------------------------- missing fields
    key_case("missing-op", good_key(op=DROP), "op"),
    key_case("missing-cin-conv2d", good_key(cin=DROP), "cin"),
    key_case("missing-w-conv2d", good_key(w=DROP), "w"),
    key_case("missing-cout-linear", {"op": "linear", "cin": 8}, "cout"),
    key_case("missing-out_h-upsample", {"op": "upsample", "cin": 8, "h": 4, "w": 4, "out_w": 8}, "out_h"),
    key_case("missing-cout-concat", {"op": "concat", "h": 4, "w": 4}, "cout"),
    key_case("missing-h-avgpool", {"op": "avgpool", "cin": 8, "w": 4, "k": 2}, "h"),
    lut_case("missing-key", bad_entry(key=DROP), 422, {"pointer": "/1/key", "row": 1}),
    lut_case("missing-latency", bad_entry(latency=DROP), 422, {"pointer": "/1/latency", "row": 1}),
    lut_case("missing-mean", bad_entry(latency={"std": 1.0, "count": 2}), 422,
             {"pointer": "/1/latency/mean", "row": 1}),
    put_case("missing-unit", {"clock_mhz": 100.0, "kind": "mcu"}, 422, {"pointer": "/unit"}),
    put_case("missing-unit-empty-object", {}, 422, {"pointer": "/unit"}),
    est_case("missing-networks", {"devices": [DEV]}, 422, {"pointer": "/networks"}),
    est_case("missing-layer-op", est_layer_body({"cin": 7}), 422, {"pointer": "/networks/0/layers/0/op"}),
    est_case("missing-layer-cin", est_layer_body({"op": "conv2d", "cout": 7, "h": 7, "w": 7}), 422,
             {"pointer": "/networks/0/layers/0/cin"}),
    est_case("missing-layers", est_body(networks=[{"name": "n"}]), 422,
             {"pointer": "/networks/0/layers"}),

    # -------------------------------------------------------- unknown fields
    key_case("unknown-key-attr", good_key(kernel=3), "kernel"),
    lut_case("unknown-entry-field", bad_entry(extra=1), 422, {"pointer": "/1/extra", "row": 1}),
    lut_case("unknown-latency-field", bad_entry(latency={"mean": 1, "median": 1}), 422,
             {"pointer": "/1/latency/median", "row": 1}),
    put_case("unknown-device-field", {"unit": "us", "colour": "red"}, 422, {"pointer": "/colour"}),
    est_case("unknown-top-field", est_body(foo=1), 422, {"pointer": "/foo"}),
    est_case("unknown-network-field", est_body(networks=[{"name": "n", "layers": [GOOD_LAYER], "x": 1}]),
             422, {"pointer": "/networks/0/x"}),
    est_case("unknown-layer-attr", est_layer_body(dict(GOOD_LAYER, padding=1)), 422,
             {"pointer": "/networks/0/layers/0/padding"}),

    # ------------------------------------------------------ sizes and ranges
    key_case("zero-cin", good_key(cin=0), "cin"),
    key_case("negative-cin", good_key(cin=-3), "cin"),
    key_case("zero-cout", good_key(cout=0), "cout"),
    key_case("zero-h", good_key(h=0), "h"),
    key_case("negative-w", good_key(w=-56), "w"),
    key_case("zero-k", good_key(k=0), "k"),
    key_case("k-256", good_key(k=256), "k"),
    key_case("zero-stride", good_key(stride=0), "stride"),
    key_case("zero-dilation", good_key(dilation=0), "dilation"),
    key_case("zero-groups", good_key(groups=0), "groups"),
    key_case("negative-pad", good_key(pad=-1), "pad"),
    key_case("negative-pad-2", good_key(pad=-2), "pad"),
    key_case("minus-one-k", good_key(k=-1), "k"),
    key_case("minus-one-stride", good_key(stride=-1), "stride"),
    key_case("minus-one-dilation", good_key(dilation=-1), "dilation"),
    key_case("minus-one-groups", good_key(groups=-1), "groups"),
    key_case("minus-one-cin", good_key(cin=-1), "cin"),
    key_case("cin-2^40", good_key(cin=2 ** 40), "cin"),
    key_case("cout-1048577", good_key(cout=1048577), "cout"),
    key_case("h-65537", good_key(h=65537), "h"),
    key_case("out_h-zero-upsample", {"op": "upsample", "cin": 8, "h": 4, "w": 4, "out_h": 0, "out_w": 8},
             "out_h"),
    key_case("groups-not-dividing-cin", good_key(cin=30, cout=64, groups=4), "groups"),
    key_case("groups-not-dividing-cout", good_key(cin=32, cout=30, groups=4), "groups"),
    lut_case("output-smaller-than-1", bad_entry(good_key(k=7, h=3, w=3, pad=0)), 422,
             {"pointer": Prefix("/1/key"), "row": 1}),
    lut_case("output-smaller-than-1-dilation", bad_entry(good_key(k=3, dilation=8, h=8, w=8, pad=0)), 422,
             {"pointer": Prefix("/1/key"), "row": 1}),
    key_case("op-uppercase", good_key(op="Conv2D"), "op"),
    key_case("op-too-long", good_key(op="x" * 32), "op"),
    key_case("op-empty", good_key(op=""), "op"),
    key_case("dtype-uppercase", good_key(dtype="FP32"), "dtype"),
    key_case("dtype-too-long", good_key(dtype="f" * 16), "dtype"),
    lut_case("negative-mean", bad_entry(latency={"mean": -1}), 422, {"pointer": "/1/latency/mean", "row": 1}),
    lut_case("negative-std", bad_entry(latency={"mean": 1, "std": -0.5}), 422,
             {"pointer": "/1/latency/std", "row": 1}),
    lut_case("zero-count", bad_entry(latency={"mean": 1, "count": 0}), 422,
             {"pointer": "/1/latency/count", "row": 1}),
    lut_case("negative-count", bad_entry(latency={"mean": 1, "count": -2}), 422,
             {"pointer": "/1/latency/count", "row": 1}),
    lut_case("negative-macs", bad_entry(macs=-1), 422, {"pointer": "/1/macs", "row": 1}),
    lut_case("last-row-bad", bad_entry(latency={"mean": 1, "count": 0}), 422,
             {"pointer": "/1/latency/count", "row": 1}, query="?mode=merge"),

    # ----------------------------------------------------------- empty batch
    raw_case("empty-json-array", "POST", LUT, b"[]", JSON_CT, 422, "invalid-field", {"pointer": ""}),
    csv_case("empty-csv-header-only", f"{CSV_HEAD}\n", 422, None),
    csv_case("empty-csv-body", b"", 422, None),
    nd_case("empty-ndjson", b"", 422, None),
    nd_case("empty-ndjson-blank-lines", "\n\n  \n", 422, None),

    # ------------------------------------------------------------------ CSV
    csv_case("csv-ragged-short", csv_rows("conv2d,7,7,1,7,7,1.0"), 422, {"row": 1, "line": 3}),
    csv_case("csv-ragged-long", csv_rows("conv2d,8,8,1,7,7,1.0,0,1,0,99"), 422, {"row": 1, "line": 3}),
    csv_case("csv-missing-op-column", "cin,cout,h,w,latency_mean\n7,7,7,7,1.0\n", 422, {"field": "op"}),
    csv_case("csv-missing-latency-column", "op,cin,cout,h,w\nconv2d,7,7,7,7\n", 422,
             {"field": "latency_mean"}),
    csv_case("csv-unknown-column", "op,cin,cout,h,w,latency_mean,speed\nconv2d,7,7,7,7,1.0,3\n", 422,
             {"field": "speed"}),
    csv_row_case("csv-non-numeric-cin", "conv2d,abc,7,1,7,7,1.0,0,1,0", "cin"),
    csv_row_case("csv-float-cin", "conv2d,3.5,7,1,7,7,1.0,0,1,0", "cin"),
    csv_row_case("csv-non-numeric-mean", "conv2d,8,8,1,7,7,fast,0,1,0", "latency_mean"),
    csv_row_case("csv-bad-bool", "conv2d,8,8,1,7,7,1.0,0,1,yes", "bias"),
    csv_row_case("csv-empty-op", ",8,8,1,7,7,1.0,0,1,0", "op"),
    csv_row_case("csv-empty-mean", "conv2d,8,8,1,7,7,,0,1,0", "latency_mean"),
    csv_row_case("csv-negative-mean", "conv2d,8,8,1,7,7,-1,0,1,0", "latency_mean"),
    csv_row_case("csv-zero-count", "conv2d,8,8,1,7,7,1.0,0,0,0", "count"),
    csv_row_case("csv-negative-std", "conv2d,8,8,1,7,7,1.0,-1,1,0", "latency_std"),
    csv_row_case("csv-nan-mean", "conv2d,8,8,1,7,7,nan,0,1,0", "latency_mean"),
    csv_case("csv-groups-not-dividing",
             "op,cin,cout,groups,h,w,latency_mean\nconv2d,7,7,1,7,7,1\nconv2d,30,64,4,7,7,1\n",
             422, {"row": 1, "line": 3, "field": "groups"}),
    csv_row_case("csv-missing-cin", "conv2d,,8,1,7,7,1.0,0,1,0", "cin"),
    csv_case("csv-bom-crlf-bad-row",
             b"\xef\xbb\xbf" + csv_rows("conv2d,8,8,1,7,7,1.0,0,0,0").replace("\n", "\r\n").encode(),
             422, {"row": 1, "line": 3, "field": "count"}),

    # --------------------------------------------------------------- NDJSON
    nd_case("ndjson-bad-row-after-blank", f"{ND0}\n\n{ND0}\n"
            + json.dumps(bad_entry(latency={"mean": -5})) + f"\n{ND2}\n", 422,
            {"row": 2, "line": 4}),
    nd_case("ndjson-row-is-array", f"{ND0}\n[1, 2]\n", 422, {"row": 1, "line": 2}),
    nd_case("ndjson-groups", f"{ND0}\n" + json.dumps(bad_entry(good_key(cin=30, groups=4))) + "\n", 422,
            {"row": 1, "line": 2, "field": "groups"}),

    # ---------------------------------------------------------------- devices
    param_case("device-name-uppercase", "PUT", "/v1/devices/GAP8", "name", J({"unit": "us"}), JSON_CT),
    param_case("device-name-too-long", "PUT", "/v1/devices/" + "a" * 65, "name", J({"unit": "us"}), JSON_CT),
    param_case("device-name-space", "PUT", "/v1/devices/a%20b", "name", J({"unit": "us"}), JSON_CT),
    param_case("device-name-bang", "PUT", "/v1/devices/a!b", "name", J({"unit": "us"}), JSON_CT),
    param_case("device-name-get", "GET", "/v1/devices/Bad_Name", "name"),
    param_case("device-name-lut", "POST", "/v1/devices/BAD/lut", "name", J([G0]), JSON_CT),
    param_case("device-name-delete", "DELETE", "/v1/devices/BAD", "name"),
    put_case("device-body-name-mismatch", {"name": "other", "unit": "us"}, 422, {"pointer": "/name"}),
    put_case("device-unit-ms", {"unit": "ms"}, 422, {"pointer": "/unit"}),
    put_case("device-cycles-without-clock", {"unit": "cycles"}, 422, {"pointer": "/clock_mhz"}),
    put_case("device-cycles-null-clock", {"unit": "cycles", "clock_mhz": None}, 422, {"pointer": "/clock_mhz"}),
    put_case("device-zero-clock", {"unit": "cycles", "clock_mhz": 0}, 422, {"pointer": "/clock_mhz"}),
    put_case("device-negative-clock", {"unit": "us", "clock_mhz": -5.0}, 422, {"pointer": "/clock_mhz"}),
    put_case("device-kind-65", {"unit": "us", "kind": "k" * 65}, 422, {"pointer": "/kind"}),
    put_case("device-description-1025", {"unit": "us", "description": "d" * 1025}, 422,
             {"pointer": "/description"}),
    put_case("device-update-cycles-without-clock", {"unit": "cycles", "kind": "changed"}, 422,
             {"pointer": "/clock_mhz"}, name=DEV),
    put_case("device-update-bad-measured", {"unit": "us", "description": "changed", "measured": 1}, 422,
             {"pointer": "/measured"}, name=DEV),

    # -------------------------------------------------------------- not found
    Case("unknown-device-get", "GET", "/v1/devices/nope", None, {}, 404, "not-found", {"parameter": "name"}),
    Case("unknown-device-delete", "DELETE", "/v1/devices/nope", None, {}, 404, "not-found",
         {"parameter": "name"}),
    Case("unknown-device-upload", "POST", "/v1/devices/nope/lut", J([G0]), JSON_CT, 404, "not-found",
         {"parameter": "name"}),
    Case("unknown-device-list", "GET", "/v1/devices/nope/lut", None, {}, 404, "not-found",
         {"parameter": "name"}),
    Case("unknown-route", "GET", "/v1/nothing", None, {}, 404, "not-found"),
    Case("unknown-route-root", "GET", "/nothing", None, {}, 404, "not-found"),
    Case("unknown-route-v2", "GET", "/v2/health", None, {}, 404, "not-found"),
    Case("unknown-route-deeper", "GET", f"/v1/devices/{DEV}/lut/extra", None, {}, 404, "not-found"),
    Case("unknown-route-post", "POST", "/v1/estimates", J(est_body()), JSON_CT, 404, "not-found"),

    # ------------------------------------------------- estimate, device names
    est_case("estimate-unknown-device", est_body(devices=["nope"]), 422, {"pointer": "/devices/0"}),
    est_case("estimate-unknown-second-device", est_body(devices=[DEV, "nope"]), 422,
             {"pointer": "/devices/1"}),
    est_case("estimate-duplicate-device", est_body(devices=[DEV, DEV]), 422, {"pointer": "/devices/1"}),
    est_case("estimate-bad-device-name", est_body(devices=["Bad Name"]), 422, {"pointer": "/devices/0"}),
    est_case("estimate-no-networks", est_body(networks=[]), 422, {"pointer": "/networks"}),
    est_case("estimate-empty-layers", est_body(networks=[{"name": "n", "layers": []}]), 422,
             {"pointer": "/networks/0/layers"}),
    est_case("estimate-second-network-bad",
             est_body(networks=[{"name": "a", "layers": [GOOD_LAYER]},
                                {"name": "b", "layers": [GOOD_LAYER, dict(GOOD_LAYER, cin=0)]}]),
             422, {"pointer": "/networks/1/layers/1/cin"}),
    est_case("estimate-groups", est_layer_body(dict(GOOD_LAYER, cin=30, cout=64, groups=4)), 422,
             {"pointer": "/networks/0/layers/0/groups"}),
    est_case("estimate-output-smaller-than-1", est_layer_body(dict(GOOD_LAYER, k=7, h=3, w=3, pad=0)), 422,
             {"pointer": Prefix("/networks/0/layers/0")}),
    est_case("estimate-negative-pad", est_layer_body(dict(GOOD_LAYER, k=3, pad=-1)), 422,
             {"pointer": "/networks/0/layers/0/pad"}),
    est_case("estimate-cin-2^40", est_layer_body(dict(GOOD_LAYER, cin=2 ** 40)), 422,
             {"pointer": "/networks/0/layers/0/cin"}),

    # ------------------------------------------------------- wrong methods
    method_case("method-post-health", "POST", "/v1/health", {"GET"}),
    method_case("method-post-metrics", "POST", "/metrics", {"GET"}),
    method_case("method-delete-devices", "DELETE", "/v1/devices", {"GET"}),
    method_case("method-post-devices", "POST", "/v1/devices", {"GET"}, body=J({"unit": "us"})),
    method_case("method-post-device", "POST", f"/v1/devices/{DEV}", {"GET", "PUT", "DELETE"},
                body=J({"unit": "us"})),
    method_case("method-patch-device", "PATCH", f"/v1/devices/{DEV}", {"GET", "PUT", "DELETE"},
                body=J({"unit": "us"})),
    method_case("method-put-lut", "PUT", LUT, {"GET", "POST"}, body=J([G0])),
    method_case("method-delete-lut", "DELETE", LUT, {"GET", "POST"}),
    method_case("method-get-estimate", "GET", EST, {"POST"}),
    method_case("method-put-estimate", "PUT", EST, {"POST"}, body=J(est_body())),

    # ------------------------------------------------------ query parameters
    param_case("limit-zero", "GET", LUT + "?limit=0", "limit"),
    param_case("limit-negative", "GET", LUT + "?limit=-1", "limit"),
    param_case("limit-99999", "GET", LUT + "?limit=99999", "limit"),
    param_case("limit-10001", "GET", LUT + "?limit=10001", "limit"),
    param_case("limit-abc", "GET", LUT + "?limit=abc", "limit"),
    param_case("limit-float", "GET", LUT + "?limit=1.5", "limit"),
    param_case("limit-empty", "GET", LUT + "?limit=", "limit"),
    param_case("limit-huge", "GET", LUT + "?limit=18446744073709551617", "limit"),
    param_case("limit-csv", "GET", LUT + "?limit=0", "limit", headers={"Accept": "text/csv"}),
    param_case("cursor-garbage", "GET", LUT + "?cursor=!!not-a-cursor!!", "cursor"),
    param_case("cursor-garbage-2", "GET", LUT + "?cursor=zzzz&limit=1", "cursor"),
    # An op filter that is not [a-z0-9_]{1,31} is the client's fault (it was a 500).
    param_case("lut-list-op-equals-sign", "GET", LUT + "?limit=2&op=alimit=dd", "op"),
    param_case("lut-list-op-uppercase", "GET", LUT + "?op=Conv2d", "op"),
    param_case("lut-list-op-dash", "GET", LUT + "?op=conv-2d", "op"),
    param_case("lut-list-op-utf8", "GET", LUT + "?op=conv%C3%A9", "op"),
    param_case("lut-list-op-too-long", "GET", LUT + "?op=" + "a" * 32, "op"),
    param_case("mode-append", "POST", LUT + "?mode=append", "mode", J([G0]), JSON_CT),
    param_case("mode-uppercase", "POST", LUT + "?mode=REPLACE", "mode", J([G0]), JSON_CT),
    param_case("mode-empty", "POST", LUT + "?mode=", "mode", J([G0]), JSON_CT),
    param_case("mode-csv", "POST", LUT + "?mode=sum", "mode", f"{CSV_HEAD}\n{CSV_OK0}\n".encode(), CSV_CT),
    param_case("detail-all", "POST", EST + "?detail=all", "detail", J(est_body()), JSON_CT),
    param_case("detail-empty", "POST", EST + "?detail=", "detail", J(est_body()), JSON_CT),

    # ------------------------------------------------------- content types
    Case("ctype-lut-text-plain", "POST", LUT, J([G0]), {"Content-Type": "text/plain"}, 415,
         "unsupported-media-type"),
    Case("ctype-lut-xml", "POST", LUT, b"<rows/>", {"Content-Type": "application/xml"}, 415,
         "unsupported-media-type"),
    Case("ctype-lut-form", "POST", LUT, b"op=relu", {"Content-Type": "application/x-www-form-urlencoded"},
         415, "unsupported-media-type"),
    Case("ctype-estimate-csv", "POST", EST, b"op\nrelu\n", CSV_CT, 415, "unsupported-media-type"),
    Case("ctype-estimate-ndjson", "POST", EST, J(est_body()), ND_CT, 415, "unsupported-media-type"),
    Case("ctype-put-text", "PUT", f"/v1/devices/{NEW}", J({"unit": "us"}), {"Content-Type": "text/plain"},
         415, "unsupported-media-type"),
    Case("ctype-put-csv", "PUT", f"/v1/devices/{NEW}", b"unit\nus\n", CSV_CT, 415, "unsupported-media-type"),

    # ------------------------------------- body too large (--max-body 1024)
    Case("too-large-lut-json", "POST", LUT, J([G0] * 60), JSON_CT, 413, "body-too-large", server="small"),
    Case("too-large-lut-csv", "POST", LUT, (f"{CSV_HEAD}\n" + f"{CSV_OK0}\n" * 100).encode(), CSV_CT, 413,
         "body-too-large", server="small"),
    Case("too-large-put", "PUT", f"/v1/devices/{NEW}", J({"unit": "us", "description": "d" * 1020}),
         JSON_CT, 413, "body-too-large", server="small"),
    Case("too-large-estimate", "POST", EST,
         J(est_body(networks=[{"name": "n", "layers": [GOOD_LAYER] * 40}])), JSON_CT, 413,
         "body-too-large", server="small"),
    Case("too-large-lut-chunked", "POST", LUT, J([G0] * 60), JSON_CT, 413, "body-too-large",
         server="small", chunked=True),
    Case("too-large-estimate-chunked", "POST", EST,
         J(est_body(networks=[{"name": "n", "layers": [GOOD_LAYER] * 40}])), JSON_CT, 413,
         "body-too-large", server="small", chunked=True),
]


# ------------------------------------- observations, surrogates, screening

OBS_CAT = f"{SPACES}/{SPACE_CAT}/observations"
OBS_REG = f"{SPACES}/{SPACE_REG}/observations"
GOOD_OBS = {"genome": [0, 1], "metric": "miou", "value": 0.5}     # of SPACE_CAT
MAXG_OBS = {"genome": MAXG, "metric": "miou", "value": 0.5}       # of SPACE_REG and MBV2


def obs(**changes):
    """GOOD_OBS with changes (DROP removes a field)."""
    o = dict(GOOD_OBS)
    for k, v in changes.items():
        if v is DROP:
            o.pop(k, None)
        else:
            o[k] = v
    return o


def obs_case(id, bad, expect, path=OBS_CAT, status=422, body=None, xfail=""):
    """A batch whose observation 1 is bad (observation 0 is fine)."""
    b = body if body is not None else {"observations": [GOOD_OBS, bad]}
    return space_case(id, b, status, expect, path=path, xfail=xfail)


def obs_err(field, **more):
    want = {"pointer": "/observations/1/" + field if field else "/observations/1"}
    want.update(more)
    return want


SCREEN_REG = f"{SPACES}/{SPACE_REG}/screen"
MIOU_MAX = {"metric": "miou", "goal": "max"}


def screen_body(**changes):
    b = {"genomes": [MAXG], "objectives": [MIOU_MAX, {"cost": "macs", "goal": "min"}]}
    b.update(changes)
    return b


def screen_case(id, body, expect, path=SCREEN_REG, status=422, xfail=""):
    return space_case(id, body, status, expect, path=path, xfail=xfail)


def cons(**c):
    return screen_body(constraints=[c])


SUR = f"{SPACES}/{SPACE_CAT}/surrogate"
FIT = f"{SPACES}/{SPACE_CAT}/surrogate:fit"

SURROGATE_CASES = [
    # ----------------------------------------- POST observations: bad fields
    obs_case("obs-genome-missing", obs(genome=DROP), obs_err("genome")),
    obs_case("obs-metric-missing", obs(metric=DROP), obs_err("metric")),
    obs_case("obs-value-missing", obs(value=DROP), obs_err("value")),
    obs_case("obs-metric-uppercase", obs(metric="mIoU"), obs_err("metric")),
    obs_case("obs-metric-hyphen", obs(metric="pixel-acc"), obs_err("metric")),
    obs_case("obs-metric-dot", obs(metric="val.miou"), obs_err("metric")),
    obs_case("obs-metric-65", obs(metric="m" * 65), obs_err("metric")),
    obs_case("obs-metric-empty", obs(metric=""), obs_err("metric")),
    obs_case("obs-metric-number", obs(metric=5), obs_err("metric")),
    obs_case("obs-metric-null", obs(metric=None), obs_err("metric")),
    obs_case("obs-fidelity-uppercase", obs(fidelity="Val-Full"), obs_err("fidelity")),
    obs_case("obs-fidelity-space", obs(fidelity="val full"), obs_err("fidelity")),
    obs_case("obs-fidelity-slash", obs(fidelity="val/full"), obs_err("fidelity")),
    obs_case("obs-fidelity-65", obs(fidelity="f" * 65), obs_err("fidelity")),
    obs_case("obs-fidelity-empty", obs(fidelity=""), obs_err("fidelity")),
    obs_case("obs-fidelity-number", obs(fidelity=500), obs_err("fidelity")),
    obs_case("obs-fidelity-null", obs(fidelity=None), obs_err("fidelity")),
    obs_case("obs-value-string", obs(value="0.5"), obs_err("value")),
    obs_case("obs-value-bool", obs(value=True), obs_err("value")),
    obs_case("obs-value-null", obs(value=None), obs_err("value")),
    obs_case("obs-value-array", obs(value=[0.5]), obs_err("value")),
    obs_case("obs-value-object", obs(value={"mean": 0.5}), obs_err("value")),
    obs_case("obs-genome-short", obs(genome=[0]), [obs_err("genome"), obs_err("genome/1")]),
    obs_case("obs-genome-long", obs(genome=[0, 1, 0]), [obs_err("genome"), obs_err("genome/2")]),
    obs_case("obs-genome-empty", obs(genome=[]), [obs_err("genome"), obs_err("genome/0")]),
    obs_case("obs-genome-index-out-of-range", obs(genome=[0, 2]), obs_err("genome/1", reason=Sub("width"))),
    obs_case("obs-genome-index-negative", obs(genome=[-1, 0]), obs_err("genome/0", reason=Sub("depth"))),
    obs_case("obs-genome-index-float", obs(genome=[0, 0.5]), obs_err("genome/1", reason=Sub("width"))),
    obs_case("obs-genome-index-string", obs(genome=["0", 0]), obs_err("genome/0", reason=Sub("depth"))),
    obs_case("obs-genome-named-unknown", obs(genome={"depth": 1, "width": 1, "colour": 1}),
             obs_err("genome/colour")),
    obs_case("obs-genome-named-not-a-choice", obs(genome={"depth": 4, "width": 1}),
             obs_err("genome/depth", reason=Sub("depth"))),
    obs_case("obs-genome-named-missing", obs(genome={"depth": 1}), obs_err("genome/width", reason=Sub("width"))),
    obs_case("obs-genome-named-string-value", obs(genome={"depth": "1", "width": 1}),
             obs_err("genome/depth", reason=Sub("depth"))),
    obs_case("obs-genome-string", obs(genome="0,1"), obs_err("genome")),
    obs_case("obs-genome-null", obs(genome=None), obs_err("genome")),
    obs_case("obs-genome-mbv2-gene-5", dict(MAXG_OBS, genome=g_at(5, 4)), obs_err("genome/5", reason=Sub(GENE5)),
             path=f"{SPACES}/{MBV2}/observations", body={"observations": [MAXG_OBS, dict(MAXG_OBS, genome=g_at(5, 4))]}),
    obs_case("obs-genome-registered-named", None, obs_err("genome/aspp.width", reason=Sub("aspp.width")),
             path=OBS_REG, body={"observations": [MAXG_OBS, dict(MAXG_OBS, genome=g_named(aspp__width=65))]}),
    obs_case("obs-unknown-field", obs(colour="red"), obs_err("colour")),
    obs_case("obs-unknown-field-id", obs(id=7), obs_err("id")),
    obs_case("obs-not-an-object", 5, obs_err("")),
    obs_case("obs-array-item", [GOOD_OBS], obs_err("")),
    obs_case("obs-later-bad", None, {"pointer": "/observations/6/value"},
             body={"observations": [GOOD_OBS] * 6 + [obs(value="x")] + [GOOD_OBS] * 3}),
    obs_case("obs-empty-list", None, {"pointer": "/observations"}, body={"observations": []}),
    obs_case("obs-list-missing", None, [{"pointer": "/observations"}, {"pointer": ""}], body={}),
    obs_case("obs-list-object", None, {"pointer": "/observations"}, body={"observations": {"0": GOOD_OBS}}),
    obs_case("obs-list-null", None, {"pointer": "/observations"}, body={"observations": None}),
    obs_case("obs-body-array", None, {"pointer": ""}, body=[GOOD_OBS]),
    obs_case("obs-unknown-top-field", None, {"pointer": "/fidelity"},
             body={"observations": [GOOD_OBS], "fidelity": "default"}),
    obs_case("obs-100001", None, {"pointer": "/observations"}, body={"observations": [GOOD_OBS] * 100001}),
    obs_case("obs-unknown-space", None, {"parameter": "id"}, path=f"{SPACES}/nope/observations", status=404,
             body={"observations": [GOOD_OBS]}),
    malformed("obs-nan", b'{"observations": [{"genome": [0, 1], "metric": "miou", "value": NaN}]}', path=OBS_CAT),
    malformed("obs-infinity", b'{"observations": [{"genome": [0, 1], "metric": "miou", "value": Infinity}]}',
              path=OBS_CAT),
    malformed("obs-minus-infinity", b'{"observations": [{"genome": [0, 1], "metric": "miou", "value": -Infinity}]}',
              path=OBS_CAT),
    malformed("obs-1e999", b'{"observations": [{"genome": [0, 1], "metric": "miou", "value": 1e999}]}',
              path=OBS_CAT),
    malformed("obs-minus-1e999", b'{"observations": [{"genome": [0, 1], "metric": "miou", "value": -1e999}]}',
              path=OBS_CAT),
    malformed("obs-nan-in-meta", b'{"observations": [{"genome": [0, 1], "metric": "miou", "value": 1, '
              b'"meta": {"loss": NaN}}]}', path=OBS_CAT),
    malformed("obs-duplicate-key", b'{"observations": [{"genome": [0, 1], "metric": "miou", "metric": "acc", '
              b'"value": 1}]}', path=OBS_CAT),
    malformed("obs-truncated", J({"observations": [GOOD_OBS]})[:-2], path=OBS_CAT),
    malformed("obs-empty-body", b"", path=OBS_CAT),
    Case("ctype-obs-csv", "POST", OBS_CAT, b"genome,metric,value\n\"[0,1]\",miou,0.5\n", CSV_CT, 415,
         "unsupported-media-type"),
    Case("ctype-obs-ndjson", "POST", OBS_CAT, J(GOOD_OBS) + b"\n", ND_CT, 415, "unsupported-media-type"),
    Case("obs-idempotency-key-space", "POST", OBS_CAT, J({"observations": [GOOD_OBS]}),
         {**JSON_CT, "Idempotency-Key": "run 1"}, 400, "invalid-parameter", {"parameter": "Idempotency-Key"}),
    Case("obs-idempotency-key-256", "POST", OBS_CAT, J({"observations": [GOOD_OBS]}),
         {**JSON_CT, "Idempotency-Key": "k" * 256}, 400, "invalid-parameter", {"parameter": "Idempotency-Key"}),
    Case("obs-idempotency-key-empty", "POST", OBS_CAT, J({"observations": [GOOD_OBS]}),
         {**JSON_CT, "Idempotency-Key": ""}, 400, "invalid-parameter", {"parameter": "Idempotency-Key"}),
    Case("obs-idempotency-key-8bit", "POST", OBS_CAT, J({"observations": [GOOD_OBS]}),
         {**JSON_CT, "Idempotency-Key": "caf\u00e9".encode("latin-1")}, 400, "invalid-parameter",
         {"parameter": "Idempotency-Key"}),
    Case("too-large-obs", "POST", OBS_CAT, J({"observations": [GOOD_OBS] * 40}), JSON_CT, 413, "body-too-large",
         server="small"),
    Case("too-large-obs-chunked", "POST", OBS_CAT, J({"observations": [GOOD_OBS] * 40}), JSON_CT, 413,
         "body-too-large", server="small", chunked=True),

    # ----------------------------------------------- GET observations
    param_case("obs-list-metric-uppercase", "GET", OBS_CAT + "?metric=mIoU", "metric"),
    param_case("obs-list-metric-empty", "GET", OBS_CAT + "?metric=", "metric"),
    param_case("obs-list-fidelity-bad", "GET", OBS_CAT + "?fidelity=a%20b", "fidelity"),
    param_case("obs-list-fidelity-csv", "GET", OBS_CAT + "?fidelity=A", "fidelity", headers={"Accept": "text/csv"}),
    space_case("obs-list-unknown-space", None, 404, {"parameter": "id"}, method="GET",
               path=f"{SPACES}/nope/observations"),

    # ------------------------------------------- surrogate and its refit
    param_case("surrogate-metric-missing", "GET", SUR, "metric"),
    param_case("surrogate-metric-empty", "GET", SUR + "?metric=", "metric"),
    param_case("surrogate-metric-uppercase", "GET", SUR + "?metric=MIOU", "metric"),
    param_case("surrogate-metric-65", "GET", SUR + "?metric=" + "m" * 65, "metric"),
    param_case("surrogate-fidelity-bad", "GET", SUR + "?metric=miou&fidelity=Val", "fidelity"),
    param_case("surrogate-heldout-bad", "GET", SUR + "?metric=miou&heldout=yes", "heldout"),
    param_case("surrogate-heldout-empty", "GET", SUR + "?metric=miou&heldout=", "heldout"),
    param_case("space-estimate-predict-bad", "POST", f"{SPACES}/{SPACE_CAT}/estimate?predict=no", "predict",
               body=J({"genomes": [[0, 0, 0]]}), headers=JSON_CT),
    param_case("surrogate-fidelity-empty", "GET", SUR + "?metric=miou&fidelity=", "fidelity"),
    param_case("fit-metric-missing", "POST", FIT, "metric"),
    param_case("fit-metric-bad", "POST", FIT + "?metric=m-iou", "metric"),
    param_case("fit-fidelity-bad", "POST", FIT + "?metric=miou&fidelity=a%2Fb", "fidelity"),
    space_case("surrogate-unknown-metric", None, 404, {"parameter": "metric"}, method="GET",
               path=SUR + "?metric=pixel_acc"),
    space_case("surrogate-unknown-fidelity", None, 404, {"parameter": "fidelity"}, method="GET",
               path=SUR + "?metric=miou&fidelity=val-full"),
    space_case("surrogate-no-observations", None, 404, {"parameter": "metric"}, method="GET",
               path=f"{SPACES}/{X65}/surrogate?metric=miou"),
    space_case("surrogate-unknown-space", None, 404, {"parameter": "id"}, method="GET",
               path=f"{SPACES}/nope/surrogate?metric=miou"),
    space_case("fit-unknown-metric", None, 404, {"parameter": "metric"}, path=FIT + "?metric=pixel_acc"),
    space_case("fit-unknown-fidelity", None, 404, {"parameter": "fidelity"},
               path=FIT + "?metric=miou&fidelity=val-full"),
    space_case("fit-unknown-space", None, 404, {"parameter": "id"}, path=f"{SPACES}/nope/surrogate:fit?metric=miou"),
    param_case("space-estimate-fidelity-bad", "POST", f"{SPACES}/{SPACE_CAT}/estimate?fidelity=Val%20Full",
               "fidelity", J({"devices": [], "genomes": [[0, 0]]}), JSON_CT),
    param_case("space-estimate-fidelity-empty", "POST", f"{SPACES}/{MBV2}/estimate?fidelity=", "fidelity",
               J({"devices": [], "genomes": [MAXG]}), JSON_CT),

    # --------------------------------------------------------- screening
    screen_case("screen-unknown-cost", screen_body(objectives=[MIOU_MAX, {"cost": "energy", "goal": "min"}]),
                {"pointer": "/objectives/1/cost"}),
    screen_case("screen-cost-number", screen_body(objectives=[MIOU_MAX, {"cost": 5, "goal": "min"}]),
                {"pointer": "/objectives/1/cost"}),
    screen_case("screen-latency-without-device", screen_body(objectives=[MIOU_MAX, {"cost": "latency", "goal": "min"}]),
                {"pointer": "/objectives/1/device"}),
    screen_case("screen-latency-bad-device-name",
                screen_body(objectives=[MIOU_MAX, {"cost": "latency", "device": "Bad Name", "goal": "min"}]),
                {"pointer": "/objectives/1/device"}),
    screen_case("screen-unknown-device-objective",
                screen_body(objectives=[MIOU_MAX, {"cost": "latency", "device": "nope", "goal": "min"}]),
                [{"pointer": "/objectives/1/device"}, {"pointer": "/objectives/1"}]),
    screen_case("screen-unknown-device-constraint", cons(cost="latency", device="nope", max=10),
                [{"pointer": "/constraints/0/device"}, {"pointer": "/constraints/0"}]),
    screen_case("screen-unknown-device-reason", cons(cost="latency", device="nope", max=10),
                {"pointer": Prefix("/"), "reason": Sub("nope")}),
    screen_case("screen-device-on-macs", screen_body(objectives=[{"cost": "macs", "device": DEV, "goal": "min"}]),
                {"pointer": "/objectives/0/device"}),
    screen_case("screen-goal-missing", screen_body(objectives=[{"metric": "miou"}]), {"pointer": "/objectives/0/goal"}),
    screen_case("screen-cost-goal-missing", screen_body(objectives=[MIOU_MAX, {"cost": "macs"}]),
                {"pointer": "/objectives/1/goal"}),
    screen_case("screen-goal-bad", screen_body(objectives=[{"metric": "miou", "goal": "maximize"}]),
                {"pointer": "/objectives/0/goal"}),
    screen_case("screen-goal-uppercase", screen_body(objectives=[{"metric": "miou", "goal": "MAX"}]),
                {"pointer": "/objectives/0/goal"}),
    screen_case("screen-metric-bad", screen_body(objectives=[{"metric": "mIoU", "goal": "max"}]),
                {"pointer": "/objectives/0/metric"}),
    screen_case("screen-metric-twice", screen_body(objectives=[MIOU_MAX, dict(MIOU_MAX, goal="min")]),
                {"pointer": Prefix("/objectives/1")}),
    screen_case("screen-cost-twice", screen_body(objectives=[{"cost": "macs", "goal": "min"},
                                                            {"cost": "macs", "goal": "min"}]),
                {"pointer": Prefix("/objectives/1")}),
    screen_case("screen-metric-and-cost", screen_body(objectives=[{"metric": "miou", "cost": "macs", "goal": "max"}]),
                {"pointer": Prefix("/objectives/0")}),
    screen_case("screen-objective-neither", screen_body(objectives=[{"goal": "max"}]),
                {"pointer": Prefix("/objectives/0")}),
    screen_case("screen-objective-unknown-field", screen_body(objectives=[dict(MIOU_MAX, weight=2)]),
                {"pointer": "/objectives/0/weight"}),
    screen_case("screen-objective-not-object", screen_body(objectives=["miou"]), {"pointer": "/objectives/0"}),
    screen_case("screen-objectives-missing", {"genomes": [MAXG]}, {"pointer": "/objectives"}),
    screen_case("screen-objectives-empty", screen_body(objectives=[]), {"pointer": "/objectives"}),
    screen_case("screen-objectives-object", screen_body(objectives=MIOU_MAX), {"pointer": "/objectives"}),
    screen_case("screen-objectives-33", screen_body(objectives=[{"metric": f"m{i}", "goal": "max"} for i in range(33)]),
                {"pointer": "/objectives"}),
    screen_case("screen-confidence-1", screen_body(confidence=1.0), {"pointer": "/confidence"}),
    screen_case("screen-confidence-1-int", screen_body(confidence=1), {"pointer": "/confidence"}),
    screen_case("screen-confidence-0.5", screen_body(confidence=0.5), {"pointer": "/confidence"}),
    screen_case("screen-confidence-0", screen_body(confidence=0), {"pointer": "/confidence"}),
    screen_case("screen-confidence-95", screen_body(confidence=95), {"pointer": "/confidence"}),
    screen_case("screen-confidence-string", screen_body(confidence="0.95"), {"pointer": "/confidence"}),
    screen_case("screen-confidence-null", screen_body(confidence=None), {"pointer": "/confidence"}),
    screen_case("screen-fidelity-bad", screen_body(fidelity="Val Full"), {"pointer": "/fidelity"}),
    screen_case("screen-fidelity-number", screen_body(fidelity=500), {"pointer": "/fidelity"}),
    screen_case("screen-unit-on-macs", cons(cost="macs", max=1e9, unit="ms"), {"pointer": "/constraints/0/unit"}),
    screen_case("screen-unit-on-params", cons(cost="params", max=1e6, unit="us"), {"pointer": "/constraints/0/unit"}),
    screen_case("screen-unit-cycles-on-us-device", cons(cost="latency", device=DEV, max=10, unit="cycles"),
                {"pointer": "/constraints/0/unit"}),
    screen_case("screen-unit-us-on-cycles-device", cons(cost="latency", device=CYC, max=10, unit="us"),
                {"pointer": "/constraints/0/unit"}),
    screen_case("screen-unit-seconds", cons(cost="latency", device=DEV, max=10, unit="s"),
                {"pointer": "/constraints/0/unit"}),
    screen_case("screen-unit-number", cons(cost="latency", device=DEV, max=10, unit=1), {"pointer": "/constraints/0/unit"}),
    screen_case("screen-constraint-max-negative", cons(cost="macs", max=-1), {"pointer": "/constraints/0/max"}),
    screen_case("screen-constraint-max-missing", cons(cost="macs"), {"pointer": "/constraints/0/max"}),
    screen_case("screen-constraint-max-string", cons(cost="macs", max="1e9"), {"pointer": "/constraints/0/max"}),
    screen_case("screen-constraint-max-null", cons(cost="macs", max=None), {"pointer": "/constraints/0/max"}),
    screen_case("screen-constraint-cost-missing", cons(max=1), {"pointer": "/constraints/0/cost"}),
    screen_case("screen-constraint-unknown-cost", cons(cost="energy", max=1), {"pointer": "/constraints/0/cost"}),
    screen_case("screen-constraint-latency-without-device", cons(cost="latency", max=1),
                {"pointer": "/constraints/0/device"}),
    screen_case("screen-constraint-goal", cons(cost="macs", max=1, goal="min"), {"pointer": "/constraints/0/goal"}),
    screen_case("screen-constraint-not-object", screen_body(constraints=[5]), {"pointer": "/constraints/0"}),
    screen_case("screen-constraints-object", screen_body(constraints={"cost": "macs", "max": 1}),
                {"pointer": "/constraints"}),
    screen_case("screen-second-constraint-bad", screen_body(constraints=[{"cost": "macs", "max": 1},
                                                                         {"cost": "params", "max": -2}]),
                {"pointer": "/constraints/1/max"}),
    screen_case("screen-genomes-missing", {"objectives": [MIOU_MAX]}, {"pointer": "/genomes"}),
    screen_case("screen-genomes-empty", screen_body(genomes=[]), {"pointer": "/genomes"}),
    screen_case("screen-genomes-object", screen_body(genomes={"0": MAXG}), {"pointer": "/genomes"}),
    screen_case("screen-genome-bad", screen_body(genomes=[MAXG, g_at(5, 4)]), gene_err("/genomes/1/5", GENE5)),
    screen_case("screen-genome-named-bad", screen_body(genomes=[MAXG, g_named(aspp__width=3)]),
                gene_err("/genomes/1/aspp.width", "aspp.width")),
    screen_case("screen-unknown-field", screen_body(colour="red"), {"pointer": "/colour"}),
    screen_case("screen-body-array", [screen_body()], {"pointer": ""}),
    screen_case("screen-categorical-cost-objective",
                {"genomes": [[0, 0]], "objectives": [MIOU_MAX, {"cost": "macs", "goal": "min"}]},
                {"pointer": Prefix("/objectives")}, path=f"{SPACES}/{SPACE_CAT}/screen"),
    screen_case("screen-categorical-latency-objective",
                {"genomes": [[0, 0]], "objectives": [MIOU_MAX, {"cost": "latency", "device": DEV, "goal": "min"}]},
                {"pointer": Prefix("/objectives")}, path=f"{SPACES}/{SPACE_CAT}/screen"),
    screen_case("screen-categorical-constraint",
                {"genomes": [[0, 0]], "objectives": [MIOU_MAX], "constraints": [{"cost": "params", "max": 5}]},
                {"pointer": Prefix("/constraints/0")}, path=f"{SPACES}/{SPACE_CAT}/screen"),
    screen_case("screen-unknown-space", screen_body(), {"parameter": "id"}, path=f"{SPACES}/nope/screen", status=404),
    malformed("screen-nan-confidence", b'{"genomes": [[0, 0]], "objectives": [{"metric": "miou", "goal": "max"}], '
              b'"confidence": NaN}', path=f"{SPACES}/{SPACE_CAT}/screen"),
    malformed("screen-empty-body", b"", path=SCREEN_REG),
    Case("ctype-screen-csv", "POST", SCREEN_REG, b"genome\n1\n", CSV_CT, 415, "unsupported-media-type"),
    Case("too-large-screen", "POST", SCREEN_REG, J(screen_body(genomes=[MAXG] * 20)), JSON_CT, 413,
         "body-too-large", server="small"),

    # ------------------------------------------------ methods, routes
    method_case("method-put-observations", "PUT", OBS_CAT, {"GET", "POST"}, body=J({"observations": [GOOD_OBS]})),
    method_case("method-delete-observations", "DELETE", OBS_CAT, {"GET", "POST"}),
    method_case("method-post-surrogate", "POST", SUR + "?metric=miou", {"GET"}),
    method_case("method-delete-surrogate", "DELETE", SUR + "?metric=miou", {"GET"}),
    method_case("method-get-surrogate-fit", "GET", FIT + "?metric=miou", {"POST"}),
    method_case("method-get-screen", "GET", SCREEN_REG, {"POST"}),
    method_case("method-put-screen", "PUT", SCREEN_REG, {"POST"}, body=J(screen_body())),
    Case("unknown-route-surrogate-verb", "POST", f"{SPACES}/{SPACE_CAT}/surrogate:refit?metric=miou", None, {},
         404, "not-found"),
    Case("unknown-route-observations-deeper", "GET", OBS_CAT + "/1", None, {}, 404, "not-found"),
]

CASES += SPACE_CASES + SURROGATE_CASES

IDS = [c.id for c in CASES]
assert len(IDS) == len(set(IDS)), [i for i in IDS if IDS.count(i) > 1]


# ------------------------------------------------------------------ runner

def item_matches(item, want):
    for k, v in want.items():
        got = item.get(k)
        if isinstance(v, Prefix):
            ok = isinstance(got, str) and got.startswith(v)
        elif isinstance(v, Sub):
            ok = isinstance(got, str) and v in got
        else:
            ok = got == v and type(got) is type(v)
        if not ok:
            return False
    return True


def snapshot(client, observations=True):
    """Everything a rejected request must leave as it was. observations:
    also every space's observations (as CSV: the same rows, cheaper)."""
    devs = client.get("/v1/devices", expect=200).json
    rows = {d["name"]: client.get(f"/v1/devices/{d['name']}/lut", expect=200).json
            for d in devs["devices"]}
    spaces = client.get("/v1/spaces", expect=200).json
    rows["spaces"] = {s["id"]: client.get(f"/v1/spaces/{s['id']}", expect=200).json
                      for s in spaces["spaces"] if not s["builtin"]}
    if observations:
        rows["observations"] = {
            s["id"]: client.get(f"/v1/spaces/{s['id']}/observations", headers={"Accept": "text/csv"},
                                expect=200).body
            for s in spaces["spaces"]}
    return devs, rows, spaces


def seed(client):
    client.put_device(DEV, unit="us", kind="cpu", description="seeded")
    client.put_device(CYC, unit="cycles", clock_mhz=175.0)
    client.upload(DEV, [
        {"key": {"op": "conv2d", "cin": 32, "cout": 64, "k": 3, "h": 56, "w": 56},
         "latency": {"mean": 812.5, "std": 3.1, "count": 20}},
        {"key": {"op": "linear", "cin": 8, "cout": 4}, "latency": {"mean": 3.0}},
        {"key": {"op": "relu", "cin": 7, "h": 7, "w": 7}, "latency": {"mean": 9.0}},
    ])
    client.create_space({"id": SPACE_CAT, "genes": [{"name": "depth", "choices": [1, 2, 3]},
                                                    {"name": "width", "choices": [0.5, 1]}]})
    client.create_space({"id": SPACE_REG, "builder": MBV2, "params": {"input_size": 64}})
    # Observations: miou of the categorical space at "default", of the
    # registered one at "val-subset" (the surrogate cases name them).
    client.post_observations(SPACE_CAT, [GOOD_OBS, dict(GOOD_OBS, genome=[1, 0], value=0.6)])
    client.post_observations(SPACE_REG, [dict(MAXG_OBS, fidelity="val-subset", meta={"seeded": True})])
    return client


@pytest.fixture(scope="module")
def main_env(shared_server):
    return seed(shared_server)


@pytest.fixture(scope="module")
def small_env(small_body_server):
    return seed(small_body_server)


def _param(case):
    if case.xfail:
        return pytest.param(case, marks=pytest.mark.xfail(reason="server bug: " + case.xfail, strict=True))
    return case


@pytest.mark.parametrize("case", [_param(c) for c in CASES], ids=IDS)
def test_bad_request(case, request):
    client = request.getfixturevalue("small_env" if case.server == "small" else "main_env")
    # Only requests to a space can touch observations.
    obs = case.path.startswith(SPACES)
    before = snapshot(client, obs)
    r = client.request(case.method, case.path, body=case.body, headers=case.headers,
                       chunked=case.chunked)
    try:
        assert r.status == case.status, f"expected {case.status}, got {r!r}"
        assert r.media_type == "application/problem+json", r
        p = r.json  # validated against problem.json by the client
        assert p["status"] == case.status
        assert p["type"] == fmasapi.PROBLEM_BASE + case.ptype, f"type {p['type']}, want {case.ptype}"
        assert p["errors"], r
        if case.expect is not None:
            alts = case.expect if isinstance(case.expect, list) else [case.expect]
            assert any(item_matches(item, want) for item in p["errors"] for want in alts), \
                f"no error item matches {alts}: {p['errors']}"
        if case.allow is not None:
            allow = {m.strip().upper() for m in r.header("Allow", "").split(",") if m.strip()}
            assert case.allow <= allow, f"Allow {allow} lacks {case.allow - allow}"
            assert case.method not in allow, f"Allow {allow} lists {case.method}"
    finally:
        # Whatever the answer, the server lives on and nothing changed.
        assert client.get("/v1/health").status == 200
        after = snapshot(client, obs)
        assert after[0] == before[0], "a rejected request changed the devices"
        assert after[1] == before[1], "a rejected request changed a table, a space or its observations"
        assert after[2] == before[2], "a rejected request changed the spaces"


def test_case_count():
    assert len(CASES) >= 70
    assert len(SPACE_CASES) >= 100
    assert len(SURROGATE_CASES) >= 150


# -------------------------------------------- a few that need more than a row

def test_body_of_exactly_max_body_is_accepted(small_env):
    body = {"unit": "us", "description": ""}
    raw = json.dumps(body)
    body["description"] = "d" * (1024 - len(raw))
    data = json.dumps(body).encode()
    assert len(data) == 1024
    small_env.request("PUT", "/v1/devices/exact", body=data, headers=JSON_CT, expect=201)
    small_env.request("PUT", "/v1/devices/exact2", body=data + b" ", headers=JSON_CT, expect=413)
    small_env.get("/v1/devices/exact2", expect=404)
    small_env.delete("/v1/devices/exact", expect=204)


def test_stale_cursor_of_another_filter_is_not_a_crash(main_env):
    page = main_env.lut_page(DEV, "?limit=1")
    cur = page["next_cursor"]
    assert cur
    # A cursor used with another op filter must give a page or a 400, never 5xx.
    r = main_env.get(f"{LUT}?limit=1&op=relu&cursor={fmasapi.urlquote(cur)}", expect=(200, 400))
    if r.status == 400:
        assert any(e.get("parameter") == "cursor" for e in r.json["errors"])


def test_text_that_is_not_utf8_still_gets_its_problem_body(server):
    # Client bytes echoed into a problem (a path segment that is not UTF-8,
    # a field name cut inside a character by a format width) must still
    # give the problem body, never an empty error answer.
    server.get("/v1/spaces/%FF", expect=404)
    server.get("/v1/devices/%FF%FE", expect=(400, 404))
    server.post("/v1/spaces", json_body={"id": "x", "a" + "\u00e9" * 40: 1}, expect=(400, 422))
    server.request("POST", "/v1/devices/x/lut", body="op,latency_mean,cin\nconv2d,1," + "\u00e9" * 30 + "\n",
                   headers={"Content-Type": "text/csv"}, expect=(404, 422))
