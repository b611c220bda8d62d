"""fmas_twin: the PyTorch twin of fmas's DeepLabV3+ search spaces.

For a space id and a genome it builds the subnet as a real nn.Module (the
model the evaluator fills with subsampled pretrained weights), and derives
from that module, by a traced forward pass, the exact layer list the fmas
service costs.

    import fmas_twin
    model = fmas_twin.build("deeplabv3plus-mobilenetv2", genome)
    layers = fmas_twin.layers("deeplabv3plus-mobilenetv2", genome)
    params, macs = fmas_twin.count(model)

See docs/spaces.md for the spaces, their genes and the layer-list rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Tuple, Union

from torch import nn

from . import mobilenetv2, xception
from .genome import Gene, GeneList
from .subsample import load_subsampled, subsample_state_dict
from .trace import count, layer_costs, trace

__all__ = [
    "Space", "Gene", "SPACES", "get_space", "build", "layers", "count", "genes",
    "decode", "layer_costs", "subsample_state_dict", "load_subsampled", "trace",
]

__version__ = "0.1.0"


@dataclass
class Space:
    """A builder-backed search space: its genes and fixed parameters
    (input_size, num_classes, output_stride), and the builder."""

    id: str
    genes: GeneList
    defaults: Dict[str, int]
    _build: Callable[..., nn.Module] = field(repr=False)
    output_strides: Tuple[int, ...] = (8, 16)

    def params(self, input_size=None, num_classes=None, output_stride=None) -> Dict[str, Any]:
        p = dict(self.defaults)
        if input_size is not None:
            p["input_size"] = input_size
        if num_classes is not None:
            p["num_classes"] = num_classes
        if output_stride is not None:
            p["output_stride"] = output_stride
        size = p["input_size"]
        sizes = [size] if isinstance(size, int) else list(size)
        if (len(sizes) not in (1, 2) or any(isinstance(s, bool) or not isinstance(s, int)
                                            or s < 1 for s in sizes)):
            raise ValueError(f"'input_size': must be a positive integer or (h, w), got {size!r}")
        nc = p["num_classes"]
        if isinstance(nc, bool) or not isinstance(nc, int) or nc < 1:
            raise ValueError(f"'num_classes': must be a positive integer, got {nc!r}")
        if p["output_stride"] not in self.output_strides:
            raise ValueError(f"'output_stride': must be one of {list(self.output_strides)}, "
                             f"got {p['output_stride']!r}")
        return p

    def indices(self, genome: Any) -> List[int]:
        return self.genes.indices(genome)

    def values(self, genome: Any) -> Dict[str, Any]:
        return self.genes.values(genome)

    def build(self, genome: Any = None, *, input_size=None, num_classes=None,
              output_stride=None) -> nn.Module:
        p = self.params(input_size, num_classes, output_stride)
        idx = self.genes.indices(genome)
        values = {g.name: g.choices[i] for g, i in zip(self.genes, idx)}
        model = self._build(values, num_classes=p["num_classes"],
                            output_stride=p["output_stride"])
        model.space_id = self.id
        model.genome = idx
        model.input_size = p["input_size"]
        model.num_classes = p["num_classes"]
        model.output_stride = p["output_stride"]
        return model

    def describe(self) -> Dict[str, Any]:
        return {
            "space": self.id,
            "parameters": dict(self.defaults),
            "genes": [g.to_json() for g in self.genes],
            "max_genome": self.genes.max_genome(),
            "min_genome": self.genes.min_genome(),
            "distinct_subnets": str(self.genes.distinct_count()),
        }


SPACES: Dict[str, Space] = {
    mobilenetv2.SPACE_ID: Space(mobilenetv2.SPACE_ID, mobilenetv2.GENES,
                                dict(mobilenetv2.DEFAULTS), mobilenetv2.build),
    xception.SPACE_ID: Space(xception.SPACE_ID, xception.GENES,
                             dict(xception.DEFAULTS), xception.build),
}

SpaceLike = Union[str, Space]


def get_space(space: SpaceLike) -> Space:
    if isinstance(space, Space):
        return space
    try:
        return SPACES[space]
    except KeyError:
        raise ValueError(f"'space': unknown space {space!r}; known: {sorted(SPACES)}") from None


def build(space: SpaceLike, genome: Any = None, **params) -> nn.Module:
    """The subnet of `space` for `genome` (None: the max genome, i.e. the
    full pretrained network). params: input_size, num_classes,
    output_stride (default: the space's)."""
    return get_space(space).build(genome, **params)


def layers(space: SpaceLike, genome: Any = None, **params) -> List[Dict[str, Any]]:
    """The layers the subnet executes, in forward order (see docs/spaces.md)."""
    model = build(space, genome, **params)
    result, _ = trace(model)
    return result


def decode(space: SpaceLike, genome: Any) -> Dict[str, Any]:
    """gene name -> chosen value; ValueError naming the gene if invalid."""
    return get_space(space).values(genome)


def genes(space: SpaceLike) -> Dict[str, Any]:
    """The space's genes, choices, max/min genomes and exact distinct-subnet
    count (a decimal string)."""
    return get_space(space).describe()
