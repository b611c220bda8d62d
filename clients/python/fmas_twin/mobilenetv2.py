"""Space `deeplabv3plus-mobilenetv2`: DeepLabV3Plus-Pytorch's
`deeplabv3plus_mobilenet` and its subnets.

The backbone reproduces that repository's MobileNetV2 (network/backbone/
mobilenetv2.py): convolutions without padding, an explicit F.pad of
fixed_padding(3, dilation) at the input of every inverted residual block (so
the 1x1 expansion runs on the padded map), output-stride handling by
dilation, and the split features[0:4] / features[4:-1] into
`backbone.low_level_features` / `backbone.high_level_features`; the last
1x1/1280 conv is not part of the model.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

from torch import nn
from torch.nn import functional as F

from .genome import Gene, GeneList
from .head import DeepLabHeadV3Plus, DeepLabV3Plus
from .trace import note

SPACE_ID = "deeplabv3plus-mobilenetv2"

# t, c, n, s
SETTINGS = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
]
LOW_LEVEL_END = 4          # features[0:4] are the low-level features
EXPAND_CHOICES = (2, 3, 4, 6)
ASPP_WIDTHS = (64, 128, 192, 256)
LOW_LEVEL_WIDTHS = (16, 24, 32, 48)
DECODER_WIDTHS = (64, 128, 192, 256)


def fixed_padding(kernel_size: int, dilation: int) -> Tuple[int, int, int, int]:
    k_eff = kernel_size + (kernel_size - 1) * (dilation - 1)
    total = k_eff - 1
    beg = total // 2
    end = total - beg
    return (beg, end, beg, end)


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1,
                 dilation: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, stride, 0, dilation=dilation, groups=groups,
                      bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """The public block; `hidden` overrides int(round(inp*expand_ratio)) to
    keep only the first `hidden` expansion channels."""

    def __init__(self, inp: int, oup: int, stride: int, dilation: int, expand_ratio: int,
                 hidden: Optional[int] = None):
        super().__init__()
        assert stride in (1, 2)
        self.stride = stride
        if hidden is None:
            hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: List[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden, kernel_size=1))
        elif hidden != inp:
            raise ValueError("a block without expansion cannot change its hidden width")
        layers.extend([
            ConvBNReLU(hidden, hidden, stride=stride, dilation=dilation, groups=hidden),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ])
        self.conv = nn.Sequential(*layers)
        self.input_padding = fixed_padding(3, dilation)

    def forward(self, x):
        x_pad = F.pad(x, self.input_padding)
        if self.use_res_connect:
            out = x + self.conv(x_pad)
            note(self, "add", "add", cin=out.shape[1], h=out.shape[2], w=out.shape[3])
            return out
        return self.conv(x_pad)


def block_plan(output_stride: int) -> List[Dict[str, Any]]:
    """features[1..17] as the public constructor lays them out: index, inp,
    oup, stride, dilation, t, residual."""
    if output_stride not in (8, 16):
        raise ValueError(f"'output_stride': must be 8 or 16, got {output_stride!r}")
    plan = []
    input_channel = 32
    current_stride = 2
    dilation = 1
    index = 1
    for t, c, n, s in SETTINGS:
        previous_dilation = dilation
        if current_stride == output_stride:
            stride = 1
            dilation *= s
        else:
            stride = s
            current_stride *= s
        for i in range(n):
            st, d = (stride, previous_dilation) if i == 0 else (1, dilation)
            plan.append({"index": index, "inp": input_channel, "oup": c, "stride": st,
                         "dilation": d, "t": t,
                         "residual": st == 1 and input_channel == c})
            input_channel = c
            index += 1
    return plan


def _genes() -> GeneList:
    genes: List[Gene] = []
    # The residual set is the same for output stride 8 and 16 (checked in tests).
    for b in block_plan(16):
        i = b["index"]
        if i < 2:
            continue
        if b["residual"]:
            genes.append(Gene(f"features.{i}.keep", (0, 1),
                              doc="0: the block is skipped (identity)"))
        genes.append(Gene(f"features.{i}.expand", EXPAND_CHOICES,
                          relevant_if=(f"features.{i}.keep", 1) if b["residual"] else None,
                          doc="hidden width = inp * expand"))
    genes += [
        Gene("aspp.branch1", (0, 1)),
        Gene("aspp.branch2", (0, 1)),
        Gene("aspp.branch3", (0, 1)),
        Gene("aspp.pool", (0, 1)),
        Gene("aspp.width", ASPP_WIDTHS),
        Gene("decoder.low_level", LOW_LEVEL_WIDTHS),
        Gene("decoder.width", DECODER_WIDTHS),
    ]
    return GeneList(genes)


GENES = _genes()
DEFAULTS = {"input_size": 513, "num_classes": 21, "output_stride": 16}


class MobileNetV2Backbone(nn.Module):
    """Stands for the public IntermediateLayerGetter over the renamed
    MobileNetV2: same children, same state-dict keys."""

    def __init__(self, low_level_features: nn.Sequential, high_level_features: nn.Sequential):
        super().__init__()
        self.low_level_features = low_level_features
        self.high_level_features = high_level_features

    def forward(self, x):
        low = self.low_level_features(x)
        return {"low_level": low, "out": self.high_level_features(low)}


def _init_backbone(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build(values: Dict[str, Any], *, num_classes: int, output_stride: int) -> DeepLabV3Plus:
    """The subnet for validated gene values (name -> value)."""
    low: "OrderedDict[str, nn.Module]" = OrderedDict()
    high: "OrderedDict[str, nn.Module]" = OrderedDict()
    low["0"] = ConvBNReLU(3, 32, stride=2)
    for b in block_plan(output_stride):
        i = b["index"]
        if b["residual"] and not values.get(f"features.{i}.keep", 1):
            continue
        hidden = None
        if i >= 2:
            hidden = b["inp"] * values[f"features.{i}.expand"]
        blk = InvertedResidual(b["inp"], b["oup"], b["stride"], b["dilation"], b["t"],
                               hidden=hidden)
        (low if i < LOW_LEVEL_END else high)[str(i)] = blk
    backbone = MobileNetV2Backbone(nn.Sequential(low), nn.Sequential(high))
    _init_backbone(backbone)
    rates = [12, 24, 36] if output_stride == 8 else [6, 12, 18]
    head = DeepLabHeadV3Plus(
        320, 24, num_classes, rates,
        low_level=values["decoder.low_level"],
        aspp_width=values["aspp.width"],
        width=values["decoder.width"],
        aspp_keep=[bool(values[f"aspp.branch{j}"]) for j in (1, 2, 3)] + [bool(values["aspp.pool"])],
        separable=False,
    )
    return DeepLabV3Plus(backbone, head)
