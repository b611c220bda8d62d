#!/usr/bin/env python3
"""Writes the seed corpus of every harness into fuzz/corpus/<harness>/.

The seeds are request bodies and query strings taken from docs/api.md and
tests/api; route numbers are read from server/routes.c, so rerun this
script when the route table changes:  /usr/bin/python3 fuzz/make_corpus.py
"""
import hashlib
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MBV2 = "deeplabv3plus-mobilenetv2"


def routes():
    text = open(os.path.join(ROOT, "server", "routes.c")).read()
    return re.findall(r'\{"([A-Z]+)", "([^"]+)", \w+,', text)


def write(harness, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def js(v):
    return json.dumps(v, separators=(",", ":"))


KEY = {"op": "conv2d", "cin": 32, "cout": 64, "k": 3, "h": 56, "w": 56}
KEYS = [KEY,
        {"op": "conv2d", "cin": 32, "cout": 32, "k": 3, "stride": 2, "dilation": 2, "groups": 32,
         "h": 129, "w": 129, "pad": 2, "bias": False, "bn": True, "dtype": "fp32"},
        {"op": "linear", "cin": 1280, "cout": 21, "bias": True},
        {"op": "add", "cin": 1024, "cout": 1024, "h": 16, "w": 16},
        {"op": "concat", "cin": 304, "cout": 304, "h": 129, "w": 129},
        {"op": "upsample", "cin": 256, "cout": 256, "h": 33, "w": 33, "out_h": 129, "out_w": 129},
        {"op": "avgpool", "cin": 320, "cout": 320, "h": 33, "w": 33}]
ENTRY = {"key": KEY, "latency": {"mean": 812.5, "std": 3.1, "count": 20}, "macs": 57802752}
DEVICE = {"unit": "cycles", "clock_mhz": 175.0, "kind": "mcu",
          "description": "GreenWaves GAP8, 8 cores", "measured": True}
CSV = ("op,cin,cout,k,stride,dilation,groups,h,w,pad,out_h,out_w,bias,bn,dtype,"
       "latency_mean,latency_std,count,macs\n"
       "conv2d,32,64,3,1,1,1,56,56,1,,,0,1,fp32,812.5,3.1,20,\n"
       "add,1024,1024,1,1,1,1,16,16,0,,,0,0,fp32,397.216,0,1,\n")
FZ_GENOMES = [[0, 0, 0], [3, 2, 2], {"depth": 2, "width": 1.0, "kernel": 5}]
MBV2_GENOME = [0] * 33
OBS = {"observations": [{"genome": [1, 1, 0], "metric": "miou", "value": 0.712,
                         "fidelity": "val-subset-500",
                         "meta": {"evaluator": "fmas-eval 0.1", "seed": 1, "seconds": 41.2}},
                        {"genome": {"depth": 4, "width": 0.5, "kernel": 7}, "metric": "miou",
                         "value": 0.5}]}
SCREEN_FZ = {"genomes": [[0, 0, 0], [1, 2, 0], {"depth": 3, "width": 1.5, "kernel": 3}],
             "objectives": [{"metric": "miou", "goal": "max"}], "confidence": 0.9}
SCREEN = {"genomes": [MBV2_GENOME, [3, 1, 3] + [0] * 30],
          "objectives": [{"metric": "miou", "goal": "max"},
                         {"cost": "latency", "device": "example-cpu", "goal": "min"},
                         {"cost": "macs", "goal": "min"}, {"cost": "params", "goal": "min"}],
          "constraints": [{"cost": "latency", "device": "example-cpu", "max": 40.0, "unit": "ms"}],
          "confidence": 0.95, "fidelity": "default"}


def api_seeds():
    """(method, pattern, flags, query, body) of each endpoint."""
    net = {"name": "net-a", "layers": KEYS}
    return [
        ("GET", "/", 0x10, "", ""),
        ("GET", "/metrics", 0, "", ""),
        ("GET", "/v1/devices", 0, "", ""),
        ("PUT", "/v1/devices/{name}", 0, "", js(DEVICE)),
        ("PUT", "/v1/devices/{name}", 0, "", js({"name": "fz", "unit": "us", "clock_mhz": None})),
        ("POST", "/v1/devices/{name}/lut", 0x00, "mode=merge", js([ENTRY, ENTRY])),
        ("POST", "/v1/devices/{name}/lut", 0x04, "mode=replace", js(ENTRY) + "\n\n" + js(ENTRY)),
        ("POST", "/v1/devices/{name}/lut", 0x08, "", CSV),
        ("GET", "/v1/devices/{name}/lut", 0x20, "op=conv2d&limit=2&cursor=", ""),
        ("POST", "/v1/devices/{name}/measurements", 0, "",
         js([{"name": "m0", "network": {"layers": KEYS[:2]},
              "latency": {"mean": 900.0, "std": 1.0, "count": 5}},
             {"network": {"layers": KEYS}, "latency": {"mean": 1500.0}}])),
        ("POST", "/v1/devices/{name}/measurements", 0, "",
         js({"space": MBV2, "genome": MBV2_GENOME, "latency": {"mean": 2000.0}})),
        ("GET", "/v1/devices/{name}/measurements", 0, "", ""),
        ("GET", "/v1/devices/{name}/accuracy", 0, "", ""),
        ("POST", "/v1/estimate", 0, "detail=layers",
         js({"devices": ["example-cpu"], "networks": [net]})),
        ("POST", "/v1/spaces", 0, "",
         js({"id": "mbv2-256", "description": "small", "builder": MBV2,
             "params": {"input_size": 256, "num_classes": 21, "output_stride": 8}})),
        ("POST", "/v1/spaces", 0, "",
         js({"id": "toy", "genes": [{"name": "depth", "choices": [1, 2, 3]},
                                    {"name": "w", "choices": [0.25, 0.5]}]})),
        ("GET", "/v1/spaces/{id}", 1, "", ""),
        ("DELETE", "/v1/spaces/{id}", 0, "", ""),
        ("POST", "/v1/spaces/{id}/expand", 1, "", js({"genome": MBV2_GENOME})),
        ("POST", "/v1/spaces/{id}/expand", 0, "", js({"genome": FZ_GENOMES[2]})),
        ("GET", "/v1/spaces/{id}/layers", 1, "device=example-cpu", ""),
        ("POST", "/v1/spaces/{id}/estimate", 1, "",
         js({"devices": ["example-cpu"], "genomes": [MBV2_GENOME]})),
        ("POST", "/v1/spaces/{id}/estimate", 0x40, "fidelity=default",
         js({"devices": [], "genomes": FZ_GENOMES})),
        ("POST", "/v1/spaces/{id}/observations", 0, "", js(OBS)),
        ("GET", "/v1/spaces/{id}/observations", 0x60, "metric=miou&fidelity=default", ""),
        ("GET", "/v1/spaces/{id}/surrogate", 0x40, "metric=miou", ""),
        ("POST", "/v1/spaces/{id}/surrogate:fit", 0x40, "metric=miou&fidelity=default", ""),
        ("POST", "/v1/spaces/{id}/screen", 0x40, "", js(SCREEN_FZ)),
        ("POST", "/v1/spaces/{id}/screen", 0x01, "", js(SCREEN)),
    ]


def gap8_seeds():
    """Logs and maps of tests/data/gap8: NUL-joined (byte 0 even) and as a
    multipart body of the boundary "fz" (byte 0 odd)."""
    d = os.path.join(ROOT, "tests", "data", "gap8")
    names = sorted(os.listdir(d))
    maps = {n[:-8]: open(os.path.join(d, n), "rb").read() for n in names if n.endswith("_map.csv")}
    for n in names:
        if not n.endswith(".log"):
            continue
        log = open(os.path.join(d, n), "rb").read()
        base = n[:-4]
        while base and base not in maps:
            base = base.rsplit("_", 1)[0] if "_" in base else ""
        m = maps.get(base, b"")
        write("gap8", b"\x00" + log + (b"\x00" + m if m else b""))
        write("gap8", b"\x01" + b"--fz\r\nContent-Disposition: form-data; name=\"log\"; filename=\"p.log\"\r\n"
              b"Content-Type: text/x-gap8-perf\r\n\r\n" + log + b"\r\n--fz\r\n"
              b"Content-Disposition: form-data; name=\"map\"\r\n\r\n" + m + b"\r\n--fz--\r\n")


def main():
    table = routes()
    for method, pattern, flags, query, body in api_seeds():
        r = table.index((method, pattern))
        write("api", bytes([r, flags]) + (query + "\n" + body).encode())
    for method, pattern in table:
        path = pattern.replace("{name}", "example-cpu").replace("{id}", MBV2)
        write("query", f"{method}\n{path}\n")
    for q in ["limit=1&op=add", "limit=0&cursor=zzz", "metric=miou&fidelity=x", "device=example-cpu"]:
        write("query", f"GET\n/v1/devices/example-cpu/lut\n{q}")
        write("query", f"GET\n/v1/spaces/{MBV2}/layers\n{q}")
    for sid in ["fz", "fzfit"]:
        for sub in ["", "/layers", "/observations", "/surrogate"]:
            write("query", f"GET\n/v1/spaces/{sid}{sub}\nmetric=miou&fidelity=default")
    write("query", "GET\n/v1/devices/fz/lut\nop=conv2d")
    write("query", "POST\n/v1/spaces/x/screen\n")
    write("query", "GET\n/v1//spaces/%2e%2e/\n")
    write("batch", b"\x00" + js([ENTRY, {"key": KEYS[1], "latency": {"mean": 1}}]).encode())
    write("batch", b"\x01" + "\n".join(js({"key": k, "latency": {"mean": 2.5}}) for k in KEYS).encode())
    write("batch", b"\x02" + CSV.encode())
    write("batch", b"\x02" + ("\ufeff" + CSV.replace("\n", "\r\n")).encode())
    write("batch", b"\x02" + b'op,latency_mean,cin,cout,bias\n"linear",1.5,10,20,true\n')
    for k in KEYS:
        write("key", b"\x00" + js(dict(k, name="features.0.conv")).encode())
    write("key", b"\x01" + js(ENTRY).encode())
    write("key", b"\x02" + js(DEVICE).encode())
    write("key", b"\x02" + js({"name": "fz", "unit": "us", "clock_mhz": None}).encode())
    for size, ctype in [(127, "application/json"), (127, "text/csv; charset=utf-8"),
                        (127, " \tApplication/X-NDJSON ;q=1"), (127, "application/json\t; x=y"),
                        (4, "text/csv"), (0, "")]:
        write("media", bytes([size]) + ctype.encode())
    write("genome", b"\x00" + js(MBV2_GENOME).encode())
    write("genome", b"\x00" + js([3, 1, 3] + [0] * 30).encode())
    write("genome", b"\x01" + js([0] * 40).encode())
    for g in FZ_GENOMES:
        write("genome", b"\x02" + js(g).encode())
    gap8_seeds()


if __name__ == "__main__":
    main()
