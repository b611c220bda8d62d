"""Readers never see a half-written batch: uploaders and estimators race on
one device. Every batch sets all N keys to one value v unique to that batch,
so any estimate must total exactly N*v for one uploaded v, and that v must be
the one of the lut_version the estimate reports."""

import threading
import time
import traceback

import pytest

N = 50
UPLOADERS = 8
ESTIMATORS = 8
DURATION = 4.0
KEYS = [{"op": "conv2d", "cin": i + 1, "cout": 8, "k": 3, "h": 4, "w": 4} for i in range(N)]


def batch(v):
    return [{"key": k, "latency": {"mean": v}} for k in KEYS]


@pytest.mark.slow
def test_uploads_and_estimates_race(server):
    server.put_device("race", unit="us")
    v0 = 1.0
    init = server.upload("race", batch(v0)).json
    assert init["lut_version"] == 1 and init["entries"] == N

    lock = threading.Lock()
    posted = {v0}                       # every v sent (maybe not yet acknowledged)
    version_value = {init["lut_version"]: v0}
    uploads_ok = [0]
    seen = []                           # (lut_version, total) of every estimate
    listed = []                         # (lut_version, mean) of every listing
    failures = []
    deadline = time.monotonic() + DURATION
    network = {"devices": ["race"], "networks": [{"name": "all", "layers": KEYS}]}

    def guarded(fn):
        def run(*a):
            try:
                fn(*a)
            except BaseException:  # noqa: B902 - report anything from a thread
                failures.append(traceback.format_exc())
        return run

    @guarded
    def uploader(t):
        j = 0
        while time.monotonic() < deadline and not failures:
            j += 1
            v = float(1000 * (t + 1) + j)  # unique per batch, exact in binary
            with lock:
                posted.add(v)
            r = server.upload("race", batch(v), expect=200).json
            assert r["entries"] == N and r["accepted"] == N
            with lock:
                assert r["lut_version"] not in version_value, f"version {r['lut_version']} twice"
                version_value[r["lut_version"]] = v
                uploads_ok[0] += 1

    @guarded
    def estimator(_t):
        while time.monotonic() < deadline and not failures:
            est = server.estimate(network, expect=200)
            lat = est["results"][0]["latency"]["race"]
            ver = est["lut_versions"]["race"]
            assert isinstance(ver, int) and ver >= 1
            assert (lat["hits"], lat["missing"], lat["layers"], lat["complete"]) == (N, 0, N, True)
            v = lat["total"] / N
            with lock:
                ok = v in posted
            assert ok and lat["total"] == N * v, \
                f"total {lat['total']} is not N*v for any uploaded v (version {ver})"
            with lock:
                seen.append((ver, lat["total"]))

    @guarded
    def lister():
        while time.monotonic() < deadline and not failures:
            page = server.lut_page("race")
            means = {e["latency"]["mean"] for e in page["entries"]}
            assert len(page["entries"]) == N and len(means) == 1, \
                f"a listing mixes batches: {sorted(means)[:5]}"
            with lock:
                listed.append((page["lut_version"], means.pop()))

    threads = [threading.Thread(target=uploader, args=(t,)) for t in range(UPLOADERS)]
    threads += [threading.Thread(target=estimator, args=(t,)) for t in range(ESTIMATORS)]
    threads.append(threading.Thread(target=lister))
    for th in threads:
        th.start()
    for th in threads:
        th.join(DURATION + 60)
    assert not any(th.is_alive() for th in threads), "a client thread hangs"
    assert not failures, failures[0]

    print(f"uploads {uploads_ok[0]}, estimates {len(seen)}, listings {len(listed)}")
    assert uploads_ok[0] > 0 and seen and listed
    dev = server.device("race")
    assert dev["lut_version"] == uploads_ok[0] + 1
    assert dev["entries"] == N
    assert set(version_value) == set(range(1, uploads_ok[0] + 2))
    # Each estimate's numbers come from the version it reports.
    for ver, total in seen:
        assert ver in version_value, f"estimate reports unknown version {ver}"
        assert total == N * version_value[ver], f"version {ver}: total {total}, " \
            f"expected {N * version_value[ver]}"
    for ver, mean in listed:
        assert version_value[ver] == mean, f"listing of version {ver} shows {mean}"
    # The last acknowledged batch is the one stored.
    last = version_value[dev["lut_version"]]
    assert server.estimate(network)["results"][0]["latency"]["race"]["total"] == N * last
