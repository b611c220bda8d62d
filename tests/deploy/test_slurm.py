"""fmas-search with --launcher 'srun -N1 -n1 ...' on a single-node Slurm
that the test starts on this machine (munged, slurmctld and slurmd with a
slurm.conf of their own in a temporary directory; docs/deploy.md).

Every evaluation runs as a Slurm job named fmas-PID-N; failures are
retried; a timed-out attempt is cancelled in Slurm (scancel by name) and no
job is left behind; a search killed mid-generation resumes from its
journal into exactly the search it would have been. Skips with one SKIP
line where slurm-wlm or munge is not installed or the daemons do not start.
"""

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "api"))
sys.path.insert(0, str(HERE.parent / "clients"))
import clientlib as cl  # noqa: E402
import fmasapi  # noqa: E402

TOOLS = ("munged", "slurmctld", "slurmd", "srun", "scancel", "squeue", "sinfo")


def tool(name):
    return shutil.which(name) or next((f"{d}/{name}" for d in ("/usr/sbin", "/sbin")
                                       if os.access(f"{d}/{name}", os.X_OK)), None)


MISSING = [t for t in TOOLS if not tool(t)]
if MISSING:
    pytest.skip(f"Slurm is not installed (no {', '.join(MISSING)}; apt-get install slurm-wlm munge)",
                allow_module_level=True)

SLURM_CONF = """ClusterName=fmastest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
AuthInfo=socket={tmp}/munge.sock
CredType=cred/munge
SlurmUser={user}
SlurmdUser={slurmd_user}
StateSaveLocation={tmp}/state
SlurmdSpoolDir={tmp}/spool
SlurmctldPidFile={tmp}/slurmctld.pid
SlurmdPidFile={tmp}/slurmd.pid
SlurmctldLogFile={tmp}/slurmctld.log
SlurmdLogFile={tmp}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
ReturnToService=2
MinJobAge=2
KillWait=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=fmas Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
"""


