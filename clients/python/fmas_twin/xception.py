"""Space `deeplabv3plus-xception65`: DeepLabV3+ on the Modified Aligned
Xception-65 (DeepLabV3+ paper, Chen et al. 2018), and its subnets.

Backbone layout, module names, strides, dilations and the place of every
BatchNorm and ReLU follow the common PyTorch AlignedXception
(jfzhang95/pytorch-deeplab-xception, modeling/backbone/xception.py):
`backbone.conv1/bn1/conv2/bn2`, `backbone.block1..block20` (each with
`rep` = [ReLU, SeparableConv2d, BN] x 3, and `skip`/`skipbn` when the shape
changes), `backbone.conv3..conv5` with `bn3..bn5`. SeparableConv2d =
`conv1` (depthwise 3x3) + `bn` + `pointwise` (1x1). Differences, all
documented in docs/spaces.md:
  * depthwise convs pad with padding=dilation inside the conv instead of an
    explicit F.pad(fixed_padding); for a 3x3 kernel both are the same
    symmetric padding, so weights and outputs are identical;
  * ReLUs are not in place, so a block's skip path and the decoder's
    low-level feature see the block input / block1 output before the
    pre-activation ReLU, as in the TF DeepLab reference (jfzhang95's
    in-place ReLU makes them see the rectified tensor);
  * the ASPP atrous branches and the two decoder 3x3 convs are separable
    (depthwise+BN+ReLU, pointwise+BN+ReLU), as in the paper.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Tuple

from torch import nn

from .genome import Gene, GeneList
from .head import DeepLabHeadV3Plus, DeepLabV3Plus
from .trace import note

SPACE_ID = "deeplabv3plus-xception65"

MIDDLE_BLOCKS = 16          # backbone.block4 .. backbone.block19
MIDDLE_FIRST = 4
WIDTH_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
ASPP_WIDTHS = (64, 128, 192, 256)
LOW_LEVEL_WIDTHS = (16, 24, 32, 48)
DECODER_WIDTHS = (64, 128, 192, 256)


def scaled(channels: int, fraction: float) -> int:
    n = int(round(channels * fraction))
    if n < 1:
        raise ValueError(f"width fraction {fraction} leaves no channel of {channels}")
    return n


class SeparableConv2d(nn.Module):
    """conv1: depthwise 3x3 (stride, dilation, padding=dilation); bn; pointwise 1x1."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, inplanes, 3, stride, dilation, dilation,
                               groups=inplanes, bias=False)
        self.bn = nn.BatchNorm2d(inplanes)
        self.pointwise = nn.Conv2d(inplanes, planes, 1, 1, 0, 1, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.bn(self.conv1(x)))


class Block(nn.Module):
    """Three separable convs, each preceded by a ReLU and followed by a BN
    (the first ReLU dropped when start_with_relu is false), plus a skip: a
    strided 1x1 conv + BN when `skip_stride` is given, else the identity.

    convs: [(cin, cout, stride, dilation)] x 3.
    """

    def __init__(self, convs: Sequence[Tuple[int, int, int, int]], *, start_with_relu: bool,
                 skip_stride=None):
        super().__init__()
        inplanes, planes = convs[0][0], convs[-1][1]
        if skip_stride is not None:
            self.skip = nn.Conv2d(inplanes, planes, 1, stride=skip_stride, bias=False)
            self.skipbn = nn.BatchNorm2d(planes)
        else:
            if inplanes != planes or any(c[2] != 1 for c in convs):
                raise ValueError("an identity skip needs equal widths and stride 1")
            self.skip = None
        rep: List[nn.Module] = []
        for cin, cout, stride, dilation in convs:
            rep += [nn.ReLU(inplace=False), SeparableConv2d(cin, cout, stride, dilation),
                    nn.BatchNorm2d(cout)]
        if not start_with_relu:
            rep = rep[1:]
        self.rep = nn.Sequential(*rep)

    def forward(self, inp):
        x = self.rep(inp)
        skip = self.skipbn(self.skip(inp)) if self.skip is not None else inp
        out = x + skip
        note(self, "add", "add", cin=out.shape[1], h=out.shape[2], w=out.shape[3])
        return out


