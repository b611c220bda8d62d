"""A small client of the fmasd REST API (standard library only), and the
resolution of a space id into its builder and parameters."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import fmas_twin


class ServiceError(RuntimeError):
    """An HTTP error answer (its problem+json detail and errors in the
    message) or an unreachable service."""

    def __init__(self, message: str, status: Optional[int] = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


def load_token(token_file: Optional[str] = None) -> Optional[str]:
    """The bearer token for fmasd: the file token_file (a --token-file
    option), else the file $FMAS_TOKEN_FILE, else the text of $FMAS_TOKEN,
    trailing newlines dropped; None when none is given. ValueError (naming
    the source, never the token) for an unreadable file or a token that is
    empty or not one line of printable ASCII without spaces."""
    path = token_file or os.environ.get("FMAS_TOKEN_FILE") or None
    if path:
        where = f"the token file {path}" + ("" if token_file else " ($FMAS_TOKEN_FILE)")
        try:
            with open(path, "rb") as f:
                raw = f.read(4096)
        except OSError as e:
            raise ValueError(f"cannot read {where}: {e.strerror}") from None
        text = raw.decode("ascii", "replace")
    else:
        text = os.environ.get("FMAS_TOKEN") or ""
        if not text:
            return None
        where = "$FMAS_TOKEN"
    token = text.rstrip("\r\n")
    if not token:
        raise ValueError(f"{where} holds an empty token")
    if len(token) > 1024 or any(not (" " < c < "\x7f") for c in token):
        raise ValueError(f"{where} holds no valid token (one line of printable ASCII "
                         f"without spaces, at most 1024 bytes)")
    return token


class Service:
    """fmasd at url. Every request carries "Authorization: Bearer <token>"
    when a token is given (load_token(token_file): the option's file, else
    $FMAS_TOKEN_FILE, else $FMAS_TOKEN)."""

    def __init__(self, url: str, timeout: float = 120.0, token_file: Optional[str] = None):
        if "://" not in url:
            url = "http://" + url
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._token = load_token(token_file)

    def request(self, method: str, path: str, body: Any = None, *,
                content_type: str = "application/json", accept: str = "application/json",
                ok: Sequence[int] = (200, 201, 204)) -> Tuple[int, Any]:
        data = None
        headers = {"Accept": accept}
        if self._token:
            headers["Authorization"] = "Bearer " + self._token
        if body is not None:
            data = body if isinstance(body, (bytes, bytearray)) else \
                json.dumps(body).encode("utf-8")
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            raise ServiceError(f"{method} {self.url}{path}: {getattr(e, 'reason', e)}") from None
        doc = None
        if raw:
            try:
                doc = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                doc = raw.decode("utf-8", "replace")
        if status not in ok:
            detail = doc
            if isinstance(doc, dict):
                detail = doc.get("detail") or doc.get("title")
                errs = doc.get("errors") or []
                if errs:
                    detail = f"{detail}; " + "; ".join(
                        f"{e.get('pointer', e.get('parameter', e.get('row', '')))}: "
                        f"{e.get('reason')}" for e in errs[:5])
            if status in (401, 403):
                detail = f"{detail} (" + (
                    "the token given does not grant this; check --token-file, "
                    "$FMAS_TOKEN_FILE or $FMAS_TOKEN" if self._token else
                    "the service wants a token: give it with --token-file FILE, "
                    "$FMAS_TOKEN_FILE or $FMAS_TOKEN") + ")"
            raise ServiceError(f"{method} {path}: HTTP {status}: {detail}", status, doc)
        return status, doc

    # --- endpoints used by the evaluator and the profilers
    def health(self) -> Dict[str, Any]:
        return self.request("GET", "/v1/health")[1]

    def space(self, space_id: str) -> Dict[str, Any]:
        return self.request("GET", f"/v1/spaces/{_q(space_id)}")[1]

    def space_layers(self, space_id: str, device: Optional[str] = None) -> Dict[str, Any]:
        q = f"?device={_q(device)}" if device else ""
        return self.request("GET", f"/v1/spaces/{_q(space_id)}/layers{q}")[1]

    def expand(self, space_id: str, genome: Any) -> Dict[str, Any]:
        return self.request("POST", f"/v1/spaces/{_q(space_id)}/expand", {"genome": genome})[1]

    def space_estimate(self, space_id: str, genomes: List[Any],
                       devices: Iterable[str] = ()) -> Dict[str, Any]:
        return self.request("POST", f"/v1/spaces/{_q(space_id)}/estimate",
                            {"devices": list(devices), "genomes": genomes})[1]

    def device(self, name: str) -> Optional[Dict[str, Any]]:
        """The device, or None when the service does not know it."""
        try:
            return self.request("GET", f"/v1/devices/{_q(name)}")[1]
        except ServiceError as e:
            if e.status == 404:
                return None
            raise

    def put_device(self, name: str, fields: Dict[str, Any]) -> Dict[str, Any]:
        return self.request("PUT", f"/v1/devices/{_q(name)}", fields)[1]

    def upload_lut(self, name: str, entries: List[Dict[str, Any]], mode: str = "replace"
                   ) -> Dict[str, Any]:
        body = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries)
        return self.request("POST", f"/v1/devices/{_q(name)}/lut?mode={_q(mode)}",
                            body.encode("utf-8"), content_type="application/x-ndjson")[1]


def _q(s: str) -> str:
    return urllib.parse.quote(str(s), safe="")


def server_url(explicit: Optional[str]) -> Optional[str]:
    return explicit or os.environ.get("FMAS_SERVER") or None


def resolve_space(space_id: str, server: Optional[str] = None,
                  token_file: Optional[str] = None) -> Tuple[str, Dict[str, Any]]:
    """(builder, params {input_size, num_classes, output_stride}) of a space.

    A built-in id (a builder name: deeplabv3plus-mobilenetv2,
    deeplabv3plus-xception65) has the docs/spaces.md defaults (513, 21, 16).
    Any other id is a registered space: it is looked up on the service
    (GET /v1/spaces/{id}) for its builder and params."""
    if space_id in fmas_twin.SPACES:
        return space_id, dict(fmas_twin.get_space(space_id).defaults)
    if not server:
        raise ValueError(f"'space': {space_id!r} is not a built-in space "
                         f"({', '.join(sorted(fmas_twin.SPACES))}); pass --server URL "
                         f"(or set FMAS_SERVER) to look a registered space up")
    doc = Service(server, token_file=token_file).space(space_id)
    builder = doc.get("builder")
    if not builder:
        raise ValueError(f"'space': {space_id!r} is a categorical space (no builder): "
                         f"it has no network to evaluate")
    if builder not in fmas_twin.SPACES:
        raise ValueError(f"'space': {space_id!r} uses builder {builder!r}, unknown here")
    params = dict(fmas_twin.get_space(builder).defaults)
    params.update({k: v for k, v in (doc.get("params") or {}).items() if v is not None})
    return builder, params
