"""Layer lists and cost counts taken from a real forward pass.

Every conv2d, BatchNorm and global pooling is seen through forward hooks on
the real modules; residual adds, concatenations and interpolations are
reported by the modules' own forward() through `note()`. Nothing here knows
the architecture, so the layer list cannot drift from the model.

The pass runs on PyTorch's "meta" device (shapes only, no arithmetic, no
memory) on a weightless clone of the model, so tracing a 513x513 Xception is
instantaneous; if an operator lacks a meta kernel the pass falls back to a
real CPU forward on zeros.
"""

from __future__ import annotations

import copy
import itertools
import threading
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from torch import nn

_state = threading.local()

Size = Union[int, Tuple[int, int]]


def _hw(size: Size) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


class _Recorder:
    def __init__(self, model: nn.Module):
        self.names = {id(m): n for n, m in model.named_modules()}
        self.layers: List[Dict[str, Any]] = []
        self.macs = 0
        self.last_conv: Optional[Tuple[torch.Tensor, Dict[str, Any]]] = None

    def name(self, module: nn.Module, suffix: str = "") -> str:
        base = self.names.get(id(module), "?")
        if suffix:
            return f"{base}.{suffix}" if base else suffix
        return base

    def add(self, entry: Dict[str, Any]) -> None:
        self.layers.append(entry)
        self.last_conv = None


def note(module: nn.Module, suffix: str, op: str, **attrs: Any) -> None:
    """Called by forward() code paths to report a non-module op (add,
    concat, upsample). A no-op unless a trace is running."""
    rec = getattr(_state, "rec", None)
    if rec is None:
        return
    entry = {"name": rec.name(module, suffix), "op": op}
    entry.update({k: int(v) for k, v in attrs.items()})
    rec.add(entry)


def _square(v, what: str, name: str) -> int:
    if isinstance(v, (tuple, list)):
        if any(x != v[0] for x in v):
            raise ValueError(f"{name}: non-square {what} {v} cannot be a layer key")
        return int(v[0])
    return int(v)