class AlignedXception(nn.Module):
    """Returns {"low_level": block1 output (128 ch, stride 4), "out": the
    2048-channel map after conv5/bn5/ReLU}."""

    def __init__(self, output_stride: int, *, middle_widths: Sequence[int],
                 exit_widths: Tuple[int, int], conv3_width: int, conv4_width: int):
        super().__init__()
        if output_stride == 16:
            entry3_stride, middle_dil, exit_dil = 2, 1, (1, 2)
        elif output_stride == 8:
            entry3_stride, middle_dil, exit_dil = 1, 2, (2, 4)
        else:
            raise ValueError(f"'output_stride': must be 8 or 16, got {output_stride!r}")
        if len(middle_widths) != MIDDLE_BLOCKS:
            raise ValueError("need one width (or None: skipped) per middle block")

        self.conv1 = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)

        self.block1 = Block([(64, 128, 1, 1), (128, 128, 1, 1), (128, 128, 2, 1)],
                            start_with_relu=False, skip_stride=2)
        self.block2 = Block([(128, 256, 1, 1), (256, 256, 1, 1), (256, 256, 2, 1)],
                            start_with_relu=True, skip_stride=2)
        self.block3 = Block([(256, 728, 1, 1), (728, 728, 1, 1), (728, 728, entry3_stride, 1)],
                            start_with_relu=True, skip_stride=entry3_stride)
        self.block_names: List[str] = ["block1", "block2", "block3"]
        for i, w in enumerate(middle_widths):
            name = f"block{MIDDLE_FIRST + i}"
            if w is not None:
                setattr(self, name, Block(
                    [(728, w, 1, middle_dil), (w, w, 1, middle_dil), (w, 728, 1, middle_dil)],
                    start_with_relu=True))
                self.block_names.append(name)
        a, b = exit_widths
        # The last separable conv of the exit block has dilation 1, as in the
        # reference (its is_last conv is built without the block dilation).
        self.block20 = Block([(728, a, 1, exit_dil[0]), (a, b, 1, exit_dil[0]), (b, 1024, 1, 1)],
                             start_with_relu=True, skip_stride=1)
        self.block_names.append("block20")

        self.conv3 = SeparableConv2d(1024, conv3_width, 1, exit_dil[1])
        self.bn3 = nn.BatchNorm2d(conv3_width)
        self.conv4 = SeparableConv2d(conv3_width, conv4_width, 1, exit_dil[1])
        self.bn4 = nn.BatchNorm2d(conv4_width)
        self.conv5 = SeparableConv2d(conv4_width, 2048, 1, exit_dil[1])
        self.bn5 = nn.BatchNorm2d(2048)
        self._init_weight()

    def _init_weight(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        low_level = None
        for name in self.block_names:
            x = getattr(self, name)(x)
            if name == "block1":
                low_level = x
        x = self.relu(self.bn3(self.conv3(x)))
        x = self.relu(self.bn4(self.conv4(x)))
        x = self.relu(self.bn5(self.conv5(x)))
        return {"low_level": low_level, "out": x}


def _genes() -> GeneList:
    genes: List[Gene] = []
    for i in range(MIDDLE_BLOCKS):
        genes.append(Gene(f"middle.{i}.keep", (0, 1)))
        genes.append(Gene(f"middle.{i}.width", WIDTH_FRACTIONS,
                          relevant_if=(f"middle.{i}.keep", 1)))
    genes += [
        Gene("exit.block.width", WIDTH_FRACTIONS),
        Gene("exit.conv3.width", WIDTH_FRACTIONS),
        Gene("exit.conv4.width", WIDTH_FRACTIONS),
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


def build(values: Dict[str, Any], *, num_classes: int, output_stride: int) -> DeepLabV3Plus:
    middle = [scaled(728, values[f"middle.{i}.width"]) if values[f"middle.{i}.keep"] else None
              for i in range(MIDDLE_BLOCKS)]
    f = values["exit.block.width"]
    backbone = AlignedXception(
        output_stride,
        middle_widths=middle,
        exit_widths=(scaled(728, f), scaled(1024, f)),
        conv3_width=scaled(1536, values["exit.conv3.width"]),
        conv4_width=scaled(1536, values["exit.conv4.width"]),
    )
    rates = [12, 24, 36] if output_stride == 8 else [6, 12, 18]
    head = DeepLabHeadV3Plus(
        2048, 128, num_classes, rates,
        low_level=values["decoder.low_level"],
        aspp_width=values["aspp.width"],
        width=values["decoder.width"],
        aspp_keep=[bool(values[f"aspp.branch{j}"]) for j in (1, 2, 3)] + [bool(values["aspp.pool"])],
        separable=True,
    )
    return DeepLabV3Plus(backbone, head)
