#!/usr/bin/python3
"""Make the estimate benchmark's data: a LUT of conv/dwconv/add rows and
networks of about 100 layers drawn from it (about 2% of layers missing).
Writes DIR/lut.csv (upload format) and DIR/networks.txt (one layer a line:
op,cin,cout,k,stride,dilation,groups,h,w; a blank line ends a network)."""
import random
import sys

def main(out, n_networks=500, layers=100, seed=7):
    rnd = random.Random(seed)
    chans = [16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 576, 960]
    sizes = [8, 16, 17, 32, 33, 64, 65, 129, 257]
    keys = set()
    while len(keys) < 1500:
        op = rnd.choice(["conv2d", "conv2d", "dw", "add"])
        c = rnd.choice(chans); h = rnd.choice(sizes); s = rnd.choice([1, 1, 2])
        if op == "conv2d":
            keys.add(("conv2d", c, rnd.choice(chans), rnd.choice([1, 3]), s, 1, 1, h, h))
        elif op == "dw":
            keys.add(("conv2d", c, c, 3, s, rnd.choice([1, 2]), c, h, h))
        else:
            keys.add(("add", c, c, 1, 1, 1, 1, h, h))
    keys = sorted(keys)
    present = keys[: int(len(keys) * 0.98)]
    with open(f"{out}/lut.csv", "w") as f:
        f.write("op,cin,cout,k,stride,dilation,groups,h,w,latency_mean,latency_std,count\n")
        for k in present:
            f.write(",".join(map(str, k)) + f",{rnd.uniform(5, 5000):.3f},1.0,10\n")
    with open(f"{out}/networks.txt", "w") as f:
        for _ in range(n_networks):
            for _ in range(layers):
                f.write(",".join(map(str, rnd.choice(keys))) + "\n")
            f.write("\n")

if __name__ == "__main__":
    main(sys.argv[1])
