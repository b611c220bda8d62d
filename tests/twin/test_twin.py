"""Tests of fmas_twin, the PyTorch twin of the DeepLabV3+ search spaces.

Run: /usr/bin/python3 -m pytest -q tests/twin
"""

import copy
import json
import os
import random
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import fmas_twin as ft
from fmas_twin.trace import conv_out

MNV2 = "deeplabv3plus-mobilenetv2"
XCEP = "deeplabv3plus-xception65"
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
RESIDUAL = {3, 5, 6, 8, 9, 10, 12, 13, 15, 16}
# The attributes of each op in a layer list (the contract with the C side).
KEYS = {
    "conv2d": {"name", "op", "cin", "cout", "k", "stride", "dilation", "groups", "pad", "h",
               "w", "bias", "bn"},
    "add": {"name", "op", "cin", "h", "w"},
    "global_avgpool": {"name", "op", "cin", "h", "w"},
    "upsample": {"name", "op", "cin", "h", "w", "out_h", "out_w"},
    "concat": {"name", "op", "cout", "h", "w"},
}


# ---------------------------------------------------------------------------
# A faithful, independent re-implementation of DeepLabV3Plus-Pytorch's
# deeplabv3plus_mobilenet (network/backbone/mobilenetv2.py, network/_deeplab.py,
# network/utils.py, network/modeling.py), to pin the twin's max genome to it.

class _PubConvBNReLU(nn.Sequential):
    def __init__(self, i, o, k=3, s=1, d=1, g=1):
        super().__init__(nn.Conv2d(i, o, k, s, 0, dilation=d, groups=g, bias=False),
                         nn.BatchNorm2d(o), nn.ReLU6(inplace=True))


