"""deploy/nginx-fmas.conf on loopback: nginx in front of 1 writer fmasd and
3 read replicas (docs/deploy.md).

Mixed reads from 4 threads through nginx; one replica is killed (SIGKILL)
mid-load and no client request may fail (nginx retries on the next
replica). Then a new table is uploaded through nginx, and every live
replica, asked directly, must serve it within 2 s; the measured lags are
printed. Exits 77 with one SKIP line when nginx is not installed.
"""

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("FMAS_ROOT") or HERE.parents[1])
sys.path.insert(0, str(ROOT / "tests" / "api"))
import fmasapi  # noqa: E402

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
if NGINX is None:
    pytest.skip("nginx is not installed (apt-get install nginx-light)", allow_module_level=True)


def nginx_conf(tmp, listen, writer, replicas):
    """The example config with this test's ports, inside a main config of
    its own prefix, pid and temp dirs (runs as the test's user)."""
    site = (ROOT / "deploy" / "nginx-fmas.conf").read_text()
    site = site.replace("listen 127.0.0.1:8000;", f"listen 127.0.0.1:{listen};")
    site = site.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{writer};")
    site = site.replace("server 127.0.0.1:8080 backup;", f"server 127.0.0.1:{writer} backup;")
    for i, port in enumerate(replicas):
        site = site.replace(f"server 127.0.0.1:{8081 + i} ", f"server 127.0.0.1:{port} ")
    assert "808" not in site.split("upstream fmas_write", 1)[1], site
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    user = "user root root;\n" if os.geteuid() == 0 else ""
    main = f"""{user}worker_processes 2;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{site}
}}
"""
    path = tmp / "nginx.conf"
    path.write_text(main)
    return path


def call(port, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return r.status, data
    finally:
        conn.close()


def wait_http(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if call(port, "GET", "/v1/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on {port}")


@pytest.fixture
def cluster(tmp_path):
    schemas = fmasapi.Schemas()
    snap = tmp_path / "snapshots"
    procs = []
    writer = fmasapi.FmasdProcess(tmp_path / "writer", ["--snapshot-dir", str(snap),
                                                         "--snapshot-interval-ms", "50"])
    procs.append(writer)
    writer.start(schemas)
    url = f"http://127.0.0.1:{writer.port}"
    replicas = []
    for i in range(3):
        r = fmasapi.FmasdProcess(tmp_path / f"replica{i}", ["--replica", "--snapshot-dir", str(snap),
                                                             "--writer-url", url, "--snapshot-interval-ms", "50"])
        procs.append(r)
        r.start(schemas)
        replicas.append(r)
    listen = fmasapi.free_port()
    conf = nginx_conf(tmp_path / "nginx", listen, writer.port, [r.port for r in replicas])
    log = open(tmp_path / "nginx" / "stderr.log", "wb")
    nginx = subprocess.Popen([NGINX, "-p", str(tmp_path / "nginx"), "-c", str(conf), "-e",
                              str(tmp_path / "nginx" / "error.log")], stdout=log, stderr=log)
    try:
        wait_http(listen)
        yield {"nginx": listen, "writer": writer, "replicas": replicas, "tmp": tmp_path}
    finally:
        nginx.terminate()
        nginx.wait(10)
        log.close()
        for p in procs:
            if p.alive():
                p.stop()


def mixed_reads(port, stop, counts, failures):
    """One client thread: GETs and read POSTs through nginx."""
    est = {"devices": ["example-cpu"], "networks": [{"name": "n", "layers": [
        {"op": "conv2d", "cin": 16, "cout": 16, "k": 3, "h": 32, "w": 32}]}]}
    reqs = [("GET", "/v1/devices", None), ("GET", "/v1/devices/example-cpu", None),
            ("POST", "/v1/estimate", est), ("GET", "/v1/spaces", None),
            ("GET", "/v1/devices/example-cpu/lut?limit=20", None)]
    i = 0
    while not stop.is_set():
        method, path, body = reqs[i % len(reqs)]
        i += 1
        try:
            status, data = call(port, method, path, body)
            if status != 200:
                failures.append(f"{method} {path}: {status} {data[:200]!r}")
        except (OSError, http.client.HTTPException) as e:
            failures.append(f"{method} {path}: {e!r}")
        counts.append(1)


def served_by(replica):
    """Requests a replica answered, from its own /metrics."""
    status, data = call(replica.port, "GET", "/metrics")
    total = 0
    for line in data.decode().splitlines():
        if line.startswith("fmas_http_requests_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_reads_survive_a_dead_replica_and_replicas_follow_uploads(cluster):
    port, replicas = cluster["nginx"], cluster["replicas"]
    stop = threading.Event()
    counts, failures = [], []
    threads = [threading.Thread(target=mixed_reads, args=(port, stop, counts, failures)) for _ in range(4)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(1.0)
    before_kill = len(counts)
    replicas[1].kill9()
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    print(f"\nmixed reads through nginx: {len(counts)} requests in {elapsed:.1f} s "
          f"({len(counts) / elapsed:.0f}/s), {before_kill} before the kill, {len(failures)} failed")
    assert failures == [], failures[:5]
    assert len(counts) > before_kill
    for i in (0, 2):
        assert served_by(replicas[i]) > 0, f"replica {i} got no reads"

    # A new table through nginx: the writes reach the writer, every live
    # replica serves it within 2 s.
    status, data = call(port, "PUT", "/v1/devices/new-board", {"unit": "us"})
    assert status == 201, data
    rows = [{"key": {"op": "conv2d", "cin": c, "cout": c, "k": 3, "h": 16, "w": 16},
             "latency": {"mean": float(c)}} for c in range(1, 65)]
    status, data = call(port, "POST", "/v1/devices/new-board/lut", rows)
    assert status == 200, data
    acked = time.monotonic()
    lags = {}
    pending = {0, 2}
    while pending and time.monotonic() - acked < 5:
        for i in sorted(pending):
            status, data = call(replicas[i].port, "GET", "/v1/devices/new-board")
            if status == 200 and json.loads(data)["lut_version"] == 1:
                lags[i] = time.monotonic() - acked
                pending.discard(i)
        time.sleep(0.005)
    print("replica lag after the upload: " + ", ".join(f"replica {i}: {lag * 1000:.0f} ms"
                                                        for i, lag in sorted(lags.items())))
    assert not pending, f"replicas {sorted(pending)} do not serve the new table within 5 s"
    assert max(lags.values()) < 2.0, lags
    status, data = call(replicas[0].port, "GET", "/v1/health")
    health = json.loads(data)
    assert health["role"] == "replica" and health["lut_versions"]["new-board"] == 1
    # A write sent to a replica directly is refused, naming the writer.
    status, data = call(replicas[0].port, "PUT", "/v1/devices/other", {"unit": "us"})
    assert status == 409 and json.loads(data)["writer"] == f"http://127.0.0.1:{cluster['writer'].port}"
