"""Bearer tokens (docs/api.md "Authentication"): fmasd --token-file makes
every write (any method but GET and HEAD) need "Authorization: Bearer
<token>"; --read-token makes reads need a token too, except /v1/health and
the dashboard page. A missing or malformed header is 401 with
WWW-Authenticate, a wrong token 403, both problem+json (checked by
fmasapi.Client against schemas/problem.json and the type of docs/api.md),
answered before the body is read. Bad token files stop fmasd with status 2.
Without a token everything is open, as the rest of the suite shows."""

import os
import socket
import subprocess
import time

import pytest

import fmasapi

WRITE = "w-0123456789abcdef"
READ = "r-fedcba9876543210"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def token_file(tmp_path, name, text, mode=0o600):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


@pytest.fixture
def write_protected(fmasd_factory, tmp_path):
    return fmasd_factory(["--no-bundled", "--token-file",
                          token_file(tmp_path, "write.token", WRITE + "\n")]).client


@pytest.fixture
def read_protected(fmasd_factory, tmp_path):
    return fmasd_factory(["--no-bundled",
                          "--token-file", token_file(tmp_path, "write.token", WRITE + "\n"),
                          "--read-token", token_file(tmp_path, "read.token", READ)]).client


# (method, path, JSON body, status with the right token) for every kind of write.
ENTRY = fmasapi.entry("conv2d", 10.0, cin=8, cout=8, k=3, h=16, w=16)
WRITES = [
    ("PUT", "/v1/devices/dev-a", {"unit": "us"}, (200, 201)),
    ("POST", "/v1/devices/dev-a/lut", None, (200,)),
    ("POST", "/v1/estimate", {"device": "dev-a", "layers": []}, (200, 422)),
    ("POST", "/v1/spaces/deeplabv3plus-mobilenetv2/expand", {"genome": [0] * 33}, (200, 422)),
    ("POST", "/v1/spaces/no-such/observations", {"observations": []}, (404, 422)),
    ("DELETE", "/v1/devices/dev-a", None, (204,)),
]


def send(client, method, path, body, headers=None, expect=None):
    hdrs = dict(headers or {})
    if path.endswith("/lut"):
        raw, ctype = fmasapi.encode_rows([ENTRY], "json")
        hdrs["Content-Type"] = ctype
        return client.request(method, path, body=raw, headers=hdrs, expect=expect)
    if body is None:
        return client.request(method, path, headers=hdrs, expect=expect)
    return client.request(method, path, json_body=body, headers=hdrs, expect=expect)


def assert_401(r):
    assert r.header("WWW-Authenticate") == 'Bearer realm="fmasd"', r
    assert r.json["errors"][0].get("parameter") == "Authorization", r


def test_writes_need_the_token(write_protected):
    c = write_protected
    for method, path, body, ok in WRITES:
        assert_401(send(c, method, path, body, expect=401))
        for bad in ("Basic dXNlcjpwdw==", "Bearer", "Bearer ", "bearer", WRITE,
                    f"Bearer {WRITE} extra"):
            assert_401(send(c, method, path, body, {"Authorization": bad}, expect=401))
        for wrong in ("nope", WRITE[:-1], WRITE + "x", WRITE.upper(), READ):
            send(c, method, path, body, bearer(wrong), expect=403)
        send(c, method, path, body, bearer(WRITE), expect=ok)
    # The scheme is case-insensitive (RFC 7235); spaces around the token are fine.
    send(c, "PUT", "/v1/devices/dev-b", {"unit": "us"}, {"Authorization": f"bearer   {WRITE} "},
         expect=(200, 201))


def test_reads_stay_open_without_a_read_token(write_protected):
    c = write_protected
    c.put("/v1/devices/dev-r", {"unit": "us"}, headers=bearer(WRITE), expect=201)
    for path in ("/v1/health", "/v1/devices", "/v1/devices/dev-r", "/v1/spaces", "/metrics"):
        c.get(path, expect=200)
    c.get("/v1/devices", headers=bearer("wrong"), expect=200)
    c.get("/", expect=(200, 503), schema=None)


