"""clients/python as a package: pip installs it offline into a virtual
environment that sees Debian's python3-torch (editable, and as a wheel
built from a copy of the tree), and every console script answers --help
from outside the source tree without PYTHONPATH."""

import os
import shutil
import subprocess

import pytest

from evalhelp import PY, ROOT

SRC = os.path.join(ROOT, "clients", "python")
SCRIPTS = ["fmas-eval", "fmas-make-voc", "fmas-profile-layers", "fmas-profile-networks",
           "fmas-train-demo", "fmas-twin"]


def _env():
    e = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    e.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", OMP_NUM_THREADS="1")
    return e


def _run(args, cwd, timeout=300):
    p = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p.stdout


def _venv(path):
    _run([PY, "-m", "venv", "--system-site-packages", path], cwd=path.parent)
    return path / "bin"


def _install(bindir, cwd, *spec):
    _run([bindir / "python", "-m", "pip", "install", "--no-build-isolation", "--no-deps",
          "--no-index", "--no-cache-dir", "-q", *spec], cwd=cwd)


def _check_scripts(bindir, cwd, origin):
    for name in SCRIPTS:
        out = _run([bindir / name, "--help"], cwd=cwd)
        assert out.startswith("usage: "), (name, out[:200])
    where = _run([bindir / "python", "-c", "import fmas_eval, fmas_twin; "
                  "print(fmas_eval.__file__); print(fmas_twin.__file__)"], cwd=cwd)
    for line in where.splitlines():
        assert os.path.realpath(line).startswith(os.path.realpath(origin)), where


@pytest.mark.parametrize("editable", [True, False], ids=["editable", "wheel"])
def test_pip_install_into_a_venv(tmp_path, editable):
    bindir = _venv(tmp_path / "venv")
    if editable:
        _install(bindir, tmp_path, "-e", SRC)
        origin = SRC
    else:
        # a copy, so that the build leaves nothing behind in the source tree
        src = tmp_path / "src"
        shutil.copytree(SRC, src, ignore=shutil.ignore_patterns(
            "__pycache__", "build", "*.egg-info"))
        _install(bindir, tmp_path, src)
        origin = tmp_path / "venv"
    _check_scripts(bindir, tmp_path, origin)
