"""Compact answers of POST /v1/spaces/{id}/estimate (docs/api.md "Result
fields and formats"): ?fields= selects result fields, Accept: text/csv and
Accept: application/x-ndjson answer the same numbers in other shapes, an
unknown field is 400 naming the parameter fields, and an Accept the server
cannot answer is 406. Every shape is checked against the default JSON answer
of the same request: same fields, same values, same order."""

import csv
import io
import json
import pathlib
import random

import pytest

import fmasapi
from fmasapi import MBV2

FIELDS = ["genome", "macs", "flops", "params", "latency", "predicted"]
PATH = f"/v1/spaces/{MBV2}/estimate"


TABLE = pathlib.Path(__file__).resolve().parents[2] / "lut" / "data" / "example-cpu.csv"


@pytest.fixture(scope="module")
def srv(shared_server):
    """The shared server with the bundled example table as device fmt-cpu."""
    shared_server.put_device("fmt-cpu", unit="us")
    shared_server.post("/v1/devices/fmt-cpu/lut", body=TABLE.read_bytes(),
                       headers={"Content-Type": "text/csv"}, expect=200)
    return shared_server


@pytest.fixture(scope="module")
def body(srv):
    space = srv.space(MBV2)
    rng = random.Random(11)
    genomes = [[rng.randrange(len(g["choices"])) for g in space["genes"]] for _ in range(40)]
    genomes.append(space["genomes"]["max"])
    return {"devices": ["fmt-cpu"], "genomes": genomes}


@pytest.fixture(scope="module")
def full(srv, body):
    return srv.post(PATH, body, expect=200).json


def post(srv, body, query="", accept=None, expect=200, schema="auto"):
    headers = {"Accept": accept} if accept else None
    return srv.post(PATH + query, body, headers=headers, expect=expect, schema=schema)


def selected(result, names):
    keep = set(names)
    if "predicted" in keep:
        keep |= {"predicted_reason", "predicted_reasons"}
    return {k: v for k, v in result.items() if k in keep}


@pytest.mark.parametrize("names", [["macs", "params", "latency"], ["genome"], ["predicted"],
                                   ["latency", "macs"], FIELDS])
def test_fields_answer_the_same_values(srv, body, full, names):
    r = post(srv, body, "?fields=" + ",".join(names), schema="space-estimate-fields-response.json")
    assert r.json["lut_versions"] == full["lut_versions"]
    assert r.json["space"] == MBV2
    want = [selected(x, names) for x in full["results"]]
    assert r.json["results"] == want
    # The order of a result's fields is the default answer's order.
    for got, base in zip(r.json["results"], full["results"]):
        assert list(got) == [k for k in base if k in got]


def test_default_answer_bytes_are_unchanged_by_accept_json(srv, body):
    a = post(srv, body)
    b = post(srv, body, accept="application/json")
    c = post(srv, body, accept="*/*")
    assert a.body == b.body == c.body


def test_ndjson_is_one_result_a_line(srv, body, full):
    r = post(srv, body, accept="application/x-ndjson", schema=None)
    assert r.media_type == "application/x-ndjson"
    assert r.body.endswith(b"\n")
    lines = r.text.splitlines()
    assert [fmasapi.strict_json(x) for x in lines] == full["results"]
    versions = dict(kv.split("=") for kv in r.header("Fmas-Lut-Versions").split(","))
    assert {k: int(v) for k, v in versions.items()} == full["lut_versions"]
    for x in lines:
        # Each line is a result of space-estimate-fields-response.json.
        srv.schemas.validate({"space": MBV2, "results": [json.loads(x)], "lut_versions": full["lut_versions"]},
                             "space-estimate-fields-response.json")
    r = post(srv, body, "?fields=macs", accept="application/x-ndjson", schema=None)
    assert [json.loads(x) for x in r.text.splitlines()] == [{"macs": x["macs"]} for x in full["results"]]


def test_csv_header_and_values(srv, body, full):
    r = post(srv, body, accept="text/csv", schema=None)
    assert r.media_type == "text/csv"
    rows = list(csv.reader(io.StringIO(r.text)))
    cols = ["latency.fmt-cpu." + c for c in ("total", "ms", "hits", "missing", "complete",
                                             "predicted", "std", "raw_total")]
    assert rows[0] == ["index", "genome", "macs", "flops", "params"] + cols
    assert len(rows) == 1 + len(full["results"])
    for i, (row, res) in enumerate(zip(rows[1:], full["results"])):
        lat = res["latency"]["fmt-cpu"]
        assert row[0] == str(i)
        assert [int(x) for x in row[1].split(" ")] == res["genome"]
        assert [int(x) for x in row[2:5]] == [res["macs"], res["flops"], res["params"]]
        # Reals are written to read back to the same double.
        assert float(row[5]) == lat["total"] and float(row[6]) == lat["ms"]
        assert [int(row[7]), int(row[8]), row[9]] == [lat["hits"], lat["missing"],
                                                    "true" if lat["complete"] else "false"]
        assert int(row[10]) == lat["predicted"] and float(row[11]) == lat["std"]
        assert float(row[12]) == lat["raw_total"]


