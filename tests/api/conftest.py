"""Fixtures of the fmasd API tests.

Each server fixture starts the real binary ($FMASD, else $FMAS_BUILD/fmasd,
else <repo>/build/fmasd) as

    fmasd --listen 127.0.0.1:PORT --data-dir TMPDIR [--no-bundled] [...]

on a free loopback port, waits for GET /v1/health, yields a fmasapi.Client,
and at the end sends SIGTERM and fails the test if the server does not exit
within 10 s or exits non-zero.

- server:            a fresh, empty server per test (--no-bundled)
- shared_server:     one empty server per module, for tests that do not care
                     what else is stored (they use their own device names)
- bundled_server:    a fresh server with the bundled example tables
- small_body_server: one server per module started with --max-body 1024
- fmasd_factory:     start(args=..., data_dir=...) for tests that manage the
                     process themselves
- schemas:           fmasapi.Schemas over schemas/*.json
"""

import itertools

import pytest

import fmasapi


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes seconds (concurrency, crash/restart)")


_counter = itertools.count()


@pytest.fixture(scope="session")
def schemas():
    return fmasapi.Schemas()


def _start(tmp_path_factory, schemas, args, name):
    data_dir = tmp_path_factory.mktemp(f"fmasd-{name}-{next(_counter)}") / "data"
    proc = fmasapi.FmasdProcess(data_dir, args)
    try:
        return proc, proc.start(schemas)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


def _finish(proc):
    problem = proc.stop(timeout=10.0)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def server(tmp_path_factory, schemas):
    proc, client = _start(tmp_path_factory, schemas, ["--no-bundled"], "empty")
    yield client
    _finish(proc)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory, schemas):
    proc, client = _start(tmp_path_factory, schemas, ["--no-bundled"], "shared")
    yield client
    _finish(proc)


@pytest.fixture
def bundled_server(tmp_path_factory, schemas):
    proc, client = _start(tmp_path_factory, schemas, [], "bundled")
    yield client
    _finish(proc)


@pytest.fixture(scope="module")
def small_body_server(tmp_path_factory, schemas):
    proc, client = _start(tmp_path_factory, schemas,
                          ["--no-bundled", "--max-body", "1024"], "small")
    yield client
    _finish(proc)


@pytest.fixture
def fmasd_factory(tmp_path_factory, schemas):
    """start(args=("--no-bundled",), data_dir=None) -> FmasdProcess (started).

    Every process still running at the end is stopped with SIGTERM and must
    exit 0 within 10 s."""
    procs = []

    def start(args=("--no-bundled",), data_dir=None):
        if data_dir is None:
            data_dir = tmp_path_factory.mktemp(f"fmasd-own-{next(_counter)}") / "data"
        proc = fmasapi.FmasdProcess(data_dir, list(args))
        procs.append(proc)
        try:
            proc.start(schemas)
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)
        return proc

    yield start
    problems = [p for p in (proc.stop(timeout=10.0) for proc in procs if proc.proc) if p]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
