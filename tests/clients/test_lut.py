"""fmas-lut end to end against the real fmasd: uploads of CSV, NDJSON and
JSON files (format from the content, streamed), rejected rows reported with
their file line numbers, export round trips, devices, coverage, estimate,
merge mode, and failures named clearly."""

import json
import random
import subprocess
import sys

import pytest

import clientlib as cl
import fmasapi


def lut(port, *args, check=True):
    return cl.run([str(cl.FMAS_LUT), "--server", f"http://127.0.0.1:{port}", *map(str, args)], check=check)


def rows(n, seed=1):
    """n distinct conv rows (distinct keys) with varied latencies."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(fmasapi.conv(1 + i % 97, 1 + i // 97 % 89, 1 + i // (97 * 89) % 300, mean=rng.uniform(1, 1e4),
                                std=round(rng.uniform(0, 3), 3), count=rng.randint(1, 20), bn=i % 2 == 0))
    return out


def write(path, data):
    path.write_bytes(data)
    return path


def device_hash(client, name):
    d = client.device(name)
    return d["lut_hash"], d["entries"]


# ------------------------------------------------------------- uploads

def test_upload_formats_detected_same_table(fmasd, tmp_path):
    c = fmasd.client
    data = rows(20000)
    files = {
        "rows.csv": fmasapi.rows_to_csv(data),
        "crlf-bom.csv": fmasapi.rows_to_csv(data, crlf=True, bom=True),
        "rows.ndjson": fmasapi.rows_to_ndjson(data, blank_lines=True),
        "rows.json": json.dumps(data, indent=1).encode(),
        "compact.txt": b"\n  " + json.dumps(data).encode(),   # the name says nothing; the bytes do
    }
    hashes = set()
    for i, (name, body) in enumerate(files.items()):
        dev = f"dev{i}"
        c.put_device(dev, unit="us")
        p = lut(fmasd.port, "upload", "--device", dev, write(tmp_path / name, body))
        fmt = {"csv": "csv", "ndjson": "ndjson", "json": "json", "txt": "json"}[name.rsplit(".", 1)[1]]
        assert f"{name}: 20000 rows accepted ({fmt}, replace)".encode() in p.stdout, p.stdout
        h, entries = device_hash(c, dev)
        assert entries == 20000
        hashes.add(h)
    assert len(hashes) == 1, "the same rows in any format make the same table"


def test_upload_is_streamed(fmasd, tmp_path):
    """A 40 MB file goes up without fmas-lut holding it: its peak memory
    grows by far less than the file's size."""
    c = fmasd.client
    c.put_device("big", unit="us")
    data = rows(300000, seed=2)
    body = fmasapi.rows_to_csv(data)
    body += body[body.index(b"\n") + 1:]   # the same rows again: 600000 lines, one table
    big = write(tmp_path / "big.csv", body)
    assert big.stat().st_size > 30e6

    def peak_kib(*args):
        probe = ("import resource, subprocess, sys\n"
                 "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
        out = subprocess.run([sys.executable, "-c", probe, str(cl.FMAS_LUT), "--server",
                              f"http://127.0.0.1:{fmasd.port}", *args], capture_output=True, check=True)
        return int(out.stdout)

    base = peak_kib("devices")
    peak = peak_kib("upload", "--device", "big", str(big))
    assert peak - base < big.stat().st_size / 1024 / 4, (base, peak)
    assert c.device("big")["entries"] == 300000


def test_rejected_rows_name_their_file_lines(fmasd, tmp_path):
    c = fmasd.client
    c.put_device("d", unit="us")
    good = [fmasapi.conv(8, 8, 16), fmasapi.conv(8, 16, 16), fmasapi.conv(16, 16, 8)]
    bad = fmasapi.conv(30, 64, 8, groups=4)     # groups must divide cin and cout
    # CSV with a BOM and CRLF: header is line 1, so row 2 is line 4.
    csv_body = fmasapi.rows_to_csv(good[:2] + [bad] + good[2:], crlf=True, bom=True)
    p = lut(fmasd.port, "upload", "--device", "d", write(tmp_path / "t.csv", csv_body), check=False)
    assert p.returncode == 1
    assert f"{tmp_path}/t.csv:4: row 2: groups: must divide".encode() in p.stderr, p.stderr
    assert b"rejected, nothing stored" in p.stderr
    # NDJSON with blank lines between rows: row 2 sits on line 5.
    nd = b"\n".join([json.dumps(good[0]).encode(), b"", json.dumps(good[1]).encode(), b"",
                     json.dumps(bad).encode(), b""])
    p = lut(fmasd.port, "upload", "--device", "d", write(tmp_path / "t.ndjson", nd), check=False)
    assert f"{tmp_path}/t.ndjson:5: row 2: groups:".encode() in p.stderr, p.stderr
    # A pretty-printed JSON array whose strings hold brackets, braces,
    # commas and escaped quotes: row 3 starts on the line of its "{".
    tricky = [dict(good[0], key=dict(good[0]["key"], name='a "[{,}]" name')),
              dict(good[1], key=dict(good[1]["key"], name="b\\\\ ] } [")), good[2], bad]
    text = json.dumps(tricky, indent=2)
    want = [i for i, l in enumerate(text.splitlines()) if l == "  {"][3] + 1
    p = lut(fmasd.port, "upload", "--device", "d", write(tmp_path / "t.json", text.encode()), check=False)
    assert f"{tmp_path}/t.json:{want}: row 3: groups:".encode() in p.stderr, p.stderr
    # A one-line JSON array: every row is on line 1.
    p = lut(fmasd.port, "upload", "--device", "d", write(tmp_path / "one.json", json.dumps(good + [bad]).encode()),
            check=False)
    assert f"{tmp_path}/one.json:1: row 3: groups:".encode() in p.stderr, p.stderr
    # A latency that is not a number, in CSV.
    p = lut(fmasd.port, "upload", "--device", "d",
            write(tmp_path / "lat.csv", b"op,cin,cout,h,w,latency_mean\nconv2d,3,8,8,8,1\nconv2d,3,8,8,8,-1\n"),
            check=False)
    assert f"{tmp_path}/lat.csv:3: row 1: latency_mean:".encode() in p.stderr, p.stderr
    # Malformed JSON: the service's detail, with the file named.
    p = lut(fmasd.port, "upload", "--device", "d", write(tmp_path / "broken.json", b"[{\"key\": "), check=False)
    assert p.returncode == 1 and f"{tmp_path}/broken.json: the fmas service".encode() in p.stderr
    assert b"400" in p.stderr
    # Nothing of all that landed.
    assert c.device("d")["entries"] == 0


def test_upload_several_files_and_failures(fmasd, tmp_path):
    c = fmasd.client
    c.put_device("d", unit="us")
    a = write(tmp_path / "a.csv", fmasapi.rows_to_csv(rows(10, seed=3)))
    empty = write(tmp_path / "empty.csv", b"\n \n")
    p = lut(fmasd.port, "upload", "--device", "d", a, empty, tmp_path / "missing.csv", check=False)
    assert p.returncode == 1
    assert b"a.csv: 10 rows accepted" in p.stdout
    assert b"empty.csv: empty: no rows to upload" in p.stderr
    assert b"missing.csv: No such file or directory" in p.stderr
    p = lut(fmasd.port, "upload", "--device", "nodev", a, check=False)
    assert p.returncode == 1 and b"404" in p.stderr and b"nodev" in p.stderr


def test_merge_mode(fmasd, tmp_path):
    c = fmasd.client
    c.put_device("m", unit="us")
    r = [fmasapi.conv(8, 8, 16, mean=10.0, count=1)]
    f1 = write(tmp_path / "r1.ndjson", fmasapi.rows_to_ndjson(r))
    f2 = write(tmp_path / "r2.json", json.dumps([fmasapi.conv(8, 8, 16, mean=20.0, count=3)]).encode())
    lut(fmasd.port, "upload", "--device", "m", f1)
    p = lut(fmasd.port, "upload", "--device", "m", "--mode", "merge", f2)
    assert b"(json, merge)" in p.stdout
    e = c.lut_all("m")[0][0]
    assert e["latency"]["count"] == 4 and e["latency"]["mean"] == pytest.approx(17.5)


# ------------------------------------------------------------- the rest

def test_export_round_trips(fmasd, tmp_path):
    c = fmasd.client
    c.put_device("src", unit="cycles", clock_mhz=175.0)
    src = write(tmp_path / "src.ndjson", fmasapi.rows_to_ndjson(rows(12345, seed=4)))
    lut(fmasd.port, "upload", "--device", "src", src)
    h, n = device_hash(c, "src")
    for fmt in ("csv", "json"):
        p = lut(fmasd.port, "export", "--device", "src", "--format", fmt)
        out = write(tmp_path / f"export.{fmt}", p.stdout)
        if fmt == "json":
            doc = json.loads(p.stdout)           # one array, all pages
            assert len(doc) == 12345
        c.put_device(f"copy-{fmt}", unit="cycles", clock_mhz=175.0)
        lut(fmasd.port, "upload", "--device", f"copy-{fmt}", out)
        assert device_hash(c, f"copy-{fmt}") == (h, n)
    p = lut(fmasd.port, "export", "--device", "src", "--op", "relu")
    assert p.stdout.splitlines()[0].startswith(b"op,cin,cout") and len(p.stdout.splitlines()) == 1
    p = lut(fmasd.port, "export", "--device", "nope", check=False)
    assert p.returncode == 1 and b"404" in p.stderr


def test_devices(bundled_fmasd, schemas):
    p = lut(bundled_fmasd.port, "devices")
    lines = p.stdout.decode().splitlines()
    assert lines[0].split()[:4] == ["name", "unit", "clock_mhz", "entries"]
    assert any(l.startswith("example-cpu ") for l in lines[1:])
    p = lut(bundled_fmasd.port, "devices", "--json")
    schemas.validate(json.loads(p.stdout), "device-list.json")


def test_coverage(bundled_fmasd, tmp_path):
    c = bundled_fmasd.client
    c.create_space({"id": "mbv2-96", "builder": "deeplabv3plus-mobilenetv2", "params": {"input_size": 96}})
    layers = c.space_layers("mbv2-96")["layers"]
    c.put_device("part", unit="us")
    half = [{"key": l["key"], "latency": {"mean": 1.0}} for l in layers[::2]]
    c.upload("part", half)
    p = lut(bundled_fmasd.port, "coverage", "--space", "mbv2-96", "--device", "part")
    n, k = len(layers), len(half)
    assert f"{k} of {n} distinct layers profiled".encode() in p.stdout, p.stdout
    assert len(p.stdout.splitlines()) == 1 + n - k
    j = json.loads(lut(bundled_fmasd.port, "coverage", "--space", "mbv2-96", "--device", "part",
                       "--format", "json").stdout)
    assert (j["count"], j["present"], j["missing"]) == (n, k, n - k) and len(j["missing_layers"]) == n - k
    # The CSV to-do list is the upload format: fill in latency_mean and upload it.
    todo = lut(bundled_fmasd.port, "coverage", "--space", "mbv2-96", "--device", "part", "--format", "csv").stdout
    lines = todo.decode().splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["op", "cin", "cout"] and "latency_mean" in header
    filled = [lines[0]]
    col = header.index("latency_mean")
    for line in lines[1:]:
        cells = line.split(",")
        cells[col] = "2.5"
        filled.append(",".join(cells))
    f = write(tmp_path / "todo.csv", ("\n".join(filled) + "\n").encode())
    lut(bundled_fmasd.port, "upload", "--device", "part", "--mode", "merge", f)
    p = lut(bundled_fmasd.port, "coverage", "--space", "mbv2-96", "--device", "part")
    assert f"{n} of {n} distinct layers profiled (100.0%), 0 to do".encode() in p.stdout
    p = lut(bundled_fmasd.port, "coverage", "--space", "nope", "--device", "part", check=False)
    assert p.returncode == 1 and b"404" in p.stderr


def test_estimate(bundled_fmasd):
    c = bundled_fmasd.client
    space = c.space("deeplabv3plus-mobilenetv2")
    g = space["genomes"]["min"]
    want = c.space_estimate("deeplabv3plus-mobilenetv2", [g], ["example-cpu"])["results"][0]
    p = lut(bundled_fmasd.port, "estimate", "--space", "deeplabv3plus-mobilenetv2", "--device", "example-cpu",
            "--genome", json.dumps(g), "--json")
    assert json.loads(p.stdout) == want
    p = lut(bundled_fmasd.port, "estimate", "--space", "deeplabv3plus-mobilenetv2", "--device", "example-cpu",
            "--genome", json.dumps(g))
    text = p.stdout.decode()
    assert f"macs {want['macs']}" in text and f"params {want['params']}" in text
    assert f"= {want['latency']['example-cpu']['ms']:.4f} ms" in text
    named = {gene["name"]: gene["choices"][i] for gene, i in zip(space["genes"], g)}
    p = lut(bundled_fmasd.port, "estimate", "--space", "deeplabv3plus-mobilenetv2", "--device", "example-cpu",
            "--genome", json.dumps(named), "--json")
    assert json.loads(p.stdout)["macs"] == want["macs"]
    bad = list(g)
    bad[0] = 99
    p = lut(bundled_fmasd.port, "estimate", "--space", "deeplabv3plus-mobilenetv2", "--device", "example-cpu",
            "--genome", json.dumps(bad), check=False)
    assert p.returncode == 1 and b"422" in p.stderr and b"/genomes/0/0" in p.stderr
    p = lut(bundled_fmasd.port, "estimate", "--space", "deeplabv3plus-mobilenetv2", "--genome", "[1,", check=False)
    assert p.returncode == 2 and b"--genome" in p.stderr


def test_usage_and_service_down(tmp_path):
    port = fmasapi.free_port()
    p = lut(port, "--server-retries", "1", "devices", check=False)
    assert p.returncode == 1
    assert f"cannot reach the fmas service at http://127.0.0.1:{port}".encode() in p.stderr
    assert b"gave up after 2 attempts" in p.stderr
    for args, message in [((), b"which command"), (("frob",), b"unknown command"),
                          (("upload", "x.csv"), b"--device"), (("export",), b"--device"),
                          (("devices", "--mode", "sideways"), b"--mode"), (("devices", "extra"), b"unexpected")]:
        p = lut(port, *args, check=False)
        assert p.returncode == 2 and message in p.stderr, (args, p.stderr)
    p = cl.run([str(cl.FMAS_LUT), "--help"])
    assert b"upload --device NAME" in p.stdout


def test_import_gap8_perf_log(fmasd, tmp_path):
    import os
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "gap8")
    c = fmasd.client
    c.put_device("gap8", unit="cycles", clock_mhz=175.0, kind="mcu")
    log, good_map = os.path.join(data, "mbv2_tiny_crlf.log"), os.path.join(data, "mbv2_tiny_map.csv")
    p = lut(fmasd.port, "import", "--format", "gap8-perf", "--device", "gap8", log, "--map", good_map)
    assert "9 layers accepted (gap8-perf, replace)" in p.stdout.decode()
    assert c.device("gap8")["entries"] == 9 and c.device("gap8")["lut_version"] == 1
    # Faults of the log and of the map are reported as FILE:LINE; nothing lands.
    lines = open(good_map).read().splitlines()
    bad_map = write(tmp_path / "map.csv", ("\n".join(l for l in lines if not l.startswith("S3_"))
                                           + "\nS99_Ghost,,,1,1,,,\n").encode())
    p = lut(fmasd.port, "import", "--format", "gap8-perf", "--device", "gap8", "--map", bad_map,
            os.path.join(data, "mbv2_tiny.log"), check=False)
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert f"{os.path.join(data, 'mbv2_tiny.log')}:7: S3_Conv2d_16x32x1x1: missing h, w" in err
    assert f"{bad_map}:10: name: S99_Ghost: no layer of the log has this name" in err
    assert "nothing stored" in err
    assert c.device("gap8")["lut_version"] == 1
    # The usage is checked before anything is sent.
    p = lut(fmasd.port, "import", "--device", "gap8", log, check=False)
    assert p.returncode == 2 and "--format gap8-perf" in p.stderr.decode()
