"""Whole-network measurements (POST/GET /v1/devices/{name}/measurements)
and the end-to-end calibration they feed: estimates' raw_total and
calibrated total, ?strict, and the accuracy report (docs/latency.md)."""

import random

import pytest

import fmasapi

MBV2 = "deeplabv3plus-mobilenetv2"


def pw(cin, cout, hw):
    return {"op": "conv2d", "cin": cin, "cout": cout, "k": 1, "h": hw, "w": hw}


def law(k):
    return 2.0 * (k["cin"] * k["cout"] * k["h"] * k["w"]) ** 0.9


KEYS = [pw(ci, co, hw) for ci in (8, 16, 32, 64) for co in (8, 16, 32, 64) for hw in (4, 8, 16)]


def measured(rng, i, a=500.0, b=1.3):
    layers = rng.sample(KEYS, 6)
    raw = sum(law(k) for k in layers)
    return {"name": f"n{i}", "network": {"layers": layers},
            "latency": {"mean": a + b * raw, "std": 1.0, "count": 5}}, raw


@pytest.fixture
def dev(server):
    server.put_device("cal", unit="us")
    server.upload("cal", [{"key": k, "latency": {"mean": law(k)}} for k in KEYS])
    return server


def post(srv, body, expect=201, device="cal"):
    return srv.post(f"/v1/devices/{device}/measurements", body, expect=expect)


def get(srv, device="cal", expect=200):
    return srv.get(f"/v1/devices/{device}/measurements", expect=expect).json


def test_post_one_and_a_batch_then_list(dev):
    rng = random.Random(1)
    one, _ = measured(rng, 0)
    r = post(dev, one).json
    assert r == {"device": "cal", "accepted": 1, "ids": ["0000000001"], "measurements": 1}
    batch = [measured(rng, i)[0] for i in range(1, 4)]
    r = post(dev, batch).json
    assert r["ids"] == ["0000000002", "0000000003", "0000000004"] and r["measurements"] == 4
    g = get(dev)
    assert g["count"] == 4
    assert [m["id"] for m in g["measurements"]] == ["0000000001"] + r["ids"]
    assert g["measurements"][0] == {"id": "0000000001", "name": "n0", "layer_count": 6,
                                    "latency": {"mean": one["latency"]["mean"], "std": 1.0, "count": 5}}
    assert g["calibration"] is not None and g["calibration"]["networks"] == 4


def test_calibration_recovers_the_map_and_estimates_use_it(dev):
    rng = random.Random(2)
    ms = [measured(rng, i) for i in range(12)]
    post(dev, [m for m, _ in ms])
    cal = get(dev)["calibration"]
    assert cal["model"] == "affine" and cal["networks"] == 12
    assert cal["coef"]["b"] == pytest.approx(1.3, rel=1e-6)
    assert cal["coef"]["a"] == pytest.approx(500.0, rel=1e-4)
    assert cal["cv_within10"] == 1.0 and cal["raw_within10"] < 1.0
    m, raw = ms[0]
    body = {"devices": ["cal"], "networks": [m["network"]]}
    lat = dev.estimate(body)["results"][0]["latency"]["cal"]
    assert lat["raw_total"] == pytest.approx(raw, rel=1e-9)
    assert lat["total"] == pytest.approx(m["latency"]["mean"], rel=1e-6)
    c = lat["calibrated"]
    assert c["total"] == lat["total"] and c["ms"] == pytest.approx(lat["total"] / 1000)
    assert c["networks"] == 12 and c["cv_within10"] == 1.0 and c["std"] == lat["std"]
    strict = dev.estimate(body, strict=True)["results"][0]["latency"]["cal"]
    assert strict["total"] == pytest.approx(raw, rel=1e-9)
    assert "calibrated" not in strict and "raw_total" not in strict
    acc = dev.get("/v1/devices/cal/accuracy", expect=200).json
    assert acc["calibration"] == cal


def test_space_genomes_are_measured_and_calibrate_space_estimates(server):
    server.put_device("calsp", unit="us")
    keys = [it["key"] for it in server.space_layers(MBV2)["layers"]]
    server.upload("calsp", [{"key": k, "latency": {"mean": 10.0 + i % 17}} for i, k in enumerate(keys)])
    space = server.space(MBV2)
    rng = random.Random(3)
    genomes = [[rng.randrange(len(g["choices"])) for g in space["genes"]] for _ in range(8)]
    raws = [r["latency"]["calsp"]["total"]
            for r in server.space_estimate(MBV2, genomes, devices=["calsp"], strict=True)["results"]]
    post(server, [{"space": MBV2, "genome": g, "latency": {"mean": 2.0 * raw}}
                  for g, raw in zip(genomes, raws)], device="calsp")
    g = get(server, "calsp")
    assert g["measurements"][0]["space"] == MBV2 and g["measurements"][0]["genome"] == genomes[0]
    assert g["calibration"]["model"] == "scale"
    est = server.space_estimate(MBV2, genomes, devices=["calsp"])["results"]
    for r, raw in zip(est, raws):
        lat = r["latency"]["calsp"]
        assert lat["raw_total"] == pytest.approx(raw, rel=1e-9)
        assert lat["total"] == pytest.approx(2.0 * raw, rel=1e-6) == lat["calibrated"]["total"]


