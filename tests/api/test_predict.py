"""Predictions of missing rows in estimates (?strict), and the accuracy
report of GET /v1/devices/{name}/accuracy (docs/latency.md)."""

import random

import pytest

import fmasapi


def pw(cin, cout, hw):
    return {"op": "conv2d", "cin": cin, "cout": cout, "k": 1, "h": hw, "w": hw}


def law(key):
    """A known power law of the MACs: what the fit must recover."""
    macs = key["cin"] * key["cout"] * key["h"] * key["w"]
    return 3.0 * macs ** 0.8


@pytest.fixture(scope="module")
def dev(shared_server):
    rng = random.Random(7)
    seen, rows = {tuple(sorted(pw(8, 8, 4).items()))}, [{"key": pw(8, 8, 4), "latency": {"mean": law(pw(8, 8, 4))}}]
    while len(rows) < 40:
        k = pw(rng.choice([8, 16, 24, 32, 48, 64, 96]), rng.choice([8, 16, 32, 64, 128]),
               rng.choice([4, 8, 16, 32]))
        t = tuple(sorted(k.items()))
        if t in seen:
            continue
        seen.add(t)
        rows.append({"key": k, "latency": {"mean": law(k)}})
    shared_server.put_device("pred-law", unit="us")
    shared_server.upload("pred-law", rows)
    return shared_server


UNSEEN = pw(40, 80, 12)  # no row has cin 40


def test_a_missing_layer_is_predicted_from_the_power_law(dev):
    row = pw(8, 8, 4)
    body = {"devices": ["pred-law"], "networks": [{"layers": [row, UNSEEN]}]}
    lat = dev.estimate(body)["results"][0]["latency"]["pred-law"]
    assert (lat["hits"], lat["predicted"], lat["missing"], lat["complete"]) == (1, 1, 0, True)
    assert lat["missing_keys"] == []
    assert lat["total"] == pytest.approx(law(row) + law(UNSEEN), rel=0.02)
    assert lat["raw_total"] == lat["total"]
    assert 0 <= lat["std"] < 0.05 * lat["total"]


def test_strict_keeps_the_missing_layer_missing(dev):
    row = pw(8, 8, 4)
    body = {"devices": ["pred-law"], "networks": [{"layers": [row, UNSEEN]}]}
    lat = dev.estimate(body, strict=True)["results"][0]["latency"]["pred-law"]
    assert (lat["hits"], lat["missing"], lat["complete"]) == (1, 1, False)
    assert lat["total"] == pytest.approx(law(row), rel=1e-12)
    assert not {"predicted", "std", "raw_total"} & set(lat)
    assert len(lat["missing_keys"]) == 1


def test_detail_layers_show_the_prediction(dev):
    body = {"devices": ["pred-law"], "networks": [{"layers": [UNSEEN]}]}
    res = dev.estimate(body, detail="layers")["results"][0]
    assert res["layers"][0]["latency"]["pred-law"] == pytest.approx(law(UNSEEN), rel=0.02)
    res = dev.post("/v1/estimate?detail=layers&strict=true", body, expect=200).json["results"][0]
    assert res["layers"][0]["latency"]["pred-law"] is None


def test_an_op_without_a_cost_stays_missing(dev):
    odd = {"op": "softmax_custom"}
    body = {"devices": ["pred-law"], "networks": [{"layers": [UNSEEN, odd]}]}
    lat = dev.estimate(body)["results"][0]["latency"]["pred-law"]
    assert (lat["hits"], lat["predicted"], lat["missing"], lat["complete"]) == (0, 1, 1, False)
    assert [k["op"] for k in lat["missing_keys"]] == ["softmax_custom"]


def test_a_device_without_rows_predicts_nothing(dev):
    dev.put_device("pred-empty", unit="us")
    body = {"devices": ["pred-empty"], "networks": [{"layers": [UNSEEN]}]}
    lat = dev.estimate(body)["results"][0]["latency"]["pred-empty"]
    assert (lat["hits"], lat["predicted"], lat["missing"], lat["total"]) == (0, 0, 1, 0)
    acc = dev.get("/v1/devices/pred-empty/accuracy", expect=200).json
    assert acc["overall"]["rows"] == 0 and acc["kinds"] == {}


@pytest.mark.parametrize("query", ["?strict=yes", "?strict=", "?strict=TRUE"])
def test_a_bad_strict_is_400_naming_it(dev, query):
    body = {"devices": ["pred-law"], "networks": [{"layers": [UNSEEN]}]}
    r = dev.post("/v1/estimate" + query, body, expect=400)
    assert any(e.get("parameter") == "strict" for e in r.json["errors"]), r.json
    r = dev.post("/v1/spaces/deeplabv3plus-mobilenetv2/estimate" + query,
                 {"devices": [], "genomes": []}, expect=None)
    assert r.status in (400, 404)


def test_accuracy_reports_leave_one_out_shares(dev):
    acc = dev.get("/v1/devices/pred-law/accuracy", expect=200).json
    assert acc["device"] == "pred-law" and acc["method"] == "leave-one-out"
    assert acc["lut_version"] == dev.device("pred-law")["lut_version"]
    assert list(acc["kinds"]) == ["conv_1x1"]
    k = acc["kinds"]["conv_1x1"]
    assert k["rows"] == 40 and k["predicted"] == 40 and k["model"] in ("kind", "pooled")
    assert k["within5"] == 1.0 and acc["overall"]["within25"] == 1.0
    assert k["median_rel_err"] < 0.01


def test_accuracy_of_unknown_and_bad_devices(dev):
    dev.get("/v1/devices/nope-pred/accuracy", expect=404)
    r = dev.get("/v1/devices/BAD!/accuracy", expect=400)
    assert any(e.get("parameter") == "name" for e in r.json["errors"])


def test_a_new_upload_refits(dev):
    dev.put_device("pred-refit", unit="us")
    rows = [{"key": pw(c, 2 * c, 8), "latency": {"mean": law(pw(c, 2 * c, 8))}}
            for c in range(4, 40, 2)]
    dev.upload("pred-refit", rows)
    body = {"devices": ["pred-refit"], "networks": [{"layers": [UNSEEN]}]}
    first = dev.estimate(body)["results"][0]["latency"]["pred-refit"]["total"]
    # Twice as slow everywhere: the next estimate sees the new fit.
    dev.upload("pred-refit", [{"key": r["key"], "latency": {"mean": 2 * r["latency"]["mean"]}}
                              for r in rows])
    second = dev.estimate(body)["results"][0]["latency"]["pred-refit"]["total"]
    assert second == pytest.approx(2 * first, rel=1e-6)
