"""Test-side helpers for the fmasd API tests: the server process, an HTTP
client that checks every answer against schemas/, and builders of upload
bodies (JSON, NDJSON, CSV).

Only the standard library (http.client) and jsonschema 4.10 are used, so the
suite runs with Debian's /usr/bin/python3 (python3-pytest, python3-jsonschema).

The client checks, on every answer, what the contract says of every answer:
- no 5xx (a 5xx is a bug; only a test that expects 503 unavailable may get it);
- an error (>= 400) is application/problem+json, validates against
  problem.json, its "status" equals the HTTP status and its "type" is the one
  docs/api.md gives for that status;
- a JSON success body validates against the schema of its route (ROUTES),
  so a test cannot forget to validate;
- 204 has no body.
"""

import csv
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import jsonschema
from jsonschema import Draft202012Validator, RefResolver

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("FMAS_ROOT") or HERE.parents[1])
SCHEMA_DIR = ROOT / "schemas"
SCHEMA_BASE = "https://fmas.dev/schemas/"


def fmasd_path():
    """The server binary: $FMASD, else $FMAS_BUILD/fmasd, else ROOT/build/fmasd."""
    if os.environ.get("FMASD"):
        return Path(os.environ["FMASD"])
    if os.environ.get("FMAS_BUILD"):
        return Path(os.environ["FMAS_BUILD"]) / "fmasd"
    return ROOT / "build" / "fmasd"


# ----------------------------------------------------------------- schemas

class Schemas:
    """Every schemas/*.json (but openapi.json) in one RefResolver store keyed
    by $id, so that relative $refs between files resolve offline."""

    def __init__(self, directory=SCHEMA_DIR):
        self.store = {}
        self.files = {}
        for path in sorted(Path(directory).glob("*.json")):
            if path.name == "openapi.json":
                continue
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            assert schema.get("$id") == SCHEMA_BASE + path.name, \
                f"{path.name}: $id must be {SCHEMA_BASE + path.name}"
            self.store[schema["$id"]] = schema
            self.files[path.name] = schema
        # A RefResolver keeps a stack of scopes while it validates: it must
        # not be shared between threads, so each thread has its validators.
        self._local = threading.local()

    def validator(self, name):
        """name: "device.json" or "layer-key.json#/$defs/canonical"."""
        cache = getattr(self._local, "validators", None)
        if cache is None:
            cache = self._local.validators = {}
        v = cache.get(name)
        if v is None:
            root = {"$ref": SCHEMA_BASE + name}
            resolver = RefResolver(base_uri=SCHEMA_BASE, referrer=root,
                                   store=dict(self.store))
            v = Draft202012Validator(root, resolver=resolver)
            cache[name] = v
        return v

    def errors(self, instance, name):
        return sorted(self.validator(name).iter_errors(instance),
                      key=lambda e: list(map(str, e.absolute_path)))

    def validate(self, instance, name, what="body"):
        errs = self.errors(instance, name)
        if errs:
            lines = []
            for e in errs[:10]:
                where = "/" + "/".join(map(str, e.absolute_path))
                lines.append(f"  at {where}: {e.message[:300]}")
            raise AssertionError(
                f"{what} does not validate against {name}:\n" + "\n".join(lines)
                + f"\n{what}: {json.dumps(instance)[:2000]}")

    def is_valid(self, instance, name):
        return not self.errors(instance, name)


# ------------------------------------------------------------ JSON parsing

class DuplicateKey(ValueError):
    pass


def _no_dup_pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKey(f"duplicate key {k!r}")
        out[k] = v
    return out


def _no_constant(name):
    raise ValueError(f"non-standard JSON literal {name}")


