"""Success paths of every endpoint of docs/api.md, checked against schemas/
(the client validates every JSON answer by route) and against the numbers
the contract promises."""

import math
import re

import pytest

import fmasapi
from fmasapi import conv, entry, key_id, parse_csv, rows_to_csv, rows_to_ndjson

HEX32 = re.compile(r"^[0-9a-f]{32}$")

# A batch touching many ops, attributes, defaults and optional fields.
ROWS = [
    entry("conv2d", 812.5, std=3.1, count=20, macs=57802752, cin=32, cout=64, k=3, h=56, w=56),
    entry("conv2d", 120.25, cin=3, cout=32, k=3, stride=2, pad=0, h=513, w=513,
          bias=True, bn=True),
    entry("conv2d", 40.0, std=0.5, count=3, cin=32, cout=32, k=3, groups=32, h=256, w=256,
          dtype="int8"),
    entry("conv2d", 77.0, cin=16, cout=16, k=3, dilation=2, h=64, w=64),
    entry("linear", 5.5, cin=256, cout=21, h=4, w=4, bias=True),
    entry("upsample", 9.75, cin=21, h=64, w=64, out_h=513, out_w=513),
    entry("relu", 0.125, cin=8, h=4, w=4),
    entry("avgpool", 1.5, cin=16, k=2, stride=2, h=8, w=8),
    entry("softmax", 2.0, cin=21),
]


def canon_subset(key, **want):
    """The canonical key has every attribute; check the ones given."""
    got = {k: key[k] for k in want}
    assert got == want, f"canonical key {key} differs from {want}"


def unused_size(v):
    """Unused size attributes of a canonical key: 0 or null (docs leave it open)."""
    return v in (0, None)


# ------------------------------------------------------------------ health

def test_health(server):
    r = server.get("/v1/health", expect=200)
    assert r.json["status"] == "ok"
    cmake = (fmasapi.ROOT / "CMakeLists.txt").read_text()
    version = re.search(r"project\(fmas VERSION ([0-9.]+)", cmake).group(1)
    assert r.json["version"] == version


# ----------------------------------------------------------------- metrics

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\[\\"n])*)"\s*(?:,|$)')


def parse_labels(text):
    labels, pos = {}, 0
    text = text.strip()
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        assert m, f"bad label set {text!r} at {pos}"
        assert m.group(1) not in labels, f"label {m.group(1)} twice in {text!r}"
        labels[m.group(1)] = m.group(2).replace('\\"', '"').replace("\\n", "\n") \
            .replace("\\\\", "\\")
        pos = m.end()
    return labels


def parse_prometheus(text):
    """Parse Prometheus text 0.0.4 line by line; returns (types, samples)."""
    types, samples, seen_families, current = {}, [], set(), None
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] == "TYPE":
                assert len(parts) == 4, f"line {n}: {line!r}"
                name, kind = parts[2], parts[3].strip()
                assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
                assert name not in types, f"line {n}: TYPE of {name} twice"
                types[name] = kind
            elif len(parts) >= 2 and parts[1] == "HELP":
                assert len(parts) >= 3, f"line {n}: {line!r}"
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"line {n} is not a sample: {line!r}"
        name, labels, value = m.group(1), parse_labels(m.group(2) or ""), m.group(3)
        v = float(value)  # accepts +Inf, -Inf, NaN
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) in ("histogram", "summary"):
                family = name[:-len(suffix)]
        if family != current:
            assert family not in seen_families, f"line {n}: family {family} is not one group"
            seen_families.add(family)
            current = family
        samples.append((name, labels, v))
    return types, samples


def metric(samples, name, **match):
    out = []
    for n, labels, v in samples:
        if n == name and all(m(labels.get(k)) if callable(m) else labels.get(k) == m
                             for k, m in match.items()):
            out.append((labels, v))
    return out


def scrape(client):
    r = client.get("/metrics", expect=200)
    assert r.media_type == "text/plain", r
    assert re.search(r"version\s*=\s*0\.0\.4", r.content_type), r.content_type
    return parse_prometheus(r.text)


