"""The contract files themselves (no server needed): every schema is valid
2020-12, every $ref of openapi.json resolves, openapi.json covers every
endpoint of docs/api.md, and the examples of docs/api.md (and of the
evaluator protocol, docs/evaluator.md) validate."""

import json
import re
from urllib.parse import urldefrag

import pytest

import fmasapi

OPENAPI = fmasapi.SCHEMA_DIR / "openapi.json"
HASH = "3f0c" + "0" * 28

CANON = {"op": "conv2d", "cin": 32, "cout": 64, "k": 3, "stride": 1, "dilation": 1,
         "groups": 1, "h": 56, "w": 56, "pad": 1, "out_h": 0, "out_w": 0,
         "bias": False, "bn": False, "dtype": "fp32"}

# (method, path, success status, error statuses the route can answer)
ENDPOINTS = [
    ("get", "/", "200", ["503"]),
    ("head", "/", "200", ["503"]),
    ("get", "/v1/health", "200", []),
    ("get", "/metrics", "200", []),
    ("get", "/v1/devices", "200", []),
    ("put", "/v1/devices/{name}", "201", ["400", "413", "415", "422"]),
    ("get", "/v1/devices/{name}", "200", ["400", "404"]),
    ("delete", "/v1/devices/{name}", "204", ["400", "404"]),
    ("post", "/v1/devices/{name}/lut", "200", ["400", "404", "413", "415", "422"]),
    ("get", "/v1/devices/{name}/lut", "200", ["400", "404"]),
    ("get", "/v1/devices/{name}/accuracy", "200", ["400", "404"]),
    ("post", "/v1/devices/{name}/measurements", "201", ["400", "404", "413", "415", "422"]),
    ("get", "/v1/devices/{name}/measurements", "200", ["400", "404"]),
    ("post", "/v1/estimate", "200", ["400", "413", "415", "422"]),
    ("get", "/v1/spaces", "200", []),
    ("post", "/v1/spaces", "201", ["400", "409", "413", "415", "422"]),
    ("get", "/v1/spaces/{id}", "200", ["404"]),
    ("delete", "/v1/spaces/{id}", "204", ["404", "409"]),
    ("post", "/v1/spaces/{id}/expand", "200", ["400", "404", "413", "415", "422"]),
    ("get", "/v1/spaces/{id}/layers", "200", ["404"]),
    ("post", "/v1/spaces/{id}/estimate", "200", ["400", "404", "413", "415", "422"]),
    ("post", "/v1/spaces/{id}/observations", "201", ["400", "404", "413", "415", "422"]),
    ("get", "/v1/spaces/{id}/observations", "200", ["400", "404"]),
    ("get", "/v1/spaces/{id}/surrogate", "200", ["400", "404", "503"]),
    ("post", "/v1/spaces/{id}/surrogate:fit", "200", ["400", "404", "503"]),
    ("post", "/v1/spaces/{id}/screen", "200", ["400", "404", "413", "415", "422"]),
]

# (method, path, request schema or None, {status: answer schema})
BODIES = [
    ("get", "/v1/devices/{name}/accuracy", None, {"200": "device-accuracy.json"}),
    ("post", "/v1/devices/{name}/measurements", "measurements-post.json",
     {"201": "measurements-post-result.json"}),
    ("get", "/v1/devices/{name}/measurements", None, {"200": "measurements-list.json"}),
    ("post", "/v1/estimate", "estimate-request.json", {"200": "estimate-response.json"}),
    ("get", "/v1/spaces", None, {"200": "space-list.json"}),
    ("post", "/v1/spaces", "space-create.json", {"201": "space.json"}),
    ("get", "/v1/spaces/{id}", None, {"200": "space.json"}),
    ("post", "/v1/spaces/{id}/expand", "space-expand-request.json",
     {"200": "space-expand-response.json"}),
    ("get", "/v1/spaces/{id}/layers", None, {"200": "space-layers.json"}),
    ("post", "/v1/spaces/{id}/estimate", "space-estimate-request.json",
     {"200": "space-estimate-response.json"}),
    ("post", "/v1/spaces/{id}/observations", "observations-post.json",
     {"201": "observations-post-result.json"}),
    ("get", "/v1/spaces/{id}/surrogate", None, {"200": "surrogate.json"}),
    ("post", "/v1/spaces/{id}/surrogate:fit", None, {"200": "surrogate.json"}),
    ("post", "/v1/spaces/{id}/screen", "screen-request.json", {"200": "screen-response.json"}),
]


@pytest.fixture(scope="module")
def openapi():
    return json.loads(OPENAPI.read_text(encoding="utf-8"))


def test_every_schema_file_is_valid_2020_12(schemas):
    names = {p.name for p in fmasapi.SCHEMA_DIR.glob("*.json")} - {"openapi.json"}
    assert names == {
        "problem.json", "health.json", "device.json", "device-put.json",
        "device-list.json", "layer-key.json", "lut-entry.json", "lut-upload.json", "lut-upload-gap8.json",
        "lut-upload-result.json", "lut-page.json", "estimate-request.json",
        "estimate-response.json", "space.json", "space-list.json", "space-create.json",
        "genome.json", "space-expand-request.json", "space-expand-response.json",
        "space-layers.json", "space-estimate-request.json", "space-estimate-response.json",
        "space-estimate-fields-response.json",
        "observations-post.json", "observations-post-result.json", "observations-list.json",
        "surrogate.json", "screen-request.json", "screen-response.json",
        "evaluator-input.json", "evaluator-output.json", "device-accuracy.json",
        "calibration.json", "measurements-post.json", "measurements-post-result.json",
        "measurements-list.json"}
    for name, schema in schemas.files.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name


def test_canonical_names_are_the_canonical_properties(schemas):
    """layer-key.json closes the canonical key with a list of names (fast to
    check); it must be the list of its properties."""
    defs = schemas.files["layer-key.json"]["$defs"]
    assert defs["canonical_names"]["enum"] == list(defs["canonical_fields"]["properties"])
    assert set(defs["canonical_names"]["enum"]) == \
        set(schemas.files["layer-key.json"]["properties"]) - {"name"}


