"""The contract files themselves (no server needed): every schema is valid
2020-12, every $ref of openapi.json resolves, openapi.json covers every
endpoint of docs/api.md, and the examples of docs/api.md validate."""

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
    ("get", "/v1/health", "200", []),
    ("get", "/metrics", "200", []),
    ("get", "/v1/devices", "200", []),
    ("put", "/v1/devices/{name}", "201", ["400", "413", "415", "422"]),
    ("get", "/v1/devices/{name}", "200", ["400", "404"]),
    ("delete", "/v1/devices/{name}", "204", ["400", "404"]),
    ("post", "/v1/devices/{name}/lut", "200", ["400", "404", "413", "415", "422"]),
    ("get", "/v1/devices/{name}/lut", "200", ["400", "404"]),
    ("post", "/v1/estimate", "200", ["400", "413", "415", "422"]),
]


@pytest.fixture(scope="module")
def openapi():
    return json.loads(OPENAPI.read_text(encoding="utf-8"))


def test_every_schema_file_is_valid_2020_12(schemas):
    names = {p.name for p in fmasapi.SCHEMA_DIR.glob("*.json")} - {"openapi.json"}
    assert names == {
        "problem.json", "health.json", "device.json", "device-put.json",
        "device-list.json", "layer-key.json", "lut-entry.json", "lut-upload.json",
        "lut-upload-result.json", "lut-page.json", "estimate-request.json",
        "estimate-response.json"}
    for name, schema in schemas.files.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name


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
    assert set(upload) == {"application/json", "application/x-ndjson", "text/csv"}
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
]


@pytest.mark.parametrize("name,instance", REJECT,
                         ids=[f"{n.split('#')[0]}-{i}" for i, (n, _) in enumerate(REJECT)])
def test_schemas_reject_drift(schemas, name, instance):
    assert not schemas.is_valid(instance, name)