def test_metrics(server):
    server.put_device("m1", unit="us")
    server.upload("m1", ROWS)
    server.get("/v1/devices/nope", expect=404)
    types, samples = scrape(server)
    assert types.get("fmas_http_requests_total") == "counter"
    assert types.get("fmas_http_request_duration_seconds") == "histogram"
    assert types.get("fmas_lut_entries") == "gauge"

    reqs = metric(samples, "fmas_http_requests_total")
    assert reqs
    for labels, v in reqs:
        assert set(labels) == {"method", "route", "status"}, labels
        assert re.fullmatch(r"[1-5][0-9][0-9]", labels["status"]), labels
        assert v >= 1 and v == int(v)
    assert metric(samples, "fmas_http_requests_total", method="PUT", status="201")
    assert metric(samples, "fmas_http_requests_total", method="POST", status="200")
    assert metric(samples, "fmas_http_requests_total", method="GET", status="404")

    # The histogram: cumulative buckets ending in +Inf == _count, a _sum.
    buckets = metric(samples, "fmas_http_request_duration_seconds_bucket")
    counts = metric(samples, "fmas_http_request_duration_seconds_count")
    sums = metric(samples, "fmas_http_request_duration_seconds_sum")
    assert buckets and counts and sums
    series = {}
    for labels, v in buckets:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        series.setdefault(rest, []).append((float(labels["le"]), v))
    for labels, total in counts:
        rest = tuple(sorted(labels.items()))
        assert rest in series, f"_count without buckets: {labels}"
        bs = sorted(series[rest])
        assert bs[-1][0] == math.inf, f"no +Inf bucket for {labels}"
        assert all(a[1] <= b[1] for a, b in zip(bs, bs[1:])), f"buckets not cumulative: {bs}"
        assert bs[-1][1] == total
        assert any(dict(lbl) == dict(rest) for lbl, _ in sums) or \
            any(lbl == dict(rest) for lbl, _ in sums)
    assert len(counts) == len(series)

    entries = metric(samples, "fmas_lut_entries", device="m1")
    assert len(entries) == 1 and entries[0][1] == len(ROWS)
    for labels, _ in metric(samples, "fmas_lut_entries"):
        assert set(labels) == {"device"}

    # Counters count: three health checks add exactly three.
    def health_count(s):
        return sum(v for _, v in metric(s, "fmas_http_requests_total", method="GET",
                                        status="200",
                                        route=lambda r: r is not None and "health" in r))
    before = health_count(samples)
    for _ in range(3):
        server.health()
    _, samples2 = scrape(server)
    assert health_count(samples2) - before == 3
    metrics_route = lambda r: r is not None and "metrics" in r  # noqa: E731
    a = sum(v for _, v in metric(samples, "fmas_http_requests_total", route=metrics_route))
    b = sum(v for _, v in metric(samples2, "fmas_http_requests_total", route=metrics_route))
    assert b > a


# ----------------------------------------------------------------- devices

def test_device_create_update_get_list_delete(server):
    body = {"unit": "cycles", "clock_mhz": 175.0, "kind": "mcu",
            "description": "GreenWaves GAP8, 8 cores", "measured": True}
    created = server.put("/v1/devices/gap8", body, expect=201).json
    for k, v in body.items():
        assert created[k] == v
    assert created["name"] == "gap8"
    assert created["entries"] == 0 and created["lut_version"] == 0
    assert HEX32.match(created["lut_hash"])
    assert server.device("gap8") == created

    up = server.upload("gap8", ROWS).json
    assert up["entries"] == len(ROWS) and up["lut_version"] == 1
    before = server.device("gap8")
    assert before["lut_hash"] == up["lut_hash"] != created["lut_hash"]

    # Update (200): own fields change, the table stays.
    body2 = {"name": "gap8", "unit": "cycles", "clock_mhz": 250.0, "kind": "mcu-v2",
             "description": "overclocked", "measured": False}
    updated = server.put("/v1/devices/gap8", body2, expect=200).json
    for k, v in body2.items():
        assert updated[k] == v
    for k in ("entries", "lut_version", "lut_hash"):
        assert updated[k] == before[k], k
    assert server.device("gap8") == updated
    rows, _ = server.lut_all("gap8")
    assert len(rows) == len(ROWS)

    # Unit change keeps the table too.
    # PUT replaces the device's own fields: what is left out takes its default.
    updated = server.put("/v1/devices/gap8", {"unit": "us"}, expect=200).json
    assert updated["unit"] == "us" and updated.get("clock_mhz") is None
    assert (updated["kind"], updated["description"], updated["measured"]) == ("", "", False)
    assert (updated["entries"], updated["lut_hash"]) == (before["entries"], before["lut_hash"])


def test_device_defaults(server):
    d = server.put("/v1/devices/cpu-x86", {"unit": "us"}, expect=201).json
    assert d["name"] == "cpu-x86" and d["unit"] == "us"
    assert d["kind"] == "" and d["description"] == "" and d["measured"] is False
    assert d.get("clock_mhz") is None
    d = server.put("/v1/devices/gpu.a100", {"unit": "us", "clock_mhz": None,
                                            "name": "gpu.a100"}, expect=201).json
    assert d.get("clock_mhz") is None
    d = server.put("/v1/devices/edge", {"unit": "us", "clock_mhz": 1000.5}, expect=201).json
    assert d["clock_mhz"] == 1000.5
    long = {"unit": "us", "kind": "k" * 64, "description": "d" * 1024}
    d = server.put("/v1/devices/" + "x" * 64, long, expect=201).json
    assert d["kind"] == long["kind"] and d["description"] == long["description"]
    uni = {"unit": "us", "description": "Jetson — ünïcode ✓"}
    assert server.put("/v1/devices/uni", uni, expect=201).json["description"] == uni["description"]


