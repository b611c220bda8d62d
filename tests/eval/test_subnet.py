"""Subsampling structure and weights per genome (fmas_eval.subnet).

Run: /usr/bin/python3 -m pytest -q tests/eval/test_subnet.py
"""

import copy
import random

import pytest
import torch
from torch import nn

import fmas_twin as ft
from fmas_eval import subnet as S
from evalhelp import MNV2, XCEP, random_genome, randomize_bn


def _x(size, seed=0, n=1):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- costs

@pytest.mark.parametrize("ordering", ["first", "l1"])
def test_subnets_have_the_services_params_and_macs(full_mnv2, ordering):
    sd = full_mnv2.state_dict()
    rk = S.Ranking(MNV2, sd)
    rng = random.Random(7)
    genomes = [random_genome(MNV2, rng) for _ in range(4)]
    genomes.append(ft.get_space(MNV2).genes.min_genome())
    for g in genomes:
        m = S.build_subnet(MNV2, g, sd, ordering=ordering, ranking=rk, input_size=65)
        want_params, want_macs = ft.layer_costs(ft.layers(MNV2, g, input_size=65))
        assert sum(p.numel() for p in m.parameters()) == want_params
        assert ft.count(m) == (want_params, want_macs)


# ------------------------------------------------- max genome is the full model

@pytest.mark.parametrize("ordering", ["first", "l1"])
def test_max_genome_reproduces_the_full_model_mnv2(full_mnv2, ordering):
    sd = full_mnv2.state_dict()
    m = S.build_subnet(MNV2, None, sd, ordering=ordering)
    for k, v in sd.items():
        assert torch.equal(m.state_dict()[k], v), k
    x = _x(65, 1, n=2)
    with torch.no_grad():
        want, got = full_mnv2(x), m(x)
    assert torch.allclose(got, want, rtol=0, atol=1e-6)
    assert torch.equal(got, want)


def test_max_genome_reproduces_the_full_model_xception():
    torch.manual_seed(3)
    full = randomize_bn(ft.build(XCEP), 3).eval()
    sd = full.state_dict()
    x = _x(33, 2)
    with torch.no_grad():
        want = full(x)
        for ordering in ("first", "l1"):
            got = S.build_subnet(XCEP, None, sd, ordering=ordering)(x)
            assert torch.allclose(got, want, rtol=0, atol=1e-6), ordering


# ----------------------------------------- a narrowed model, sliced by hand

PICKED = dict(ft.get_space(MNV2).values(None), **{
    "features.5.expand": 2, "features.6.keep": 0, "aspp.branch2": 0, "aspp.width": 128,
    "decoder.low_level": 24, "decoder.width": 192})


def _bn_slice(sd, prefix, idx):
    for n in ("weight", "bias", "running_mean", "running_var"):
        sd[f"{prefix}.{n}"] = sd[f"{prefix}.{n}"][idx]


def _l1_keep(w, n):
    l1 = w.abs().reshape(w.shape[0], -1).sum(1)
    return torch.sort(torch.topk(l1, n).indices).values


