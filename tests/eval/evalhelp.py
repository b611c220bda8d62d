"""Helpers shared by the evaluator tests (imported by name; the directory is
on sys.path through conftest.py)."""

import json
import os
import subprocess
import sys

import torch

import fmas_twin as ft

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CLIENTS = os.path.join(ROOT, "clients")
MNV2 = "deeplabv3plus-mobilenetv2"
XCEP = "deeplabv3plus-xception65"
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def randomize_bn(model, seed):
    """Give every BatchNorm non-trivial affine parameters and statistics, so
    that a wrong channel selection shows in the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return model


def random_genome(space, rng):
    return [rng.randrange(len(g.choices)) for g in ft.get_space(space).genes]


def run_tool(name, *args, stdin=None, timeout=600, env=None):
    """Run clients/<name> with /usr/bin/python3; (rc, stdout, stderr)."""
    e = dict(os.environ)
    e.setdefault("OMP_NUM_THREADS", "1")
    if env:
        e.update(env)
    p = subprocess.run([PY, os.path.join(CLIENTS, name), *map(str, args)], input=stdin,
                       capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def one_json(stdout):
    """stdout must be exactly one JSON object on one line."""
    lines = stdout.splitlines()
    assert len(lines) == 1, f"expected one line on stdout, got {len(lines)}: {stdout[:2000]!r}"
    doc = json.loads(lines[0])
    assert isinstance(doc, dict)
    return doc
