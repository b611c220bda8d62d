#!/usr/bin/python3
"""Shared pieces of the HTTP benchmarks: a fmasd on a free loopback port
with a temporary data directory, and keep-alive clients posting prepared
bodies for a fixed time."""
import contextlib
import http.client
import json
import socket
import subprocess
import tempfile
import threading
import time

JSON = {"Content-Type": "application/json"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@contextlib.contextmanager
def fmasd(binary, bundled=False):
    """Yields (port, connection) of a fresh fmasd; stops it afterwards."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        args = [binary, "--listen", f"127.0.0.1:{port}", "--data-dir", tmp]
        proc = subprocess.Popen(args + ([] if bundled else ["--no-bundled"]), stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    c.request("GET", "/v1/health")
                    c.getresponse().read()
                    break
                except OSError:
                    time.sleep(0.05)
            yield port, c
        finally:
            proc.terminate()
            proc.wait(10)


def call(conn, method, path, body=None, headers=JSON):
    conn.request(method, path, body, headers)
    r = conn.getresponse()
    data = r.read()
    assert r.status < 300, (method, path, r.status, data[:300])
    return data


def throughput(port, path, bodies, items_per_body, count_key, clients=2, seconds=3.0):
    """Items per second over `clients` keep-alive connections, each posting
    the bodies in turn for `seconds`; every answer is parsed and checked."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(w):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        i = w
        while time.perf_counter() < stop:
            out = json.loads(call(conn, "POST", path, bodies[i % len(bodies)]))
            assert len(out[count_key]) == items_per_body
            done[w] += items_per_body
            i += clients

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(done) / (time.perf_counter() - t0)


def add_second_device(c):
    """A device 'example-gpu': the bundled example-cpu table with every
    latency scaled by 1.7, so estimates cost two tables."""
    rows = call(c, "GET", "/v1/devices/example-cpu/lut", headers={"Accept": "text/csv"}).decode().splitlines()
    mi = rows[0].split(",").index("latency_mean")
    scaled = [rows[0]] + [",".join(f"{float(x) * 1.7:.3f}" if i == mi else x
                                   for i, x in enumerate(r.split(","))) for r in rows[1:]]
    call(c, "PUT", "/v1/devices/example-gpu", json.dumps({"unit": "us"}))
    call(c, "POST", "/v1/devices/example-gpu/lut", "\n".join(scaled), {"Content-Type": "text/csv"})
