#!/usr/bin/python3
"""Space costing over HTTP: start fmasd with the bundled example table, add a
second device (the same rows, latencies x1.7), then POST batches of random
MobileNetV2-space genomes to /v1/spaces/{id}/estimate with both devices.
Prints 'http_space genomes_per_s N'."""
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_estimate import free_port  # noqa: E402
from peer_space import GENES  # noqa: E402

SPACE = "deeplabv3plus-mobilenetv2"


def main(fmasd, seconds=3.0, batch=1000, clients=2):
    port = free_port()
    rnd = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([fmasd, "--listen", f"127.0.0.1:{port}", "--data-dir", tmp],
                                stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    c.request("GET", "/v1/health"); c.getresponse().read(); break
                except OSError:
                    time.sleep(0.05)
            hdr = {"Content-Type": "application/json"}
            c.request("GET", "/v1/devices/example-cpu/lut", headers={"Accept": "text/csv"})
            rows = c.getresponse().read().decode().splitlines()
            head = rows[0].split(",")
            mi = head.index("latency_mean")
            scaled = [rows[0]] + [",".join(f"{float(x) * 1.7:.3f}" if i == mi else x
                                           for i, x in enumerate(r.split(","))) for r in rows[1:]]
            c.request("PUT", "/v1/devices/example-gpu", json.dumps({"unit": "us"}), hdr); c.getresponse().read()
            c.request("POST", "/v1/devices/example-gpu/lut", "\n".join(scaled), {"Content-Type": "text/csv"})
            r = c.getresponse(); r.read(); assert r.status == 200, r.status
            bodies = [json.dumps({"devices": ["example-cpu", "example-gpu"],
                                  "genomes": [[rnd.randrange(len(ch)) for _, ch in GENES] for _ in range(batch)]}).encode()
                      for _ in range(8)]
            done = [0] * clients
            stop = time.perf_counter() + seconds

            def worker(w):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                i = w
                while time.perf_counter() < stop:
                    conn.request("POST", f"/v1/spaces/{SPACE}/estimate", bodies[i % len(bodies)], hdr)
                    resp = conn.getresponse()
                    out = json.loads(resp.read())
                    assert resp.status == 200 and len(out["results"]) == batch
                    done[w] += batch
                    i += clients
            t0 = time.perf_counter()
            ts = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
            for t in ts: t.start()
            for t in ts: t.join()
            rate = sum(done) / (time.perf_counter() - t0)
            print(f"http_space genomes_per_s {rate:.0f} (batch {batch}, {clients} clients, 2 devices)")
        finally:
            proc.terminate(); proc.wait(10)


if __name__ == "__main__":
    main(sys.argv[1])