def test_csv_strict_keeps_the_five_latency_columns(srv, body, full):
    r = post(srv, body, "?strict=true", accept="text/csv", schema=None)
    rows = list(csv.reader(io.StringIO(r.text)))
    cols = ["latency.fmt-cpu." + c for c in ("total", "ms", "hits", "missing", "complete")]
    assert rows[0] == ["index", "genome", "macs", "flops", "params"] + cols


def test_csv_with_fields(srv, body, full):
    r = post(srv, body, "?fields=params", accept="text/csv", schema=None)
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["index", "params"]
    assert [int(x[1]) for x in rows[1:]] == [x["params"] for x in full["results"]]


@pytest.mark.parametrize("query", ["?fields=macs,bogus", "?fields=", "?fields=macs,", "?fields=MACS",
                                   "?fields=predicted_reason"])
def test_bad_fields_are_400_naming_the_parameter(srv, body, query):
    r = post(srv, body, query, expect=400)
    assert r.json["type"].endswith("/invalid-parameter")
    assert r.json["errors"][0]["parameter"] == "fields"


@pytest.mark.parametrize("accept", ["image/png", "text/html", "application/xml", "application/json;q=0"])
def test_unsupported_accept_is_406(srv, body, accept):
    r = post(srv, body, accept=accept, expect=406)
    assert r.json["errors"][0]["parameter"] == "Accept"


@pytest.mark.parametrize("accept,media", [("text/html, text/csv;q=0.5", "text/csv"),
                                          ("application/x-ndjson;q=0.9, application/json", "application/json"),
                                          ("text/*", "text/csv"), ("application/*", "application/json")])
def test_accept_picks_the_best_supported(srv, body, accept, media):
    r = post(srv, body, accept=accept, schema="auto" if media == "application/json" else None)
    assert r.media_type == media


def test_bad_body_with_csv_accept_is_still_problem_json(srv):
    r = post(srv, {"devices": ["fmt-cpu"], "genomes": [[99]]}, accept="text/csv", expect=422)
    assert r.json["errors"][0]["pointer"].startswith("/genomes/0")


def test_predict_false_with_fields_and_repeat_is_stable(srv, body, full):
    a = post(srv, body, "?predict=false&fields=macs,predicted", schema="space-estimate-fields-response.json")
    assert all(x["predicted"] is None and "not asked" in x["predicted_reason"] for x in a.json["results"])
    # A second request on the same devices (a kept coster) answers the same.
    assert post(srv, body).json == full


def test_strict_reader_answers_as_jansson(srv, body):
    """A body the strict reader takes (server/estbody.h) gets the same answer,
    byte for byte, as the same body spelled so that only Jansson reads it
    (an escape in a key): results, and every 422 found after reading."""
    g = body["genomes"]
    cases = [
        (body, 200),
        ({"devices": [], "genomes": g[:3]}, 200),
        ({"devices": ["fmt-cpu", "nope"], "genomes": g}, 422),
        ({"devices": ["Bad!"], "genomes": g}, 422),
        ({"devices": ["fmt-cpu", "fmt-cpu"], "genomes": g}, 422),
        ({"devices": ["fmt-cpu"], "genomes": g[:2] + [[999] * len(g[0])]}, 422),
        ({"devices": ["fmt-cpu"], "genomes": [[0]]}, 422),
        ({"devices": ["fmt-cpu"], "genomes": [[-1] * len(g[0])]}, 422),
        ({"devices": ["fmt-cpu"], "genomes": []}, 422),
    ]
    for b, status in cases:
        text = json.dumps(b, separators=(",", ":"))
        escaped = text.replace('"genomes"', '"genom\\u0065s"')
        for query, schema in (("", "auto"), ("?fields=macs,latency", "space-estimate-fields-response.json")):
            kw = {"headers": {"Content-Type": "application/json"}, "expect": status, "schema": schema}
            fast = srv.request("POST", PATH + query, body=text, **kw)
            slow = srv.request("POST", PATH + query, body=escaped, **kw)
            assert fast.body == slow.body, (text, fast.body[:300], slow.body[:300])
