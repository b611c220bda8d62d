"""GAP SDK performance logs as LUT uploads (text/x-gap8-perf, multipart
log + map, the JSON wrapper), their 422s, and the bundled gap8-model table
answering space estimates of the built-in MobileNetV2 space at 128 and 256.

The logs are in tests/data/gap8 (written for these tests in the format the
AutoTiler's generated code prints)."""

import json
import os

import pytest

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "gap8")
MBV2 = "deeplabv3plus-mobilenetv2"


def read(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def multipart(parts, boundary="fmasgap8boundary"):
    out = b""
    for name, data in parts:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{name}.txt\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def post_log(srv, device, log, map_=None, how="multipart", expect=200):
    if how == "multipart":
        parts = [("log", log)] + ([("map", map_)] if map_ is not None else [])
        body, ctype = multipart(parts)
    elif how == "json":
        doc = {"format": "gap8-perf", "log": log.decode()}
        if map_ is not None:
            doc["map"] = map_.decode()
        srv.schemas.validate(doc, "lut-upload-gap8.json", "the gap8-perf wrapper")
        body, ctype = json.dumps(doc).encode(), "application/json"
    else:
        body, ctype = log, "text/x-gap8-perf"
    return srv.request("POST", f"/v1/devices/{device}/lut", body=body,
                       headers={"Content-Type": ctype}, expect=expect)


@pytest.fixture
def gap8(server):
    server.put_device("gap8", unit="cycles", clock_mhz=175.0, kind="mcu")
    return server


@pytest.mark.parametrize("log,how", [("mbv2_tiny.log", "multipart"), ("mbv2_tiny_crlf.log", "multipart"),
                                     ("mbv2_tiny_pct.log", "multipart"), ("mbv2_tiny.log", "json"),
                                     ("mbv2_tiny_crlf.log", "json")])
def test_good_log_lands_whole(gap8, log, how):
    r = post_log(gap8, "gap8", read(log), read("mbv2_tiny_map.csv"), how=how)
    assert r.json["accepted"] == 9 and r.json["entries"] == 9 and r.json["lut_version"] == 1
    rows = {(e["key"]["op"], e["key"].get("cin"), e["key"].get("cout")): e for e in gap8.lut_page("gap8")["entries"]}
    first = rows[("conv2d", 3, 32)]
    assert first["latency"]["mean"] == 3946253 and first["latency"]["count"] == 1
    assert first["macs"] == 3670016
    assert first["key"]["stride"] == 2 and first["key"]["h"] == 128 and first["key"]["bn"] is True
    assert rows[("conv2d", 32, 32)]["key"]["groups"] == 32
    assert rows[("global_avgpool", 24, 24)]["macs"] == 24576
    # The estimate answers cycles and ms at the device's clock.
    est = gap8.post("/v1/estimate", {"devices": ["gap8"], "networks": [{"layers": [
        {"op": "linear", "cin": 24, "cout": 10}]}]}, expect=200).json
    lat = est["results"][0]["latency"]["gap8"]
    assert lat["unit"] == "cycles" and lat["total"] == 1200
    assert lat["ms"] == pytest.approx(1200 / 175e3)


def problem_reasons(r):
    return [(e.get("pointer"), e.get("line"), e.get("field"), e["reason"]) for e in r.json["errors"]]


def test_bad_logs_are_422_by_name_and_line(gap8):
    m = read("mbv2_tiny_map.csv")
    r = post_log(gap8, "gap8", read("mbv2_tiny_truncated.log"), m, expect=422)
    errs = problem_reasons(r)
    assert ("/log", 9, None, "S5_Conv2d_96x1x3x3_Relu6: truncated or malformed: Operations has no number") in errs
    assert any(p == "/log" and line == 15 and "Total says" in why for p, line, _, why in errs)
    r = post_log(gap8, "gap8", read("mbv2_tiny_badtotal.log"), m, expect=422)
    assert any("sum to" in why for *_, why in problem_reasons(r))
    assert any(p == "/map" and why.startswith("S6_Conv2d_24x96x1x1: no layer")
               for p, _, _, why in problem_reasons(r))
    r = post_log(gap8, "gap8", read("mbv2_tiny_unknown.log"), m, how="json", expect=422)
    errs = problem_reasons(r)
    assert ("/log", 12, "op", "S8_MatMul_Custom: the name is of no known pattern and the map has no row for it") \
        in errs
    assert any("negative" in why for *_, why in errs)
    # Nothing was written by any of them.
    assert gap8.device("gap8")["lut_version"] == 0


def test_map_missing_a_layer_and_macs_disagreeing(gap8):
    log = read("mbv2_tiny.log")
    lines = read("mbv2_tiny_map.csv").decode().splitlines()
    no_s3 = "\n".join(l for l in lines if not l.startswith("S3_")).encode()
    r = post_log(gap8, "gap8", log, no_s3, expect=422)
    assert problem_reasons(r) == [("/log", 7, None, "S3_Conv2d_16x32x1x1: missing h, w: give them in the map")]
    wrong = "\n".join(l.replace("S6_Conv2d_24x96x1x1,,,32,32,1,0,1", "S6_Conv2d_24x96x1x1,,,32,32,2,0,1")
                      for l in lines).encode()
    r = post_log(gap8, "gap8", log, wrong, expect=422)
    (p, line, field, why), = problem_reasons(r)
    assert (p, line, field) == ("/log", 10, "macs") and "disagree" in why
    # Without any map only layers the names key alone could land: here none.
    r = post_log(gap8, "gap8", log, how="text", expect=422)
    assert len(r.json["errors"]) == 8
    assert gap8.device("gap8")["lut_version"] == 0


@pytest.mark.parametrize("body,ctype,status,pointer", [
    (b"--b\r\nContent-Disposition: form-data; name=\"log\"\r\n\r\nx", "multipart/form-data; boundary=b", 400, ""),
    (b"--b\r\nContent-Disposition: form-data; name=\"pic\"\r\n\r\nx\r\n--b--\r\n",
     "multipart/form-data; boundary=b", 400, ""),
    (b"--b\r\nContent-Disposition: form-data; name=\"log\"\r\n\r\nx\r\n--b--\r\n", "multipart/form-data", 400, ""),
    (b"--b\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\nname\r\n--b--\r\n",
     "multipart/form-data; boundary=b", 422, "/log"),
    (json.dumps({"format": "tflite", "log": ""}).encode(), "application/json", 422, "/format"),
    (json.dumps({"format": "gap8-perf", "log": 5}).encode(), "application/json", 422, "/log"),
    (json.dumps({"format": "gap8-perf"}).encode(), "application/json", 422, "/log"),
    (json.dumps({"format": "gap8-perf", "log": "", "extra": 1}).encode(), "application/json", 422, "/extra"),
    (b"", "text/x-gap8-perf", 422, "/log"),
    (b"\xff\xfe", "text/x-gap8-perf", 400, ""),
])
def test_malformed_uploads(gap8, body, ctype, status, pointer):
    r = gap8.request("POST", "/v1/devices/gap8/lut", body=body, headers={"Content-Type": ctype}, expect=status)
    assert r.json["errors"][0].get("pointer") == pointer
    assert gap8.device("gap8")["lut_version"] == 0


def test_device_must_count_cycles(server):
    server.put_device("cpu", unit="us")
    r = post_log(server, "cpu", read("mbv2_tiny.log"), read("mbv2_tiny_map.csv"), expect=422)
    assert r.json["errors"][0]["parameter"] == "name"


def test_bundled_gap8_model_answers_mobilenetv2(bundled_server):
    srv = bundled_server
    dev = srv.device("gap8-model")
    assert dev["unit"] == "cycles" and dev["clock_mhz"] == 175 and dev["measured"] is False
    assert "gap8-model 1" in dev["description"]
    for size in (128, 256):
        for os_ in (16, 8):
            sid = f"mbv2-{size}-{os_}"
            s = srv.create_space({"id": sid, "builder": MBV2,
                                  "params": {"input_size": size, "output_stride": os_}})
            genomes = [s["genomes"]["min"], s["genomes"]["max"]]
            est = srv.space_estimate(sid, genomes, devices=["gap8-model"])
            small, big = (r["latency"]["gap8-model"] for r in est["results"])
            for lat in (small, big):
                assert lat["complete"] is True and lat["missing"] == 0 and lat["unit"] == "cycles"
                assert lat["ms"] == pytest.approx(lat["total"] / 175e3)
            assert 0 < small["total"] < big["total"]