def test_device_list_sorted_and_delete(server):
    assert server.devices() == []
    names = ["b", "a.x", "a-x", "c_1", "0dev", "a"]
    for n in names:
        server.put_device(n, unit="us", expect=201)
    listed = server.devices()
    assert [d["name"] for d in listed] == sorted(names)
    for d in listed:
        assert d == server.device(d["name"])

    server.upload("b", ROWS[:3])
    empty_hash = server.device("a")["lut_hash"]
    assert server.device("0dev")["lut_hash"] == empty_hash  # same (no) rows, same hash
    r = server.delete("/v1/devices/b", expect=204)
    assert r.body == b""
    server.get("/v1/devices/b", expect=404)
    server.get("/v1/devices/b/lut", expect=404)
    server.delete("/v1/devices/b", expect=404)
    server.upload("b", ROWS[:1], expect=404)
    assert [d["name"] for d in server.devices()] == sorted(set(names) - {"b"})
    # Recreated, the device starts with an empty table.
    d = server.put_device("b", unit="us", expect=201)
    assert (d["entries"], d["lut_version"], d["lut_hash"]) == (0, 0, empty_hash)
    assert server.lut_page("b")["entries"] == []


# -------------------------------------------------------------- LUT upload

def test_upload_answer(server):
    server.put_device("d", unit="us")
    r = server.upload("d", ROWS).json
    assert r["device"] == "d" and r["mode"] == "replace"
    assert r["accepted"] == len(ROWS) and r["entries"] == len(ROWS)
    assert r["lut_version"] == 1
    dev = server.device("d")
    assert (dev["entries"], dev["lut_version"], dev["lut_hash"]) == \
        (r["entries"], r["lut_version"], r["lut_hash"])
    r2 = server.upload("d", ROWS[:2], mode="replace").json
    assert r2["lut_version"] == 2 and r2["entries"] == len(ROWS) and r2["accepted"] == 2
    # Same rows again: a new version, the same hash.
    assert r2["lut_hash"] == r["lut_hash"]


def test_same_rows_in_json_ndjson_csv_give_one_hash(server):
    for n in ("j", "n", "c", "c2", "rev"):
        server.put_device(n, unit="us")
    rj = server.upload("j", ROWS, headers={"Content-Type": "application/json; charset=utf-8"}).json
    rn = server.request("POST", "/v1/devices/n/lut",
                        body=rows_to_ndjson(ROWS, blank_lines=True),
                        headers={"Content-Type": "application/x-ndjson"}, expect=200).json
    rc = server.request("POST", "/v1/devices/c/lut",
                        body=rows_to_csv(ROWS, crlf=True, bom=True),
                        headers={"Content-Type": "text/csv"}, expect=200).json
    # Columns in another order, only the ones used, plain LF, no BOM.
    cols = ["latency_mean", "dtype", "w", "h", "cout", "cin", "op", "k", "stride", "pad",
            "groups", "dilation", "out_w", "out_h", "bias", "bn", "count", "latency_std", "macs"]
    rc2 = server.request("POST", "/v1/devices/c2/lut",
                         body=rows_to_csv(ROWS, columns=cols),
                         headers={"Content-Type": "text/csv; charset=utf-8"}, expect=200).json
    rr = server.upload("rev", list(reversed(ROWS))).json
    for r in (rj, rn, rc, rc2, rr):
        assert r["accepted"] == len(ROWS) and r["entries"] == len(ROWS)
    assert rj["lut_hash"] == rn["lut_hash"] == rc["lut_hash"] == rc2["lut_hash"] == rr["lut_hash"]
    pages = [server.lut_page(n)["entries"] for n in ("j", "n", "c", "c2", "rev")]
    assert all(p == pages[0] for p in pages)

    # Different content, different hash.
    server.put_device("other", unit="us")
    changed = [dict(e) for e in ROWS]
    changed[0] = entry("conv2d", 812.75, std=3.1, count=20, macs=57802752,
                       cin=32, cout=64, k=3, h=56, w=56)
    assert server.upload("other", changed).json["lut_hash"] != rj["lut_hash"]


def test_listing_shows_canonical_keys_and_costs(server):
    server.put_device("d", unit="us")
    server.upload("d", ROWS)
    rows, _ = server.lut_all("d")
    assert len(rows) == len(ROWS)
    by = {}
    for e in rows:
        by.setdefault(e["key"]["op"], []).append(e)

    c = [e for e in by["conv2d"] if e["key"]["cin"] == 32 and e["key"]["cout"] == 64][0]
    canon_subset(c["key"], op="conv2d", cin=32, cout=64, k=3, stride=1, dilation=1, groups=1,
                 h=56, w=56, pad=1, bias=False, bn=False, dtype="fp32")
    assert unused_size(c["key"].get("out_h")) and unused_size(c["key"].get("out_w"))
    assert c["latency"] == {"mean": 812.5, "std": 3.1, "count": 20}
    assert c["macs"] == 57802752
    assert c["computed_macs"] == 64 * 32 * 9 * 56 * 56
    assert c["params"] == 64 * 32 * 9

    stem = [e for e in by["conv2d"] if e["key"]["cin"] == 3][0]
    canon_subset(stem["key"], k=3, stride=2, pad=0, h=513, w=513, bias=True, bn=True)
    assert stem["latency"] == {"mean": 120.25, "std": 0, "count": 1}
    assert "macs" not in stem
    assert stem["computed_macs"] == 32 * 3 * 9 * 256 * 256
    assert stem["params"] == 32 * 3 * 9 + 32 + 2 * 32

    dw = [e for e in by["conv2d"] if e["key"]["groups"] == 32][0]
    canon_subset(dw["key"], dtype="int8", pad=1)
    assert dw["computed_macs"] == 32 * 1 * 9 * 256 * 256 and dw["params"] == 32 * 9

    dil = [e for e in by["conv2d"] if e["key"]["dilation"] == 2][0]
    canon_subset(dil["key"], pad=2)  # dilation*(k-1)/2
    assert dil["computed_macs"] == 16 * 16 * 9 * 64 * 64

    lin = by["linear"][0]
    canon_subset(lin["key"], cin=256, cout=21, h=4, w=4, bias=True)
    assert lin["computed_macs"] == 256 * 21 * 4 * 4 and lin["params"] == 256 * 21 + 21

    up = by["upsample"][0]
    canon_subset(up["key"], cin=21, h=64, w=64, out_h=513, out_w=513)
    assert up["computed_macs"] == 0 and up["params"] == 0
    assert by["relu"][0]["computed_macs"] == 0 and by["avgpool"][0]["params"] == 0
    canon_subset(by["avgpool"][0]["key"], k=2, stride=2)
    canon_subset(by["softmax"][0]["key"], cin=21)