def test_read_token(read_protected):
    c = read_protected
    c.get("/v1/health", expect=200)
    c.get("/", expect=(200, 503), schema=None)
    for path in ("/v1/devices", "/v1/spaces", "/metrics", "/v1/devices/none"):
        assert_401(c.get(path, expect=401))
        c.get(path, headers=bearer("wrong"), expect=403)
        c.get(path, headers=bearer(READ), expect=(200, 404))
        c.get(path, headers=bearer(WRITE), expect=(200, 404))
    # The read token grants no write.
    c.put("/v1/devices/dev-x", {"unit": "us"}, headers=bearer(READ), expect=403)
    c.put("/v1/devices/dev-x", {"unit": "us"}, headers=bearer(WRITE), expect=201)


def test_refusals_are_counted(write_protected):
    c = write_protected
    c.put("/v1/devices/dev-m", {"unit": "us"}, expect=401)
    c.put("/v1/devices/dev-m", {"unit": "us"}, headers=bearer("x"), expect=403)
    text = c.get("/metrics", expect=200).text
    assert 'route="/v1/devices/{name}",status="401"} 1' in text, text[:2000]
    assert 'route="/v1/devices/{name}",status="403"} 1' in text


def test_token_from_the_environment(fmasd_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("FMAS_TOKEN", WRITE)
    c = fmasd_factory().client
    c.put("/v1/devices/dev-e", {"unit": "us"}, expect=401)
    c.put("/v1/devices/dev-e", {"unit": "us"}, headers=bearer(WRITE), expect=201)
    monkeypatch.delenv("FMAS_TOKEN")
    monkeypatch.setenv("FMAS_TOKEN_FILE", token_file(tmp_path, "env.token", "from-file\n"))
    c = fmasd_factory().client
    c.put("/v1/devices/dev-e", {"unit": "us"}, headers=bearer(WRITE), expect=403)
    c.put("/v1/devices/dev-e", {"unit": "us"}, headers=bearer("from-file"), expect=201)


def test_group_readable_file_warns(fmasd_factory, tmp_path):
    proc = fmasd_factory(["--no-bundled", "--token-file",
                          token_file(tmp_path, "open.token", WRITE, 0o644)])
    proc.client.put("/v1/devices/dev-w", {"unit": "us"}, headers=bearer(WRITE), expect=201)
    log = proc.log_path.read_text()
    assert "may be read by group or others" in log
    assert WRITE not in log, "a token must never be logged"


def run_fmasd(args, env_extra=None, tmp_path=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FMAS_TOKEN")
           and not k.startswith("FMAS_READ_TOKEN")}
    env.update(env_extra or {})
    return subprocess.run([str(fmasapi.fmasd_path()), "--listen", "127.0.0.1:0", "--no-bundled",
                           "--data-dir", str(tmp_path / "data"), *args],
                          env=env, capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("case", ["missing", "empty", "newline", "space", "read-alone",
                                  "env-empty-file", "env-bad-text"])
def test_bad_tokens_stop_fmasd(tmp_path, case):
    args, env = [], {}
    if case == "missing":
        args, want = ["--token-file", str(tmp_path / "absent")], "cannot read the token file"
    elif case == "empty":
        args, want = ["--token-file", token_file(tmp_path, "t", "")], "empty token"
    elif case == "newline":
        args, want = ["--token-file", token_file(tmp_path, "t", "\n")], "empty token"
    elif case == "space":
        args, want = ["--token-file", token_file(tmp_path, "t", "two words\n")], "space"
    elif case == "read-alone":
        args, want = ["--read-token", token_file(tmp_path, "t", READ)], "needs a write token"
    elif case == "env-empty-file":
        env, want = {"FMAS_TOKEN_FILE": token_file(tmp_path, "t", "")}, "empty token"
    else:
        env, want = {"FMAS_TOKEN": "a\tb"}, "FMAS_TOKEN"
    r = run_fmasd(args, env, tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert want in r.stderr, r.stderr


def test_unauthenticated_upload_is_refused_unread(write_protected):
    """Headers announcing 50 MB and a little body: the 401 comes at once,
    without the server waiting for (or reading) the rest."""
    c = write_protected
    with socket.create_connection((c.host, c.port), timeout=5) as s:
        s.sendall(b"POST /v1/devices/dev-a/lut HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-ndjson\r\n"
                  b"Content-Length: 52428800\r\n\r\n" + b"{}\n" * 300)
        t0 = time.monotonic()
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 401"), data[:200]
    assert b"WWW-Authenticate: Bearer" in data
    assert took < 2.0, took
    c.get("/v1/health", expect=200)