class _PubInvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, dilation, t):
        super().__init__()
        hidden = int(round(inp * t))
        self.use_res = stride == 1 and inp == oup
        layers = [_PubConvBNReLU(inp, hidden, k=1)] if t != 1 else []
        layers += [_PubConvBNReLU(hidden, hidden, s=stride, d=dilation, g=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)
        k_eff = 3 + 2 * (dilation - 1)
        beg = (k_eff - 1) // 2
        self.pad = (beg, k_eff - 1 - beg, beg, k_eff - 1 - beg)

    def forward(self, x):
        y = self.conv(F.pad(x, self.pad))
        return x + y if self.use_res else y


class _PubMobileNetV2(nn.Module):
    def __init__(self, output_stride=16):
        super().__init__()
        feats = [_PubConvBNReLU(3, 32, s=2)]
        cin, cur, dil = 32, 2, 1
        for t, c, n, s in [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                           [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]:
            prev = dil
            if cur == output_stride:
                stride, dil = 1, dil * s
            else:
                stride, cur = s, cur * s
            for i in range(n):
                feats.append(_PubInvertedResidual(cin, c, stride if i == 0 else 1,
                                                  prev if i == 0 else dil, t))
                cin = c
        feats.append(_PubConvBNReLU(cin, 1280, k=1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))


class _PubGetter(nn.ModuleDict):
    def __init__(self, model, return_layers):
        layers = OrderedDict()
        remaining = dict(return_layers)
        for name, module in model.named_children():
            layers[name] = module
            remaining.pop(name, None)
            if not remaining:
                break
        super().__init__(layers)
        self.return_layers = return_layers

    def forward(self, x):
        out = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


class _PubASPPPooling(nn.Sequential):
    def __init__(self, i, o):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(i, o, 1, bias=False),
                         nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    def forward(self, x):
        return F.interpolate(super().forward(x), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)


class _PubASPP(nn.Module):
    def __init__(self, i, rates):
        super().__init__()
        mods = [nn.Sequential(nn.Conv2d(i, 256, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(True))]
        for r in rates:
            mods.append(nn.Sequential(nn.Conv2d(i, 256, 3, padding=r, dilation=r, bias=False),
                                      nn.BatchNorm2d(256), nn.ReLU(True)))
        mods.append(_PubASPPPooling(i, 256))
        self.convs = nn.ModuleList(mods)
        self.project = nn.Sequential(nn.Conv2d(1280, 256, 1, bias=False), nn.BatchNorm2d(256),
                                     nn.ReLU(True), nn.Dropout(0.1))

    def forward(self, x):
        return self.project(torch.cat([c(x) for c in self.convs], 1))


class _PubHead(nn.Module):
    def __init__(self, nc, rates):
        super().__init__()
        self.project = nn.Sequential(nn.Conv2d(24, 48, 1, bias=False), nn.BatchNorm2d(48),
                                     nn.ReLU(True))
        self.aspp = _PubASPP(320, rates)
        self.classifier = nn.Sequential(nn.Conv2d(304, 256, 3, padding=1, bias=False),
                                        nn.BatchNorm2d(256), nn.ReLU(True),
                                        nn.Conv2d(256, nc, 1))

    def forward(self, f):
        low = self.project(f["low_level"])
        out = self.aspp(f["out"])
        out = F.interpolate(out, size=low.shape[2:], mode="bilinear", align_corners=False)
        return self.classifier(torch.cat([low, out], 1))


class _PubDeepLab(nn.Module):
    def __init__(self, nc=21, output_stride=16):
        super().__init__()
        bb = _PubMobileNetV2(output_stride)
        bb.low_level_features = bb.features[:4]
        bb.high_level_features = bb.features[4:-1]
        bb.features = None
        bb.classifier = None
        self.backbone = _PubGetter(bb, {"high_level_features": "out",
                                        "low_level_features": "low_level"})
        self.classifier = _PubHead(nc, [12, 24, 36] if output_stride == 8 else [6, 12, 18])

    def forward(self, x):
        y = self.classifier(self.backbone(x))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


# ---------------------------------------------------------------------------
# helpers

def _randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + 0.5 * torch.rand(n, generator=g))
                m.bias.copy_(0.2 * torch.rand(n, generator=g) - 0.1)
                m.running_mean.copy_(0.2 * torch.rand(n, generator=g) - 0.1)
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
    return model


def _random_genome(space, rng):
    return [rng.randrange(len(g.choices)) for g in ft.get_space(space).genes]


def _check_layers_against_count(space, genome, size):
    model = ft.build(space, genome, input_size=size)
    layers, _ = ft.trace(model)
    params, macs = ft.count(model)
    lp, lm = ft.layer_costs(layers)
    assert (lp, lm) == (params, macs)
    # Each conv's output feeds consistent shapes: nothing negative, ops known.
    for L in layers:
        assert set(L) == KEYS[L["op"]], L
        if L["op"] == "conv2d":
            assert conv_out(L["h"], L["k"], L["stride"], L["dilation"], L["pad"]) >= 1
            assert L["cin"] % L["groups"] == 0 and L["cout"] % L["groups"] == 0
    assert layers[-1] == {"name": "upsample", "op": "upsample", "cin": model.num_classes,
                          "h": layers[-1]["h"], "w": layers[-1]["w"], "out_h": size,
                          "out_w": size}
    return model, layers


# ---------------------------------------------------------------------------
# mobilenetv2: the public model

def test_mobilenetv2_full_params():
    model = ft.build(MNV2)
    assert sum(p.numel() for p in model.parameters()) == 5225717
    assert ft.count(model)[0] == 5225717
    assert sum(p.numel() for p in _PubDeepLab().parameters()) == 5225717


def test_mobilenetv2_max_genome_is_the_public_model():
    twin = ft.build(MNV2).eval()
    pub = _PubDeepLab().eval()
    ts, ps = twin.state_dict(), pub.state_dict()
    assert list(ts) == list(ps)
    assert {k: tuple(v.shape) for k, v in ts.items()} == {k: tuple(v.shape) for k, v in ps.items()}
    assert tuple(ts["backbone.low_level_features.0.0.weight"].shape) == (32, 3, 3, 3)
    assert tuple(ts["backbone.high_level_features.17.conv.2.weight"].shape) == (320, 960, 1, 1)
    assert tuple(ts["classifier.classifier.3.bias"].shape) == (21,)
    assert tuple(ts["backbone.high_level_features.4.conv.0.0.weight"].shape) == (144, 24, 1, 1)
    # Same weights, same function (random BN statistics so padding matters).
    _randomize_bn(pub, 1)
    twin.load_state_dict(pub.state_dict(), strict=True)
    x = torch.randn(1, 3, 97, 97, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = twin(x), pub(x)
    assert torch.equal(a, b)


def test_mobilenetv2_output_stride_8_is_the_public_model():
    twin = ft.build(MNV2, output_stride=8)
    pub = _PubDeepLab(output_stride=8)
    assert ({k: tuple(v.shape) for k, v in twin.state_dict().items()}
            == {k: tuple(v.shape) for k, v in pub.state_dict().items()})
    convs = {L["name"]: L for L in ft.trace(twin, 65)[0] if L["op"] == "conv2d"}
    assert convs["backbone.high_level_features.7.conv.1.0"]["stride"] == 1
    assert convs["backbone.high_level_features.8.conv.1.0"]["dilation"] == 2
    assert convs["classifier.aspp.convs.3.0"]["dilation"] == 36


def test_mobilenetv2_genes_contract():
    sp = ft.get_space(MNV2)
    names = sp.genes.names()
    expected = []
    for i in range(2, 18):
        if i in RESIDUAL:
            expected.append(f"features.{i}.keep")
        expected.append(f"features.{i}.expand")
    expected += ["aspp.branch1", "aspp.branch2", "aspp.branch3", "aspp.pool", "aspp.width",
                 "decoder.low_level", "decoder.width"]
    assert names == expected and len(names) == 33
    ch = {g.name: list(g.choices) for g in sp.genes}
    assert ch["features.3.keep"] == [0, 1] and ch["features.2.expand"] == [2, 3, 4, 6]
    assert ch["aspp.width"] == [64, 128, 192, 256] and ch["decoder.low_level"] == [16, 24, 32, 48]
    assert ch["decoder.width"] == [64, 128, 192, 256]
    d = ft.genes(MNV2)
    assert d["distinct_subnets"] == str(5 ** 10 * 4 ** 6 * 2 ** 4 * 4 ** 3) == "40960000000000"
    assert d["max_genome"] == [len(g.choices) - 1 for g in sp.genes]
    assert d["min_genome"] == [0] * 33
    from fmas_twin.mobilenetv2 import block_plan
    for os_ in (8, 16):
        assert {b["index"] for b in block_plan(os_) if b["residual"]} == RESIDUAL


def test_mobilenetv2_forward_shapes():
    sp = ft.get_space(MNV2)
    with torch.no_grad():
        full = ft.build(MNV2).eval()
        assert tuple(full(torch.zeros(1, 3, 513, 513)).shape) == (1, 21, 513, 513)
        assert tuple(full(torch.zeros(1, 3, 97, 97)).shape) == (1, 21, 97, 97)
        small = ft.build(MNV2, sp.genes.min_genome()).eval()
        for n in (513, 321, 128, 65):
            assert tuple(small(torch.zeros(1, 3, n, n)).shape) == (1, 21, n, n)
        assert tuple(small(torch.zeros(1, 3, 97, 130)).shape) == (1, 21, 97, 130)


def test_mobilenetv2_layers_full_513():
    _, layers = _check_layers_against_count(MNV2, None, 513)
    byname = {L["name"]: L for L in layers}
    first = layers[0]
    assert first == {"name": "backbone.low_level_features.0.0", "op": "conv2d", "cin": 3,
                     "cout": 32, "k": 3, "stride": 2, "dilation": 1, "groups": 1, "pad": 0,
                     "h": 513, "w": 513, "bias": False, "bn": True}
    # the 1x1 expansion runs on the padded map; depthwise convs have groups == cin
    e = byname["backbone.high_level_features.5.conv.0.0"]
    assert (e["k"], e["h"], e["pad"], e["cout"]) == (1, 66, 0, 192)
    dw = byname["backbone.high_level_features.16.conv.1.0"]
    assert (dw["groups"], dw["cin"], dw["dilation"], dw["h"]) == (960, 960, 2, 36)
    assert byname["backbone.high_level_features.14.conv.1.0"]["dilation"] == 1
    assert byname["backbone.high_level_features.14.conv.1.0"]["stride"] == 1
    assert byname["backbone.low_level_features.3.add"] == {
        "name": "backbone.low_level_features.3.add", "op": "add", "cin": 24, "h": 128, "w": 128}
    assert byname["classifier.aspp.convs.4.0"] == {
        "name": "classifier.aspp.convs.4.0", "op": "global_avgpool", "cin": 320, "h": 32, "w": 32}
    assert byname["classifier.aspp.concat"]["cout"] == 1280
    assert byname["classifier.concat"] == {"name": "classifier.concat", "op": "concat",
                                           "cout": 304, "h": 128, "w": 128}
    assert byname["classifier.upsample"]["out_h"] == 128
    assert byname["classifier.classifier.3"]["bias"] is True
    assert byname["classifier.classifier.3"]["bn"] is False
    n_conv = sum(L["op"] == "conv2d" for L in layers)
    assert n_conv == 1 + 2 + 16 * 3 + 1 + 5 + 1 + 2          # backbone, head
    assert sum(L["op"] == "add" for L in layers) == 10
    assert ft.layer_costs(layers) == (5225717, 16817423360)


def test_mobilenetv2_min_genome_layers():
    sp = ft.get_space(MNV2)
    model, layers = _check_layers_against_count(MNV2, sp.genes.min_genome(), 513)
    names = [L["name"] for L in layers]
    assert not any(n.startswith("backbone.low_level_features.3.") for n in names)
    assert not any(n.startswith("classifier.aspp.convs.1") for n in names)
    assert "classifier.aspp.concat" not in names                   # one branch: no concat
    byname = {L["name"]: L for L in layers}
    assert byname["backbone.high_level_features.4.conv.0.0"]["cout"] == 48
    assert byname["classifier.aspp.project.0"]["cin"] == 64
    assert byname["classifier.classifier.0"]["cin"] == 16 + 64
    assert byname["classifier.classifier.0"]["cout"] == 64
    assert sum(L["op"] == "add" for L in layers) == 0
    keys = set(model.state_dict())
    assert "backbone.low_level_features.3.conv.0.0.weight" not in keys
    assert "backbone.high_level_features.17.conv.2.weight" in keys


@pytest.mark.parametrize("space", [MNV2, XCEP])
def test_random_genomes_layers_match_count(space):
    rng = random.Random(20240611 + len(space))
    sizes = [97, 65, 97, 65, 97, 65, 97, 65, 321, 513] if space == MNV2 else [65, 97] * 5
    full = {k: v.shape for k, v in ft.build(space).state_dict().items()}
    for size in sizes:
        genome = _random_genome(space, rng)
        model, layers = _check_layers_against_count(space, genome, size)
        # the subnet is a sliced subset of the full state dict
        for k, v in model.state_dict().items():
            assert k in full and len(v.shape) == len(full[k])
            assert all(a <= b for a, b in zip(v.shape, full[k]))


@pytest.mark.parametrize("space", [MNV2, XCEP])
def test_random_genomes_forward(space):
    rng = random.Random(7 + len(space))
    with torch.no_grad():
        for size in (65, 71):
            model = ft.build(space, _random_genome(space, rng)).eval()
            assert tuple(model(torch.zeros(1, 3, size, size)).shape) == (1, 21, size, size)


def test_genome_object_equals_index_array():
    rng = random.Random(3)
    for space in (MNV2, XCEP):
        sp = ft.get_space(space)
        for _ in range(3):
            idx = _random_genome(space, rng)
            obj = {g.name: g.choices[i] for g, i in zip(sp.genes, idx)}
            assert sp.indices(obj) == idx
            assert ft.layers(space, obj, input_size=65) == ft.layers(space, idx, input_size=65)
            a = ft.build(space, obj).state_dict()
            b = ft.build(space, idx).state_dict()
            assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}
        # JSON round trip (1.0 vs 1 for width fractions compares by value)
        obj = json.loads(json.dumps({g.name: g.choices[-1] for g in sp.genes}))
        assert sp.indices(obj) == sp.genes.max_genome()


@pytest.mark.parametrize("genome, gene", [
    (lambda n: [0] * (n - 1), "decoder.width"),                        # too short
    (lambda n: [0] * (n + 1), "genome"),                               # too long
    (lambda n: [9] + [0] * (n - 1), None),                             # first gene out of range
    (lambda n: [0, -1] + [0] * (n - 2), None),
    (lambda n: [0, 0.5] + [0] * (n - 2), None),
    (lambda n: [True] + [0] * (n - 1), None),
    (lambda n: "[0, 1]", "genome"),
    (lambda n: 7, "genome"),
])
def test_bad_index_genomes(genome, gene):
    for space in (MNV2, XCEP):
        sp = ft.get_space(space)
        names = sp.genes.names()
        g = genome(len(names))
        expect = gene
        if expect is None:
            bad = next(i for i, v in enumerate(g) if isinstance(v, bool) or not isinstance(v, int)
                       or not 0 <= v < len(sp.genes.genes[i].choices))
            expect = names[bad]
        with pytest.raises(ValueError, match=f"'{expect}'"):
            ft.build(space, g)
        with pytest.raises(ValueError, match=f"'{expect}'"):
            ft.layers(space, g)


def test_bad_object_genomes():
    sp = ft.get_space(MNV2)
    good = sp.values(None)
    for mutate, gene in [
        (lambda d: d.update({"aspp.width": 100}), "aspp.width"),
        (lambda d: d.update({"features.2.expand": 5}), "features.2.expand"),
        (lambda d: d.update({"features.3.keep": True}), "features.3.keep"),
        (lambda d: d.update({"features.3.keep": "1"}), "features.3.keep"),
        (lambda d: d.pop("decoder.low_level"), "decoder.low_level"),
        (lambda d: d.update({"features.1.expand": 6}), "features.1.expand"),
    ]:
        d = dict(good)
        mutate(d)
        with pytest.raises(ValueError, match=f"'{gene}'"):
            ft.build(MNV2, d)
    xg = ft.get_space(XCEP).values(None)
    xg["middle.3.width"] = 0.3
    with pytest.raises(ValueError, match="'middle.3.width'"):
        ft.build(XCEP, xg)
    with pytest.raises(ValueError, match="'space'"):
        ft.build("no-such-space")
    with pytest.raises(ValueError, match="'output_stride'"):
        ft.build(MNV2, output_stride=32)
    with pytest.raises(ValueError, match="'input_size'"):
        ft.layers(MNV2, input_size=0)


# ---------------------------------------------------------------------------
# xception65

def test_xception_genes_contract():
    sp = ft.get_space(XCEP)
    names = sp.genes.names()
    expected = []
    for i in range(16):
        expected += [f"middle.{i}.keep", f"middle.{i}.width"]
    expected += ["exit.block.width", "exit.conv3.width", "exit.conv4.width",
                 "aspp.branch1", "aspp.branch2", "aspp.branch3", "aspp.pool", "aspp.width",
                 "decoder.low_level", "decoder.width"]
    assert names == expected and len(names) == 42
    assert list(sp.genes.genes[1].choices) == [0.25, 0.5, 0.75, 1.0]
    count = int(ft.genes(XCEP)["distinct_subnets"])
    assert count == 5 ** 16 * 4 ** 3 * 2 ** 4 * 4 ** 3 == 10 ** 16
    assert count > 2 ** 53


def test_xception_full_structure():
    model = ft.build(XCEP)
    sd = model.state_dict()
    assert tuple(sd["backbone.conv1.weight"].shape) == (32, 3, 3, 3)
    assert tuple(sd["backbone.block1.rep.0.conv1.weight"].shape) == (64, 1, 3, 3)
    assert tuple(sd["backbone.block1.rep.0.pointwise.weight"].shape) == (128, 64, 1, 1)
    assert tuple(sd["backbone.block1.skip.weight"].shape) == (128, 64, 1, 1)
    assert tuple(sd["backbone.block4.rep.1.pointwise.weight"].shape) == (728, 728, 1, 1)
    assert tuple(sd["backbone.block19.rep.8.weight"].shape) == (728,)
    assert "backbone.block4.skip.weight" not in sd
    assert tuple(sd["backbone.block20.rep.4.pointwise.weight"].shape) == (1024, 728, 1, 1)
    assert tuple(sd["backbone.block20.rep.7.pointwise.weight"].shape) == (1024, 1024, 1, 1)
    assert tuple(sd["backbone.conv5.pointwise.weight"].shape) == (2048, 1536, 1, 1)
    assert tuple(sd["classifier.aspp.convs.1.0.weight"].shape) == (2048, 1, 3, 3)
    assert tuple(sd["classifier.aspp.convs.1.3.weight"].shape) == (256, 2048, 1, 1)
    assert tuple(sd["classifier.project.0.weight"].shape) == (48, 128, 1, 1)
    assert tuple(sd["classifier.classifier.0.0.weight"].shape) == (304, 1, 3, 3)
    assert tuple(sd["classifier.classifier.1.3.weight"].shape) == (256, 256, 1, 1)
    assert tuple(sd["classifier.classifier.2.bias"].shape) == (21,)
    layers, _ = ft.trace(model, 513)
    assert ft.layer_costs(layers) == ft.count(model, 513)
    byname = {L["name"]: L for L in layers}
    assert byname["backbone.conv1"]["pad"] == 1 and byname["backbone.conv1"]["stride"] == 2
    assert byname["backbone.block1.rep.6.conv1"]["h"] == 257
    assert byname["backbone.block1.add"]["h"] == 129
    assert byname["backbone.block3.add"] == {"name": "backbone.block3.add", "op": "add",
                                             "cin": 728, "h": 33, "w": 33}
    assert byname["backbone.block20.rep.1.conv1"]["dilation"] == 1
    assert byname["backbone.block20.rep.7.conv1"]["dilation"] == 1
    assert byname["backbone.conv3.conv1"]["dilation"] == 2
    assert byname["backbone.conv3.conv1"]["pad"] == 2
    assert byname["classifier.aspp.convs.3.0"]["dilation"] == 18
    assert byname["classifier.aspp.convs.3.0"]["groups"] == 2048
    assert byname["classifier.concat"]["cout"] == 304 and byname["classifier.concat"]["h"] == 129
    assert byname["classifier.classifier.0.0"]["groups"] == 304
    assert sum(L["op"] == "add" for L in layers) == 20
    with torch.no_grad():
        y = model.eval()(torch.zeros(1, 3, 65, 65))
    assert tuple(y.shape) == (1, 21, 65, 65)


def test_xception_min_genome():
    sp = ft.get_space(XCEP)
    model, layers = _check_layers_against_count(XCEP, sp.genes.min_genome(), 97)
    names = {L["name"] for L in layers}
    assert not any(n.startswith("backbone.block4.") for n in names)
    byname = {L["name"]: L for L in layers}
    assert byname["backbone.block20.rep.1.pointwise"]["cout"] == 182
    assert byname["backbone.block20.rep.4.pointwise"]["cout"] == 256
    assert byname["backbone.conv4.conv1"]["cin"] == 384
    assert byname["backbone.conv5.pointwise"]["cin"] == 384
    with torch.no_grad():
        assert tuple(model.eval()(torch.zeros(1, 3, 97, 97)).shape) == (1, 21, 97, 97)


def test_xception_output_stride_8():
    model = ft.build(XCEP, output_stride=8)
    layers, _ = ft.trace(model, 65)
    byname = {L["name"]: L for L in layers}
    assert byname["backbone.block3.rep.7.conv1"]["stride"] == 1
    assert byname["backbone.block4.rep.1.conv1"]["dilation"] == 2
    assert byname["backbone.conv5.conv1"]["dilation"] == 4
    assert byname["classifier.aspp.convs.1.0"]["dilation"] == 12


# ---------------------------------------------------------------------------
# subsampling pretrained weights: a subnet computes exactly what the full
# model computes with the pruned channels, branches and blocks zeroed out.

def _masked(full, sub):
    subm = dict(sub.named_modules())
    masked = copy.deepcopy(full)
    with torch.no_grad():
        for path, m in masked.named_modules():
            if not isinstance(m, nn.BatchNorm2d):
                continue
            keep = torch.zeros(m.num_features, dtype=torch.bool)
            if path in subm:
                s = subm[path]
                keep[list(getattr(s, "_fmas_index", {}).get("out", range(s.num_features)))] = True
            m.weight[~keep] = 0
            m.bias[~keep] = 0
    return masked


_PICKED_MNV2 = dict(ft.get_space(MNV2).values(None), **{
    "features.3.keep": 0, "features.4.expand": 3, "features.13.expand": 2,
    "aspp.branch1": 0, "aspp.branch3": 0, "aspp.width": 128, "decoder.low_level": 24,
    "decoder.width": 192})
_PICKED_XCEP = dict(ft.get_space(XCEP).values(None), **{
    "middle.0.keep": 0, "middle.1.width": 0.5, "middle.15.width": 0.25,
    "exit.block.width": 0.75, "exit.conv3.width": 0.5, "exit.conv4.width": 0.25,
    "aspp.branch2": 0, "aspp.pool": 0, "aspp.width": 192, "decoder.low_level": 32,
    "decoder.width": 128})


@pytest.mark.parametrize("space, seed, size, genome", [
    (MNV2, 1, 97, "random"), (MNV2, 2, 65, "random"), (MNV2, 3, 65, "min"),
    (MNV2, 4, 65, _PICKED_MNV2), (XCEP, 5, 65, "random"), (XCEP, 6, 65, _PICKED_XCEP)])
def test_subsampled_subnet_equals_masked_full(space, seed, size, genome):
    torch.manual_seed(seed)
    full = _randomize_bn(ft.build(space), seed).eval()
    if genome == "random":
        genome = _random_genome(space, random.Random(seed))
    elif genome == "min":
        genome = ft.get_space(space).genes.min_genome()
    sub = ft.load_subsampled(ft.build(space, genome).eval(), full.state_dict())
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        want = _masked(full, sub)(x)
        got = sub(x)
    scale = want.abs().max().item()
    assert scale > 0
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * scale), (got - want).abs().max()
    # and the max genome's subsample is the identity
    same = ft.subsample_state_dict(full, full.state_dict())
    assert all(torch.equal(same[k], v) for k, v in full.state_dict().items())


# ---------------------------------------------------------------------------
# distinct-subnet counting and the CLI

def test_distinct_count_brute_force():
    from fmas_twin.genome import Gene, GeneList
    import itertools
    gl = GeneList([Gene("a.keep", (0, 1)), Gene("a.w", (1, 2, 3), relevant_if=("a.keep", 1)),
                   Gene("b", (0, 1)), Gene("c.keep", (0, 1)),
                   Gene("c.w", (5, 6), relevant_if=("c.keep", 1))])
    seen = set()
    for combo in itertools.product(*[range(len(g.choices)) for g in gl]):
        v = {g.name: g.choices[i] for g, i in zip(gl, combo)}
        seen.add((v["a.keep"], v["a.w"] if v["a.keep"] else None, v["b"], v["c.keep"],
                  v["c.w"] if v["c.keep"] else None))
    assert gl.distinct_count() == len(seen) == 4 * 2 * 3


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "clients", "python"))
    p = subprocess.run([sys.executable, "-m", "fmas_twin", *args], capture_output=True,
                       text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_cli_layers_and_genes():
    sp = ft.get_space(MNV2)
    genome = sp.genes.min_genome()
    rc, out, err = _cli("layers", "--space", MNV2, "--input-size", "129",
                        "--genome", json.dumps(genome))
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["layers"] == ft.layers(MNV2, genome, input_size=129)
    assert (doc["params"], doc["macs"]) == ft.count(ft.build(MNV2, genome, input_size=129))
    rc, out, err = _cli("genes", "--space", XCEP)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["distinct_subnets"] == "10000000000000000"
    assert [g["name"] for g in doc["genes"]] == ft.get_space(XCEP).genes.names()
    rc, out, err = _cli("layers", "--space", MNV2, "--genome", '{"aspp.width": 64}')
    assert rc == 2 and "'features.2.expand'" in err and out == ""
