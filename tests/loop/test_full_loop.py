"""The whole FMAS loop on synthetic data, as the run command does it:
fmasd + clients/fmas-demo (synthetic VOC, a stand-in checkpoint, the CPU
layer profile, fmas-search screening through the service with fmas-eval as
the evaluator for 2 generations, a brief fine-tune of the front). Tiny
sizes keep it well under two minutes on a quiet machine."""
import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(os.environ.get("FMAS_ROOT") or Path(__file__).resolve().parents[2])
BUILD = Path(os.environ.get("FMAS_BUILD") or ROOT / "build")
FMASD = os.environ.get("FMASD") or str(BUILD / "fmasd")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def test_full_loop_two_generations(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([FMASD, "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data")],
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                get(url + "/v1/health")
                break
            except OSError:
                time.sleep(0.05)
        env = dict(os.environ, FMAS_DEMO_DIR=str(tmp_path / "demo"), FMAS_BUILD=str(BUILD),
                   FMAS_DEMO_SIZE="33", FMAS_DEMO_SUBSET="8", FMAS_DEMO_POP="4", FMAS_DEMO_GENS="2",
                   FMAS_DEMO_TRAIN_ITERS="5", FMAS_DEMO_REPEATS="1", FMAS_DEMO_FT_ITERS="2",
                   FMAS_DEMO_JOBS="2")
        env.pop("FMAS_VOC_ROOT", None)
        env.pop("FMAS_CHECKPOINT", None)
        run = subprocess.run([str(ROOT / "clients" / "fmas-demo"), url], env=env, capture_output=True,
                             text=True, timeout=900)
        assert run.returncode == 0, run.stderr[-4000:]
        runs = sorted((tmp_path / "demo").glob("search-*"))
        assert len(runs) == 1
        out = runs[0]

        # The service knows the demo space and profiled every layer of it.
        space = "demo-mbv2-33"
        cov = get(f"{url}/v1/spaces/{space}/layers?device=cpu-demo")
        assert cov["coverage"] == 1.0 and cov["count"] > 0

        front = json.loads((out / "front.json").read_text())
        assert front["generations"] == 2 and front["evaluations"] >= 4
        assert front["front"], "an empty front"
        for member in front["front"]:
            assert 0.0 <= member["metrics"]["miou"] <= 1.0
            assert member["costs"]["latency"]["cpu-demo"]["ms"] > 0
            assert "finetuned" in member, member

        with open(out / "history.csv") as f:
            rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
        assert rows[0][:2] == ["generation", "evaluations"] and [r[0] for r in rows[1:]] == ["0", "1", "2"]

        # Every measured value went back to the service as an observation,
        # and no genome was evaluated twice.
        obs = get(f"{url}/v1/spaces/{space}/observations?metric=miou&fidelity=val-subset-8")["observations"]
        genomes = [tuple(o["genome"]) for o in obs]
        assert len(genomes) == front["evaluations"] - front["failed"]
        assert len(set(genomes)) == len(genomes)
        fine = get(f"{url}/v1/spaces/{space}/observations?fidelity=finetuned")["observations"]
        assert len(fine) == len(front["front"])
    finally:
        server.terminate()
        assert server.wait(20) == 0
