"""Subsampling the weights of the full (max-genome) model into a subnet.

Every tensor of a subnet exists, under the same key, in the full model; a
narrower dimension keeps the first n channels of the full one, except where
a module carries `_fmas_index` (the convs that read a concatenation whose
parts shrank: the ASPP projection and the decoder's first conv), which names
the kept channels explicitly.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional

import torch
from torch import nn


def _select(src: torch.Tensor, dim: int, n: int, index) -> torch.Tensor:
    if index is not None:
        if len(index) != n:
            raise ValueError(f"index of {len(index)} channels for a dimension of {n}")
        return src.index_select(dim, torch.tensor(index, dtype=torch.long, device=src.device))
    if n > src.shape[dim]:
        raise ValueError(f"subnet dimension {n} exceeds the full one {src.shape[dim]}")
    return src.narrow(dim, 0, n)


def subsample_state_dict(model: nn.Module, full_state_dict: Mapping[str, torch.Tensor],
                         remap: Optional[Callable[[str, int, List[int]], List[int]]] = None
                         ) -> Dict[str, torch.Tensor]:
    """The state dict of `model` (a subnet) cut out of `full_state_dict` (a
    state dict of the same space's max-genome model, e.g. pretrained).

    remap(key, dim, index) may reorder which channels a narrowed dimension
    keeps (the evaluator's importance ordering): it receives the channels the
    rules above keep and returns those to take instead."""
    out: Dict[str, torch.Tensor] = {}
    for path, m in model.named_modules():
        idx = getattr(m, "_fmas_index", {})
        tensors = list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False))
        for pname, t in tensors:
            key = f"{path}.{pname}" if path else pname
            if key not in full_state_dict:
                raise KeyError(f"{key}: not in the full state dict")
            src = full_state_dict[key]
            if src.dim() != t.dim():
                raise ValueError(f"{key}: rank {t.dim()} vs full rank {src.dim()}")
            v = src
            for dim in range(t.dim()):
                index = None
                if dim == 0:
                    index = idx.get("out")
                elif dim == 1 and t.dim() == 4:
                    index = idx.get("in")
                n = t.shape[dim]
                if index is None and n == src.shape[dim]:
                    continue
                if remap is not None:
                    if index is None:
                        if n > src.shape[dim]:
                            raise ValueError(f"{key}: subnet dimension {n} exceeds the full one "
                                             f"{src.shape[dim]}")
                        index = range(n)
                    index = list(index)
                    if len(index) != n:
                        raise ValueError(f"{key}: index of {len(index)} channels for a dimension of {n}")
                    if index != list(range(src.shape[dim])):
                        index = remap(key, dim, index)
                try:
                    v = _select(v, dim, n, index)
                except ValueError as e:
                    raise ValueError(f"{key}: {e}") from None
            out[key] = v.clone()
    return out


def load_subsampled(model: nn.Module, full_state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Load the subsampled full weights into `model` (strict) and return it."""
    model.load_state_dict(subsample_state_dict(model, full_state_dict), strict=True)
    return model