def _hand_sliced(full_sd, l1):
    """The PICKED subnet's state dict, cut by hand."""
    sd = {k: v.clone() for k, v in full_sd.items()
          if not k.startswith("backbone.high_level_features.6.")
          and not k.startswith("classifier.aspp.convs.2.")}
    keep = (lambda w, n: _l1_keep(w, n)) if l1 else (lambda w, n: torch.arange(n))
    # block 5: hidden 32*2 = 64 of 192
    b = "backbone.high_level_features.5.conv"
    h = keep(full_sd[f"{b}.0.0.weight"], 64)
    sd[f"{b}.0.0.weight"] = sd[f"{b}.0.0.weight"][h]
    _bn_slice(sd, f"{b}.0.1", h)
    sd[f"{b}.1.0.weight"] = sd[f"{b}.1.0.weight"][h]
    _bn_slice(sd, f"{b}.1.1", h)
    sd[f"{b}.2.weight"] = sd[f"{b}.2.weight"][:, h]
    # ASPP: branches 0, 1, 3 and the pooling branch at width 128
    A = "classifier.aspp"
    cols = []
    for j, conv, bn in ((0, "convs.0.0", "convs.0.1"), (1, "convs.1.0", "convs.1.1"),
                        (3, "convs.3.0", "convs.3.1"), (4, "convs.4.1", "convs.4.2")):
        k = keep(full_sd[f"{A}.{conv}.weight"], 128)
        sd[f"{A}.{conv}.weight"] = sd[f"{A}.{conv}.weight"][k]
        _bn_slice(sd, f"{A}.{bn}", k)
        cols.append(j * 256 + k)
    p = keep(full_sd[f"{A}.project.0.weight"], 128)
    sd[f"{A}.project.0.weight"] = sd[f"{A}.project.0.weight"][p][:, torch.cat(cols)]
    _bn_slice(sd, f"{A}.project.1", p)
    # decoder: low level 24 of 48, width 192 of 256
    low = keep(full_sd["classifier.project.0.weight"], 24)
    sd["classifier.project.0.weight"] = sd["classifier.project.0.weight"][low]
    _bn_slice(sd, "classifier.project.1", low)
    d = keep(full_sd["classifier.classifier.0.weight"], 192)
    sd["classifier.classifier.0.weight"] = \
        sd["classifier.classifier.0.weight"][d][:, torch.cat([low, 48 + p])]
    _bn_slice(sd, "classifier.classifier.1", d)
    sd["classifier.classifier.3.weight"] = sd["classifier.classifier.3.weight"][:, d]
    return sd


@pytest.mark.parametrize("ordering", ["first", "l1"])
def test_narrowed_model_equals_hand_slicing(full_mnv2, ordering):
    sd = full_mnv2.state_dict()
    ref = ft.build(MNV2, PICKED).eval()
    ref.load_state_dict(_hand_sliced(sd, ordering == "l1"), strict=True)
    got = S.build_subnet(MNV2, PICKED, sd, ordering=ordering)
    x = _x(65, 4)
    with torch.no_grad():
        a, b = ref(x), got(x)
    assert torch.equal(a, b)
    if ordering == "l1":   # and it is not simply first-k
        first = S.build_subnet(MNV2, PICKED, sd, ordering="first")
        with torch.no_grad():
            assert not torch.allclose(first(x), b)


# ------------------------- L1 ordering: same function as the full model masked

def _masked_full(full, sub_sd_of_ids):
    """The full model with every BatchNorm channel the subnet does not keep
    zeroed (weight and bias), as docs/spaces.md's subsampling test does."""
    masked = copy.deepcopy(full)
    with torch.no_grad():
        for path, m in masked.named_modules():
            if not isinstance(m, nn.BatchNorm2d):
                continue
            keep = torch.zeros(m.num_features, dtype=torch.bool)
            key = f"{path}.weight"
            if key in sub_sd_of_ids:
                keep[sub_sd_of_ids[key].long()] = True
            m.weight[~keep] = 0
            m.bias[~keep] = 0
    return masked


@pytest.mark.parametrize("space, seed, size", [(MNV2, 11, 65), (MNV2, 12, 97), (XCEP, 13, 33)])
def test_l1_subnet_equals_masked_full(space, seed, size, full_mnv2):
    torch.manual_seed(seed)
    full = full_mnv2 if space == MNV2 else randomize_bn(ft.build(space), seed).eval()
    sd = full.state_dict()
    rk = S.Ranking(space, sd)
    genome = random_genome(space, random.Random(seed))
    sub = S.build_subnet(space, genome, sd, ordering="l1", ranking=rk)
    # which channels each BatchNorm kept: subsample a dict whose BN weights are ids
    ids = {k: (torch.arange(v.shape[0], dtype=torch.float32)
               if k.endswith(".weight") and v.dim() == 1 else v) for k, v in sd.items()}
    kept = S.subsample_state_dict(ft.build(space, genome), ids, "l1", rk)
    x = _x(size, seed)
    with torch.no_grad():
        want = _masked_full(full, kept)(x)
        got = sub(x)
    scale = want.abs().max().item()
    assert scale > 0
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * scale), (got - want).abs().max()


