"""Helpers shared by the evaluator tests (imported by name: pytest puts this
directory on sys.path; fmas_eval and fmas_twin come from clients/python on
PYTHONPATH, set by tests/CMakeLists.txt)."""

import json
import os
import subprocess
import sys

import torch

import fmas_twin as ft

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PYTHONPATH = os.path.join(ROOT, "clients", "python")
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


def tool_module(name):
    """fmas-<tool> -> fmas_eval.cli_<tool>, the module of its entry point."""
    assert name.startswith("fmas-"), name
    return "fmas_eval.cli_" + name[len("fmas-"):].replace("-", "_")


def run_tool(name, *args, stdin=None, timeout=600, env=None):
    """Run the tool `name` (fmas-eval, ...) of this tree in place with
    /usr/bin/python3 (PYTHONPATH=clients/python python3 -m fmas_eval.cli_...);
    (rc, stdout, stderr)."""
    e = dict(os.environ)
    e.setdefault("OMP_NUM_THREADS", "1")
    e["PYTHONPATH"] = os.pathsep.join(p for p in (PYTHONPATH, e.get("PYTHONPATH")) if p)
    if env:
        e.update(env)
    p = subprocess.run([PY, "-m", tool_module(name), *map(str, args)], input=stdin,
                       capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def one_json(stdout):
    """stdout must be exactly one JSON object on one line."""
    lines = stdout.splitlines()
    assert len(lines) == 1, f"expected one line on stdout, got {len(lines)}: {stdout[:2000]!r}"
    doc = json.loads(lines[0])
    assert isinstance(doc, dict)
    return doc