def _refs(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield path, v
            else:
                yield from _refs(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _refs(v, f"{path}/{i}")


def _resolve_pointer(doc, pointer):
    node = doc
    for part in pointer.lstrip("/").split("/") if pointer else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_every_ref_resolves(openapi, schemas):
    files = dict(schemas.files)
    files["openapi.json"] = openapi
    for fname, doc in files.items():
        for where, ref in _refs(doc):
            target, frag = urldefrag(ref)
            if target:
                target = target.replace(fmasapi.SCHEMA_BASE, "")
                assert "/" not in target, f"{fname}{where}: $ref {ref} leaves schemas/"
                assert target in files, f"{fname}{where}: $ref {ref}: no such file"
                tdoc = files[target]
            else:
                tdoc = doc
            try:
                _resolve_pointer(tdoc, frag)
            except (KeyError, IndexError, ValueError):
                pytest.fail(f"{fname}{where}: $ref {ref} does not resolve")


def test_openapi_covers_every_endpoint(openapi):
    assert re.fullmatch(r"3\.1\.\d+", openapi["openapi"])
    assert openapi["info"]["title"] and openapi["info"]["version"]
    paths = openapi["paths"]
    documented = {(m, p) for p, item in paths.items() for m in item
                  if m in ("get", "put", "post", "delete", "patch", "head", "options")}
    assert documented == {(m, p) for m, p, _, _ in ENDPOINTS}
    for method, path, ok, errors in ENDPOINTS:
        op = paths[path][method]
        assert op.get("operationId"), (method, path)
        responses = op["responses"]
        assert ok in responses, (method, path, ok)
        assert "405" in responses, (method, path)
        for status in errors:
            assert status in responses, (method, path, status)
        # Every error answer is a problem.
        for status, resp in responses.items():
            if "$ref" in resp:
                resp = _resolve_pointer(openapi, resp["$ref"][1:])
            if status.startswith(("4", "5")):
                content = resp["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["schema"] == {"$ref": "problem.json"}
        # Path parameters are declared.
        for pname in re.findall(r"\{(\w+)\}", path):
            params = paths[path].get("parameters", []) + op.get("parameters", [])
            params = [_resolve_pointer(openapi, p["$ref"][1:]) if "$ref" in p else p
                      for p in params]
            assert any(p["name"] == pname and p["in"] == "path" and p["required"]
                       for p in params), (path, pname)
    upload = paths["/v1/devices/{name}/lut"]["post"]["requestBody"]["content"]
    assert set(upload) == {"application/json", "application/x-ndjson", "text/csv",
                           "multipart/form-data", "text/x-gap8-perf"}
    assert upload["application/json"]["x-gap8-perf-schema"] == {"$ref": "lut-upload-gap8.json"}
    assert upload["application/json"]["schema"] == {"$ref": "lut-upload.json"}
    put = paths["/v1/devices/{name}"]["put"]["requestBody"]["content"]
    assert put["application/json"]["schema"] == {"$ref": "device-put.json"}
    est = paths["/v1/estimate"]["post"]
    assert est["requestBody"]["content"]["application/json"]["schema"] == \
        {"$ref": "estimate-request.json"}
    assert est["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "estimate-response.json"}
    mna = openapi["components"]["responses"]["MethodNotAllowed"]
    assert "Allow" in mna["headers"]
    listing = paths["/v1/spaces/{id}/observations"]["get"]["responses"]["200"]["content"]
    assert listing == {"application/json": {"schema": {"$ref": "observations-list.json"}},
                       "text/csv": {"schema": {"type": "string"}}}
    # Query parameters of the surrogate endpoints and of predictions.
    for path, method, names, required in [
            ("/v1/spaces/{id}/observations", "get", ["metric", "fidelity"], set()),
            ("/v1/spaces/{id}/surrogate", "get", ["metric", "fidelity"], {"metric"}),
            ("/v1/spaces/{id}/surrogate:fit", "post", ["metric", "fidelity"], {"metric"}),
            ("/v1/spaces/{id}/estimate", "post", ["fidelity", "fields", "strict"], set()),
            ("/v1/estimate", "post", ["detail", "strict"], set())]:
        params = [_resolve_pointer(openapi, p["$ref"][1:]) if "$ref" in p else p
                  for p in paths[path][method].get("parameters", [])]
        query = {p["name"]: p for p in params if p["in"] == "query"}
        assert sorted(query) == sorted(names), (path, method)
        assert {n for n, p in query.items() if p["required"]} == required, (path, method)
    unavailable = openapi["components"]["responses"]["Unavailable"]
    assert unavailable["content"] == {"application/problem+json": {"schema": {"$ref": "problem.json"}}}
    assert fmasapi.PROBLEM_TYPES[503] == {"unavailable"}


@pytest.mark.parametrize("method,path,request_schema,answers", BODIES,
                         ids=[f"{m}-{p}" for m, p, _, _ in BODIES])
def test_openapi_bodies_use_the_schema_files(openapi, method, path, request_schema, answers):
    op = openapi["paths"][path][method]
    if request_schema is None:
        assert "requestBody" not in op, (method, path)
    else:
        body = op["requestBody"]
        assert body["required"] is True
        assert body["content"] == {"application/json": {"schema": {"$ref": request_schema}}}
    for status, schema in answers.items():
        assert op["responses"][status]["content"] == \
            {"application/json": {"schema": {"$ref": schema}}}, (method, path, status)


def test_routes_table_matches_openapi(openapi):
    """fmasapi.ROUTES (what the client validates answers against) says the
    same as openapi.json for every JSON success of every path."""
    for method, path, item in ((m, p, i) for p, i in openapi["paths"].items() for m in i
                               if m in ("get", "put", "post", "delete")):
        concrete = re.sub(r"\{\w+\}", "x", path)
        for status, resp in item[method]["responses"].items():
            if not status.startswith("2"):
                continue
            schema = resp.get("content", {}).get("application/json", {}).get("schema")
            got = fmasapi.schema_for(method.upper(), concrete, int(status))
            assert got == (schema["$ref"] if schema else None), (method, path, status)
    conflict = openapi["components"]["responses"]["Conflict"]
    assert conflict["content"] == {"application/problem+json": {"schema": {"$ref": "problem.json"}}}
    assert fmasapi.PROBLEM_TYPES[409] == {"conflict", "read-only-replica"}


# The space object of docs/api.md, with its "..." filled in.
SPACE_GENES = [{"name": "features.2.expand", "choices": [2, 3, 4, 6]},
               {"name": "features.3.keep", "choices": [0, 1]},
               {"name": "features.3.expand", "choices": [2, 3, 4, 6], "gated_by": "features.3.keep"}]
SPACE_SUMMARY = {"id": "deeplabv3plus-mobilenetv2", "description": "...",
                 "builder": "deeplabv3plus-mobilenetv2",
                 "params": {"input_size": 513, "num_classes": 21, "output_stride": 16},
                 "builtin": True, "gene_count": 33, "subnets": 40960000000000}
SPACE_DOC = dict(SPACE_SUMMARY, genes=SPACE_GENES,
                 genomes={"max": [3, 1, 3], "min": [0, 0, 0]}, max_layers=76)
TOY_SPACE = {"id": "toy", "description": "", "builder": None, "params": None, "builtin": False,
             "gene_count": 2, "subnets": 9,
             "genes": [{"name": "depth", "choices": [1, 2, 3]}, {"name": "ratio", "choices": [0.25, 0.5, 1]}],
             "genomes": {"max": [2, 2], "min": [0, 0]}}


def without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


# The surrogate object, predictions and screening of docs/api.md.
CV = {"folds": 5, "kendall_tau": 0.81, "spearman_rho": 0.93, "rmse": 0.012,
      "coverage_1sigma": 0.70, "coverage_2sigma": 0.96}
SURROGATE_DOC = {"space": "deeplabv3plus-mobilenetv2", "metric": "miou", "fidelity": "val-subset-500",
                 "status": "fitted", "n": 120, "distinct": 96, "min_observations": 10,
                 "model": "gp", "version": 4, "fitted_at": "2026-11-29T12:00:00Z",
                 "fit_seconds": 0.12, "cv": CV,
                 "candidates": [{"model": "ridge", "cv": dict(CV, kendall_tau=0.7)},
                                {"model": "gp", "cv": CV}]}
TOO_FEW = dict(SURROGATE_DOC, status="too_few", n=5, distinct=5, model=None, version=1, cv=None,
               candidates=[], reason="5 distinct genomes observed; the surrogate needs 10")
PREDICTION = {"mean": 0.61, "std": 0.02, "fidelity": "val-subset-500", "model_version": 4}
NO_OBS = {"predicted": None, "predicted_reason": "the space has no observations yet"}
SCREEN_DOC = {"genomes": [[3, 1, 3], [0, 0, 0]],
              "objectives": [{"metric": "miou", "goal": "max"},
                             {"cost": "latency", "device": "gap8", "goal": "min"},
                             {"cost": "macs", "goal": "min"}, {"cost": "params", "goal": "min"}],
              "constraints": [{"cost": "latency", "device": "gap8", "max": 40.0, "unit": "ms"}],
              "confidence": 0.95, "fidelity": "val-subset-500"}
SCREEN_RESULT = {"genome": [0, 0, 0], "keep": False, "reason": "dominated", "dominated_by": [1, 0, 0],
                 "costs": {"macs": 1, "flops": 2, "params": 3,
                           "latency": {"gap8": {"ms": 12.5, "complete": True}}},
                 "predicted": {"miou": PREDICTION}}
SCREEN_ANSWER = {"space": "deeplabv3plus-mobilenetv2", "confidence": 0.95, "z": 1.645,
                 "results": [SCREEN_RESULT],
                 "summary": {"kept": 10, "pruned": 30,
                             "by_reason": {"constraint": 5, "dominated": 20, "already_observed": 5,
                                           "uncertain": 2, "promising": 8}},
                 "lut_versions": {"gap8": 3}}


# The examples of docs/api.md (placeholders filled in) must validate.
DOC_EXAMPLES = [
    ("problem.json", {
        "type": "https://fmas.dev/problems/invalid-field",
        "title": "Invalid field", "status": 422,
        "detail": "row 3: groups must divide cin and cout",
        "instance": "/v1/devices/gap8/lut",
        "errors": [{"row": 3, "line": 5, "pointer": "/3/key/groups",
                    "field": "groups", "reason": "must divide cin (30) and cout (64)"}]}),
    ("health.json", {"status": "ok", "version": "0.1.0"}),
    ("lut-entry.json", {"key": {"op": "conv2d", "cin": 32, "cout": 64, "k": 3, "h": 56, "w": 56},
                        "latency": {"mean": 812.5, "std": 3.1, "count": 20},
                        "macs": 57802752}),
    ("device.json", {"name": "gap8", "unit": "cycles", "clock_mhz": 175.0, "kind": "mcu",
                     "description": "GreenWaves GAP8, 8 cores", "measured": True,
                     "entries": 412, "lut_version": 7, "lut_hash": HASH}),
    ("device-put.json", {"unit": "cycles", "clock_mhz": 175.0, "kind": "mcu",
                         "description": "GreenWaves GAP8, 8 cores", "measured": True}),
    ("device-put.json", {"unit": "us"}),
    ("device-put.json", {"unit": "us", "clock_mhz": None, "name": "cpu-x86"}),
    ("lut-upload-result.json", {"device": "gap8", "mode": "replace", "accepted": 412,
                                "entries": 412, "lut_version": 8, "lut_hash": HASH}),
    ("lut-page.json", {"device": "gap8", "lut_version": 8, "lut_hash": HASH,
                       "entries": [{"key": CANON, "latency": {"mean": 812.5, "std": 3.1, "count": 20},
                                    "macs": 57802752, "computed_macs": 57802752, "params": 18432}],
                       "next_cursor": None}),
    ("estimate-request.json", {"devices": ["gap8", "cpu-x86"],
                               "networks": [{"name": "net-a", "layers": [
                                   {"op": "conv2d", "cin": 3, "cout": 32, "k": 3, "stride": 2,
                                    "h": 513, "w": 513, "name": "stem"}]}]}),
    ("estimate-request.json", {"devices": [], "networks": [{"layers": [{"op": "softmax"}]}]}),
    ("estimate-response.json", {
        "results": [{"name": "net-a", "macs": 123, "flops": 246, "params": 45,
                     "latency": {"gap8": {"total": 1.2e6, "unit": "cycles", "ms": 6.86,
                                          "layers": 100, "hits": 98, "missing": 2,
                                          "complete": False, "missing_keys": [CANON]}}}],
        "lut_versions": {"gap8": 8, "cpu-x86": 3}}),
    ("estimate-response.json", {
        "results": [{"name": "n", "macs": 0, "flops": 0, "params": 0, "latency": {},
                     "layers": [{"index": 0, "name": "stem", "key": CANON, "out": [64, 56, 56],
                                 "macs": 0, "params": 0, "latency": {"gap8": None}}]}],
        "lut_versions": {}}),
    # Search spaces.
    ("space.json", SPACE_DOC),
    ("space.json", TOY_SPACE),
    ("space.json", dict(SPACE_DOC, id="x65", subnets="10000000000000000")),
    ("space.json", dict(SPACE_DOC, subnets=2 ** 53)),
    ("space.json", dict(SPACE_DOC, subnets="9007199254740993")),
    ("space.json#/$defs/summary", SPACE_SUMMARY),
    ("space-list.json", {"spaces": [SPACE_SUMMARY, {k: v for k, v in TOY_SPACE.items()
                                                     if k not in ("genes", "genomes")}]}),
    ("space-list.json", {"spaces": []}),
    ("space-create.json", {"id": "mbv2-256", "description": "...",
                           "builder": "deeplabv3plus-mobilenetv2", "params": {"input_size": 256}}),
    ("space-create.json", {"id": "x65-os8", "builder": "deeplabv3plus-xception65",
                           "params": {"input_size": 321, "num_classes": 1, "output_stride": 8}}),
    ("space-create.json", {"id": "plain", "builder": "deeplabv3plus-xception65"}),
    ("space-create.json", {"id": "toy", "genes": [{"name": "depth", "choices": [1, 2, 3]},
                                                  {"name": "ratio", "choices": [0.25, 0.5, 1]}]}),
    ("space-create.json", {"id": "toy", "builder": None, "description": "",
                           "genes": [{"name": "A-b_c.9", "choices": [-1.5]}]}),
    ("genome.json", [3, 1, 3]),
    ("genome.json", {"features.2.expand": 6, "features.3.keep": 1, "middle.0.width": 0.25}),
    ("space-expand-request.json", {"genome": [0, 0]}),
    ("space-expand-request.json", {"genome": {"depth": 1.0}}),
    ("space-expand-response.json", {
        "space": "deeplabv3plus-mobilenetv2", "genome": [3, 1], "genome_named": {"a": 6, "b": 1},
        "layer_count": 2, "macs": 5, "flops": 10, "params": 7,
        "layers": [dict(CANON, name="backbone.high_level_features.5.conv.1.0"),
                   {"op": "add", "cin": 32, "cout": 32, "k": 1, "stride": 1, "dilation": 1,
                    "groups": 1, "pad": 0, "h": 64, "w": 64, "bias": False, "bn": False,
                    "dtype": "fp32", "name": "backbone.high_level_features.5.add"}]}),
    ("space-layers.json", {"space": "toy", "count": 0, "layers": []}),
    ("space-layers.json", {"space": "s", "count": 1, "layers": [{"key": CANON, "macs": 1, "params": 2}]}),
    ("space-layers.json", {"space": "s", "count": 1, "device": "gap8", "lut_version": 3,
                           "present": 1, "missing": 0, "coverage": 1.0,
                           "layers": [{"key": CANON, "macs": 1, "params": 2, "present": True}]}),
    ("space-estimate-request.json", {"devices": ["gap8", "cpu-x86"],
                                     "genomes": [[3, 1, 3], {"features.3.keep": 0}]}),
    ("space-estimate-request.json", {"devices": [], "genomes": [[0]]}),
    ("space-estimate-response.json", {
        "space": "deeplabv3plus-mobilenetv2",
        "results": [{"genome": [3, 1], "macs": 123, "flops": 246, "params": 45,
                     "latency": {"gap8": {"total": 1.2e6, "unit": "cycles", "ms": 6.86,
                                          "layers": 100, "hits": 98, "missing": 2,
                                          "complete": False, "missing_keys": [CANON]}},
                     "predicted": {"miou": PREDICTION}}],
        "lut_versions": {"gap8": 8}}),
    ("space-estimate-response.json", {"space": "toy", "results": [{"genome": [0, 2], **NO_OBS}],
                                      "lut_versions": {}}),
    # Observations, surrogates and screening.
    ("observations-post.json", {"observations": [
        {"genome": [3, 1, 0], "metric": "miou", "value": 0.712, "fidelity": "val-subset-500",
         "meta": {"evaluator": "fmas-eval 0.1", "seed": 1, "seconds": 41.2}}]}),
    ("observations-post.json", {"observations": [
        {"genome": {"depth": 2, "ratio": 0.5}, "metric": "pixel_acc", "value": -3},
        {"genome": [0], "metric": "m" * 64, "value": 1e300, "fidelity": "f" * 64, "meta": None},
        {"genome": [0], "metric": "a_1", "value": 0.5, "meta": [1, "x", None]},
        {"genome": [0], "metric": "a_1", "value": 0.5, "meta": "text"}]}),
    ("observations-post-result.json", {"space": "deeplabv3plus-mobilenetv2", "accepted": 1, "total": 121}),
    ("observations-list.json", {"space": "toy", "observations": []}),
    ("observations-list.json", {"space": "toy", "observations": [
        {"id": 1, "observed_at": "2026-11-29T12:00:00Z", "genome": [3, 1, 0], "metric": "miou",
         "value": 0.712, "fidelity": "val-subset-500", "meta": {"seed": 1}},
        {"id": 2, "observed_at": "2026-11-29T12:00:00.123+01:00", "genome": [0, 0, 0], "metric": "miou",
         "value": 0.5, "fidelity": "default", "meta": None}]}),
    ("surrogate.json", SURROGATE_DOC),
    ("surrogate.json", dict(SURROGATE_DOC, model="ridge", cv=dict(CV, kendall_tau=None, spearman_rho=None),
                            candidates=[{"model": "ridge", "cv": dict(CV, rmse=None)}])),
    ("surrogate.json", TOO_FEW),
    ("surrogate.json", dict(SURROGATE_DOC, model="ensemble", std_scale=1.2,
                            ensemble=[{"model": "gp_overlap", "weight": 0.6}, {"model": "forest", "weight": 0.4}],
                            candidates=[{"model": k, "cv": CV} for k in
                                        ("ridge", "gp", "gp_overlap", "forest", "ridge_linear", "ensemble")])),
    ("surrogate.json#/$defs/prediction", PREDICTION),
    ("screen-request.json", SCREEN_DOC),
    ("screen-request.json", {"genomes": [{"depth": 1, "ratio": 1}], "objectives": [{"metric": "miou", "goal": "max"}]}),
    ("screen-request.json", dict(SCREEN_DOC, constraints=[
        {"cost": "latency", "device": "gap8", "max": 7e6, "unit": "cycles"},
        {"cost": "latency", "device": "cpu-x86", "max": 4e4, "unit": "us"},
        {"cost": "macs", "max": 1e9}, {"cost": "params", "max": 0}])),
    ("screen-response.json", SCREEN_ANSWER),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[
        dict(SCREEN_RESULT, keep=False, reason="constraint", dominated_by=None, constraint=0),
        dict(SCREEN_RESULT, keep=False, reason="already_observed", dominated_by=None),
        dict(SCREEN_RESULT, keep=True, reason="uncertain", dominated_by=None,
             predicted={"miou": None}, predicted_reasons={"miou": "3 distinct genomes observed; the surrogate needs 10"}),
        dict(without(SCREEN_RESULT, "costs"), keep=True, reason="promising", dominated_by=None, **NO_OBS)])),
    # The evaluator protocol of fmas-search (docs/evaluator.md).
    ("evaluator-input.json", {"space": "deeplabv3plus-mobilenetv2", "genome": [3, 1, 0],
                              "genome_named": {"features.2.expand": 6, "features.3.keep": 1,
                                               "features.3.expand": 2}, "fidelity": "val-subset-500"}),
    ("evaluator-input.json", {"space": "toy", "genome": [0], "genome_named": {"depth": 1},
                              "fidelity": "finetuned", "later": {"added": True}}),
    ("evaluator-output.json", {"miou": 0.7012, "pixel_acc": 0.9301, "seconds": 41.2, "images": 500,
                               "fidelity": "val-subset-500",
                               "meta": {"evaluator": "fmas-eval 0.1.0", "genome": [3, 1, 0],
                                        "device": "cpu"}}),
    ("evaluator-output.json", {"miou": 0.7121, "pixel_acc": 0.9310, "extras": {"seconds": 41.2, "images": 500}}),
    ("evaluator-output.json", {"miou": 0.66, "size": 23, "extras": None}),
]


@pytest.mark.parametrize("name,instance", DOC_EXAMPLES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(DOC_EXAMPLES)])
def test_doc_examples_validate(schemas, name, instance):
    schemas.validate(instance, name)


# Things the schemas must reject (drift they are there to catch).
REJECT = [
    ("problem.json", {"type": "https://fmas.dev/problems/not-found", "title": "x",
                      "status": 404, "errors": []}),
    ("problem.json", {"type": "https://fmas.dev/problems/not-found", "title": "x",
                      "status": 404, "errors": [{"reason": "no pointer, row or parameter"}]}),
    ("problem.json", {"type": "https://fmas.dev/problems/not-found", "title": "x", "status": 404}),
    ("device.json", {"name": "gap8", "unit": "cycles", "kind": "", "description": "",
                     "measured": False, "entries": 0, "lut_version": 0, "lut_hash": HASH}),
    ("device.json", {"name": "gap8", "unit": "us", "kind": "", "description": "",
                     "measured": False, "entries": 0, "lut_version": 0, "lut_hash": "abc"}),
    ("device.json", {"name": "GAP8", "unit": "us", "kind": "", "description": "",
                     "measured": False, "entries": 0, "lut_version": 0, "lut_hash": HASH}),
    ("device-put.json", {"unit": "us", "colour": "red"}),
    ("device-put.json", {"unit": "cycles"}),
    ("device-put.json", {"clock_mhz": 1}),
    ("layer-key.json", {"op": "conv2d", "cin": 3, "cout": 3, "h": 8}),
    ("layer-key.json", {"op": "upsample", "cin": 3, "h": 8, "w": 8, "out_h": 16}),
    ("layer-key.json", {"op": "relu", "cin": 3, "h": 8, "w": 8, "kernel": 3}),
    ("layer-key.json", {"op": "Conv2D"}),
    ("layer-key.json", {"op": "x", "cin": 0}),
    ("layer-key.json", {"op": "x", "k": 256}),
    ("layer-key.json", {"op": "x", "bias": 1}),
    ("layer-key.json#/$defs/canonical", dict(CANON, name="stem")),
    ("layer-key.json#/$defs/canonical", {k: v for k, v in CANON.items() if k != "pad"}),
    ("lut-upload.json", []),
    ("lut-entry.json", {"key": {"op": "x"}, "latency": {"mean": -1}}),
    ("lut-entry.json", {"key": {"op": "x"}, "latency": {"mean": 1, "count": 0}}),
    ("lut-entry.json", {"key": {"op": "x"}, "latency": {"std": 1}}),
    ("lut-entry.json#/$defs/listed", {"key": CANON, "latency": {"mean": 1}, "computed_macs": 1,
                                      "params": 1}),
    ("estimate-request.json", {"devices": [], "networks": []}),
    ("estimate-request.json", {"devices": [], "networks": [{"layers": []}]}),
    ("estimate-response.json", {
        "results": [{"macs": 1, "flops": 2, "params": 0,
                     "latency": {"d": {"total": 1, "unit": "us", "ms": 0.001, "layers": 1,
                                       "hits": 1, "missing": 0, "complete": False,
                                       "missing_keys": []}}}],
        "lut_versions": {"d": 1}}),
    ("estimate-response.json", {
        "results": [{"macs": 1, "flops": 2, "params": 0,
                     "latency": {"d": {"total": 1, "unit": "us", "ms": 0.001, "layers": 2,
                                       "hits": 1, "missing": 1, "complete": False,
                                       "missing_keys": []}}}],
        "lut_versions": {"d": 1}}),
    # Search spaces.
    ("space.json", SPACE_SUMMARY),
    ("space.json", without(SPACE_DOC, "max_layers")),
    ("space.json", dict(TOY_SPACE, max_layers=3)),
    ("space.json", dict(TOY_SPACE, params={"input_size": 513, "num_classes": 21, "output_stride": 16})),
    ("space.json", dict(TOY_SPACE, builtin=True)),
    ("space.json", dict(SPACE_DOC, params=None)),
    ("space.json", dict(SPACE_DOC, builder="resnet50")),
    ("space.json", dict(SPACE_DOC, subnets=2 ** 53 + 1)),
    ("space.json", dict(SPACE_DOC, subnets="9007199254740992")),
    ("space.json", dict(SPACE_DOC, subnets="40960000000000")),
    ("space.json", dict(SPACE_DOC, subnets="010000000000000000")),
    ("space.json", dict(SPACE_DOC, subnets=0)),
    ("space.json", dict(SPACE_DOC, genes=[{"name": "a b", "choices": [1]}])),
    ("space.json", dict(SPACE_DOC, genes=[{"name": "a", "choices": []}])),
    ("space.json", dict(SPACE_DOC, genes=[{"name": "a", "choices": [1, 1.0]}])),
    ("space.json", dict(SPACE_DOC, genomes={"max": [3, -1]})),
    ("space.json", dict(SPACE_DOC, params={"input_size": 513, "num_classes": 21})),
    ("space.json", dict(SPACE_DOC, colour="red")),
    ("space.json#/$defs/summary", SPACE_DOC),
    ("space.json#/$defs/summary", dict(SPACE_SUMMARY, max_layers=76)),
    ("space-list.json", {"spaces": [SPACE_DOC]}),
    ("space-create.json", {"id": "x", "builder": "deeplabv3plus-mobilenetv2",
                           "genes": [{"name": "a", "choices": [1]}]}),
    ("space-create.json", {"id": "x"}),
    ("space-create.json", {"id": "Bad", "builder": "deeplabv3plus-mobilenetv2"}),
    ("space-create.json", {"id": "x", "builder": "resnet"}),
    ("space-create.json", {"id": "x", "builder": "deeplabv3plus-mobilenetv2", "params": {"input_size": 31}}),
    ("space-create.json", {"id": "x", "builder": "deeplabv3plus-mobilenetv2", "params": {"input_size": 4096}}),
    ("space-create.json", {"id": "x", "builder": "deeplabv3plus-mobilenetv2", "params": {"num_classes": 0}}),
    ("space-create.json", {"id": "x", "builder": "deeplabv3plus-mobilenetv2", "params": {"output_stride": 32}}),
    ("space-create.json", {"id": "x", "builder": "deeplabv3plus-mobilenetv2", "params": {"stride": 8}}),
    ("space-create.json", {"id": "x", "builder": "deeplabv3plus-mobilenetv2", "params": None}),
    ("space-create.json", {"id": "x", "builder": "deeplabv3plus-mobilenetv2", "foo": 1}),
    ("space-create.json", {"id": "x", "genes": []}),
    ("space-create.json", {"id": "x", "genes": [{"name": "a", "choices": []}]}),
    ("space-create.json", {"id": "x", "genes": [{"name": "a", "choices": [1, "2"]}]}),
    ("space-create.json", {"id": "x", "genes": [{"name": "a", "choices": [1, 1.0]}]}),
    ("space-create.json", {"id": "x", "genes": [{"name": "a" * 32, "choices": [1]}]}),
    ("space-create.json", {"id": "x", "genes": [{"name": "a", "choices": [1], "gated_by": "b"}]}),
    ("space-create.json", {"id": "x", "genes": [{"name": "a", "choices": [1]}],
                           "params": {"input_size": 64}}),
    ("genome.json", []),
    ("genome.json", [0, -1]),
    ("genome.json", [0, 1.5]),
    ("genome.json", [0, True]),
    ("genome.json", [0, None]),
    ("genome.json", [0, "1"]),
    ("genome.json", {}),
    ("genome.json", {"a": "6"}),
    ("genome.json", {"a": True}),
    ("genome.json", {"a": None}),
    ("genome.json", {"a/b": 1}),
    ("genome.json", "3,1,3"),
    ("space-expand-request.json", {}),
    ("space-expand-request.json", {"genome": [0], "x": 1}),
    ("space-expand-response.json", {
        "space": "s", "genome": [0], "genome_named": {"a": 1}, "layer_count": 1, "macs": 0,
        "flops": 0, "params": 0, "layers": [CANON]}),
    ("space-expand-response.json", {
        "space": "s", "genome": [0], "genome_named": {"a": 1}, "layer_count": 1, "macs": 0,
        "flops": 0, "params": 0, "layers": [dict(CANON, name="n", extra=1)]}),
    ("space-expand-response.json", {
        "space": "s", "genome": [0], "genome_named": {"a": 1}, "layer_count": 1, "macs": 0,
        "flops": 0, "params": 0, "layers": [without(dict(CANON, name="n"), "pad")]}),
    ("space-layers.json", {"space": "s", "count": 1, "device": "gap8",
                           "layers": [{"key": CANON, "macs": 1, "params": 2, "present": True}]}),
    ("space-layers.json", {"space": "s", "count": 1,
                           "layers": [{"key": CANON, "macs": 1, "params": 2, "present": True}]}),
    ("space-layers.json", {"space": "s", "count": 1, "device": "gap8", "lut_version": 3,
                           "present": 1, "missing": 0, "coverage": 1.0,
                           "layers": [{"key": CANON, "macs": 1, "params": 2}]}),
    ("space-layers.json", {"space": "s", "count": 1, "device": "gap8", "lut_version": 3,
                           "present": 1, "missing": 0, "coverage": 1.5,
                           "layers": [{"key": CANON, "macs": 1, "params": 2, "present": True}]}),
    ("space-estimate-request.json", {"genomes": [[0]]}),
    ("space-estimate-request.json", {"devices": [], "genomes": []}),
    ("space-estimate-request.json", {"devices": ["d", "d"], "genomes": [[0]]}),
    ("space-estimate-request.json", {"devices": [], "genomes": [[0]], "networks": []}),
    ("space-estimate-response.json", {"space": "s", "results": [{"genome": [0], "macs": 1, **NO_OBS}],
                                      "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [{"macs": 1, "flops": 2, "params": 0,
                                                                  "latency": {}, **NO_OBS}],
                                      "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [], "lut_versions": {}}),
    ("space-estimate-response.json", {
        "space": "s", "lut_versions": {"d": 1},
        "results": [{"genome": [0], "macs": 1, "flops": 2, "params": 0,
                     "latency": {"d": {"total": 1, "unit": "us", "ms": 0.001, "layers": 2,
                                       "hits": 1, "missing": 1, "complete": False,
                                       "missing_keys": []}}, **NO_OBS}]}),
    # Predictions in estimates.
    ("space-estimate-response.json", {"space": "s", "results": [{"genome": [0]}], "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [{"genome": [0], "predicted": None}],
                                      "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [
        {"genome": [0], "predicted": {"miou": PREDICTION}, "predicted_reason": "x"}], "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [
        {"genome": [0], "predicted": None, "predicted_reason": "x", "predicted_reasons": {"miou": "x"}}],
        "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [{"genome": [0], "predicted": {}}],
                                      "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [
        {"genome": [0], "predicted": {"mIoU": PREDICTION}}], "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [
        {"genome": [0], "predicted": {"miou": dict(PREDICTION, std=-0.1)}}], "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [
        {"genome": [0], "predicted": {"miou": dict(PREDICTION, model_version=0)}}], "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [
        {"genome": [0], "predicted": {"miou": without(PREDICTION, "fidelity")}}], "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [
        {"genome": [0], "predicted": {"miou": 0.61}}], "lut_versions": {}}),
    ("space-estimate-response.json", {"space": "s", "results": [
        {"genome": [0], "predicted": {"miou": None}, "predicted_reasons": {"miou": ""}}], "lut_versions": {}}),
    # Observations.
    ("observations-post.json", {"observations": []}),
    ("observations-post.json", {}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "miou", "value": 1}], "x": 1}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "miou"}]}),
    ("observations-post.json", {"observations": [{"metric": "miou", "value": 1}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "value": 1}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "mIoU", "value": 1}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "m-iou", "value": 1}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "m" * 65, "value": 1}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "", "value": 1}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "miou", "value": "1"}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "miou", "value": True}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "miou", "value": None}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "miou", "value": 1,
                                                  "fidelity": "Val Full"}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "miou", "value": 1,
                                                  "fidelity": None}]}),
    ("observations-post.json", {"observations": [{"genome": [0], "metric": "miou", "value": 1,
                                                  "colour": "red"}]}),
    ("observations-post.json", {"observations": [{"genome": [-1], "metric": "miou", "value": 1}]}),
    ("observations-post-result.json", {"space": "s", "accepted": 0, "total": 0}),
    ("observations-list.json", {"space": "s", "observations": [
        {"id": 0, "observed_at": "2026-11-29T12:00:00Z", "genome": [0], "metric": "miou", "value": 1,
         "fidelity": "default", "meta": None}]}),
    ("observations-list.json", {"space": "s", "observations": [
        {"id": 1, "observed_at": "2026-11-29 12:00:00", "genome": [0], "metric": "miou", "value": 1,
         "fidelity": "default", "meta": None}]}),
    ("observations-list.json", {"space": "s", "observations": [
        {"id": 1, "observed_at": "2026-11-29T12:00:00Z", "genome": {"a": 1}, "metric": "miou", "value": 1,
         "fidelity": "default", "meta": None}]}),
    ("observations-list.json", {"space": "s", "observations": [
        {"id": 1, "observed_at": "2026-11-29T12:00:00Z", "genome": [0], "metric": "miou", "value": 1,
         "fidelity": "default"}]}),
    # The surrogate object.
    ("surrogate.json", dict(SURROGATE_DOC, status="unfitted")),
    ("surrogate.json", dict(SURROGATE_DOC, model=None)),
    ("surrogate.json", dict(SURROGATE_DOC, model="mlp")),
    ("surrogate.json", dict(SURROGATE_DOC, std_scale=0.5)),
    ("surrogate.json", dict(SURROGATE_DOC, ensemble=[{"model": "ensemble", "weight": 1.0}])),
    ("surrogate.json", dict(SURROGATE_DOC, cv=None)),
    ("surrogate.json", dict(SURROGATE_DOC, candidates=[])),
    ("surrogate.json", dict(SURROGATE_DOC, reason="why")),
    ("surrogate.json", dict(SURROGATE_DOC, version=0)),
    ("surrogate.json", dict(SURROGATE_DOC, cv=dict(CV, kendall_tau=1.5))),
    ("surrogate.json", dict(SURROGATE_DOC, cv=dict(CV, coverage_2sigma=-0.1))),
    ("surrogate.json", dict(SURROGATE_DOC, cv=dict(CV, rmse=-1))),
    ("surrogate.json", dict(SURROGATE_DOC, cv=without(CV, "folds"))),
    ("surrogate.json", dict(SURROGATE_DOC, cv=dict(CV, r2=0.9))),
    ("surrogate.json", without(SURROGATE_DOC, "fitted_at")),
    ("surrogate.json", dict(SURROGATE_DOC, fitted_at="yesterday")),
    ("surrogate.json", without(TOO_FEW, "reason")),
    ("surrogate.json", dict(TOO_FEW, model="gp")),
    ("surrogate.json", dict(TOO_FEW, cv=CV)),
    # Screening.
    ("screen-request.json", without(SCREEN_DOC, "objectives")),
    ("screen-request.json", without(SCREEN_DOC, "genomes")),
    ("screen-request.json", dict(SCREEN_DOC, genomes=[])),
    ("screen-request.json", dict(SCREEN_DOC, objectives=[])),
    ("screen-request.json", dict(SCREEN_DOC, objectives=[{"metric": "miou"}])),
    ("screen-request.json", dict(SCREEN_DOC, objectives=[{"metric": "miou", "goal": "up"}])),
    ("screen-request.json", dict(SCREEN_DOC, objectives=[{"cost": "energy", "goal": "min"}])),
    ("screen-request.json", dict(SCREEN_DOC, objectives=[{"cost": "latency", "goal": "min"}])),
    ("screen-request.json", dict(SCREEN_DOC, objectives=[{"cost": "macs", "device": "gap8", "goal": "min"}])),
    ("screen-request.json", dict(SCREEN_DOC, objectives=[{"metric": "miou", "cost": "macs", "goal": "min"}])),
    ("screen-request.json", dict(SCREEN_DOC, confidence=1.0)),
    ("screen-request.json", dict(SCREEN_DOC, confidence=0.5)),
    ("screen-request.json", dict(SCREEN_DOC, constraints=[{"cost": "macs", "max": 1, "unit": "ms"}])),
    ("screen-request.json", dict(SCREEN_DOC, constraints=[{"cost": "latency", "device": "gap8", "max": 1,
                                                           "unit": "s"}])),
    ("screen-request.json", dict(SCREEN_DOC, constraints=[{"cost": "latency", "max": 1}])),
    ("screen-request.json", dict(SCREEN_DOC, constraints=[{"cost": "macs", "max": -1}])),
    ("screen-request.json", dict(SCREEN_DOC, constraints=[{"cost": "macs"}])),
    ("screen-request.json", dict(SCREEN_DOC, fidelity="Val")),
    ("screen-request.json", dict(SCREEN_DOC, colour="red")),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[])),
    ("screen-response.json", without(SCREEN_ANSWER, "z")),
    ("screen-response.json", dict(SCREEN_ANSWER, summary={"kept": 1, "pruned": 0, "by_reason": {
        "constraint": 0, "dominated": 0, "already_observed": 0, "uncertain": 1}})),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[dict(SCREEN_RESULT, keep=True)])),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[dict(SCREEN_RESULT, dominated_by=None)])),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[dict(SCREEN_RESULT, reason="promising")])),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[dict(SCREEN_RESULT, reason="cheap")])),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[dict(SCREEN_RESULT, keep=False, reason="constraint",
                                                               dominated_by=None)])),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[dict(SCREEN_RESULT, constraint=0)])),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[without(SCREEN_RESULT, "predicted")])),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[without(SCREEN_RESULT, "dominated_by")])),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[dict(SCREEN_RESULT, predicted=None)])),
    ("screen-response.json", dict(SCREEN_ANSWER, results=[dict(SCREEN_RESULT, costs={
        "macs": 1, "flops": 2, "params": 3, "latency": {"gap8": {"ms": 1.0}}})])),
    # The evaluator protocol.
    ("evaluator-input.json", {"space": "toy", "genome": [0], "fidelity": "default"}),
    ("evaluator-input.json", {"space": "toy", "genome_named": {"depth": 1}, "fidelity": "default"}),
    ("evaluator-input.json", {"space": "Toy", "genome": [0], "genome_named": {"depth": 1}, "fidelity": "x"}),
    ("evaluator-input.json", {"space": "toy", "genome": [-1], "genome_named": {"depth": 1}, "fidelity": "x"}),
    ("evaluator-input.json", {"space": "toy", "genome": [], "genome_named": {"depth": 1}, "fidelity": "x"}),
    ("evaluator-input.json", {"space": "toy", "genome": [0], "genome_named": {"depth": "1"}, "fidelity": "x"}),
    ("evaluator-input.json", {"space": "toy", "genome": [0], "genome_named": {"depth": 1}}),
    ("evaluator-output.json", {}),
    ("evaluator-output.json", [0.7]),
    ("evaluator-output.json", {"": 0.7}),
    ("evaluator-output.json", {"miou": 0.7, "extras": 5}),
]


@pytest.mark.parametrize("name,instance", REJECT,
                         ids=[f"{n.split('#')[0]}-{i}" for i, (n, _) in enumerate(REJECT)])
def test_schemas_reject_drift(schemas, name, instance):
    assert not schemas.is_valid(instance, name)
