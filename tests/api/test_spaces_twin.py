"""The proof of exactness: the layer lists the service expands genomes into
are those of the real PyTorch modules of the twin (clients/python/fmas_twin).

For both built-in spaces, the max genome, the min genome and 30 seeded random
genomes, at input 513 (the built-in space) and at an odd input (321, a
registered space), and a few genomes at output stride 8:

- the service's /expand params equal the twin module's parameter count
  (sum of numel over model.parameters(), what fmas_twin.count counts);
- its MACs equal the MACs counted by forward hooks on the module's Conv2d
  and Linear layers during a traced forward pass (fmas_twin.trace);
- the layer lists agree layer by layer: the same length, and for every
  layer the same name and op and every attribute the twin reports (cin,
  cout, k, stride, dilation, groups, pad, h, w, bias, bn, out_h, out_w);
- the service's canonical form of the twin's list (/v1/estimate?detail=layers)
  is exactly the /expand list, with the same MACs and params.

Each twin is built once per genome (a real nn.Module with initialized
weights) and traced at each input size; tracing runs on the meta device.
"""

import random

import pytest

import fmasapi
from fmasapi import MBV2, X65

torch = pytest.importorskip("torch", reason="the twin needs PyTorch")
import fmas_twin  # noqa: E402

pytestmark = pytest.mark.slow

RANDOM_GENOMES = 30
ODD = 321
OS8_RANDOM = 3
# (space id at the service, builder, input size, output stride)
TARGETS = [
    (MBV2, MBV2, 513, 16),
    (f"twin-mbv2-{ODD}", MBV2, ODD, 16),
    (X65, X65, 513, 16),
    (f"twin-x65-{ODD}", X65, ODD, 16),
    ("twin-mbv2-os8", MBV2, 513, 8),
    (f"twin-x65-os8-{ODD}", X65, ODD, 8),
]
# Attributes a twin layer may report; each must equal the service's.
ATTRS = ("op", "cin", "cout", "k", "stride", "dilation", "groups", "pad", "h", "w",
         "out_h", "out_w", "bias", "bn", "dtype")


def genomes_of(builder, output_stride):
    space = fmas_twin.get_space(builder)
    rng = random.Random(f"twin-{builder}-{output_stride}")
    n = RANDOM_GENOMES if output_stride == 16 else OS8_RANDOM
    out = [space.genes.max_genome(), space.genes.min_genome()]
    out += [[rng.randrange(len(g.choices)) for g in space.genes] for _ in range(n)]
    return out


class Twins:
    """Per (builder, output stride, genome): the module's parameter count and
    its traced (layers, hook MACs) at each input size. Each module is built
    once and dropped after tracing."""

    def __init__(self):
        self.cache = {}

    def get(self, builder, output_stride, genome, sizes):
        key = (builder, output_stride, tuple(genome))
        if key not in self.cache:
            model = fmas_twin.build(builder, genome, output_stride=output_stride)
            assert model.genome == list(genome)
            params = sum(p.numel() for p in model.parameters())
            traced = {size: fmas_twin.trace(model, input_size=size) for size in sizes}
            self.cache[key] = (int(params), traced)
        return self.cache[key]


@pytest.fixture(scope="module")
def twins():
    return Twins()


@pytest.fixture(scope="module")
def srv(shared_server):
    for sid, builder, size, os_ in TARGETS:
        if sid != builder:
            shared_server.create_space({"id": sid, "builder": builder,
                                        "params": {"input_size": size, "output_stride": os_}})
    return shared_server


def sizes_for(builder, output_stride):
    return sorted({t[2] for t in TARGETS if t[1] == builder and t[3] == output_stride})


def compare_layers(sid, genome, got, want):
    assert len(got) == len(want), \
        f"{sid} {genome}: {len(got)} layers at the service, {len(want)} in the twin"
    for i, (g, w) in enumerate(zip(got, want)):
        where = f"{sid} {genome} layer {i} ({w['name']})"
        assert g["name"] == w["name"], f"{where}: service names it {g['name']}"
        extra = set(w) - set(ATTRS) - {"name"}
        assert not extra, f"{where}: twin attributes this test does not compare: {extra}"
        for a in ATTRS:
            if a in w:
                assert g.get(a) == w[a] and type(g.get(a)) is type(w[a]), \
                    f"{where}: {a} is {g.get(a)!r} at the service, {w[a]!r} in the twin\n" \
                    f"service: {g}\ntwin:    {w}"


@pytest.mark.parametrize("sid,builder,size,output_stride", TARGETS,
                         ids=[f"{t[0]}@{t[2]}-os{t[3]}" for t in TARGETS])
def test_expand_equals_the_twin(srv, twins, sid, builder, size, output_stride):
    genomes = genomes_of(builder, output_stride)
    space = srv.space(sid)
    assert space["params"]["input_size"] == size
    assert space["params"]["output_stride"] == output_stride
    assert [g["name"] for g in space["genes"]] == \
        [g.name for g in fmas_twin.get_space(builder).genes]
    assert [g["choices"] for g in space["genes"]] == \
        [list(g.choices) for g in fmas_twin.get_space(builder).genes]
    expansions, twin_lists = [], []
    for genome in genomes:
        params, traced = twins.get(builder, output_stride, genome, sizes_for(builder, output_stride))
        twin_layers, twin_macs = traced[size]
        e = srv.expand(sid, genome)
        assert e["genome"] == genome
        assert e["params"] == params, f"{sid} {genome}: params {e['params']} != twin {params}"
        assert e["macs"] == twin_macs, f"{sid} {genome}: MACs {e['macs']} != twin hooks {twin_macs}"
        assert e["flops"] == 2 * twin_macs
        assert e["layer_count"] == len(twin_layers)
        compare_layers(sid, genome, e["layers"], twin_layers)
        expansions.append(e)
        twin_lists.append(twin_layers)
    # The service's canonical form of the twin's lists is the /expand list.
    est = srv.estimate({"devices": [], "networks": [{"name": f"g{i}", "layers": L}
                                                    for i, L in enumerate(twin_lists)]},
                       detail="layers")
    for e, r in zip(expansions, est["results"]):
        assert (r["macs"], r["params"]) == (e["macs"], e["params"])
        assert [d["key"] for d in r["layers"]] == \
            [{k: v for k, v in L.items() if k != "name"} for L in e["layers"]]
        assert [d["name"] for d in r["layers"]] == [L["name"] for L in e["layers"]]


@pytest.mark.parametrize("builder", [MBV2, X65])
def test_twin_api_agrees_with_itself(twins, builder):
    """fmas_twin.layers() and fmas_twin.count() (the documented calls) give
    what this file compares: the traced list and the module's counts."""
    space = fmas_twin.get_space(builder)
    for genome in (space.genes.max_genome(), space.genes.min_genome()):
        params, traced = twins.get(builder, 16, genome, sizes_for(builder, 16))
        for size in (513, ODD):
            layers = fmas_twin.layers(builder, genome, input_size=size)
            assert layers == traced[size][0]
            assert fmas_twin.layer_costs(layers) == (params, traced[size][1])
        model = fmas_twin.build(builder, genome)
        assert fmas_twin.count(model) == (params, traced[513][1])