def test_replace_and_merge(server):
    key = {"cin": 8, "cout": 8, "k": 3, "h": 16, "w": 16}
    a = entry("conv2d", 10.0, std=0, count=1, **key)
    b = entry("conv2d", 20.0, std=0, count=1, **key)
    for n in ("rep", "mrg", "mrg2", "rep2"):
        server.put_device(n, unit="us")

    # Within one batch.
    r = server.upload("rep", [a, b]).json
    assert (r["accepted"], r["entries"], r["mode"]) == (2, 1, "replace")
    assert server.lut_page("rep")["entries"][0]["latency"] == {"mean": 20.0, "std": 0, "count": 1}
    r = server.upload("mrg", [a, b], mode="merge").json
    assert (r["accepted"], r["entries"], r["mode"]) == (2, 1, "merge")
    lat = server.lut_page("mrg")["entries"][0]["latency"]
    assert lat["mean"] == pytest.approx(15.0)
    assert lat["std"] == pytest.approx(7.0710678, abs=1e-6)
    assert lat["count"] == 2

    # With the stored row.
    server.upload("mrg2", [a])
    r = server.upload("mrg2", [b], mode="merge").json
    assert r["entries"] == 1 and r["lut_version"] == 2
    lat = server.lut_page("mrg2")["entries"][0]["latency"]
    assert (lat["mean"], lat["count"]) == (pytest.approx(15.0), 2)
    assert lat["std"] == pytest.approx(7.0710678, abs=1e-6)
    # Merged by either path, the rows are the same: the same hash.
    assert r["lut_hash"] == server.device("mrg")["lut_hash"]
    server.upload("rep2", [a])
    r = server.upload("rep2", [b], mode="replace").json
    assert server.lut_page("rep2")["entries"][0]["latency"]["mean"] == 20.0
    assert r["lut_hash"] == server.device("rep")["lut_hash"]

    # Pooled variance with counts: n=5 mean 10 std 2 + n=3 mean 20 std 3.
    c = entry("conv2d", 10.0, std=2.0, count=5, **key)
    d = entry("conv2d", 20.0, std=3.0, count=3, **key)
    server.put_device("pool", unit="us")
    server.upload("pool", [c, d], mode="merge")
    lat = server.lut_page("pool")["entries"][0]["latency"]
    mean = (5 * 10 + 3 * 20) / 8
    ss = 4 * 2.0 ** 2 + 2 * 3.0 ** 2 + 5 * (10 - mean) ** 2 + 3 * (20 - mean) ** 2
    assert lat["count"] == 8
    assert lat["mean"] == pytest.approx(mean)
    assert lat["std"] == pytest.approx(math.sqrt(ss / 7), rel=1e-9)

    # Merge of a new key is just the row; other keys are untouched.
    other = entry("relu", 3.0, cin=8, h=16, w=16)
    r = server.upload("pool", [other], mode="merge").json
    assert r["entries"] == 2
    rows = {e["key"]["op"]: e for e in server.lut_page("pool")["entries"]}
    assert rows["relu"]["latency"] == {"mean": 3.0, "std": 0, "count": 1}
    assert rows["conv2d"]["latency"]["count"] == 8


def test_default_mode_is_replace_and_csv_merge(server):
    key = {"cin": 4, "cout": 4, "h": 4, "w": 4}
    server.put_device("d", unit="us")
    server.upload("d", [entry("conv2d", 10.0, **key)])
    server.upload("d", [entry("conv2d", 30.0, **key)], fmt="csv", mode="merge")
    lat = server.lut_page("d")["entries"][0]["latency"]
    assert (lat["mean"], lat["count"]) == (pytest.approx(20.0), 2)
    r = server.upload("d", [entry("conv2d", 5.0, **key)], fmt="ndjson").json
    assert r["mode"] == "replace"
    assert server.lut_page("d")["entries"][0]["latency"] == {"mean": 5.0, "std": 0, "count": 1}


# ---------------------------------------------------------------- listing