def run_quiet(args, env, timeout=30):
    return subprocess.run(args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def start_daemons(tmp, env):
    """munged, slurmctld, slurmd; returns a text saying why not, or None."""
    key = tmp / "munge.key"
    key.write_bytes(os.urandom(128))
    key.chmod(0o600)
    p = run_quiet([tool("munged"), "--force", f"--socket={tmp}/munge.sock", f"--key-file={key}",
                   f"--pid-file={tmp}/munged.pid", f"--log-file={tmp}/munged.log",
                   f"--seed-file={tmp}/munge.seed"], env)
    if p.returncode != 0:
        return f"munged does not start: {p.stderr.strip()[-300:]}"
    p = run_quiet([tool("slurmctld"), "-f", env["SLURM_CONF"], "-i"], env)
    if p.returncode != 0:
        return f"slurmctld does not start: {p.stderr.strip()[-300:]}"
    p = run_quiet([tool("slurmd"), "-f", env["SLURM_CONF"], "-N", socket.gethostname()], env)
    if p.returncode != 0:
        return f"slurmd does not start: {p.stderr.strip()[-300:]}"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        p = run_quiet([tool("srun"), "-N1", "-n1", "--quiet", "true"], env, timeout=20)
        if p.returncode == 0:
            return None
        time.sleep(1)
    return f"a job does not run: {p.stderr.strip()[-300:]}"


def stop_daemons(tmp):
    for name in ("slurmd", "slurmctld", "munged"):
        pid_file = tmp / f"{name}.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """The environment (SLURM_CONF) of a running single-node Slurm."""
    tmp = tmp_path_factory.mktemp("slurm")
    for d in ("state", "spool"):
        (tmp / d).mkdir()
    user = getpass.getuser()
    conf = tmp / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=socket.gethostname(), tmp=tmp, user=user,
                                      slurmd_user="root" if os.geteuid() == 0 else user,
                                      ctld_port=fmasapi.free_port(), slurmd_port=fmasapi.free_port(),
                                      cpus=os.cpu_count() or 1))
    env = dict(os.environ, SLURM_CONF=str(conf))
    try:
        why = start_daemons(tmp, env)
        if why:
            pytest.skip(f"a single-node Slurm does not start here: {why}")
        yield env
    finally:
        stop_daemons(tmp)


@pytest.fixture
def fmasd(tmp_path_factory):
    proc = fmasapi.FmasdProcess(tmp_path_factory.mktemp("fmasd") / "data", ["--no-bundled"])
    proc.start(fmasapi.Schemas())
    yield proc
    proc.stop()


LAUNCHER = "srun -N1 -n1 --quiet"


def tagged(*args):
    """The synthetic evaluator, logging the Slurm job name it ran under."""
    return "sh -c " + cl.shell_quote('SYNTH_TAG="$SLURM_JOB_NAME" exec ' + cl.evaluator_cmd(*args))


def squeue(env):
    return run_quiet([tool("squeue"), "-h", "-o", "%i %j %T"], env).stdout.split("\n")


def generations(records):
    return [(r["gen"], r["population"], r["rng"]) for r in records if r["type"] == "generation"]


def kill_mid_generation(args, journal_path, env, min_evals):
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if journal_path.exists():
                lines = journal_path.read_text().splitlines()
                if sum('"type":"eval"' in line for line in lines) >= min_evals and '"type":"eval"' in lines[-1]:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return
            time.sleep(0.01)
        raise AssertionError("no mid-generation moment to kill at")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_evaluations_are_slurm_jobs_and_resume_exactly(slurm, fmasd, tmp_path):
    ref_space = cl.create_toy(fmasd.client, "toy-ref")
    space = cl.create_toy(fmasd.client, "toy-slurm")
    pop, gens = 8, 3
    cl.run(cl.search_args(fmasd.port, ref_space, tmp_path / "ref", pop=pop, gens=gens))
    ref = cl.journal(tmp_path / "ref" / "journal.jsonl")

    log = tmp_path / "calls.jsonl"
    d = tmp_path / "slurm"
    args = cl.search_args(fmasd.port, space, d, pop=pop, gens=gens, jobs=2,
                          evaluator=tagged("--log", log), extra=["--launcher", LAUNCHER])
    jpath = d / "journal.jsonl"
    t0 = time.monotonic()
    kill_mid_generation(args, jpath, slurm, 10)
    before = cl.journal(jpath)
    p = cl.run(args, env={"SLURM_CONF": slurm["SLURM_CONF"]})
    elapsed = time.monotonic() - t0
    assert b"resuming from" in p.stderr
    after = cl.journal(jpath)
    calls = cl.log_calls(log)
    n_ok = len(cl.evals(after, ok=True))
    print(f"\n{len(calls)} evaluations as Slurm jobs in {elapsed:.1f} s "
          f"({elapsed / max(len(calls), 1):.2f} s each, 2 at a time), killed after {len(cl.evals(before))}")
    # Every evaluation ran as a Slurm job of its own name.
    assert calls and all(c["tag"].startswith("fmas-") for c in calls), calls[:3]
    assert len({c["tag"] for c in calls}) == len(calls)
    # Nothing recorded before the kill ran again; the same search as the
    # one without Slurm and without the kill.
    done = {tuple(r["genome"]) for r in cl.evals(before, ok=True)}
    assert len(calls) <= n_ok + 2 * 2  # at most the attempts in flight at the kill ran twice
    assert generations(after) == generations(ref)
    assert cl.front_genomes(d / "out")[0] == cl.front_genomes(tmp_path / "ref" / "out")[0]
    assert done <= {tuple(r["genome"]) for r in cl.evals(after, ok=True)}


def test_failures_are_retried_through_slurm(slurm, fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy-flaky")
    ev = tagged("--mode", "flaky", "--state", tmp_path / "state")
    p = cl.run(cl.search_args(fmasd.port, space, tmp_path, evaluator=ev, pop=8, gens=1,
                              extra=["--launcher", LAUNCHER, "--retries", "1"]), env=slurm)
    records = cl.journal(tmp_path / "journal.jsonl")
    failed = cl.evals(records, ok=False)
    assert failed and all(r["error"] == "exit status 3" for r in failed), failed[:2]
    assert b"retrying" in p.stderr
    ok = {tuple(r["genome"]) for r in cl.evals(records, ok=True)}
    assert {tuple(r["genome"]) for r in failed} <= ok


def test_timed_out_jobs_are_cancelled(slurm, fmasd, tmp_path):
    space = cl.create_toy(fmasd.client, "toy-hang")
    ev = tagged("--mode", "hang", "--state", tmp_path / "state")
    t0 = time.monotonic()
    # As many at once as the node has CPUs: the deadline counts the wait in
    # the queue too (docs/deploy.md).
    cl.run(cl.search_args(fmasd.port, space, tmp_path, evaluator=ev, pop=8, gens=1, jobs=min(os.cpu_count() or 1, 4),
                          extra=["--launcher", LAUNCHER, "--eval-timeout", "4", "--retries", "1"]), env=slurm)
    records = cl.journal(tmp_path / "journal.jsonl")
    timed_out = cl.evals(records, ok=False)
    assert timed_out and all("timed out after 4 s" in r["error"] for r in timed_out)
    ok = {tuple(r["genome"]) for r in cl.evals(records, ok=True)}
    assert {tuple(r["genome"]) for r in timed_out} <= ok
    # scancel took the hanging jobs out of Slurm: none is left.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(squeue(slurm)):
        time.sleep(0.2)
    print(f"\n{len(timed_out)} timed-out attempts cancelled; search took {time.monotonic() - t0:.1f} s")
    assert not any(squeue(slurm)), squeue(slurm)
    leftovers = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert str(tmp_path / "state") not in leftovers


def test_fmas_eval_evaluations_through_slurm(slurm, tmp_path):
    """The demo loop of tests/loop (synthetic VOC, stand-in checkpoint,
    fmas-eval on a validation subset of 8, 2 generations of 4) with every
    evaluation and fine-tune run through srun."""
    root = HERE.parents[1]
    build = Path(os.environ.get("FMAS_BUILD") or root / "build")
    server = fmasapi.FmasdProcess(tmp_path / "data", [])
    server.start(fmasapi.Schemas())
    try:
        env = dict(slurm, FMAS_DEMO_DIR=str(tmp_path / "demo"), FMAS_BUILD=str(build),
                   FMAS_DEMO_SIZE="33", FMAS_DEMO_SUBSET="8", FMAS_DEMO_POP="4", FMAS_DEMO_GENS="2",
                   FMAS_DEMO_TRAIN_ITERS="5", FMAS_DEMO_REPEATS="1", FMAS_DEMO_FT_ITERS="2",
                   FMAS_DEMO_JOBS="2", FMAS_DEMO_LAUNCHER=LAUNCHER)
        env.pop("FMAS_VOC_ROOT", None)
        env.pop("FMAS_CHECKPOINT", None)
        t0 = time.monotonic()
        run = subprocess.run([str(root / "clients" / "fmas-demo"), f"http://127.0.0.1:{server.port}"], env=env,
                             capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stderr[-4000:]
        out = sorted((tmp_path / "demo").glob("search-*"))[0]
        front = json.loads((out / "front.json").read_text())
        assert front["generations"] == 2 and front["evaluations"] >= 4 and front["front"]
        assert all("finetuned" in m for m in front["front"])
        records = cl.journal(out / "journal.jsonl")
        evals = [r for r in records if r.get("type") == "eval"]
        assert evals and all(r["ok"] for r in evals)
        print(f"\n{len(evals)} fmas-eval runs (evaluations and fine-tunes) through srun; "
              f"the whole demo took {time.monotonic() - t0:.0f} s")
    finally:
        server.stop()
