"""Checkpoints: reading a full pretrained DeepLabV3+, writing subnets.

Two formats are read:

* the public DeepLabV3Plus-Pytorch layout: a plain state dict whose keys are
  those of `deeplabv3plus_mobilenet` (`backbone.low_level_features.0.0.weight`,
  ..., `classifier.classifier.3.bias`), or that state dict wrapped as
  `{"model_state": ..., "optimizer_state": ..., "cur_itrs": ..., ...}` (what
  the repository's `main.py` saves and publishes). A `module.` prefix
  (DataParallel) is stripped. `{"state_dict": ...}` is accepted too.
* the fmas format, a dict with `"format": "fmas-deeplabv3plus"`:
  `{"format", "format_version": 1, "space": builder id, "params":
  {"input_size", "num_classes", "output_stride"}, "genome": [indices],
  "state_dict": {...}, "meta_json": JSON text}` (floats would not load
  tensors-only in older PyTorch). A full model has the max genome; a
  fine-tuned subnet has its own genome and its own (narrow) state dict.

A state dict that does not fit the space's max-genome model is rejected with
a CheckpointError that lists every missing key, every unexpected key and
every shape mismatch.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import torch

import fmas_twin

FORMAT = "fmas-deeplabv3plus"
FORMAT_VERSION = 1
LIST_LIMIT = 30          # names listed per category in an error message


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says exactly why."""


@dataclass
class Checkpoint:
    path: str
    layout: str                       # "fmas", "public", "public-wrapped"
    state_dict: Dict[str, torch.Tensor]
    space: Optional[str] = None       # fmas format only
    params: Optional[Dict[str, Any]] = None
    genome: Optional[List[int]] = None
    meta: Dict[str, Any] = field(default_factory=dict)