def strict_json(data):
    """Parse JSON as a strict client does: UTF-8, no NaN/Infinity, no
    duplicate keys."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8")
    return json.loads(data, object_pairs_hook=_no_dup_pairs,
                      parse_constant=_no_constant)


# ------------------------------------------------------------------ routes

# (method, path regex, {status: schema}); the schema of every JSON success.
NAME = r"[^/?]+"
ROUTES = [
    ("GET", r"/v1/health", {200: "health.json"}),
    ("GET", r"/v1/devices", {200: "device-list.json"}),
    ("PUT", rf"/v1/devices/{NAME}", {200: "device.json", 201: "device.json"}),
    ("GET", rf"/v1/devices/{NAME}", {200: "device.json"}),
    ("POST", rf"/v1/devices/{NAME}/lut", {200: "lut-upload-result.json"}),
    ("GET", rf"/v1/devices/{NAME}/lut", {200: "lut-page.json"}),
    ("GET", rf"/v1/devices/{NAME}/accuracy", {200: "device-accuracy.json"}),
    ("POST", rf"/v1/devices/{NAME}/measurements", {201: "measurements-post-result.json"}),
    ("GET", rf"/v1/devices/{NAME}/measurements", {200: "measurements-list.json"}),
    ("POST", r"/v1/estimate", {200: "estimate-response.json"}),
    ("GET", r"/v1/spaces", {200: "space-list.json"}),
    ("POST", r"/v1/spaces", {201: "space.json"}),
    ("GET", rf"/v1/spaces/{NAME}", {200: "space.json"}),
    ("POST", rf"/v1/spaces/{NAME}/expand", {200: "space-expand-response.json"}),
    ("GET", rf"/v1/spaces/{NAME}/layers", {200: "space-layers.json"}),
    ("POST", rf"/v1/spaces/{NAME}/estimate", {200: "space-estimate-response.json"}),
    ("POST", rf"/v1/spaces/{NAME}/observations", {201: "observations-post-result.json",
                                                  200: "observations-post-result.json"}),
    ("GET", rf"/v1/spaces/{NAME}/observations", {200: "observations-list.json"}),
    ("GET", rf"/v1/spaces/{NAME}/surrogate", {200: "surrogate.json"}),
    ("POST", rf"/v1/spaces/{NAME}/surrogate:fit", {200: "surrogate.json"}),
    ("POST", rf"/v1/spaces/{NAME}/screen", {200: "screen-response.json"}),
]

# problem "type" suffix per status (400 has two, told apart by the caller).
PROBLEM_TYPES = {
    400: {"malformed-body", "invalid-parameter"},
    401: {"unauthorized"},
    403: {"forbidden"},
    404: {"not-found"},
    405: {"method-not-allowed"},
    406: {"not-acceptable"},
    409: {"conflict", "read-only-replica"},
    413: {"body-too-large"},
    415: {"unsupported-media-type"},
    422: {"invalid-field", "idempotency-key-reused"},
    503: {"unavailable"},
}
PROBLEM_BASE = "https://fmas.dev/problems/"


def schema_for(method, path, status):
    bare = path.split("?", 1)[0]
    for m, rx, by_status in ROUTES:
        if m == method and re.fullmatch(rx, bare):
            return by_status.get(status)
    return None


def media_type(value):
    return (value or "").split(";", 1)[0].strip().lower()


# ------------------------------------------------------------------ client

class Response:
    def __init__(self, method, path, status, reason, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.headers = headers          # http.client.HTTPMessage
        self.body = body                # bytes
        self.json = None
        self.content_type = headers.get("Content-Type", "")

    @property
    def media_type(self):
        return media_type(self.content_type)

    def header(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def text(self):
        return self.body.decode("utf-8")

    def __repr__(self):
        return (f"<{self.method} {self.path} -> {self.status} "
                f"{self.content_type!r} {self.body[:500]!r}>")


class ServerGone(Exception):
    """The connection failed (refused, reset, closed without an answer)."""


class Client:
    """A tiny HTTP client for fmasd. Thread-safe: one connection per call."""

    def __init__(self, host, port, schemas, timeout=60.0):
        self.host = host
        self.port = port
        self.schemas = schemas
        self.timeout = timeout
        self.server = None  # the FmasdProcess, when known

    # The one call every test goes through.
    def request(self, method, path, body=None, json_body=None, headers=None,
                expect=None, schema="auto", chunked=False):
        """Send one request; check it (see module doc) and return a Response.

        body: bytes/str sent as is; json_body: an object serialized as JSON
        (Content-Type application/json unless headers say otherwise).
        expect: an int or a collection of ints the status must be in.
        schema: "auto" (by route), None (no JSON expected), or a schema name.
        chunked: send body with Transfer-Encoding: chunked (an iterable of
        bytes, or bytes split in 512-byte chunks).
        """
        hdrs = dict(headers or {})
        if json_body is not None:
            assert body is None
            body = json.dumps(json_body).encode("utf-8")
            if not any(h.lower() == "content-type" for h in hdrs):
                hdrs["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode("utf-8")
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.timeout)
        try:
            try:
                if chunked:
                    data = body
                    if isinstance(body, (bytes, bytearray)):
                        data = [bytes(body[i:i + 512])
                                for i in range(0, len(body), 512)]
                    conn.request(method, path, body=iter(data), headers=hdrs,
                                 encode_chunked=True)
                else:
                    conn.request(method, path, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (413) and close before reading the
                # whole body; its answer can still be waiting for us.
                pass
            try:
                resp = conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.HTTPException,
                    socket.timeout) as e:
                raise ServerGone(f"{method} {path}: {e!r}") from e
        except ConnectionRefusedError as e:
            raise ServerGone(f"{method} {path}: {e!r}") from e
        finally:
            conn.close()
        r = Response(method, path, resp.status, resp.reason, resp.headers, data)
        self._check(r, expect, schema)
        return r

    def _check(self, r, expect, schema):
        allowed = None
        if expect is not None:
            allowed = {expect} if isinstance(expect, int) else set(expect)
        # A 5xx is a bug, unless the caller asks for one the contract has
        # (503 unavailable while the service stops).
        assert r.status < 500 or (allowed and r.status in allowed), f"5xx is a bug: {r!r}"
        if allowed is not None:
            assert r.status in allowed, f"expected {sorted(allowed)}, got {r!r}"
        if r.status >= 400:
            assert r.media_type == "application/problem+json", \
                f"error answer must be application/problem+json: {r!r}"
            r.json = strict_json(r.body)
            self.schemas.validate(r.json, "problem.json", f"problem of {r.method} {r.path}")
            assert r.json["status"] == r.status, f"problem status != HTTP status: {r!r}"
            t = r.json["type"]
            assert t.startswith(PROBLEM_BASE), r
            if r.status in PROBLEM_TYPES:
                assert t[len(PROBLEM_BASE):] in PROBLEM_TYPES[r.status], \
                    f"problem type {t!r} is not the one for {r.status}: {r!r}"
            if r.status == 405:
                assert r.header("Allow"), f"405 without an Allow header: {r!r}"
            return
        if r.status == 204:
            assert r.body == b"", f"204 with a body: {r!r}"
            return
        if r.media_type in ("application/json", "application/problem+json") \
                or r.media_type.endswith("+json"):
            assert r.media_type == "application/json", r
            r.json = strict_json(r.body)
            name = schema_for(r.method, r.path, r.status) if schema == "auto" else schema
            assert name, f"a JSON answer with no schema to check it against: {r!r}"
            self.schemas.validate(r.json, name, f"answer of {r.method} {r.path}")
        else:
            assert schema in ("auto", None), f"expected JSON ({schema}): {r!r}"

    # Shorthands.
    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, json_body=None, **kw):
        return self.request("PUT", path, json_body=json_body, **kw)

    def post(self, path, json_body=None, **kw):
        return self.request("POST", path, json_body=json_body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # Domain helpers.
    def health(self):
        return self.get("/v1/health", expect=200).json

    def put_device(self, name, expect=(200, 201), **fields):
        if not fields:
            fields = {"unit": "us"}
        return self.put(f"/v1/devices/{name}", fields, expect=expect).json

    def device(self, name):
        return self.get(f"/v1/devices/{name}", expect=200).json

    def devices(self):
        return self.get("/v1/devices", expect=200).json["devices"]

    def upload(self, name, rows, fmt="json", mode=None, expect=200, headers=None):
        """Upload entries (JSON-form dicts) as fmt json|ndjson|csv."""
        body, ctype = encode_rows(rows, fmt)
        hdrs = {"Content-Type": ctype}
        hdrs.update(headers or {})
        q = f"?mode={mode}" if mode else ""
        return self.request("POST", f"/v1/devices/{name}/lut{q}", body=body,
                            headers=hdrs, expect=expect)

    def lut_page(self, name, query="", expect=200):
        return self.get(f"/v1/devices/{name}/lut{query}", expect=expect).json

    def lut_all(self, name, op=None, limit=None):
        """Every row of a device by following next_cursor; returns (rows, pages)."""
        rows, pages, cursor = [], [], None
        while True:
            q = []
            if op:
                q.append(f"op={op}")
            if limit:
                q.append(f"limit={limit}")
            if cursor:
                q.append("cursor=" + urlquote(cursor))
            page = self.lut_page(name, ("?" + "&".join(q)) if q else "")
            pages.append(page)
            rows.extend(page["entries"])
            cursor = page["next_cursor"]
            if cursor is None:
                return rows, pages
            assert len(pages) < 100000, "paging does not end"

    def estimate(self, body, detail=None, expect=200, strict=None):
        q = "&".join(([f"detail={detail}"] if detail else []) +
                     ([f"strict={'true' if strict else 'false'}"] if strict is not None else []))
        return self.post(f"/v1/estimate{'?' + q if q else ''}", body, expect=expect).json

    def spaces(self):
        return self.get("/v1/spaces", expect=200).json["spaces"]

    def space(self, space_id):
        return self.get(f"/v1/spaces/{space_id}", expect=200).json

    def create_space(self, definition, expect=201):
        return self.post("/v1/spaces", definition, expect=expect).json

    def expand(self, space_id, genome, expect=200):
        return self.post(f"/v1/spaces/{space_id}/expand", {"genome": genome}, expect=expect).json

    def space_layers(self, space_id, device=None, expect=200):
        q = f"?device={urlquote(device)}" if device is not None else ""
        return self.get(f"/v1/spaces/{space_id}/layers{q}", expect=expect).json

    def space_estimate(self, space_id, genomes, devices=(), expect=200, strict=None):
        q = "" if strict is None else f"?strict={'true' if strict else 'false'}"
        return self.post(f"/v1/spaces/{space_id}/estimate{q}",
                         {"devices": list(devices), "genomes": list(genomes)}, expect=expect).json

    def post_observations(self, space_id, observations, expect=201):
        return self.post(f"/v1/spaces/{space_id}/observations",
                         {"observations": list(observations)}, expect=expect).json

    def observations(self, space_id, metric=None, fidelity=None, expect=200):
        q = [f"{k}={urlquote(v)}" for k, v in (("metric", metric), ("fidelity", fidelity)) if v is not None]
        path = f"/v1/spaces/{space_id}/observations" + ("?" + "&".join(q) if q else "")
        return self.get(path, expect=expect).json

    def surrogate(self, space_id, metric, fidelity=None, expect=200, fit=False):
        q = f"?metric={urlquote(metric)}"
        if fidelity is not None:
            q += f"&fidelity={urlquote(fidelity)}"
        if fit:
            return self.post(f"/v1/spaces/{space_id}/surrogate:fit{q}", expect=expect).json
        return self.get(f"/v1/spaces/{space_id}/surrogate{q}", expect=expect).json

    def fit(self, space_id, metric, fidelity=None, expect=200):
        return self.surrogate(space_id, metric, fidelity, expect=expect, fit=True)

    def screen(self, space_id, body, expect=200):
        return self.post(f"/v1/spaces/{space_id}/screen", body, expect=expect).json


def urlquote(s):
    from urllib.parse import quote
    return quote(s, safe="")


# ------------------------------------------------------------- the server

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FmasdProcess:
    """One fmasd on a free loopback port with its own data directory."""

    def __init__(self, data_dir, args=(), log_path=None, binary=None):
        self.binary = Path(binary or fmasd_path())
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.log_path = Path(log_path or (str(self.data_dir) + ".log"))
        self.proc = None
        self.port = None
        self.client = None

    def start(self, schemas, timeout=20.0):
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise RuntimeError(
                f"fmasd binary not found at {self.binary} (set FMASD, or build it: "
                "cmake --build build --target fmasd)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        last = None
        for _attempt in range(3):   # a port can be taken between probe and bind
            self.port = free_port()
            log = open(self.log_path, "ab")
            cmd = [str(self.binary), "--listen", f"127.0.0.1:{self.port}",
                   "--data-dir", str(self.data_dir), *self.args]
            log.write(("$ " + " ".join(cmd) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            log.close()
            self.client = Client("127.0.0.1", self.port, schemas)
            self.client.server = self
            try:
                self._wait_ready(timeout)
                return self.client
            except RuntimeError as e:
                last = e
                if self.proc.poll() is None:
                    self.kill9()
        raise last

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fmasd exited with {self.proc.returncode} "
                                   f"before answering:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/v1/health")
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status == 200:
                    return
            except OSError:
                pass
            except http.client.HTTPException:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"fmasd did not answer /v1/health within {timeout}s:\n"
                           f"{self.log_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then wait; returns a problem text or None when it exited 0."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            rc = self.proc.returncode
            self.proc = None
            return f"fmasd had already exited with {rc}:\n{self.log_tail()}"
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return f"fmasd did not exit within {timeout}s of SIGTERM:\n{self.log_tail()}"
        self.proc = None
        if rc != 0:
            return f"fmasd exited with {rc} after SIGTERM:\n{self.log_tail()}"
        return None

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def log_tail(self, n=4000):
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        return data[-n:].decode("utf-8", "replace")


# -------------------------------------------------------- upload encoders

CSV_COLUMNS = ["op", "cin", "cout", "k", "stride", "dilation", "groups", "h", "w",
               "pad", "out_h", "out_w", "bias", "bn", "dtype", "latency_mean",
               "latency_std", "count", "macs"]
KEY_ATTRS = ["cin", "cout", "k", "stride", "dilation", "groups", "h", "w", "pad",
             "out_h", "out_w", "bias", "bn", "dtype"]


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def rows_to_csv(rows, crlf=False, bom=False, columns=CSV_COLUMNS):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(columns)
    for e in rows:
        k, lat = e["key"], e["latency"]
        vals = {"op": k["op"], "latency_mean": lat["mean"],
                "latency_std": lat.get("std"), "count": lat.get("count"),
                "macs": e.get("macs")}
        for a in KEY_ATTRS:
            vals[a] = k.get(a)
        w.writerow([_cell(vals.get(c)) for c in columns])
    text = buf.getvalue()
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def rows_to_ndjson(rows, blank_lines=False):
    lines = []
    for i, e in enumerate(rows):
        lines.append(json.dumps(e))
        if blank_lines and i % 2 == 0:
            lines.append("")
    return ("\n".join(lines) + "\n").encode("utf-8")


def encode_rows(rows, fmt):
    if fmt == "json":
        return json.dumps(rows).encode("utf-8"), "application/json"
    if fmt == "ndjson":
        return rows_to_ndjson(rows), "application/x-ndjson"
    if fmt == "csv":
        return rows_to_csv(rows), "text/csv"
    raise ValueError(fmt)


def parse_csv(data):
    """Parse an exported CSV (bytes) into (header, list of dict rows)."""
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = [r for r in reader]
    assert rows, "empty CSV"
    header, body = rows[0], rows[1:]
    out = []
    for r in body:
        assert len(r) == len(header), f"ragged exported CSV row {r!r}"
        out.append(dict(zip(header, r)))
    return header, out


def entry(op="conv2d", mean=1.0, std=None, count=None, macs=None, **key):
    """A LUT entry in JSON form."""
    k = {"op": op}
    k.update(key)
    lat = {"mean": mean}
    if std is not None:
        lat["std"] = std
    if count is not None:
        lat["count"] = count
    e = {"key": k, "latency": lat}
    if macs is not None:
        e["macs"] = macs
    return e


def conv(cin, cout, h, w=None, mean=1.0, **kw):
    return entry("conv2d", mean=mean, cin=cin, cout=cout, h=h, w=w if w is not None else h, **kw)


def key_id(key):
    """A hashable identity of a canonical key (all its attributes)."""
    return tuple(sorted(key.items()))


# ------------------------------------------------------------ search spaces

MBV2 = "deeplabv3plus-mobilenetv2"
X65 = "deeplabv3plus-xception65"
_KEEP = [0, 1]
_EXPAND = [2, 3, 4, 6]
_WIDTH = [64, 128, 192, 256]
_LOW = [16, 24, 32, 48]
_FRACTION = [0.25, 0.5, 0.75, 1]
_MBV2_RESIDUAL = {3, 5, 6, 8, 9, 10, 12, 13, 15, 16}
_HEAD = [("aspp.branch1", _KEEP, None), ("aspp.branch2", _KEEP, None),
         ("aspp.branch3", _KEEP, None), ("aspp.pool", _KEEP, None),
         ("aspp.width", _WIDTH, None), ("decoder.low_level", _LOW, None),
         ("decoder.width", _WIDTH, None)]


def _mbv2_genes():
    genes = []
    for i in range(2, 18):
        if i in _MBV2_RESIDUAL:
            genes.append((f"features.{i}.keep", _KEEP, None))
            genes.append((f"features.{i}.expand", _EXPAND, f"features.{i}.keep"))
        else:
            genes.append((f"features.{i}.expand", _EXPAND, None))
    return genes + _HEAD


def _x65_genes():
    genes = []
    for i in range(16):
        genes.append((f"middle.{i}.keep", _KEEP, None))
        genes.append((f"middle.{i}.width", _FRACTION, f"middle.{i}.keep"))
    genes += [("exit.block.width", _FRACTION, None), ("exit.conv3.width", _FRACTION, None),
              ("exit.conv4.width", _FRACTION, None)]
    return genes + _HEAD


# docs/spaces.md: the genes of each built-in space, in order, as
# (name, choices, gated_by or None).
SPACE_GENES = {MBV2: _mbv2_genes(), X65: _x65_genes()}


def max_genome(space_id):
    return [len(c) - 1 for _, c, _ in SPACE_GENES[space_id]]


def genome_values(space_id, genome):
    """The object form of an index genome of a built-in space."""
    return {n: c[i] for (n, c, _), i in zip(SPACE_GENES[space_id], genome)}
