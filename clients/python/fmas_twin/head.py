"""The DeepLabV3+ head (ASPP + decoder) shared by both spaces, and the
segmentation model wrapper.

Module names and forward order follow DeepLabV3Plus-Pytorch
(network/_deeplab.py, network/utils.py), so the max-genome state dict of the
MobileNetV2 space is key-for-key that of its `deeplabv3plus_mobilenet`.
Widths are parameters; `_fmas_index` attributes on a conv or BatchNorm name
which channels of the full (max-genome) tensor a narrower module keeps where
that is not simply "the first n" (see subsample.py).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .trace import note

FULL_ASPP_WIDTH = 256    # width of every ASPP branch and of the projection
FULL_LOW_LEVEL = 48      # output of classifier.project
FULL_DECODER = 256       # output of the decoder convs


def set_index(module: nn.Module, *, cin: Sequence[int] = None, cout: Sequence[int] = None) -> None:
    """Record which channels of the full tensor this module keeps: `cin`
    indexes a conv weight's dim 1, `cout` dim 0 of weights, biases and
    BatchNorm vectors."""
    idx = {}
    if cin is not None:
        idx["in"] = [int(i) for i in cin]
    if cout is not None:
        idx["out"] = [int(i) for i in cout]
    module._fmas_index = idx


def init_head_weights(module: nn.Module) -> None:
    """DeepLabV3Plus-Pytorch's head init: kaiming normal convs, BN 1/0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


class SeparableConvBNReLU(nn.Sequential):
    """Depthwise 3x3 (padding = dilation), BN, ReLU, pointwise 1x1, BN, ReLU
    (TF DeepLab's split_separable_conv2d). Children 0..5."""

    def __init__(self, cin: int, cout: int, dilation: int = 1):
        super().__init__(
            nn.Conv2d(cin, cin, 3, padding=dilation, dilation=dilation, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class ASPPConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, dilation: int):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class ASPPPooling(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        size = x.shape[-2:]
        y = super().forward(x)
        out = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        note(self, "upsample", "upsample", cin=y.shape[1], h=y.shape[2], w=y.shape[3],
             out_h=size[0], out_w=size[1])
        return out


class ASPP(nn.Module):
    """convs["0"] 1x1 branch (always kept), convs["1".."3"] atrous branches,
    convs["4"] image pooling; absent keys are pruned branches. `project`
    takes the concatenation of the kept branches, in branch order."""

    def __init__(self, cin: int, rates: Sequence[int], *, width: int = FULL_ASPP_WIDTH,
                 keep: Sequence[bool] = (True, True, True, True), separable: bool = False):
        super().__init__()
        if len(rates) != 3 or len(keep) != 4:
            raise ValueError("ASPP needs 3 rates and 4 keep flags")
        branches: "OrderedDict[str, nn.Module]" = OrderedDict()
        branches["0"] = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        for j, r in enumerate(rates, start=1):
            if keep[j - 1]:
                branches[str(j)] = (SeparableConvBNReLU(cin, width, r) if separable
                                    else ASPPConv(cin, width, r))
        if keep[3]:
            branches["4"] = ASPPPooling(cin, width)
        self.convs = nn.ModuleDict(branches)
        kept = [int(k) for k in branches]
        self.project = nn.Sequential(
            nn.Conv2d(len(kept) * width, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
        )
        # In the full model branch j occupies channels j*256 .. j*256+255 of
        # the concatenation; a kept branch of width W keeps the first W.
        set_index(self.project[0],
                  cin=[j * FULL_ASPP_WIDTH + c for j in kept for c in range(width)])

    def forward(self, x):
        res = [conv(x) for conv in self.convs.values()]
        if len(res) == 1:
            return self.project(res[0])
        y = torch.cat(res, dim=1)
        note(self, "concat", "concat", cout=y.shape[1], h=y.shape[2], w=y.shape[3])
        return self.project(y)


class DeepLabHeadV3Plus(nn.Module):
    """project: low-level 1x1 projection; aspp; classifier: the decoder convs
    on cat([low_level, upsampled aspp]) and the final 1x1 classifier."""

    def __init__(self, cin: int, low_level_cin: int, num_classes: int, rates: Sequence[int], *,
                 low_level: int = FULL_LOW_LEVEL, aspp_width: int = FULL_ASPP_WIDTH,
                 width: int = FULL_DECODER, aspp_keep: Sequence[bool] = (True,) * 4,
                 separable: bool = False):
        super().__init__()
        self.project = nn.Sequential(
            nn.Conv2d(low_level_cin, low_level, 1, bias=False),
            nn.BatchNorm2d(low_level),
            nn.ReLU(inplace=True),
        )
        self.aspp = ASPP(cin, rates, width=aspp_width, keep=aspp_keep, separable=separable)
        cat_index = list(range(low_level)) + [FULL_LOW_LEVEL + c for c in range(aspp_width)]
        cat = low_level + aspp_width
        if separable:
            self.classifier = nn.Sequential(
                SeparableConvBNReLU(cat, width),
                SeparableConvBNReLU(width, width),
                nn.Conv2d(width, num_classes, 1),
            )
            set_index(self.classifier[0][0], cout=cat_index)   # depthwise over the concat
            set_index(self.classifier[0][1], cout=cat_index)   # its BN
            set_index(self.classifier[0][3], cin=cat_index)    # pointwise
        else:
            self.classifier = nn.Sequential(
                nn.Conv2d(cat, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, num_classes, 1),
            )
            set_index(self.classifier[0], cin=cat_index)
        init_head_weights(self)

    def forward(self, feature: Dict[str, torch.Tensor]):
        low = self.project(feature["low_level"])
        out = self.aspp(feature["out"])
        size = low.shape[2:]
        up = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
        note(self, "upsample", "upsample", cin=out.shape[1], h=out.shape[2], w=out.shape[3],
             out_h=size[0], out_w=size[1])
        y = torch.cat([low, up], dim=1)
        note(self, "concat", "concat", cout=y.shape[1], h=y.shape[2], w=y.shape[3])
        return self.classifier(y)


class DeepLabV3Plus(nn.Module):
    """backbone (returns {"low_level", "out"}) + classifier (the head); the
    logits are interpolated back to the input size."""

    def __init__(self, backbone: nn.Module, classifier: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        # Filled by the space builder: which space, genome and parameters.
        self.space_id = None
        self.genome: List[int] = []
        self.input_size = None
        self.num_classes = None
        self.output_stride = None

    def forward(self, x):
        size = x.shape[-2:]
        y = self.classifier(self.backbone(x))
        out = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        note(self, "upsample", "upsample", cin=y.shape[1], h=y.shape[2], w=y.shape[3],
             out_h=size[0], out_w=size[1])
        return out
