"""The C clients against a fmasd that wants a bearer token
(docs/api.md "Authentication"): fmas-lut and fmas-search take the token
from --token-file, $FMAS_TOKEN_FILE or $FMAS_TOKEN, succeed with it, and
fail with a clear message (never showing the token) without it."""

import os

import pytest

import clientlib as cl
import fmasapi

WRITE = "write-token-0123456789"
READ = "read-token-9876543210"
NO_TOKEN = {"FMAS_TOKEN": "", "FMAS_TOKEN_FILE": ""}


def token_file(path, text):
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def protected(tmp_path_factory, schemas):
    """fmasd with a write token and a read token; yields (process, write
    token file, read token file)."""
    d = tmp_path_factory.mktemp("fmasd-auth")
    wf = token_file(d / "write.token", WRITE + "\n")
    rf = token_file(d / "read.token", READ + "\n")
    proc = fmasapi.FmasdProcess(d / "data", ["--no-bundled", "--token-file", str(wf),
                                             "--read-token", str(rf)])
    try:
        proc.start(schemas)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield proc, wf, rf
    problem = proc.stop(timeout=10.0)
    if problem:
        pytest.fail(problem, pytrace=False)


ROWS = [fmasapi.entry("conv2d", 10.0 + i, cin=8, cout=8 * (i + 1), k=3, h=16, w=16) for i in range(3)]


def lut(port, *args, env=None, check=True):
    return cl.run([str(cl.FMAS_LUT), "--server", f"http://127.0.0.1:{port}", *map(str, args)],
                  env={**NO_TOKEN, **(env or {})}, check=check)


def upload_file(tmp_path):
    body, _ = fmasapi.encode_rows(ROWS, "ndjson")
    path = tmp_path / "rows.ndjson"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return path


def no_secret(p):
    text = p.stdout.decode() + p.stderr.decode()
    assert WRITE not in text and READ not in text, "a token must never be printed"
    return p.stderr.decode()


def devices(proc, *names):
    for name in names:
        proc.client.put(f"/v1/devices/{name}", {"unit": "us"},
                        headers={"Authorization": f"Bearer {WRITE}"}, expect=201)


def test_lut_with_the_token_from_a_file_or_the_environment(protected, tmp_path):
    proc, wf, rf = protected
    devices(proc, "a", "b", "c")
    rows = upload_file(tmp_path)
    no_secret(lut(proc.port, "--token-file", wf, "upload", "--device", "a", rows))
    no_secret(lut(proc.port, "upload", "--device", "b", rows, env={"FMAS_TOKEN_FILE": str(wf)}))
    no_secret(lut(proc.port, "upload", "--device", "c", rows, env={"FMAS_TOKEN": WRITE}))
    # The option wins over the environment; the read token reads.
    p = lut(proc.port, "--token-file", rf, "devices", env={"FMAS_TOKEN": "wrong"})
    assert all(d in p.stdout.decode() for d in ("a", "b", "c"))
    no_secret(lut(proc.port, "export", "--device", "a", env={"FMAS_TOKEN": READ}))


def test_lut_without_or_with_a_wrong_token(protected, tmp_path):
    proc, wf, rf = protected
    devices(proc, "a")
    rows = upload_file(tmp_path)
    p = lut(proc.port, "upload", "--device", "a", rows, check=False)
    err = no_secret(p)
    assert p.returncode != 0
    assert "401" in err and "--token-file" in err, err
    p = lut(proc.port, "--token-file", rf, "upload", "--device", "a", rows, check=False)
    err = no_secret(p)
    assert p.returncode != 0 and "403" in err and "does not grant" in err, err
    p = lut(proc.port, "devices", check=False)
    assert p.returncode != 0 and "401" in no_secret(p)


@pytest.mark.parametrize("case", ["missing", "empty", "env-empty"])
def test_lut_bad_token_file(protected, tmp_path, case):
    proc, _, _ = protected
    env, args = {}, []
    if case == "missing":
        args, want = ["--token-file", tmp_path / "absent"], "cannot read the token file"
    elif case == "empty":
        args, want = ["--token-file", token_file(tmp_path / "e", "\n")], "empty token"
    else:
        env, want = {"FMAS_TOKEN_FILE": str(token_file(tmp_path / "e", ""))}, "FMAS_TOKEN_FILE"
    p = lut(proc.port, *args, "devices", env=env, check=False)
    assert p.returncode == 2, p
    assert want in p.stderr.decode(), p.stderr.decode()


def toy(proc, space_id):
    proc.client.post("/v1/spaces", {"id": space_id, "genes": cl.TOY_GENES},
                     headers={"Authorization": f"Bearer {WRITE}"}, expect=201)
    return space_id


@pytest.mark.slow
def test_search_with_the_token(protected, tmp_path):
    proc, wf, _ = protected
    space = toy(proc, "toy-auth")
    for how, extra, env in (("file", ["--token-file", str(wf)], {}),
                            ("env", [], {"FMAS_TOKEN": WRITE})):
        d = tmp_path / how
        args = cl.search_args(proc.port, space, d, pop=8, gens=2, screen=True, extra=extra)
        no_secret(cl.run(args, env={**NO_TOKEN, **env}, timeout=300))
        assert cl.front_genomes(d / "out")[0]
    obs = proc.client.get(f"/v1/spaces/{space}/observations",
                          headers={"Authorization": f"Bearer {READ}"}, expect=200).json
    assert obs["observations"], "the search posted its measurements"


def test_search_without_the_token(protected, tmp_path):
    proc, _, _ = protected
    space = toy(proc, "toy-noauth")
    args = cl.search_args(proc.port, space, tmp_path, pop=8, gens=2, screen=True)
    p = cl.run(args, env=NO_TOKEN, timeout=120, check=False)
    err = no_secret(p)
    assert p.returncode != 0
    assert "401" in err and "--token-file" in err, err[-2000:]


def test_python_service_client(protected, tmp_path, monkeypatch):
    """fmas_eval.service.Service (the evaluator's and the profilers' client)."""
    monkeypatch.syspath_prepend(str(cl.ROOT / "clients" / "python"))
    from fmas_eval.service import Service, ServiceError, load_token
    proc, wf, rf = protected
    url = f"http://127.0.0.1:{proc.port}"
    for k in NO_TOKEN:
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(ServiceError) as e:
        Service(url).put_device("py", {"unit": "us"})
    assert e.value.status == 401 and "--token-file" in str(e.value)
    assert Service(url, token_file=str(wf)).put_device("py", {"unit": "us"})["name"] == "py"
    monkeypatch.setenv("FMAS_TOKEN", READ)
    assert Service(url).device("py")["name"] == "py"
    with pytest.raises(ServiceError) as e:
        Service(url).put_device("py2", {"unit": "us"})
    assert e.value.status == 403 and READ not in str(e.value)
    monkeypatch.setenv("FMAS_TOKEN_FILE", str(wf))
    assert Service(url).put_device("py2", {"unit": "us"})["name"] == "py2"
    with pytest.raises(ValueError, match="empty token"):
        load_token(str(token_file(tmp_path / "empty", "\n")))
    with pytest.raises(ValueError, match="cannot read"):
        load_token(str(tmp_path / "absent"))