def torch_load(path: str) -> Any:
    """torch.load on the CPU, tensors-only unpickling when this torch has it.
    A checkpoint that needs full unpickling (e.g. one whose extra fields hold
    numpy scalars) is loaded the old way, with a note on stderr: only load
    checkpoints you trust."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:           # a torch without weights_only
        return _load_any(path)
    except Exception as e:      # e.g. numpy scalars among the extra fields
        first = e
    print(f"fmas-eval: {path}: holds more than tensors (e.g. float or numpy scalars this "
          f"torch's tensors-only loader refuses); unpickling it fully: only use checkpoints "
          f"you trust", file=sys.stderr)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"checkpoint {path}: cannot be read: {e} "
                              f"(tensors-only: {first})") from None


def _load_any(path: str) -> Any:
    try:
        return torch.load(path, map_location="cpu")
    except Exception as e:
        raise CheckpointError(f"checkpoint {path}: cannot be read: {e}") from None


def _meta(obj: Mapping) -> Dict[str, Any]:
    """The fmas format keeps `meta` as JSON text ("meta_json"): floats are
    not loadable by the tensors-only unpickler of older PyTorch."""
    if isinstance(obj.get("meta_json"), str):
        try:
            return dict(json.loads(obj["meta_json"]))
        except ValueError:
            return {}
    return dict(obj.get("meta") or {})


def _is_state_dict(obj: Any) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) for k in obj)
            and all(isinstance(v, torch.Tensor) for v in obj.values()))


def _strip_prefix(sd: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    keys = list(sd)
    if keys and all(k.startswith("module.") for k in keys):
        return {k[len("module."):]: v for k, v in sd.items()}
    return dict(sd)


def read(path: str) -> Checkpoint:
    """Read a checkpoint of either format (not yet checked against a model)."""
    obj = torch_load(path)
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT:
        if obj.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"checkpoint {path}: format_version "
                                  f"{obj.get('format_version')!r}, expected {FORMAT_VERSION}")
        sd = obj.get("state_dict")
        if not _is_state_dict(sd):
            raise CheckpointError(f"checkpoint {path}: 'state_dict' is not a state dict")
        return Checkpoint(path, "fmas", dict(sd), space=obj.get("space"),
                          params=dict(obj.get("params") or {}),
                          genome=list(obj["genome"]) if obj.get("genome") is not None else None,
                          meta=_meta(obj))
    if _is_state_dict(obj):
        return Checkpoint(path, "public", _strip_prefix(obj))
    if isinstance(obj, Mapping):
        for wrapper in ("model_state", "state_dict", "model"):
            if wrapper in obj and _is_state_dict(obj[wrapper]):
                meta = {k: v for k, v in obj.items()
                        if k != wrapper and isinstance(v, (int, float, str))}
                return Checkpoint(path, "public-wrapped", _strip_prefix(obj[wrapper]), meta=meta)
        raise CheckpointError(
            f"checkpoint {path}: neither a state dict, nor {{'model_state': state dict}}, nor "
            f"the fmas format; top-level keys: {sorted(map(str, obj))[:20]}")
    raise CheckpointError(f"checkpoint {path}: a {type(obj).__name__}, not a state dict")


def _listing(title: str, items: List[str]) -> str:
    shown = items[:LIST_LIMIT]
    more = f"\n    ... and {len(items) - len(shown)} more" if len(items) > len(shown) else ""
    return f"  {len(items)} {title}:\n" + "\n".join(f"    {s}" for s in shown) + more


def check_state_dict(model: torch.nn.Module, sd: Mapping[str, torch.Tensor],
                     what: str = "checkpoint") -> Dict[str, torch.Tensor]:
    """Check `sd` against `model`'s own state dict: same keys, same shapes.

    Returns a float32 copy of the dict (BatchNorm `num_batches_tracked`
    counters a very old checkpoint lacks are filled in). Raises
    CheckpointError listing every missing key, unexpected key and shape
    mismatch."""
    want = model.state_dict()
    missing = [k for k in want if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in want]
    shapes = [f"{k}: checkpoint {list(sd[k].shape)}, model {list(v.shape)}"
              for k, v in want.items() if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(_listing("missing keys (in the model, not in the checkpoint)", missing))
        if unexpected:
            parts.append(_listing("unexpected keys (in the checkpoint, not in the model)",
                                  unexpected))
        if shapes:
            parts.append(_listing("shape mismatches", shapes))
        hint = ""
        cls = "classifier.classifier.3.weight"
        if cls in sd and cls in want and sd[cls].shape[0] != want[cls].shape[0]:
            hint = (f"\n  hint: the checkpoint has {sd[cls].shape[0]} classes, the space "
                    f"{want[cls].shape[0]} (num_classes)")
        raise CheckpointError(f"{what} does not fit the model:\n" + "\n".join(parts) + hint)
    out: Dict[str, torch.Tensor] = {}
    for k, v in want.items():
        t = sd.get(k, v)
        out[k] = t.detach().to(dtype=v.dtype).clone()
    return out


def load_full(path: str, space: str, *, num_classes: int = 21,
              output_stride: int = 16) -> Dict[str, torch.Tensor]:
    """The full (max-genome) state dict of `space` from a checkpoint of
    either format, checked key by key and shape by shape."""
    ck = read(path)
    if ck.layout == "fmas":
        if ck.space is not None and ck.space != space:
            raise CheckpointError(f"checkpoint {path}: space {ck.space!r}, expected {space!r}")
        max_genome = fmas_twin.get_space(space).genes.max_genome()
        if ck.genome is not None and list(ck.genome) != max_genome:
            raise CheckpointError(
                f"checkpoint {path}: a subnet (genome {ck.genome}), not the full model; "
                f"subnets can only be evaluated as they are (same genome)")
    model = fmas_twin.build(space, None, num_classes=num_classes, output_stride=output_stride)
    return check_state_dict(model, ck.state_dict,
                            f"checkpoint {path} ({ck.layout} layout) for space {space} "
                            f"(max genome, {num_classes} classes)")


def _atomic_save(obj: Any, path: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pth", dir=d)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _cpu_state(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def save(path: str, model: torch.nn.Module, *, space: str, params: Mapping[str, Any],
         genome: List[int], meta: Optional[Mapping[str, Any]] = None) -> str:
    """Write `model` in the fmas format (atomically). meta: JSON-like values."""
    _atomic_save({"format": FORMAT, "format_version": FORMAT_VERSION, "space": space,
                  "params": dict(params), "genome": [int(i) for i in genome],
                  "state_dict": _cpu_state(model),
                  "meta_json": json.dumps(dict(meta or {}), default=str)}, path)
    return path


def save_public(path: str, model: torch.nn.Module, **extra: Any) -> str:
    """Write `model` the way DeepLabV3Plus-Pytorch's main.py does:
    {"model_state": state dict, **extra} (atomically)."""
    obj = {"model_state": _cpu_state(model)}
    obj.update(extra)
    _atomic_save(obj, path)
    return path


def genome_tag(builder: str, idx: List[int]) -> str:
    """A short stable tag of (space, genome) for subnet checkpoint file names."""
    return hashlib.sha1(json.dumps([builder, idx]).encode()).hexdigest()[:12]
