#!/usr/bin/python3
"""Surrogate benchmark: the data, and the scikit-learn peer of bench_sur.

  peer_sur.py gen DIR   write DIR/sur_data.csv (1000 genomes, made once)
  peer_sur.py run DIR   fit scikit-learn's RidgeCV and GaussianProcessRegressor
                        on the first n = 100, 300, 1000 rows with the same
                        5 folds as bench_sur, print one line per model and n

The data: 1000 distinct random genomes of the deeplabv3plus-mobilenetv2
space (33 genes, choices as in docs/spaces.md), with their real MACs and
parameter counts from the PyTorch twin (clients/python/fmas_twin), and a
synthetic accuracy, a smooth function of the genome plus noise:

  u_g      = (value - min) / (max - min) of gene g (its scaled value)
  block i  (features.2 .. features.17): present_i = keep gene (1 if the block
           has none), e_i = u of features.i.expand, weight w_i = 1 + 0.05 i
  cap      = sum_i w_i present_i (0.6 + 0.4 e_i) / sum_i w_i
  aspp     = mean of aspp.branch1..3;  aw, ll, dw = u of aspp.width,
           decoder.low_level, decoder.width
  y = 0.40 + 0.30 (1 - exp(-2.5 cap)) / (1 - exp(-2.5))
      + 0.04 aspp (0.5 + 0.5 aw) + 0.015 aspp.pool + 0.02 aw dw + 0.01 ll
      - 0.015 (aw - dw)^2 + 0.01 sin(3 cap (1 + ll))  + N(0, 0.004^2)

Features (both sides): the 33 scaled gene values, log MACs and log params
(35 numbers), standardized on the training rows of each fit. Folds: for
each n, a seeded permutation of the first n rows dealt into 5 folds
(columns fold100, fold300, fold1000).

Peer models, as close to the C library's as scikit-learn allows:
  ridge  StandardScaler -> PolynomialFeatures(2, no bias: x, x_a x_b, x_a^2)
         -> RidgeCV(alphas=logspace(-6, 6, 49)), its default efficient
         leave-one-out choice of alpha (the C side: GCV, continuous)
  gp     StandardScaler -> GaussianProcessRegressor(ConstantKernel *
         Matern(nu=2.5, one length scale) + WhiteKernel, normalize_y,
         n_restarts_optimizer=2: three starts; the C side needs none, it
         scans a grid of length scales with each one's best noise exact)
Output lines, as bench_sur's (_s wall seconds, _cpu process CPU seconds):
  peer n=N kind=K cv_s=.. fit_s=.. cv_cpu=.. fit_cpu=.. tau=.. rho=.. rmse=..
       cov1=.. cov2=..
  peer n=N best=K total_s=.. total_cpu=..
The peer's total is its two CVs plus one refit of the winner, the work
sur_fit_best does.
"""
import csv
import math
import os
import sys
import time

import numpy as np

SIZES = (100, 300, 1000)
FOLDS = 5
NOISE = 0.004


