"""Segmentation metrics from a confusion matrix.

The confusion matrix `hist` is num_classes x num_classes, rows = ground
truth, columns = prediction, counting only pixels whose label is not the
ignore label (255 in VOC). From it:

* IoU of class c = hist[c, c] / (row sum + column sum - hist[c, c]);
* mIoU = the mean IoU over the classes that occur in the ground truth or in
  the prediction (a class absent from both has no IoU and is left out, as in
  DeepLabV3Plus-Pytorch's StreamSegMetrics with numpy.nanmean);
* pixel accuracy = trace / total.
"""

from __future__ import annotations

from typing import Any, Dict

import torch

IGNORE = 255


def confusion(pred: torch.Tensor, label: torch.Tensor, num_classes: int = 21,
              ignore_index: int = IGNORE) -> torch.Tensor:
    """int64 confusion matrix of one batch (any shape; pred and label alike)."""
    if pred.shape != label.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and label {tuple(label.shape)} differ")
    label = label.reshape(-1).long()
    pred = pred.reshape(-1).long()
    valid = label != ignore_index
    label, pred = label[valid], pred[valid]
    if label.numel() and (int(label.min()) < 0 or int(label.max()) >= num_classes):
        bad = label[(label < 0) | (label >= num_classes)][0].item()
        raise ValueError(f"label value {bad} is neither a class 0..{num_classes - 1} "
                         f"nor the ignore label {ignore_index}")
    if pred.numel() and (int(pred.min()) < 0 or int(pred.max()) >= num_classes):
        raise ValueError(f"prediction out of range 0..{num_classes - 1}")
    return torch.bincount(label * num_classes + pred,
                          minlength=num_classes * num_classes).reshape(num_classes, num_classes)


class ConfusionMatrix:
    def __init__(self, num_classes: int = 21, ignore_index: int = IGNORE):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.hist = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, pred: torch.Tensor, label: torch.Tensor) -> None:
        self.hist += confusion(pred, label, self.num_classes, self.ignore_index).cpu()

    def scores(self) -> Dict[str, Any]:
        return scores(self.hist)


def scores(hist: torch.Tensor) -> Dict[str, Any]:
    """{"miou", "pixel_acc", "mean_acc", "iou": [per class or None], "pixels"}."""
    h = hist.double()
    tp = torch.diag(h)
    gt = h.sum(dim=1)
    pr = h.sum(dim=0)
    union = gt + pr - tp
    total = h.sum().item()
    iou = [(tp[c] / union[c]).item() if union[c] > 0 else None for c in range(h.shape[0])]
    present = [v for v in iou if v is not None]
    acc = [(tp[c] / gt[c]).item() for c in range(h.shape[0]) if gt[c] > 0]
    return {
        "miou": sum(present) / len(present) if present else 0.0,
        "pixel_acc": tp.sum().item() / total if total else 0.0,
        "mean_acc": sum(acc) / len(acc) if acc else 0.0,
        "iou": iou,
        "pixels": int(total),
    }
