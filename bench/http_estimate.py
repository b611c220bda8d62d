#!/usr/bin/python3
"""Estimate throughput over HTTP: start fmasd, upload the benchmark LUT,
then POST /v1/estimate batches of networks on keep-alive connections.
Prints 'http_estimate networks_per_s N' (batch size and clients stated)."""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def load_networks(d):
    nets, cur = [], []
    for line in open(f"{d}/networks.txt"):
        line = line.strip()
        if not line:
            nets.append({"layers": cur}); cur = []
            continue
        p = line.split(",")
        cur.append({"op": p[0], "cin": int(p[1]), "cout": int(p[2]), "k": int(p[3]), "stride": int(p[4]),
                    "dilation": int(p[5]), "groups": int(p[6]), "h": int(p[7]), "w": int(p[8])})
    return nets

def main(fmasd, d, seconds=3.0, batch=100, clients=2):
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([fmasd, "--listen", f"127.0.0.1:{port}", "--data-dir", tmp, "--no-bundled"],
                                stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    c.request("GET", "/v1/health"); c.getresponse().read(); break
                except OSError:
                    time.sleep(0.05)
            hdr = {"Content-Type": "application/json"}
            c.request("PUT", "/v1/devices/bench", json.dumps({"unit": "us"}), hdr); c.getresponse().read()
            c.request("POST", "/v1/devices/bench/lut", open(f"{d}/lut.csv", "rb").read(),
                      {"Content-Type": "text/csv"})
            r = c.getresponse(); r.read(); assert r.status == 200, r.status
            nets = load_networks(d)
            bodies = [json.dumps({"devices": ["bench"], "networks": nets[i:i + batch]}).encode()
                      for i in range(0, len(nets), batch)]
            done = [0] * clients
            stop = time.perf_counter() + seconds

            def worker(w):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                i = w
                while time.perf_counter() < stop:
                    conn.request("POST", "/v1/estimate", bodies[i % len(bodies)], hdr)
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
            print(f"http_estimate networks_per_s {rate:.0f} (batch {batch}, {clients} clients, 100-layer networks)")
        finally:
            proc.terminate(); proc.wait(10)

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