BAD = [
    ({"network": {"layers": [pw(8, 8, 4)]}}, "/latency"),
    ({"network": {"layers": [pw(8, 8, 4)]}, "latency": {"mean": 0}}, "/latency/mean"),
    ({"network": {"layers": [pw(8, 8, 4)]}, "latency": {"mean": 1, "std": -1}}, "/latency/std"),
    ({"network": {"layers": [pw(8, 8, 4)]}, "latency": {"mean": 1, "count": 0}}, "/latency/count"),
    ({"network": {"layers": [pw(8, 8, 4)]}, "latency": {"mean": 1, "p50": 1}}, "/latency/p50"),
    ({"network": {"layers": []}, "latency": {"mean": 1}}, "/network/layers"),
    ({"network": {"layers": [{"op": "conv2d", "cin": 8}]}, "latency": {"mean": 1}},
     "/network/layers/0/cout"),
    ({"latency": {"mean": 1}}, "/network"),
    ({"network": {"layers": [pw(8, 8, 4)]}, "space": MBV2, "latency": {"mean": 1}}, "/space"),
    ({"space": "no-such-space", "genome": [0], "latency": {"mean": 1}}, "/space"),
    ({"space": MBV2, "latency": {"mean": 1}}, "/genome"),
    ({"space": MBV2, "genome": [99], "latency": {"mean": 1}}, "/genome"),
    ({"network": {"layers": [pw(8, 8, 4)]}, "latency": {"mean": 1}, "when": 3}, "/when"),
    ([5], "/0"),
]


@pytest.mark.parametrize("body,pointer", BAD)
def test_a_bad_measurement_is_422_naming_the_field(dev, body, pointer):
    r = post(dev, body, expect=422)
    assert any(e.get("pointer", "").startswith(pointer) for e in r.json["errors"]), r.json


def test_a_batch_with_one_bad_item_stores_nothing(dev):
    rng = random.Random(4)
    good = [measured(rng, i)[0] for i in range(3)]
    bad = {"network": {"layers": [pw(8, 8, 4)]}, "latency": {"mean": -5}}
    r = post(dev, good + [bad] + good, expect=422)
    assert any(e.get("pointer") == "/3/latency/mean" for e in r.json["errors"]), r.json
    assert get(dev)["count"] == 0
    post(dev, [], expect=422)
    assert get(dev)["count"] == 0


def test_unknown_and_bad_devices(server):
    m = {"network": {"layers": [pw(8, 8, 4)]}, "latency": {"mean": 1}}
    post(server, m, expect=404, device="nope")
    get(server, "nope", expect=404)
    r = post(server, m, expect=400, device="BAD!")
    assert any(e.get("parameter") == "name" for e in r.json["errors"])


def test_deleting_the_device_forgets_its_measurements(dev):
    rng = random.Random(5)
    post(dev, [measured(rng, i)[0] for i in range(4)])
    dev.delete("/v1/devices/cal", expect=204)
    dev.put_device("cal", unit="us")
    assert get(dev)["count"] == 0


def test_measurements_survive_a_restart(fmasd_factory, tmp_path):
    data = tmp_path / "d"
    proc = fmasd_factory(["--no-bundled"], data_dir=data)
    srv = proc.client
    srv.put_device("cal", unit="us")
    srv.upload("cal", [{"key": k, "latency": {"mean": law(k)}} for k in KEYS])
    rng = random.Random(6)
    post(srv, [measured(rng, i)[0] for i in range(5)])
    before = get(srv)
    assert proc.stop(timeout=10.0) is None
    proc = fmasd_factory(["--no-bundled"], data_dir=data)
    assert get(proc.client) == before


def test_every_route_has_its_own_metrics(dev):
    """Each path pattern keeps its own counters (none falls into the
    "unmatched" slot because the table outgrew the metrics)."""
    post(dev, measured(random.Random(7), 0)[0])
    get(dev)
    dev.get("/v1/devices/cal/accuracy", expect=200)
    text = dev.get("/metrics", expect=200).body.decode()
    for method, route in [("POST", "/v1/devices/{name}/measurements"),
                          ("GET", "/v1/devices/{name}/measurements"),
                          ("GET", "/v1/devices/{name}/accuracy")]:
        assert f'method="{method}",route="{route}"' in text, route
    assert 'route="/v1/spaces/{id}/screen"' in text