def gen(out):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(root, "clients", "python"))
    import fmas_twin as ft

    space = ft.get_space("deeplabv3plus-mobilenetv2")
    genes = ft.genes(space)["genes"]
    names = [g["name"] for g in genes]
    choices = [g["choices"] for g in genes]
    rng = np.random.default_rng(2026)
    seen, rows = set(), []
    while len(rows) < 1000:
        g = tuple(int(rng.integers(len(c))) for c in choices)
        if g in seen:
            continue
        seen.add(g)
        params, macs = ft.layer_costs(ft.layers(space, list(g)))
        rows.append((g, math.log(macs), math.log(params)))
    folds = {}
    for n in SIZES:
        perm = rng.permutation(n)
        f = np.empty(n, dtype=int)
        f[perm] = np.arange(n) % FOLDS
        folds[n] = f
    with open(os.path.join(out, "sur_data.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["y", "log_macs", "log_params"] + [f"fold{n}" for n in SIZES]
                   + [f"{nm}:" + ";".join(f"{c:g}" for c in ch)
                      for nm, ch in zip(names, choices)])
        for i, (g, lm, lp) in enumerate(rows):
            u = {names[k]: scaled(choices[k], g[k]) for k in range(len(g))}
            y = target(u) + NOISE * rng.standard_normal()
            fl = [int(folds[n][i]) if i < n else -1 for n in SIZES]
            w.writerow([f"{y:.17g}", f"{lm:.17g}", f"{lp:.17g}"] + fl + list(g))


def scaled(ch, idx):
    lo, hi = min(ch), max(ch)
    return (ch[idx] - lo) / (hi - lo) if hi > lo else 0.0


def target(u):
    num = den = 0.0
    for i in range(2, 18):
        w = 1 + 0.05 * i
        present = u.get(f"features.{i}.keep", 1.0)
        num += w * present * (0.6 + 0.4 * u[f"features.{i}.expand"])
        den += w
    cap = num / den
    aspp = (u["aspp.branch1"] + u["aspp.branch2"] + u["aspp.branch3"]) / 3
    aw, ll, dw = u["aspp.width"], u["decoder.low_level"], u["decoder.width"]
    return (0.40 + 0.30 * (1 - math.exp(-2.5 * cap)) / (1 - math.exp(-2.5))
            + 0.04 * aspp * (0.5 + 0.5 * aw) + 0.015 * u["aspp.pool"]
            + 0.02 * aw * dw + 0.01 * ll - 0.015 * (aw - dw) ** 2
            + 0.01 * math.sin(3 * cap * (1 + ll)))


def read(out):
    """Gene names and choices (from the header: name:c0;c1;...), genomes,
    extra features, y, and the folds of each n."""
    with open(os.path.join(out, "sur_data.csv")) as fh:
        r = csv.reader(fh)
        head = next(r)
        a = np.array([list(map(float, row)) for row in r])
    first = 3 + len(SIZES)
    genes = []
    for col in head[first:]:
        name, ch = col.split(":")
        genes.append((name, [float(c) for c in ch.split(";")]))
    folds = {n: a[:, 3 + k].astype(int) for k, n in enumerate(SIZES)}
    return genes, a[:, first:].astype(int), a[:, 1:3], a[:, 0], folds


def features(genes, genomes, extra):
    """The scaled value of every gene, then the extra columns."""
    cols = [[scaled(ch, int(i)) for i in genomes[:, k]]
            for k, (_, ch) in enumerate(genes)]
    return np.hstack([np.array(cols).T, extra])


ROUNDS = 3
ROUND_BUDGET_S = 5.0


def run(out):
    from scipy.stats import kendalltau, spearmanr
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    genes, genomes, extra, y_all, folds = read(out)
    X_all = features(genes, genomes, extra)
    d = X_all.shape[1]

    def ridge():
        return make_pipeline(StandardScaler(),
                             PolynomialFeatures(2, include_bias=False),
                             RidgeCV(alphas=np.logspace(-6, 6, 49)))

    def gp():
        k = (ConstantKernel(1.0, (1e-3, 1e3))
             * Matern(length_scale=math.sqrt(d), length_scale_bounds=(1e-2, 1e3), nu=2.5)
             + WhiteKernel(1e-2, (1e-8, 1e1)))
        return make_pipeline(StandardScaler(),
                             GaussianProcessRegressor(k, normalize_y=True,
                                                      n_restarts_optimizer=2,
                                                      random_state=0))

    for n in SIZES:
        X, y, fold = X_all[:n], y_all[:n], folds[n][:n]
        res = {}
        for kind, make in (("ridge", ridge), ("gp", gp)):
            # Best of up to ROUNDS rounds of CV + final fit while the rounds
            # so far took under ROUND_BUDGET_S, as bench_sur does.
            best_t, spent = None, 0.0
            for rnd in range(ROUNDS):
                if rnd and spent >= ROUND_BUDGET_S:
                    break
                mean = np.empty(n)
                std = np.full(n, np.nan)
                t0, c0 = time.perf_counter(), time.process_time()
                for f in range(FOLDS):
                    tr, te = fold != f, fold == f
                    m = make().fit(X[tr], y[tr])
                    if kind == "gp":
                        mean[te], std[te] = m.predict(X[te], return_std=True)
                    else:
                        mean[te] = m.predict(X[te])
                cv_s, cv_cpu = time.perf_counter() - t0, time.process_time() - c0
                t0, c0 = time.perf_counter(), time.process_time()
                make().fit(X, y)
                fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
                spent += cv_s + fit_s
                if best_t is None or cv_s + fit_s < best_t[0] + best_t[1]:
                    best_t = (cv_s, fit_s, cv_cpu, fit_cpu)
            cv_s, fit_s, cv_cpu, fit_cpu = best_t
            tau = kendalltau(y, mean)[0]
            rho = spearmanr(y, mean)[0]
            rmse = float(np.sqrt(np.mean((y - mean) ** 2)))
            e = np.abs(y - mean)
            cov1 = float(np.mean(e <= std)) if kind == "gp" else float("nan")
            cov2 = float(np.mean(e <= 2 * std)) if kind == "gp" else float("nan")
            res[kind] = (tau, rmse, cv_s, fit_s, cv_cpu, fit_cpu)
            print(f"peer n={n} kind={kind} cv_s={cv_s:.4f} fit_s={fit_s:.4f} "
                  f"cv_cpu={cv_cpu:.4f} fit_cpu={fit_cpu:.4f} "
                  f"tau={tau:.4f} rho={rho:.4f} rmse={rmse:.5f} "
                  f"cov1={cov1:.3f} cov2={cov2:.3f}", flush=True)
        best = max(res, key=lambda k: (res[k][0], -res[k][1]))
        # Model selection as sur_fit_best does it: both CVs on the same
        # folds, then one refit of the winner on all rows.
        total = res["ridge"][2] + res["gp"][2] + res[best][3]
        total_cpu = res["ridge"][4] + res["gp"][4] + res[best][5]
        print(f"peer n={n} best={best} total_s={total:.4f} "
              f"total_cpu={total_cpu:.4f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("gen", "run"):
        sys.exit(__doc__)
    (gen if sys.argv[1] == "gen" else run)(sys.argv[2])
