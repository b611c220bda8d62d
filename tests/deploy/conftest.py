"""The deployment tests need tools from outside the project (nginx, Slurm).
Where one is missing, or its daemons do not start here, the tests that need
it skip, and when nothing ran the session prints one "SKIP: ..." line per
reason and exits 77, which CTest counts as skipped (SKIP_RETURN_CODE in
tests/CMakeLists.txt)."""

import os

_skipped = []
_ran = []


def _reason(longrepr):
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.replace("Skipped: ", "", 1)


def pytest_collectreport(report):
    if report.skipped:
        _skipped.append(_reason(report.longrepr))


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(_reason(report.longrepr))
    elif report.when == "call" or report.failed:
        _ran.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped and not _ran and exitstatus in (0, 5):
        reasons = list(dict.fromkeys(_skipped))
        os.write(1, "".join(f"SKIP: {r}\n" for r in reasons).encode())
        session.exitstatus = 77
