"""Read replicas: a writer fmasd ships compacted LMDB snapshots into a
directory (--snapshot-dir), replicas (--replica) serve the newest one
read-only and follow newer ones; writes to a replica answer 409 naming the
writer. Every answer is checked against schemas/ by fmasapi.Client.
"""

import json
import subprocess
import threading
import time

import pytest

import fmasapi
from fmasapi import conv

INTERVAL_MS = "50"


@pytest.fixture
def pair(fmasd_factory, tmp_path):
    """(writer, replica, snapshot dir): the writer ships every 50 ms."""
    snap = tmp_path / "snapshots"
    writer = fmasd_factory(["--no-bundled", "--snapshot-dir", str(snap), "--snapshot-interval-ms", INTERVAL_MS])
    w = writer.client
    url = f"http://127.0.0.1:{writer.port}"
    replica = fmasd_factory(["--replica", "--snapshot-dir", str(snap), "--writer-url", url,
                             "--snapshot-interval-ms", INTERVAL_MS])
    return w, replica.client, snap


def wait_version(client, device, version, timeout=5.0):
    """Seconds until client's health names device at version (or fail)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if client.health().get("lut_versions", {}).get(device) == version:
            return time.monotonic() - t0
        time.sleep(0.01)
    pytest.fail(f"{device} did not reach version {version} within {timeout}s: {client.health()}")


def test_health_names_roles_and_snapshot(pair):
    w, r, snap = pair
    wh = w.health()
    assert wh["role"] == "writer" and wh["snapshot"]["sequence"] >= 1
    rh = r.health()
    assert rh["role"] == "replica" and rh["writer"] == wh["writer"]
    assert rh["snapshot"]["sequence"] >= 1 and rh["lag_s"] >= 0
    assert rh["lut_versions"] == {}
    assert rh["snapshot"]["sequence"] <= w.health()["snapshot"]["sequence"]
    manifest = json.loads((snap / ("snap-%012d" % wh["snapshot"]["sequence"]) / "manifest.json").read_text())
    assert manifest["sequence"] == wh["snapshot"]["sequence"] and manifest["writer"] == wh["writer"]
    assert manifest["lut_versions"] == {} and manifest["format"] == 1


def test_writes_to_a_replica_answer_409_naming_the_writer(pair):
    w, r, _ = pair
    writer = w.health()["writer"]
    cases = [("PUT", "/v1/devices/d", {"unit": "us"}),
             ("DELETE", "/v1/devices/d", None),
             ("POST", "/v1/devices/d/lut", {"entries": [conv(1, 1, 8)]}),
             ("POST", "/v1/devices/d/measurements", {"measurements": []}),
             ("POST", "/v1/spaces", {"id": "toy", "genes": [{"name": "a", "choices": [1, 2]}]}),
             ("DELETE", "/v1/spaces/toy", None),
             ("POST", "/v1/spaces/toy/observations", {"observations": []})]
    for method, path, body in cases:
        rs = r.request(method, path, json_body=body, expect=409)
        assert rs.json["type"].endswith("/read-only-replica"), (method, path)
        assert rs.json["writer"] == writer
        assert rs.header("Location") == writer + path
        assert rs.json["errors"][0]["parameter"] == "method"
    assert r.devices() == []


def test_replica_follows_uploads_spaces_and_observations(pair):
    w, r, _ = pair
    w.put_device("d", unit="us")
    w.upload("d", [conv(c, c, 8, mean=float(c)) for c in range(1, 5)])
    lag = wait_version(r, "d", 1)
    print(f"replica serves version 1 after {lag * 1000:.0f} ms")
    body = {"devices": ["d"], "networks": [{"name": "n", "layers": [
        {"op": "conv2d", "cin": 3, "cout": 3, "h": 8, "w": 8}]}]}
    assert r.estimate(body)["results"][0]["latency"]["d"]["total"] == 3.0
    assert r.estimate(body)["lut_versions"] == {"d": 1}

    w.upload("d", [conv(3, 3, 8, mean=30.0)], mode="merge")
    wait_version(r, "d", 2)
    assert r.estimate(body) == w.estimate(body)
    assert r.lut_all("d") == w.lut_all("d")

    w.create_space({"id": "toy", "genes": [{"name": "a", "choices": [1, 2, 3]},
                                           {"name": "b", "choices": [1, 2]}]})
    w.post_observations("toy", [{"genome": [i % 3, i % 2], "metric": "miou", "value": 0.1 * i}
                                for i in range(6)])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(s["id"] == "toy" for s in r.spaces()) and \
                len(r.observations("toy")["observations"]) == 6:
            break
        time.sleep(0.02)
    assert len(r.observations("toy")["observations"]) == 6
    assert r.health()["snapshot"]["swaps"] >= 3


def test_reads_in_flight_survive_swaps(pair):
    """Estimates from 4 threads while the writer uploads 20 versions: no
    failure, and every answer is one whole version (never a mix)."""
    w, r, _ = pair
    w.put_device("d", unit="us")
    w.upload("d", [conv(1, 1, 8, mean=1.0), conv(2, 2, 8, mean=1.0)])
    wait_version(r, "d", 1)
    body = {"devices": ["d"], "networks": [{"name": "n", "layers": [
        {"op": "conv2d", "cin": 1, "cout": 1, "h": 8, "w": 8},
        {"op": "conv2d", "cin": 2, "cout": 2, "h": 8, "w": 8}]}]}
    stop = threading.Event()
    failures, seen = [], set()

    def reader():
        c = fmasapi.Client("127.0.0.1", r.port, r.schemas)
        while not stop.is_set():
            try:
                est = c.estimate(body)
                v = est["lut_versions"]["d"]
                total = est["results"][0]["latency"]["d"]["total"]
                if total != 2.0 * v:
                    failures.append(f"version {v} with total {total}")
                seen.add(v)
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures.append(repr(e))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for v in range(2, 22):
        w.upload("d", [conv(1, 1, 8, mean=float(v)), conv(2, 2, 8, mean=float(v))])
        time.sleep(0.03)
    wait_version(r, "d", 21)
    time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert len(seen) >= 3


def test_metrics_of_writer_and_replica(pair):
    w, r, _ = pair
    wm = w.get("/metrics").text
    assert "fmas_snapshot_sequence " in wm and "fmas_snapshots_written_total " in wm
    rm = r.get("/metrics").text
    for name in ("fmas_snapshot_sequence ", "fmas_replica_lag_seconds ", "fmas_replica_swaps_total "):
        assert name in rm


def test_writer_keeps_the_newest_snapshots_only(pair):
    w, r, snap = pair
    w.put_device("d", unit="us")
    for v in range(1, 9):
        w.upload("d", [conv(1, 1, 8, mean=float(v))])
        time.sleep(0.08)
    wait_version(r, "d", 8)
    names = sorted(p.name for p in snap.iterdir() if p.name.startswith("snap-"))
    assert 1 <= len(names) <= 4
    assert not [p for p in snap.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("args, message", [
    (["--replica"], "--replica needs --snapshot-dir"),
    (["--writer-url", "ftp://x"], "--writer-url wants http://HOST:PORT"),
    (["--snapshot-interval-ms", "0"], "--snapshot-interval-ms wants 1..3600000"),
])
def test_bad_replica_options(args, message):
    out = subprocess.run([str(fmasapi.fmasd_path()), *args], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert message in out.stderr


def test_replica_without_snapshot_exits(tmp_path):
    """No snapshot appears: the replica says so (it waits 60 s; the test
    gives it an empty directory and stops it early: SIGTERM ends the wait)."""
    proc = subprocess.Popen([str(fmasapi.fmasd_path()), "--replica", "--snapshot-dir", str(tmp_path / "none"),
                             "--listen", f"127.0.0.1:{fmasapi.free_port()}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    assert proc.poll() is None     # still waiting for a first snapshot
    proc.terminate()
    assert proc.wait(10) == 1
    assert "no snapshot to serve" in proc.stderr.read()


def test_replica_fits_the_observations_it_follows(pair):
    w, r, _ = pair
    genes = [{"name": n, "choices": [1, 2, 3]} for n in "abcd"]
    w.create_space({"id": "grid", "genes": genes})
    obs = [{"genome": [i % 3, (i // 3) % 3, (i // 9) % 3, i % 2], "metric": "miou", "value": 0.3 + 0.01 * i}
           for i in range(14)]
    w.post_observations("grid", obs)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(s["id"] == "grid" for s in r.spaces()) and len(r.observations("grid")["observations"]) == 14:
            break
        time.sleep(0.02)
    deadline = time.monotonic() + 10
    got = r.surrogate("grid", "miou")
    while got["status"] != "fitted" and time.monotonic() < deadline:
        time.sleep(0.1)
        got = r.surrogate("grid", "miou")
    assert got["status"] == "fitted" and got["distinct"] == 14, got
