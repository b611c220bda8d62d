#!/usr/bin/python3
"""Surrogate on a real accuracy table: the data, and the scikit-learn peers.

  peer_sur_table.py prep CSV OUT  write OUT (bench_sur_table's input) from
                                  a table with columns arch_str (a tuple of
                                  choice codes) and val_pixel_acc, e.g.
                                  ../shared/data/transnas101_macro_segmentsemantic.csv
  peer_sur_table.py run OUT       fit the peers on the same splits, print one
                                  line per (n, split, model)
  peer_sur_table.py ceiling OUT   how far 100 rows can go on the table
                                  (see ceiling(): the best combination of
                                  the peers chosen on the answers, a learning
                                  curve, the noise bound)
  peer_sur_table.py blas          the BLAS library numpy loaded

Splits: 5 seeded permutations of the rows (numpy RandomState(s)); for n in
100 and 300 the training rows are the first n of permutation s, every other
row is ranked. Peers, on one-hot features of the genes:
  ridge_onehot   RidgeCV(alphas=logspace(-4, 4, 33))
  ridge_pairwise the same on one-hot plus their pairwise products
  gp_matern      GaussianProcessRegressor(C * Matern(2.5, one length per
                 feature) + WhiteKernel, normalize_y)
  forest         RandomForestRegressor(100 trees)
  boosting       GradientBoostingRegressor() (its defaults)
Output: peer_table n=N split=S model=K tau=.. cov2=.. fit_s=..
(cov2: share of held-out truths within +-2 std, for the GP only; -1 else.)
"""
import ast
import csv
import os
import sys
import time
import warnings

import numpy as np

SPLITS = 5
SIZES = (100, 300)


def prep(src, out):
    with open(src) as f:
        rows = list(csv.DictReader(f))
    genomes = [list(ast.literal_eval(r["arch_str"])) for r in rows]
    y = [float(r["val_pixel_acc"]) for r in rows]
    g = len(genomes[0])
    places = []
    for s in range(SPLITS):
        perm = np.random.RandomState(s).permutation(len(y))
        place = np.empty(len(y), dtype=int)
        place[perm] = np.arange(len(y))
        places.append(place)
    with open(out, "w") as f:
        f.write(",".join(["y"] + [f"s{s}" for s in range(SPLITS)] +
                         [f"g{i}" for i in range(g)]) + "\n")
        for i in range(len(y)):
            f.write(",".join([repr(y[i])] + [str(p[i]) for p in places] +
                             [str(v) for v in genomes[i]]) + "\n")


def load(path):
    with open(path) as f:
        head = f.readline().strip().split(",")
        a = np.loadtxt(f, delimiter=",")
    ns = sum(h.startswith("s") for h in head)
    return a[:, 0], a[:, 1:1 + ns].astype(int), a[:, 1 + ns:].astype(int)


