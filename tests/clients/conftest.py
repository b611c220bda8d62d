"""Fixtures of the end-to-end tests of the C clients (fmas-search, fmas-lut).

Each test starts the real fmasd (tests/api/fmasapi.py) on a free loopback
port with a temporary data directory, and runs the real client binaries:
$FMAS_SEARCH / $FMAS_LUT, else $FMAS_BUILD/clients/c/..., else
<repo>/build/clients/c/....
"""

import itertools
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "api"))
sys.path.insert(0, str(HERE))

import fmasapi  # noqa: E402

_counter = itertools.count()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes seconds (searches, crashes, restarts)")


@pytest.fixture(scope="session")
def schemas():
    return fmasapi.Schemas()


def _start(tmp_path_factory, schemas, args, name):
    data_dir = tmp_path_factory.mktemp(f"fmasd-{name}-{next(_counter)}") / "data"
    proc = fmasapi.FmasdProcess(data_dir, args)
    try:
        proc.start(schemas)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    return proc


@pytest.fixture
def fmasd(tmp_path_factory, schemas):
    """A fresh, empty fmasd (an FmasdProcess; .client, .port)."""
    proc = _start(tmp_path_factory, schemas, ["--no-bundled"], "empty")
    yield proc
    problem = proc.stop(timeout=10.0)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def bundled_fmasd(tmp_path_factory, schemas):
    """A fresh fmasd with the bundled example-cpu table."""
    proc = _start(tmp_path_factory, schemas, [], "bundled")
    yield proc
    problem = proc.stop(timeout=10.0)
    if problem:
        pytest.fail(problem, pytrace=False)