def _conv_hook(module: nn.Conv2d, inputs, output) -> None:
    rec: _Recorder = _state.rec
    x = inputs[0]
    name = rec.name(module)
    if isinstance(module.padding, str):
        raise ValueError(f"{name}: string padding {module.padding!r} is not supported")
    entry = {
        "name": name,
        "op": "conv2d",
        "cin": int(module.in_channels),
        "cout": int(module.out_channels),
        "k": _square(module.kernel_size, "kernel", name),
        "stride": _square(module.stride, "stride", name),
        "dilation": _square(module.dilation, "dilation", name),
        "groups": int(module.groups),
        "pad": _square(module.padding, "padding", name),
        "h": int(x.shape[2]),
        "w": int(x.shape[3]),
        "bias": module.bias is not None,
        "bn": False,
    }
    kh, kw = module.kernel_size
    rec.macs += (module.out_channels * (module.in_channels // module.groups) * kh * kw
                 * int(output.shape[2]) * int(output.shape[3]))
    rec.add(entry)
    rec.last_conv = (output, entry)


def _bn_hook(module: nn.BatchNorm2d, inputs, output) -> None:
    rec: _Recorder = _state.rec
    last = rec.last_conv
    # "bn" means: this BatchNorm consumes exactly the tensor the previous conv
    # produced (the same tensor object), i.e. it directly follows that conv.
    if last is not None and inputs[0] is last[0]:
        last[1]["bn"] = True
    rec.last_conv = None


def _linear_hook(module: nn.Linear, inputs, output) -> None:
    rec: _Recorder = _state.rec
    x = inputs[0]
    positions = x.numel() // x.shape[-1] if x.dim() > 1 else 1
    rec.macs += module.in_features * module.out_features * positions
    rec.add({"name": rec.name(module), "op": "linear", "cin": int(module.in_features),
             "cout": int(module.out_features), "bias": module.bias is not None})


def _gap_hook(module: nn.AdaptiveAvgPool2d, inputs, output) -> None:
    rec: _Recorder = _state.rec
    x = inputs[0]
    if tuple(output.shape[2:]) != (1, 1):
        raise ValueError(f"{rec.name(module)}: only global (1x1) adaptive pooling is supported")
    rec.add({"name": rec.name(module), "op": "global_avgpool", "cin": int(x.shape[1]),
             "h": int(x.shape[2]), "w": int(x.shape[3])})


_HOOKS = ((nn.Conv2d, _conv_hook), (nn.BatchNorm2d, _bn_hook),
          (nn.Linear, _linear_hook), (nn.AdaptiveAvgPool2d, _gap_hook))


def _meta_clone(model: nn.Module) -> nn.Module:
    """A structural copy of `model` whose parameters and buffers live on the
    meta device (no data is copied)."""
    memo: Dict[int, Any] = {}
    for t in itertools.chain(model.parameters(), model.buffers()):
        if isinstance(t, nn.Parameter):
            memo[id(t)] = nn.Parameter(torch.empty_like(t, device="meta"),
                                       requires_grad=t.requires_grad)
        else:
            memo[id(t)] = torch.empty_like(t, device="meta")
    return copy.deepcopy(model, memo)


def _run(model: nn.Module, x: torch.Tensor) -> _Recorder:
    rec = _Recorder(model)
    handles = []
    for m in model.modules():
        for cls, hook in _HOOKS:
            if isinstance(m, cls):
                handles.append(m.register_forward_hook(hook))
    if getattr(_state, "rec", None) is not None:
        raise RuntimeError("a trace is already running in this thread")
    _state.rec = rec
    try:
        with torch.no_grad():
            model(x)
    finally:
        _state.rec = None
        for h in handles:
            h.remove()
    return rec


def trace(model: nn.Module, input_size: Optional[Size] = None) -> Tuple[List[Dict[str, Any]], int]:
    """Run one forward pass of a 1x3xHxW input in eval mode and return
    (layer list, MACs counted by the conv/linear hooks)."""
    if input_size is None:
        input_size = getattr(model, "input_size", None)
        if input_size is None:
            raise ValueError("'input_size': not given and the model has none")
    h, w = _hw(input_size)
    if h < 1 or w < 1:
        raise ValueError(f"'input_size': must be positive, got {input_size!r}")
    try:
        clone = _meta_clone(model).eval()
        rec = _run(clone, torch.empty(1, 3, h, w, device="meta"))
    except (NotImplementedError, RuntimeError) as e:  # no meta kernel somewhere
        if "already running" in str(e):
            raise
        clone = copy.deepcopy(model).cpu().eval()
        rec = _run(clone, torch.zeros(1, 3, h, w))
    return rec.layers, rec.macs


def count(model: nn.Module, input_size: Optional[Size] = None) -> Tuple[int, int]:
    """(parameters, MACs) of `model` for one 1x3xHxW input. Parameters are
    every trainable tensor (conv weights and biases, BatchNorm weight and
    bias); MACs are counted by forward hooks on Conv2d and Linear as
    cout*(cin/groups)*kh*kw*hout*wout."""
    params = sum(p.numel() for p in model.parameters())
    _, macs = trace(model, input_size)
    return int(params), int(macs)


def conv_out(size: int, k: int, stride: int, dilation: int, pad: int) -> int:
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def layer_costs(layers: List[Dict[str, Any]]) -> Tuple[int, int]:
    """(params, MACs) of a layer list, with the arithmetic of the fmas layer
    key (docs/api.md): conv2d MACs = cout*(cin/groups)*k*k*hout*wout, params =
    cout*(cin/groups)*k*k + bias*cout + bn*2*cout; other ops cost nothing."""
    params = macs = 0
    for L in layers:
        if L["op"] == "conv2d":
            ho = conv_out(L["h"], L["k"], L["stride"], L["dilation"], L["pad"])
            wo = conv_out(L["w"], L["k"], L["stride"], L["dilation"], L["pad"])
            wts = L["cout"] * (L["cin"] // L["groups"]) * L["k"] * L["k"]
            macs += wts * ho * wo
            params += wts + (L["cout"] if L["bias"] else 0) + (2 * L["cout"] if L["bn"] else 0)
        elif L["op"] == "linear":
            macs += L["cin"] * L["cout"]
            params += L["cin"] * L["cout"] + (L["cout"] if L["bias"] else 0)
    return params, macs
