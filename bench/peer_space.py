#!/usr/bin/python3
"""The peer of the space-costing benchmark: expands a MobileNetV2-space
genome into its layers in Python, then sums dict lookups per device (a
string key per layer, the way the public NAS libraries do it), plus MACs and
params. Prints 'peer_space genomes_per_s N'. Self-check: the max genome has
76 layers and 5,225,717 params."""
import random
import sys
import time

RESIDUAL = {3, 5, 6, 8, 9, 10, 12, 13, 15, 16}
STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def genes():
    g = []
    for i in range(2, 18):
        if i in RESIDUAL:
            g.append((f"features.{i}.keep", [0, 1]))
        g.append((f"features.{i}.expand", [2, 3, 4, 6]))
    for n in ("aspp.branch1", "aspp.branch2", "aspp.branch3", "aspp.pool"):
        g.append((n, [0, 1]))
    g += [("aspp.width", [64, 128, 192, 256]), ("decoder.low_level", [16, 24, 32, 48]),
          ("decoder.width", [64, 128, 192, 256])]
    return g


GENES = genes()


def conv_out(n, k, s, d, p):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def expand(genome, size=513, classes=21):
    v = {name: ch[i] for (name, ch), i in zip(GENES, genome)}
    layers = []

    def conv(cin, cout, k, s, d, g, p, h, w, bias=0, bn=1):
        layers.append(("conv2d", cin, cout, k, s, d, g, p, h, w, 0, 0, bias, bn))
        return conv_out(h, k, s, d, p), conv_out(w, k, s, d, p)

    h, w = conv(3, 32, 3, 2, 1, 1, 0, size, size)
    cin, stride_now, dil, idx = 32, 2, 1, 1
    low = None
    for t, c, n, s in STAGES:
        prev = dil
        if stride_now == 16:
            st, dil = 1, dil * s
        else:
            st, stride_now = s, stride_now * s
        for j in range(n):
            bs, bd = (st, prev) if j == 0 else (1, dil)
            keep = v.get(f"features.{idx}.keep", 1)
            if keep:
                pad = (3 + 2 * (bd - 1)) - 1
                hp, wp = h + pad, w + pad
                hidden = cin * (v[f"features.{idx}.expand"] if t != 1 else 1)
                if t != 1:
                    conv(cin, hidden, 1, 1, 1, 1, 0, hp, wp)
                ho, wo = conv(hidden, hidden, 3, bs, bd, hidden, 0, hp, wp)
                conv(hidden, c, 1, 1, 1, 1, 0, ho, wo)
                if bs == 1 and cin == c:
                    layers.append(("add", c, c, 1, 1, 1, 1, 0, ho, wo, 0, 0, 0, 0))
                h, w = ho, wo
            cin = c
            if idx == 3:
                low = (h, w)
            idx += 1
    A, L, D = v["aspp.width"], v["decoder.low_level"], v["decoder.width"]
    hl, wl = low
    conv(24, L, 1, 1, 1, 1, 0, hl, wl)
    conv(320, A, 1, 1, 1, 1, 0, h, w)
    kept = 1
    for j, r in ((1, 6), (2, 12), (3, 18)):
        if v[f"aspp.branch{j}"]:
            conv(320, A, 3, 1, r, 1, r, h, w)
            kept += 1
    if v["aspp.pool"]:
        layers.append(("global_avgpool", 320, 320, 1, 1, 1, 1, 0, h, w, 0, 0, 0, 0))
        conv(320, A, 1, 1, 1, 1, 0, 1, 1)
        layers.append(("upsample", A, A, 1, 1, 1, 1, 0, 1, 1, h, w, 0, 0))
        kept += 1
    if kept > 1:
        layers.append(("concat", A * kept, A * kept, 1, 1, 1, 1, 0, h, w, 0, 0, 0, 0))
    conv(A * kept, A, 1, 1, 1, 1, 0, h, w)
    layers.append(("upsample", A, A, 1, 1, 1, 1, 0, h, w, hl, wl, 0, 0))
    layers.append(("concat", L + A, L + A, 1, 1, 1, 1, 0, hl, wl, 0, 0, 0, 0))
    conv(L + A, D, 3, 1, 1, 1, 1, hl, wl)
    conv(D, classes, 1, 1, 1, 1, 0, hl, wl, bias=1, bn=0)
    layers.append(("upsample", classes, classes, 1, 1, 1, 1, 0, hl, wl, size, size, 0, 0))
    return layers


def key_string(l):
    return "%s-in%d-out%d-k%d-s%d-d%d-g%d-p%d-%dx%d-o%dx%d-b%d-bn%d" % l


def macs_params(l):
    op, cin, cout, k, s, d, g, p, h, w = l[:10]
    if op != "conv2d":
        return 0, 0
    ho, wo = conv_out(h, k, s, d, p), conv_out(w, k, s, d, p)
    par = cout * (cin // g) * k * k + l[12] * cout + l[13] * 2 * cout
    return cout * (cin // g) * k * k * ho * wo, par


def cost(genome, luts):
    layers = expand(genome)
    macs = params = 0
    totals = [0.0] * len(luts)
    missing = [0] * len(luts)
    for l in layers:
        m, p = macs_params(l)
        macs += m
        params += p
        key = key_string(l)
        for i, lut in enumerate(luts):
            lat = lut.get(key)
            if lat is None:
                missing[i] += 1
            else:
                totals[i] += lat
    return macs, params, totals, missing


def main(seconds=2.0):
    rnd = random.Random(3)
    gmax = [len(ch) - 1 for _, ch in GENES]
    _, params, _, _ = cost(gmax, [])
    assert len(expand(gmax)) == 76 and params == 5225717, (len(expand(gmax)), params)
    genomes = [[rnd.randrange(len(ch)) for _, ch in GENES] for _ in range(2000)]
    keys = {key_string(l) for g in genomes for l in expand(g)}
    luts = [{k: rnd.uniform(1, 1000) for k in keys}, {k: rnd.uniform(1, 1000) for k in keys}]
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for g in genomes:
            cost(g, luts)
        done += len(genomes)
    print(f"peer_space genomes_per_s {done / (time.perf_counter() - t0):.0f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