def peers(path):
    """The table (y, places, genes) and the peers: name -> (features, a
    function making the unfitted model), in the order printed."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures
    warnings.filterwarnings("ignore")
    y, place, g = load(path)
    c = int(g.max()) + 1
    oh = OneHotEncoder(categories=[list(range(c))] * g.shape[1],
                       sparse_output=False).fit_transform(g)
    pw = PolynomialFeatures(2, interaction_only=True, include_bias=False).fit_transform(oh)
    alphas = np.logspace(-4, 4, 33)
    models = {
        "ridge_onehot": (oh, lambda: RidgeCV(alphas=alphas)),
        "ridge_pairwise": (pw, lambda: RidgeCV(alphas=alphas)),
        "gp_matern": (oh, lambda: GaussianProcessRegressor(
            ConstantKernel() * Matern(length_scale=np.ones(oh.shape[1]), nu=2.5)
            + WhiteKernel(), normalize_y=True, random_state=0)),
        "forest": (oh, lambda: RandomForestRegressor(100, random_state=0)),
        "boosting": (oh, lambda: GradientBoostingRegressor(random_state=0)),
    }
    return y, place, models


def run(path):
    from scipy.stats import kendalltau
    y, place, models = peers(path)
    for n in SIZES:
        for s in range(place.shape[1]):
            tr, te = place[:, s] < n, place[:, s] >= n
            for name, (x, make) in models.items():
                t0 = time.perf_counter()
                m = make().fit(x[tr], y[tr])
                el = time.perf_counter() - t0
                cov = -1.0
                if name == "gp_matern":
                    mu, sd = m.predict(x[te], return_std=True)
                    cov = float(np.mean(np.abs(y[te] - mu) <= 2 * sd))
                else:
                    mu = m.predict(x[te])
                tau = kendalltau(y[te], mu)[0]
                print(f"peer_table n={n} split={s} model={name} tau={tau:.4f} "
                      f"cov2={cov:.3f} fit_s={el:.4f}", flush=True)


def ceiling(path):
    """How far 100 rows can go on this table, measured two ways:

    - combination: on each split at n = 100, every equal-weight average of
      the standardized held-out predictions of the five peers above (31
      subsets), scored against the held-out truths themselves; the best of
      them is an optimistic bound for combining these models, since it is
      chosen on the answers;
    - learning curve: one fixed held-out set per split (the last 100 rows
      of its permutation), the best single peer (RidgeCV one-hot and
      pairwise, forest, boosting) trained on the first n rows, n from 100 to
      all the others (the best chosen on the answers too).
    Prints a line per split and measure, then the medians over splits.
    """
    import itertools
    from scipy.stats import kendalltau
    y, place, models = peers(path)
    single = {k: v for k, v in models.items() if k != "gp_matern"}
    n0, held = 100, 100
    sizes = sorted({n0, 200, 300, 400, len(y) - held})
    combined, curve = [], {n: [] for n in sizes}
    for s in range(place.shape[1]):
        tr, te = place[:, s] < n0, place[:, s] >= n0
        pred = {}
        for name, (x, make) in models.items():
            mu = make().fit(x[tr], y[tr]).predict(x[te])
            pred[name] = (mu - mu.mean()) / (mu.std() or 1.0)
        best, combo = -1.0, ()
        for r in range(1, len(pred) + 1):
            for names in itertools.combinations(sorted(pred), r):
                tau = kendalltau(y[te], sum(pred[k] for k in names))[0]
                if tau > best:
                    best, combo = tau, names
        combined.append(best)
        print(f"ceiling split={s} n={n0} best_combination_tau={best:.4f} "
              f"of={'+'.join(combo)}", flush=True)
        te = place[:, s] >= len(y) - held
        for n in sizes:
            tr = place[:, s] < n
            taus = {name: kendalltau(y[te], make().fit(x[tr], y[tr]).predict(x[te]))[0]
                    for name, (x, make) in single.items()}
            top = max(taus, key=taus.get)
            curve[n].append(taus[top])
            print(f"ceiling split={s} n={n} heldout={held} best_single_tau={taus[top]:.4f} "
                  f"of={top}", flush=True)
    print(f"== median over splits: best combination of the peers at n={n0}, "
          f"chosen on the held-out truths: tau {np.median(combined):.4f}")
    print(f"== median over splits: best single peer on {held} held-out rows, "
          "by training rows: " +
          ", ".join(f"n={n} {np.median(v):.4f}" for n, v in curve.items()))


def blas():
    """The BLAS numpy loaded: the library file behind libblas.so.3."""
    import numpy  # noqa: F401  (loads it)
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.split()[-1]}
    return " ".join(sorted(os.path.realpath(x) for x in libs)) or "none found"


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "blas":
        print(blas())
    elif len(sys.argv) == 4 and sys.argv[1] == "prep":
        prep(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "ceiling":
        ceiling(sys.argv[2])
    else:
        sys.exit(__doc__)
