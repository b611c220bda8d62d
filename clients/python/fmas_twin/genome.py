"""Genes, genomes and the exact count of distinct subnets of a space.

A genome is one choice index per gene, in the space's gene order. It may also
be given as a mapping gene name -> chosen value (not index). Every malformed
genome raises ValueError whose message starts with the offending gene's name
in quotes, so callers can point at it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Gene:
    """One gene: a name and its choices (values), ascending.

    `relevant_if` names a gene and a value of that gene: this gene only
    changes the subnet when that other gene has that value (e.g. a block's
    expand ratio only matters when the block is kept). It is used to count
    distinct subnets exactly.
    """

    name: str
    choices: Tuple[Any, ...]
    relevant_if: Optional[Tuple[str, Any]] = None
    doc: str = ""

    def to_json(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"name": self.name, "choices": list(self.choices)}
        if self.relevant_if is not None:
            d["relevant_if"] = {"gene": self.relevant_if[0], "value": self.relevant_if[1]}
        return d


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


@dataclass
class GeneList:
    genes: List[Gene]
    _by_name: Dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {g.name: i for i, g in enumerate(self.genes)}
        if len(self._by_name) != len(self.genes):
            raise AssertionError("duplicate gene names")

    def __len__(self) -> int:
        return len(self.genes)

    def __iter__(self):
        return iter(self.genes)

    def names(self) -> List[str]:
        return [g.name for g in self.genes]

    def max_genome(self) -> List[int]:
        return [len(g.choices) - 1 for g in self.genes]

    def min_genome(self) -> List[int]:
        return [0 for _ in self.genes]

    def indices(self, genome: Any) -> List[int]:
        """Validate a genome (index sequence or name -> value mapping) and
        return it as a list of choice indices."""
        if genome is None:
            return self.max_genome()
        if isinstance(genome, Mapping):
            return self._from_mapping(genome)
        if isinstance(genome, (str, bytes)) or not isinstance(genome, Sequence):
            raise ValueError(f"'genome': expected a list of {len(self.genes)} choice "
                             f"indices or an object gene name -> value, got {type(genome).__name__}")
        out: List[int] = []
        for i, g in enumerate(self.genes):
            if i >= len(genome):
                raise ValueError(f"'{g.name}': missing (genome has {len(genome)} values, "
                                 f"the space has {len(self.genes)} genes)")
            v = genome[i]
            if not _is_int(v):
                raise ValueError(f"'{g.name}': choice index must be an integer, got {v!r}")
            if not 0 <= v < len(g.choices):
                raise ValueError(f"'{g.name}': choice index {v} out of range "
                                 f"0..{len(g.choices) - 1}")
            out.append(int(v))
        if len(genome) > len(self.genes):
            raise ValueError(f"'genome': {len(genome)} values, the space has only "
                             f"{len(self.genes)} genes")
        return out

    def _from_mapping(self, genome: Mapping) -> List[int]:
        for k in genome:
            if k not in self._by_name:
                raise ValueError(f"'{k}': unknown gene")
        out: List[int] = []
        for g in self.genes:
            if g.name not in genome:
                raise ValueError(f"'{g.name}': missing from the genome object")
            v = genome[g.name]
            if not _is_number(v):
                raise ValueError(f"'{g.name}': value must be a number, one of "
                                 f"{list(g.choices)}, got {v!r}")
            for i, c in enumerate(g.choices):
                if v == c:
                    out.append(i)
                    break
            else:
                raise ValueError(f"'{g.name}': {v!r} is not one of {list(g.choices)}")
        return out

    def values(self, genome: Any) -> Dict[str, Any]:
        """name -> chosen value, after validation."""
        idx = self.indices(genome)
        return {g.name: g.choices[i] for g, i in zip(self.genes, idx)}

    def distinct_count(self) -> int:
        """Exact number of distinct subnets (Python int; may exceed 2**53).

        Genes without `relevant_if` multiply freely. A gene G that others
        depend on contributes sum over its values v of prod(|choices| of the
        genes relevant only when G == v). Only one level of dependency is
        supported (enough for keep/width pairs).
        """
        deps: Dict[str, List[Gene]] = {}
        for g in self.genes:
            if g.relevant_if is not None:
                parent = g.relevant_if[0]
                if parent not in self._by_name:
                    raise AssertionError(f"{g.name} depends on unknown gene {parent}")
                if self.genes[self._by_name[parent]].relevant_if is not None:
                    raise AssertionError("nested gene dependencies are not supported")
                deps.setdefault(parent, []).append(g)
        total = 1
        for g in self.genes:
            if g.relevant_if is not None:
                continue
            if g.name not in deps:
                total *= len(g.choices)
                continue
            s = 0
            for v in g.choices:
                p = 1
                for d in deps[g.name]:
                    if d.relevant_if[1] == v:
                        p *= len(d.choices)
                s += p
            total *= s
        return total
