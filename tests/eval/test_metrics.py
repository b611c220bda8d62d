"""mIoU and pixel accuracy from a 21-class confusion matrix (fmas_eval.metrics)."""

import math

import pytest
import torch

from fmas_eval.metrics import ConfusionMatrix, confusion, scores


def test_confusion_against_a_hand_computed_matrix():
    # ground truth / prediction, 2 x 5 pixels; 255 is ignored whatever predicted
    label = torch.tensor([[0, 0, 1, 1, 255],
                          [2, 2, 2, 255, 1]])
    pred = torch.tensor([[0, 1, 1, 1, 3],
                         [2, 0, 2, 2, 1]])
    hist = confusion(pred, label, num_classes=21)
    want = torch.zeros(21, 21, dtype=torch.int64)
    for t, p in [(0, 0), (0, 1), (1, 1), (1, 1), (2, 2), (2, 0), (2, 2), (1, 1)]:
        want[t, p] += 1
    assert torch.equal(hist, want)
    s = scores(hist)
    # class 0: tp 1, gt 2, pred 2 -> 1/3; class 1: tp 3, gt 3, pred 4 -> 3/4;
    # class 2: tp 2, gt 3, pred 2 -> 2/3; classes 3..20 absent from both (class 3 was
    # predicted only on an ignored pixel) -> left out of the mean.
    assert s["iou"][0] == pytest.approx(1 / 3)
    assert s["iou"][1] == pytest.approx(3 / 4)
    assert s["iou"][2] == pytest.approx(2 / 3)
    assert all(v is None for v in s["iou"][3:])
    assert s["miou"] == pytest.approx((1 / 3 + 3 / 4 + 2 / 3) / 3)
    assert s["pixel_acc"] == pytest.approx(6 / 8)
    assert s["pixels"] == 8


def test_a_class_only_predicted_counts_with_iou_zero():
    label = torch.tensor([0, 0, 0, 0])
    pred = torch.tensor([0, 0, 5, 5])
    s = scores(confusion(pred, label))
    assert s["iou"][0] == pytest.approx(0.5) and s["iou"][5] == 0.0
    assert s["miou"] == pytest.approx(0.25)


def test_accumulates_over_batches():
    cm = ConfusionMatrix(21)
    g = torch.Generator().manual_seed(0)
    total = torch.zeros(21, 21, dtype=torch.int64)
    for _ in range(3):
        y = torch.randint(0, 21, (2, 7, 9), generator=g)
        y[:, 0, :] = 255
        p = torch.randint(0, 21, (2, 7, 9), generator=g)
        cm.update(p, y)
        total += confusion(p, y)
    assert torch.equal(cm.hist, total)
    assert cm.hist.sum().item() == 3 * 2 * 6 * 9
    s = cm.scores()
    assert 0 <= s["miou"] <= 1 and not math.isnan(s["miou"])


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="label value 30"):
        confusion(torch.tensor([0]), torch.tensor([30]))
    with pytest.raises(ValueError, match="differ"):
        confusion(torch.tensor([0, 1]), torch.tensor([0]))


def test_all_ignored_gives_zero_not_nan():
    s = scores(confusion(torch.tensor([1, 2]), torch.tensor([255, 255])))
    assert s["miou"] == 0.0 and s["pixel_acc"] == 0.0 and s["pixels"] == 0