def many_rows():
    rows = [conv(c, 2 * c, 8, mean=float(c)) for c in range(1, 31)]
    rows += [entry("linear", 100.0 + c, cin=c, cout=10) for c in range(1, 16)]
    rows += [entry("relu", 200.0 + c, cin=c, h=2, w=2) for c in range(1, 13)]
    return rows


def test_listing_paging_covers_every_row_once(server):
    server.put_device("d", unit="us")
    rows = many_rows()
    up = server.upload("d", rows).json
    assert up["entries"] == 57

    first = server.lut_page("d")
    assert first["device"] == "d" and first["next_cursor"] is None
    assert (first["lut_version"], first["lut_hash"]) == (up["lut_version"], up["lut_hash"])
    everything = first["entries"]
    assert len(everything) == 57
    ids = [key_id(e["key"]) for e in everything]
    assert len(set(ids)) == 57

    for limit in (1, 7, 10, 56, 57, 58, 10000):
        got, pages = server.lut_all("d", limit=limit)
        assert [key_id(e["key"]) for e in got] == ids, f"limit {limit}"
        # A last page that is exactly full may be followed by an empty one.
        assert len(pages) == math.ceil(57 / limit) or \
            (57 % limit == 0 and len(pages) == 57 // limit + 1 and pages[-1]["entries"] == [])
        for p in pages:
            assert len(p["entries"]) <= limit
            assert (p["lut_version"], p["lut_hash"]) == (up["lut_version"], up["lut_hash"])
        for p in pages[:-1]:
            assert len(p["entries"]) == limit and isinstance(p["next_cursor"], str)
        assert pages[-1]["next_cursor"] is None

    for op, n in (("conv2d", 30), ("linear", 15), ("relu", 12), ("maxpool", 0)):
        got, _ = server.lut_all("d", op=op)
        assert len(got) == n and all(e["key"]["op"] == op for e in got)
        paged, _ = server.lut_all("d", op=op, limit=7)
        assert [key_id(e["key"]) for e in paged] == [key_id(e["key"]) for e in got]
    # Each conv row kept its own latency.
    for e in server.lut_all("d", op="conv2d")[0]:
        assert e["latency"]["mean"] == float(e["key"]["cin"])
        assert e["key"]["cout"] == 2 * e["key"]["cin"]


def test_listing_of_empty_table(server):
    d = server.put_device("d", unit="us")
    p = server.lut_page("d")
    assert p["entries"] == [] and p["next_cursor"] is None
    assert (p["lut_version"], p["lut_hash"]) == (0, d["lut_hash"])
    r = server.get("/v1/devices/d/lut", headers={"Accept": "text/csv"}, expect=200)
    header, body = parse_csv(r.body)
    assert set(fmasapi.CSV_COLUMNS) <= set(header) and body == []


@pytest.fixture
def exported(server):
    server.put_device("src", unit="cycles", clock_mhz=100.0)
    up = server.upload("src", ROWS + many_rows()).json
    return server, up


def test_csv_export_reuploads_to_the_same_hash(exported):
    server, up = exported
    server.put_device("dst", unit="us")
    r = server.get("/v1/devices/src/lut", headers={"Accept": "text/csv"}, expect=200)
    assert r.media_type == "text/csv", r
    assert r.header("X-Lut-Version") == str(up["lut_version"])
    assert r.header("X-Next-Cursor") is None
    header, body = parse_csv(r.body)
    assert set(header) == set(fmasapi.CSV_COLUMNS), header
    assert len(body) == up["entries"]
    r2 = server.request("POST", "/v1/devices/dst/lut", body=r.body,
                        headers={"Content-Type": "text/csv"}, expect=200).json
    assert (r2["entries"], r2["lut_hash"]) == (up["entries"], up["lut_hash"])


def test_csv_export_paging(exported):
    server, up = exported
    _, body = parse_csv(server.get("/v1/devices/src/lut", headers={"Accept": "text/csv"},
                                   expect=200).body)
    seen, cursor, pages, header = [], None, 0, None
    while True:
        q = "?limit=10" + (f"&cursor={fmasapi.urlquote(cursor)}" if cursor else "")
        r = server.get("/v1/devices/src/lut" + q, headers={"Accept": "text/csv"}, expect=200)
        assert r.header("X-Lut-Version") == str(up["lut_version"])
        h, b = parse_csv(r.body)
        assert header is None or h == header
        header = h
        assert len(b) <= 10
        seen.extend(tuple(sorted(x.items())) for x in b)
        pages += 1
        cursor = r.header("X-Next-Cursor")
        if not cursor:
            break
        assert len(b) == 10 and pages < 100
    assert pages >= up["entries"] // 10
    assert len(seen) == len(set(seen)) == up["entries"]
    assert sorted(seen) == sorted(tuple(sorted(x.items())) for x in body)


def test_json_listing_reuploads_to_the_same_hash(exported):
    # Listed entries carry computed_macs and params, which uploads accept and ignore.
    server, up = exported
    server.put_device("dst2", unit="us")
    listed, _ = server.lut_all("src")
    r = server.upload("dst2", listed).json
    assert (r["entries"], r["lut_hash"]) == (up["entries"], up["lut_hash"])


def test_keep_alive_connection_survives_errors(server):
    """Clients (libcurl) reuse connections: answers, errors included, must
    leave the connection usable."""
    import http.client
    import json as _json
    server.put_device("ka", unit="us")
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        seq = [
            ("GET", "/v1/health", None, {}, 200),
            ("POST", "/v1/devices/ka/lut", b"[]", {"Content-Type": "application/json"}, 422),
            ("GET", "/v1/devices/nope", None, {}, 404),
            ("POST", "/v1/devices/ka/lut", b"[{", {"Content-Type": "application/json"}, 400),
            ("POST", "/v1/devices/ka/lut", _json.dumps(ROWS).encode(),
             {"Content-Type": "application/json"}, 200),
            ("GET", "/v1/devices/ka", None, {}, 200),
        ]
        for method, path, body, headers, status in seq:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            assert r.status == status, (method, path, r.status, data[:300])
            assert r.getheader("Connection", "").lower() != "close", (method, path)
            resp = fmasapi.Response(method, path, r.status, r.reason, r.headers, data)
            server._check(resp, status, "auto")
    finally:
        conn.close()


def test_estimate_many_networks_at_once(server):
    server.put_device("big", unit="us")
    server.upload("big", [conv(c, c, 8, mean=float(c)) for c in range(1, 11)])
    nets = [{"name": f"n{i}", "layers": [{"op": "conv2d", "cin": 1 + (i + j) % 12, "cout": 1 + (i + j) % 12,
                                          "h": 8, "w": 8} for j in range(10)]}
            for i in range(2000)]
    est = server.estimate({"devices": ["big"], "networks": nets}, strict=True)
    assert len(est["results"]) == 2000
    for i, r in enumerate(est["results"]):
        cins = [1 + (i + j) % 12 for j in range(10)]
        lat = r["latency"]["big"]
        assert lat["total"] == sum(float(c) for c in cins if c <= 10)
        assert lat["missing"] == sum(1 for c in cins if c > 10)
        assert r["macs"] == sum(c * c * 64 for c in cins)


def test_equivalent_keys_are_one_row(server):
    server.put_device("d", unit="us")
    plain = entry("conv2d", 1.0, cin=16, cout=16, k=3, h=8, w=8)
    spelled = {"latency": {"count": 1, "std": 0, "mean": 2.0},
               "key": {"w": 8, "h": 8, "pad": 1, "dilation": 1, "stride": 1, "groups": 1,
                       "k": 3, "cout": 16, "cin": 16, "dtype": "fp32", "bias": False,
                       "bn": False, "op": "conv2d", "name": "block1.conv"}}
    relu = entry("relu", 3.0, cin=8, h=4, w=4)
    relu_unused = entry("relu", 4.0, cin=8, h=4, w=4, k=3, stride=2, dilation=2,
                        out_h=9, out_w=9, name="act")
    up_plain = entry("upsample", 5.0, cin=4, h=8, w=8, out_h=16, out_w=16)
    up_k = entry("upsample", 6.0, cin=4, h=8, w=8, out_h=16, out_w=16, k=5, groups=1)
    r = server.upload("d", [plain, spelled, relu, relu_unused, up_plain, up_k]).json
    assert (r["accepted"], r["entries"]) == (6, 3)
    means = sorted(e["latency"]["mean"] for e in server.lut_page("d")["entries"])
    assert means == [2.0, 4.0, 6.0]  # replace: the later row of each key wins

    # And the same key reached by spelled-out attributes in an estimate.
    est = server.estimate({"devices": ["d"], "networks": [
        {"name": "n", "layers": [spelled["key"], plain["key"], relu_unused["key"]]}]})
    lat = est["results"][0]["latency"]["d"]
    assert (lat["hits"], lat["missing"], lat["total"]) == (3, 0, 2.0 + 2.0 + 4.0)


# ---------------------------------------------------------------- estimate

L1 = {"op": "conv2d", "cin": 3, "cout": 16, "k": 3, "h": 32, "w": 32}
L2 = {"op": "conv2d", "cin": 16, "cout": 16, "k": 3, "h": 32, "w": 32}
L3 = {"op": "relu", "cin": 16, "h": 32, "w": 32}
L4 = {"op": "conv2d", "cin": 16, "cout": 32, "h": 32, "w": 32}


def _lut(key, mean):
    return {"key": key, "latency": {"mean": mean}}


@pytest.fixture
def two_devices(server):
    server.put_device("gap8", unit="cycles", clock_mhz=175.0, kind="mcu")
    server.put_device("cpu", unit="us")
    server.upload("gap8", [_lut(L1, 1000.0), _lut(L2, 2500.0), _lut(L3, 300.0)])
    server.upload("cpu", [_lut(L1, 12.5), _lut(L2, 30.25)])
    server.upload("cpu", [_lut(L2, 30.25)])  # cpu is at version 2
    return server


def test_estimate_sums_hits_missing_units(two_devices):
    server = two_devices
    body = {"devices": ["gap8", "cpu"], "networks": [
        {"name": "net-a", "layers": [L1, L2, L1, L3, L4, L4]},
        {"name": "net-b", "layers": [L1, L2]}]}
    est = server.estimate(body)
    assert est["lut_versions"] == {"gap8": 1, "cpu": 2}
    assert [r["name"] for r in est["results"]] == ["net-a", "net-b"]
    assert all("layers" not in r for r in est["results"])
    a, b = est["results"]

    g = a["latency"]["gap8"]
    assert set(a["latency"]) == {"gap8", "cpu"}
    assert g["unit"] == "cycles" and g["layers"] == 6
    assert g["total"] == 1000.0 + 2500.0 + 1000.0 + 300.0
    assert (g["hits"], g["missing"], g["complete"]) == (4, 2, False)
    assert len(g["missing_keys"]) == 1
    canon_subset(g["missing_keys"][0], op="conv2d", cin=16, cout=32, k=1, stride=1, pad=0,
                 groups=1, dilation=1, h=32, w=32, bias=False, bn=False, dtype="fp32")
    assert g["ms"] == pytest.approx(4800.0 / (175.0 * 1000.0), rel=1e-9)

    c = a["latency"]["cpu"]
    assert c["unit"] == "us" and c["layers"] == 6
    assert c["total"] == 12.5 + 30.25 + 12.5
    assert (c["hits"], c["missing"], c["complete"]) == (3, 3, False)
    assert [k["op"] for k in c["missing_keys"]] == ["relu", "conv2d"]  # first seen first
    assert c["ms"] == pytest.approx(55.25 / 1000.0, rel=1e-9)

    for dev, total in (("gap8", 3500.0), ("cpu", 42.75)):
        x = b["latency"][dev]
        assert (x["total"], x["hits"], x["missing"], x["complete"], x["missing_keys"]) == \
            (total, 2, 0, True, [])

    # Costs do not depend on the devices.
    assert a["macs"] == 2 * (16 * 3 * 9 * 32 * 32) + 16 * 16 * 9 * 32 * 32 + 2 * (32 * 16 * 32 * 32)
    assert a["flops"] == 2 * a["macs"]
    assert a["params"] == 2 * (16 * 3 * 9) + 16 * 16 * 9 + 2 * (32 * 16)


def test_estimate_detail_layers(two_devices):
    server = two_devices
    layers = [dict(L1, name="stem"), L4, dict(L3, name="act")]
    est = server.estimate({"devices": ["gap8", "cpu"],
                           "networks": [{"name": "n", "layers": layers}]}, detail="layers")
    res = est["results"][0]
    det = res["layers"]
    assert [x["index"] for x in det] == [0, 1, 2]
    assert det[0]["name"] == "stem" and "name" not in det[1] and det[2]["name"] == "act"
    canon_subset(det[0]["key"], op="conv2d", cin=3, cout=16, k=3, pad=1, h=32, w=32)
    assert "name" not in det[0]["key"]
    assert det[0]["out"] == [16, 32, 32] and det[1]["out"] == [32, 32, 32]
    assert det[2]["out"] == [16, 32, 32]
    assert det[0]["macs"] == 16 * 3 * 9 * 32 * 32 and det[0]["params"] == 16 * 3 * 9
    assert det[1]["macs"] == 32 * 16 * 32 * 32 and det[2]["macs"] == 0 and det[2]["params"] == 0
    assert det[0]["latency"] == {"gap8": 1000.0, "cpu": 12.5}
    assert det[1]["latency"] == {"gap8": None, "cpu": None}
    assert det[2]["latency"] == {"gap8": 300.0, "cpu": None}
    assert res["macs"] == sum(x["macs"] for x in det)
    assert res["params"] == sum(x["params"] for x in det)
    assert res["latency"]["gap8"]["total"] == 1300.0


def test_estimate_missing_keys_capped_at_20_distinct(server):
    server.put_device("e", unit="us")
    layers = []
    for c in range(1, 26):
        k = {"op": "conv2d", "cin": c, "cout": c, "h": 4, "w": 4}
        layers += [k, k]
    est = server.estimate({"devices": ["e"], "networks": [{"name": "n", "layers": layers}]})
    assert est["lut_versions"] == {"e": 0}
    lat = est["results"][0]["latency"]["e"]
    assert (lat["total"], lat["hits"], lat["missing"], lat["layers"], lat["complete"]) == \
        (0, 0, 50, 50, False)
    assert [k["cin"] for k in lat["missing_keys"]] == list(range(1, 21))


def test_estimate_repeated_layers_and_clock(server):
    server.put_device("slow", unit="cycles", clock_mhz=50.5)
    server.upload("slow", [_lut(L2, 1234.5)])
    est = server.estimate({"devices": ["slow"], "networks": [{"name": "r", "layers": [L2] * 7}]})
    lat = est["results"][0]["latency"]["slow"]
    assert (lat["hits"], lat["missing"], lat["layers"]) == (7, 0, 7)
    assert lat["total"] == pytest.approx(7 * 1234.5)
    assert lat["ms"] == pytest.approx(7 * 1234.5 / (50.5 * 1000), rel=1e-9)
    assert est["results"][0]["macs"] == 7 * 16 * 16 * 9 * 32 * 32


def test_estimate_keys_of_every_shape(server):
    """Long op names, unusual dtypes and open ops are found like any other
    key (the service indexes compact keys where they fit, full keys
    elsewhere); a key that differs in one attribute is still missing."""
    server.put_device("mix", unit="us")
    keys = [
        {"op": "conv2d", "cin": 8, "cout": 8, "k": 3, "h": 9, "w": 9},
        {"op": "conv2d", "cin": 8, "cout": 8, "k": 3, "h": 9, "w": 9, "dtype": "int8"},
        {"op": "conv2d", "cin": 8, "cout": 8, "k": 3, "h": 9, "w": 9, "dtype": "q4_k"},
        {"op": "zz_unknown_op1", "cin": 3},                 # 14 characters
        {"op": "a_very_long_custom_operator_nm", "cin": 3},  # 30 characters
        {"op": "hardswish", "cin": 64, "h": 7, "w": 7, "dtype": "bf16"},
    ]
    server.upload("mix", [_lut(k, float(10 ** i)) for i, k in enumerate(keys)])
    layers = keys + [dict(keys[2], dtype="q4_0"), dict(keys[4], cin=4), dict(keys[3], cin=4)]
    est = server.estimate({"devices": ["mix"], "networks": [{"name": "n", "layers": layers}]})
    lat = est["results"][0]["latency"]["mix"]
    assert (lat["hits"], lat["missing"], lat["complete"]) == (6, 3, False)
    assert lat["total"] == pytest.approx(111111.0)
    assert [k["op"] for k in lat["missing_keys"]] == ["conv2d", "a_very_long_custom_operator_nm",
                                                       "zz_unknown_op1"]


def test_estimate_costs_of_a_small_network(server):
    net = [
        # 513 -> floor((513 + 0 - 2 - 1)/2) + 1 = 256
        {"op": "conv2d", "cin": 3, "cout": 32, "k": 3, "stride": 2, "pad": 0,
         "h": 513, "w": 513, "bn": True, "name": "stem"},
        # depthwise, "same" padding: 256 -> 256
        {"op": "conv2d", "cin": 32, "cout": 32, "k": 3, "groups": 32, "h": 256, "w": 256,
         "bias": True, "name": "dw"},
        # pointwise, stride 2 with k 1, pad 0: 256 -> 128
        {"op": "conv2d", "cin": 32, "cout": 64, "k": 1, "stride": 2, "h": 256, "w": 256},
        {"op": "global_avgpool", "cin": 64, "h": 128, "w": 128},
        {"op": "linear", "cin": 64, "cout": 21, "bias": True, "h": 1, "w": 1, "name": "fc"},
        {"op": "upsample", "cin": 21, "h": 64, "w": 64, "out_h": 513, "out_w": 513},
    ]
    macs = [32 * 3 * 9 * 256 * 256, 32 * 1 * 9 * 256 * 256, 64 * 32 * 128 * 128, 0,
            64 * 21, 0]
    params = [32 * 3 * 9 + 2 * 32, 32 * 9 + 32, 64 * 32, 0, 64 * 21 + 21, 0]
    assert macs[0] == 56623104
    est = server.estimate({"devices": [], "networks": [{"name": "tiny", "layers": net}]},
                          detail="layers")
    assert est["lut_versions"] == {}
    res = est["results"][0]
    assert res["name"] == "tiny" and res["latency"] == {}
    assert res["macs"] == sum(macs)
    assert res["params"] == sum(params)
    assert res["flops"] == 2 * sum(macs)
    det = res["layers"]
    assert [x["macs"] for x in det] == macs
    assert [x["params"] for x in det] == params
    assert det[0]["out"] == [32, 256, 256]
    assert det[1]["out"] == [32, 256, 256]
    assert det[2]["out"] == [64, 128, 128]
    assert det[4]["out"][0] == 21
    assert det[5]["out"] == [21, 513, 513]
    assert all(x["latency"] == {} for x in det)
    # Without detail, the same numbers.
    plain = server.estimate({"devices": [], "networks": [{"name": "tiny", "layers": net}]})
    r = plain["results"][0]
    assert (r["macs"], r["params"], r["flops"]) == (res["macs"], res["params"], res["flops"])
    assert "layers" not in r


def test_estimate_many_networks_keep_order(server):
    nets = [{"name": f"n{i}", "layers": [{"op": "conv2d", "cin": i, "cout": i, "h": 2, "w": 2}]}
            for i in range(1, 51)]
    est = server.estimate({"devices": [], "networks": nets})
    assert [r["name"] for r in est["results"]] == [n["name"] for n in nets]
    assert [r["macs"] for r in est["results"]] == [i * i * 4 for i in range(1, 51)]


# ----------------------------------------------------------------- bundled

def test_bundled_tables(bundled_server):
    devs = bundled_server.devices()
    for d in devs:
        assert bundled_server.device(d["name"]) == d
        page = bundled_server.lut_page(d["name"], "?limit=5")
        assert (page["lut_version"], page["lut_hash"]) == (d["lut_version"], d["lut_hash"])
        assert len(page["entries"]) == min(5, d["entries"])
    if devs:
        est = bundled_server.estimate({"devices": [d["name"] for d in devs], "networks": [
            {"name": "n", "layers": [L1, L2, L3]}]})
        assert set(est["lut_versions"]) == {d["name"] for d in devs}


def test_no_bundled_means_empty(server):
    assert server.devices() == []