def test_l1_keeps_the_largest_filters(full_mnv2):
    sd = full_mnv2.state_dict()
    genome = ft.get_space(MNV2).genes.min_genome()
    sub = S.build_subnet(MNV2, genome, sd, ordering="l1")
    b = "backbone.high_level_features.7.conv.0.0.weight"
    full_l1 = sd[b].abs().sum((1, 2, 3))
    kept_l1 = sub.state_dict()[b].abs().sum((1, 2, 3))
    n = kept_l1.numel()
    assert n == 32 * 2
    assert torch.allclose(torch.sort(kept_l1).values, torch.sort(torch.topk(full_l1, n).values).values)


def test_l1_equals_first_when_importance_decreases(full_mnv2):
    """Scale every producer so that L1 importance falls with the index: the
    L1 selection is then exactly the first k."""
    sd = {k: v.clone() for k, v in full_mnv2.state_dict().items()}
    sets = S.channel_sets(MNV2, sd)
    for name, producer in sets.producers.items():
        w = sd[producer]
        w = w.sign() * (w.abs().mean() + 1e-3)     # equal magnitude per element
        scale = torch.linspace(2.0, 1.0, w.shape[0]).reshape(-1, *([1] * (w.dim() - 1)))
        sd[producer] = w * scale
    rk = S.Ranking(MNV2, sd)
    for g in [random_genome(MNV2, random.Random(s)) for s in range(3)]:
        sub = ft.build(MNV2, g)
        a = S.subsample_state_dict(sub, sd, "l1", rk)
        b = S.subsample_state_dict(sub, sd, "first")
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_every_narrowed_dimension_has_a_channel_set():
    for space in (MNV2, XCEP):
        full = ft.build(space)
        sd = full.state_dict()
        sets = S.channel_sets(space, sd)
        sub = ft.build(space, ft.get_space(space).genes.min_genome())
        for k, v in sub.state_dict().items():
            for dim in range(v.dim()):
                if v.shape[dim] != sd[k].shape[dim]:
                    assert (k, dim) in sets.dims, f"{space}: {k} dim {dim}"


def test_bad_ordering_is_refused(full_mnv2):
    with pytest.raises(ValueError, match="ordering"):
        S.build_subnet(MNV2, None, full_mnv2.state_dict(), ordering="random")


# ------------------------------------------------ BatchNorm recalibration, folding

def test_bn_recalibration_uses_the_batch_statistics(full_mnv2):
    m = S.build_subnet(MNV2, None, full_mnv2.state_dict())
    x = _x(49, 5, n=3)
    n = S.recalibrate_bn(m, [x])
    assert n == 1 and not m.training
    conv = m.backbone.low_level_features[0][0]
    bn = m.backbone.low_level_features[0][1]
    with torch.no_grad():
        y = conv(x)
    assert torch.allclose(bn.running_mean, y.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.allclose(bn.running_var, y.var(dim=(0, 2, 3), unbiased=True), rtol=1e-4)
    assert bn.momentum == 0.1
    # no batches: the statistics are untouched
    before = {k: v.clone() for k, v in m.state_dict().items()}
    assert S.recalibrate_bn(m, []) == 0
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_fold_bn_keeps_the_function(full_mnv2):
    g = random_genome(MNV2, random.Random(3))
    m = S.build_subnet(MNV2, g, full_mnv2.state_dict(), input_size=65)
    x = _x(65, 6)
    with torch.no_grad():
        want = m(x)
        f = S.fold_bn(copy.deepcopy(m))
        got = f(x)
    assert not any(isinstance(k, nn.BatchNorm2d) for k in f.modules())
    assert torch.allclose(got, want, atol=1e-4 * want.abs().max().item())
