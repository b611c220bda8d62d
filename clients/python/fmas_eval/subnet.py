"""Cutting a full pretrained DeepLabV3+ down to a genome, with no fine-tuning.

Structure: `fmas_twin.build(space, genome)` builds the subnet: skipped
blocks and pruned ASPP branches are absent, narrowed widths are narrow.

Weights: every tensor of the subnet exists under the same key in the full
state dict; narrowed dimensions are sliced consistently across every tensor
that carries the same channels (the producing conv's output, its BatchNorm's
weight, bias, running mean and variance, a depthwise conv on them, and the
input of the consuming conv, at the right offset where the consumer reads a
concatenation). Two orderings decide WHICH channels survive:

* `first`: the first k channels (docs/spaces.md "Pruning rules"); this is
  `fmas_twin.subsample_state_dict`.
* `l1`: the k channels whose producing filter has the largest L1 norm.
  Channels are ranked once per checkpoint on the pretrained weights
  (`Ranking`). Conceptually the full model's channels are permuted by
  decreasing importance (a permutation applied to the producer and every
  consumer, which leaves the full model's function unchanged) and then the
  first k are kept; the kept channels are taken in their original order,
  which computes the same function as the permuted order and makes a full
  width an identity selection, so the max genome is the pretrained network
  bit for bit under both orderings.

Each narrowable channel set is listed below per space (`_mobilenetv2_sets`,
`_xception_sets`, `_head_sets`); a narrowed dimension that no set covers is
an error, never a silent first-k.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

import fmas_twin

ORDERINGS = ("first", "l1")

MNV2 = "deeplabv3plus-mobilenetv2"
XCEP = "deeplabv3plus-xception65"

Member = Tuple[str, int, int]          # (state-dict key, dim, offset)


def _bn(prefix: str, offset: int = 0) -> List[Member]:
    return [(f"{prefix}.{n}", 0, offset) for n in ("weight", "bias", "running_mean", "running_var")]


class _Sets:
    def __init__(self) -> None:
        self.producers: Dict[str, str] = {}             # set -> producing conv weight
        self.sizes: Dict[str, int] = {}
        self.dims: Dict[Tuple[str, int], List[Tuple[str, int, int]]] = {}

    def add(self, name: str, producer: str, size: int, members: Iterable[Member]) -> None:
        if name in self.producers:
            raise AssertionError(f"duplicate channel set {name}")
        self.producers[name] = producer
        self.sizes[name] = size
        for key, dim, offset in [(producer, 0, 0), *members]:
            self.dims.setdefault((key, dim), []).append((name, offset, size))


def _head_sets(s: _Sets, sd: Mapping[str, torch.Tensor], separable: bool) -> None:
    W = sd["classifier.aspp.convs.0.0.weight"].shape[0]
    L = sd["classifier.project.0.weight"].shape[0]
    D = (sd["classifier.classifier.0.3.weight"] if separable
         else sd["classifier.classifier.0.weight"]).shape[0]
    A = "classifier.aspp"
    for j in range(5):
        if j == 0:
            conv, bn = f"{A}.convs.0.0", f"{A}.convs.0.1"
        elif j == 4:
            conv, bn = f"{A}.convs.4.1", f"{A}.convs.4.2"
        elif separable:
            conv, bn = f"{A}.convs.{j}.3", f"{A}.convs.{j}.4"
        else:
            conv, bn = f"{A}.convs.{j}.0", f"{A}.convs.{j}.1"
        s.add(f"aspp.branch{j}", f"{conv}.weight", W,
              _bn(bn) + [(f"{A}.project.0.weight", 1, j * W)])

    C = "classifier.classifier"

    def cat_consumers(offset: int) -> List[Member]:
        if separable:   # depthwise + BN over the concatenation, then the pointwise
            return ([(f"{C}.0.0.weight", 0, offset)] + _bn(f"{C}.0.1", offset)
                    + [(f"{C}.0.3.weight", 1, offset)])
        return [(f"{C}.0.weight", 1, offset)]

    s.add("decoder.low_level", "classifier.project.0.weight", L,
          _bn("classifier.project.1") + cat_consumers(0))
    s.add("aspp.project", f"{A}.project.0.weight", W, _bn(f"{A}.project.1") + cat_consumers(L))
    if separable:
        s.add("decoder.width.0", f"{C}.0.3.weight", D,
              _bn(f"{C}.0.4") + [(f"{C}.1.0.weight", 0, 0)] + _bn(f"{C}.1.1")
              + [(f"{C}.1.3.weight", 1, 0)])
        s.add("decoder.width.1", f"{C}.1.3.weight", D,
              _bn(f"{C}.1.4") + [(f"{C}.2.weight", 1, 0)])
    else:
        s.add("decoder.width", f"{C}.0.weight", D,
              _bn(f"{C}.1") + [(f"{C}.3.weight", 1, 0)])


def _mobilenetv2_sets(s: _Sets, sd: Mapping[str, torch.Tensor]) -> None:
    for i in range(2, 18):
        part = "low_level_features" if i < 4 else "high_level_features"
        b = f"backbone.{part}.{i}.conv"
        hidden = sd[f"{b}.0.0.weight"].shape[0]
        s.add(f"features.{i}.hidden", f"{b}.0.0.weight", hidden,
              _bn(f"{b}.0.1") + [(f"{b}.1.0.weight", 0, 0)] + _bn(f"{b}.1.1")
              + [(f"{b}.2.weight", 1, 0)])
    _head_sets(s, sd, separable=False)


def _xception_sets(s: _Sets, sd: Mapping[str, torch.Tensor]) -> None:
    for b in range(4, 21):
        B = f"backbone.block{b}.rep"
        for name, prod, nxt in (("a", "1", ("2", "4")), ("b", "4", ("5", "7"))):
            size = sd[f"{B}.{prod}.pointwise.weight"].shape[0]
            bn, sep = nxt
            s.add(f"block{b}.{name}", f"{B}.{prod}.pointwise.weight", size,
                  _bn(f"{B}.{bn}") + [(f"{B}.{sep}.conv1.weight", 0, 0)] + _bn(f"{B}.{sep}.bn")
                  + [(f"{B}.{sep}.pointwise.weight", 1, 0)])
    for name, bn, nxt in (("conv3", "bn3", "conv4"), ("conv4", "bn4", "conv5")):
        p = f"backbone.{name}.pointwise.weight"
        s.add(name, p, sd[p].shape[0],
              _bn(f"backbone.{bn}") + [(f"backbone.{nxt}.conv1.weight", 0, 0)]
              + _bn(f"backbone.{nxt}.bn") + [(f"backbone.{nxt}.pointwise.weight", 1, 0)])
    _head_sets(s, sd, separable=True)


_SET_BUILDERS = {MNV2: _mobilenetv2_sets, XCEP: _xception_sets}


def channel_sets(space: str, full_state_dict: Mapping[str, torch.Tensor]) -> _Sets:
    """The narrowable channel sets of `space` and the tensors each touches."""
    try:
        builder = _SET_BUILDERS[space]
    except KeyError:
        raise ValueError(f"'space': no channel sets for {space!r}") from None
    s = _Sets()
    builder(s, full_state_dict)
    for (key, dim), segs in s.dims.items():
        if key not in full_state_dict:
            raise AssertionError(f"channel set member {key} not in the state dict")
        t = full_state_dict[key]
        for name, offset, size in segs:
            if offset + size > t.shape[dim]:
                raise AssertionError(f"{key} dim {dim}: set {name} at {offset}+{size} "
                                     f"exceeds {t.shape[dim]}")
    return s


class Ranking:
    """L1-norm channel importance of every narrowable set, computed once on
    the full (pretrained) weights. `kept(set, n)` is the n most important
    channels in their original order (ties: lower index first)."""

    def __init__(self, space: str, full_state_dict: Mapping[str, torch.Tensor]):
        self.space = space
        self.sets = channel_sets(space, full_state_dict)
        self.order: Dict[str, np.ndarray] = {}
        for name, producer in self.sets.producers.items():
            w = full_state_dict[producer].detach().float().cpu()
            l1 = w.abs().reshape(w.shape[0], -1).sum(dim=1).numpy()
            self.order[name] = np.argsort(-l1, kind="stable")
        self._kept: Dict[Tuple[str, int], List[int]] = {}

    def kept(self, name: str, n: int) -> List[int]:
        k = (name, n)
        if k not in self._kept:
            size = self.sets.sizes[name]
            if not 1 <= n <= size:
                raise ValueError(f"set {name}: {n} channels of {size}")
            self._kept[k] = sorted(int(i) for i in self.order[name][:n])
        return self._kept[k]

    def remap(self, key: str, dim: int, index: Sequence[int]) -> List[int]:
        """Turn a first-k index of a dimension (possibly several first-k
        runs, one per concatenated part) into the L1 selection."""
        segs = self.sets.dims.get((key, dim))
        if segs is None:
            raise ValueError(f"{key}: dimension {dim} is narrowed but no channel set covers it")
        local: Dict[str, List[int]] = {}
        where: List[Tuple[str, int, int]] = []
        for i in index:
            for name, offset, size in segs:
                if offset <= i < offset + size:
                    local.setdefault(name, []).append(i - offset)
                    where.append((name, offset, i - offset))
                    break
            else:
                raise ValueError(f"{key} dim {dim}: channel {i} is in no channel set")
        for name, cs in local.items():
            if sorted(cs) != list(range(len(cs))):
                raise ValueError(f"{key} dim {dim}: set {name} is not a first-k selection")
        return [offset + self.kept(name, len(local[name]))[c] for name, offset, c in where]


def subsample_state_dict(subnet: nn.Module, full_state_dict: Mapping[str, torch.Tensor],
                         ordering: str = "first", ranking: Optional[Ranking] = None
                         ) -> Dict[str, torch.Tensor]:
    """The state dict of `subnet` cut out of the full one, by `ordering`."""
    if ordering not in ORDERINGS:
        raise ValueError(f"'ordering': must be one of {list(ORDERINGS)}, got {ordering!r}")
    if ordering == "first":
        return fmas_twin.subsample_state_dict(subnet, full_state_dict)
    if ranking is None:
        ranking = Ranking(subnet.space_id, full_state_dict)
    return fmas_twin.subsample_state_dict(subnet, full_state_dict, remap=ranking.remap)


def build_subnet(space: str, genome: Any, full_state_dict: Mapping[str, torch.Tensor], *,
                 ordering: str = "first", ranking: Optional[Ranking] = None,
                 input_size=None, num_classes=None, output_stride=None) -> nn.Module:
    """The subnet of `genome` with subsampled pretrained weights, eval mode."""
    model = fmas_twin.build(space, genome, input_size=input_size, num_classes=num_classes,
                            output_stride=output_stride)
    sd = subsample_state_dict(model, full_state_dict, ordering, ranking)
    model.load_state_dict(sd, strict=True)
    return model.eval()


def bn_modules(model: nn.Module) -> List[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Re-estimate every BatchNorm's running mean and variance as the plain
    average over `batches` (momentum None), everything else in eval mode
    (Dropout off); the model is left in eval mode. Returns the number of
    batches used (0 leaves the statistics as they were)."""
    bns = bn_modules(model)
    saved = [(m.momentum, m.running_mean.clone(), m.running_var.clone(),
              m.num_batches_tracked.clone()) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.eval()
    for m in bns:
        m.train()
    n = 0
    try:
        for x in batches:
            model(x)
            n += 1
    finally:
        for m, (mom, rm, rv, nbt) in zip(bns, saved):
            m.momentum = mom
            if n == 0:
                m.running_mean.copy_(rm)
                m.running_var.copy_(rv)
                m.num_batches_tracked.copy_(nbt)
        model.eval()
    return n


def conv_bn_pairs(model: nn.Module, input_size=None) -> List[Tuple[str, str]]:
    """(conv path, BatchNorm path) for every BatchNorm2d that consumes
    exactly a Conv2d's output tensor, found by a shape-only forward pass."""
    from fmas_twin.trace import _hw, _meta_clone

    if input_size is None:
        input_size = getattr(model, "input_size", None) or 65
    h, w = _hw(input_size)
    clone = _meta_clone(model).eval()
    names = {id(m): n for n, m in clone.named_modules()}
    last: Dict[str, Any] = {}
    pairs: List[Tuple[str, str]] = []

    def conv_hook(m, inp, out):
        last["t"], last["name"] = out, names[id(m)]

    def bn_hook(m, inp, out):
        if last.get("t") is inp[0]:
            pairs.append((last["name"], names[id(m)]))
        last.clear()

    handles = []
    for m in clone.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.BatchNorm2d):
            handles.append(m.register_forward_hook(bn_hook))
    try:
        with torch.no_grad():
            clone(torch.empty(1, 3, h, w, device="meta"))
    finally:
        for hd in handles:
            hd.remove()
    return pairs


@torch.no_grad()
def fold_bn(model: nn.Module, input_size=None) -> nn.Module:
    """Fold every conv-followed-by-BatchNorm into the conv (which gains a
    bias) and replace the BatchNorm by nn.Identity, as deployment does. The
    model must be in eval mode; it computes the same function (up to
    rounding). Modifies and returns `model`."""
    pairs = conv_bn_pairs(model, input_size)
    mods = dict(model.named_modules())
    for conv_name, bn_name in pairs:
        conv, bn = mods[conv_name], mods[bn_name]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        new_bias = (bias - bn.running_mean) * scale + bn.bias
        conv.bias = nn.Parameter(new_bias.detach().clone())
        parent_name, _, child = bn_name.rpartition(".")
        parent = mods[parent_name] if parent_name else model
        setattr(parent, child, nn.Identity())
    return model


def clone_model(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model)
