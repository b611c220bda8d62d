"""The profilers (and fmas-eval's registered-space lookup) against a real
fmasd, when one is built: $FMASD, else $FMAS_BUILD/fmasd, else build/fmasd."""

import csv
import json
import os
import random
import signal
import subprocess
import time
import urllib.request

import pytest

import fmas_twin as ft
from fmas_eval import subnet
from fmas_eval.service import Service
from evalhelp import MNV2, ROOT, one_json, random_genome, run_tool

SPACE = "evt33"


def _fmasd():
    if os.environ.get("FMASD"):
        return os.environ["FMASD"]
    if os.environ.get("FMAS_BUILD"):
        return os.path.join(os.environ["FMAS_BUILD"], "fmasd")
    return os.path.join(ROOT, "build", "fmasd")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    binary = _fmasd()
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.skip(f"no fmasd binary at {binary}")
    d = tmp_path_factory.mktemp("fmasd")
    port_file = d / "port"
    log = open(d / "log", "wb")
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--data-dir", str(d / "data"),
                             "--no-bundled", "--port-file", str(port_file)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if port_file.exists() and port_file.read_text().strip():
            url = f"http://127.0.0.1:{int(port_file.read_text().strip())}"
            try:
                with urllib.request.urlopen(url + "/v1/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"fmasd did not start: {(d / 'log').read_text()[-2000:]}")
    svc = Service(url)
    svc.request("POST", "/v1/spaces", {"id": SPACE, "builder": MNV2,
                                      "params": {"input_size": 33}}, ok=(201,))
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def test_profile_layers_covers_the_space_then_resumes(server):
    args = ["--server", server, "--space", SPACE, "--device", "cpu-t", "--repeats", 2,
            "--warmup", 0, "--threads", 1]
    rc, out, err = run_tool("fmas-profile-layers", *args)
    assert rc == 0, err
    doc = one_json(out)
    assert doc["coverage"] == 1.0 and doc["missing"] == 0
    assert doc["measured"] == doc["layers"] == doc["uploaded"] > 100
    assert doc["unsupported"] == []
    svc = Service(server)
    dev = svc.device("cpu-t")
    assert dev["unit"] == "us" and dev["kind"] == "cpu" and dev["measured"] is True
    assert "PyTorch" in dev["description"] and "1 thread" in dev["description"]
    assert dev["entries"] == doc["layers"] and dev["lut_version"] == 1
    page = svc.request("GET", "/v1/devices/cpu-t/lut?limit=10000")[1]
    assert all(e["latency"]["count"] == 2 and e["latency"]["mean"] > 0
               for e in page["entries"])
    # a second run finds nothing to do and uploads nothing
    rc, out, err = run_tool("fmas-profile-layers", *args)
    assert rc == 0, err
    again = one_json(out)
    assert again["measured"] == 0 and again["uploaded"] == 0
    assert again["skipped_present"] == doc["layers"] and again["coverage"] == 1.0
    assert svc.device("cpu-t")["lut_version"] == 1


def test_profile_layers_journal_is_reused(server, tmp_path):
    svc = Service(server)
    first = svc.space_layers(SPACE)["layers"][0]["key"]
    journal = str(tmp_path / "j.ndjson")
    args = ["--server", server, "--space", SPACE, "--device", "cpu-j", "--repeats", 2,
            "--warmup", 0, "--limit", 1, "--journal", journal]
    rc, out, err = run_tool("fmas-profile-layers", *args)
    assert rc == 0, err
    doc = one_json(out)
    assert doc["uploaded"] == 1 and not os.path.exists(journal)
    # a journal left by an interrupted run with the same settings is used as is
    with open(journal, "w") as f:
        f.write(json.dumps({"settings": doc["settings"], "key": first,
                            "latency": {"mean": 12345.0, "std": 1.0, "count": 2}}) + "\n")
        f.write('{"torn line\n')
    rc, out, err = run_tool("fmas-profile-layers", *args, "--force")
    assert rc == 0, err
    rows = svc.request("GET", "/v1/devices/cpu-j/lut")[1]["entries"]
    assert [r["latency"]["mean"] for r in rows] == [12345.0]


def test_profile_networks_writes_measured_and_estimated(server, tmp_path):
    rc, out, err = run_tool("fmas-profile-layers", "--server", server, "--space", SPACE,
                            "--device", "cpu-n", "--repeats", 1, "--warmup", 0)
    assert rc == 0, err
    path = str(tmp_path / "nets.csv")
    rc, out, err = run_tool("fmas-profile-networks", "--server", server, "--space", SPACE,
                            "--device", "cpu-n", "--genomes", 2, "--seed", 4, "--out", path,
                            "--repeats", 2, "--warmup", 1)
    assert rc == 0, err
    doc = one_json(out)
    assert doc["genomes"] == 2 and doc["complete"] is True and doc["input_size"] == 33
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 2
    for r in rows:
        g = json.loads(r["genome"])
        assert len(g) == 33
        assert float(r["measured_mean_us"]) > 0 and float(r["estimate_us"]) > 0
        assert r["estimate_complete"] == "true" and r["estimate_missing"] == "0"
        params, macs = ft.layer_costs(ft.layers(MNV2, g, input_size=33))
        assert int(r["macs"]) == macs and int(r["params"]) == params
    assert doc["posted"] == 2
    got = Service(server).request("GET", "/v1/devices/cpu-n/measurements")[1]
    assert [m["genome"] for m in got["measurements"]] == [json.loads(r["genome"]) for r in rows]
    assert [m["latency"]["mean"] for m in got["measurements"]] == \
        [float(r["measured_mean_us"]) for r in rows]
    rc, out, err = run_tool("fmas-profile-networks", "--server", server, "--space", SPACE,
                            "--device", "no-such-device", "--genomes", 1, "--out", path)
    assert rc == 1 and "fmas-profile-layers" in err


def test_profile_networks_interleaved_thread_clock_without_post(server, tmp_path):
    path = str(tmp_path / "nets.csv")
    before = Service(server).request("GET", "/v1/devices/cpu-n/measurements")
    rc, out, err = run_tool("fmas-profile-networks", "--server", server, "--space", SPACE,
                            "--device", "cpu-n", "--genomes", 3, "--seed", 5, "--out", path,
                            "--repeats", 3, "--warmup", 1, "--interleave", "--clock", "thread",
                            "--stat", "mean", "--no-post", "--torch-device", "cpu")
    assert rc == 0, err
    doc = one_json(out)
    assert doc["genomes"] == 3 and doc["posted"] == 0
    rows = list(csv.DictReader(open(path)))
    assert all(int(r["repeats"]) == 3 and float(r["measured_mean_us"]) > 0 for r in rows)
    assert Service(server).request("GET", "/v1/devices/cpu-n/measurements") == before


@pytest.mark.parametrize("tool", ["fmas-profile-layers", "fmas-profile-networks"])
def test_torch_device_cuda_without_a_gpu_is_a_skip(server, tmp_path, tool):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the device check runs the cuda path")
    args = ["--server", server, "--space", SPACE, "--device", "cpu-n", "--torch-device", "cuda"]
    if tool == "fmas-profile-networks":
        args += ["--genomes", 1, "--out", str(tmp_path / "x.csv")]
    rc, out, err = run_tool(tool, *args)
    assert rc == 77 and out.startswith("SKIP: ") and "cuda" in out, (rc, out, err)


def test_subsampled_subnets_have_the_services_costs(server, full_mnv2):
    svc = Service(server)
    sd = full_mnv2.state_dict()
    rk = subnet.Ranking(MNV2, sd)
    rng = random.Random(21)
    for g in [random_genome(MNV2, rng) for _ in range(3)] + [None]:
        genome = g if g is not None else ft.get_space(MNV2).genes.max_genome()
        exp = svc.expand(SPACE, genome)
        for ordering in ("first", "l1"):
            m = subnet.build_subnet(MNV2, genome, sd, ordering=ordering, ranking=rk,
                                    input_size=33)
            assert ft.count(m) == (exp["params"], exp["macs"])


def test_fmas_eval_looks_registered_spaces_up(server, voc_dir, public_ckpt, tmp_path):
    g = ft.get_space(MNV2).genes.min_genome()
    rc, out, err = run_tool("fmas-eval", "--checkpoint", public_ckpt, "--voc-root", voc_dir,
                            "--server", server, "--subset", 3, "--cache-dir", tmp_path,
                            stdin=json.dumps({"space": SPACE, "genome": g}))
    assert rc == 0, err
    doc = one_json(out)
    assert doc["meta"]["input_size"] == 33 and doc["meta"]["builder"] == MNV2
    rc, out, err = run_tool("fmas-eval", "--checkpoint", public_ckpt, "--voc-root", voc_dir,
                            "--server", server, stdin=json.dumps({"space": "nope", "genome": g}))
    assert rc == 2 and out == "" and "'space': 'nope' is not known" in err
