"""The synthetic dataset has the real VOC layout; the VOC reader, the
evaluation preprocessing and the seeded subset."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from fmas_eval import voc
from evalhelp import one_json, run_tool


def test_synthetic_dataset_has_the_voc_layout(voc_dir):
    root = voc_dir
    assert root.endswith(os.path.join("VOCdevkit", "VOC2012"))
    sets = os.path.join(root, "ImageSets", "Segmentation")
    train = open(os.path.join(sets, "train.txt")).read().split()
    val = open(os.path.join(sets, "val.txt")).read().split()
    trainval = open(os.path.join(sets, "trainval.txt")).read().split()
    assert len(train) == 6 and len(val) == 10 and trainval == train + val
    assert not set(train) & set(val)
    pal = voc.palette()
    assert pal[:6] == [0, 0, 0, 128, 0, 0] and pal[255 * 3:] == [224, 224, 192]
    seen = set()
    for i in train + val:
        img = Image.open(os.path.join(root, "JPEGImages", f"{i}.jpg"))
        assert img.format == "JPEG" and img.mode == "RGB"
        lab = Image.open(os.path.join(root, "SegmentationClass", f"{i}.png"))
        assert lab.format == "PNG" and lab.mode == "P"
        assert lab.getpalette()[:768] == pal
        assert lab.size == img.size and max(img.size) == 80
        a = np.asarray(lab)
        seen |= set(np.unique(a).tolist())
    assert 0 in seen and 255 in seen
    assert seen - {0, 255} and all(1 <= c <= 20 for c in seen - {0, 255})
    # find_root accepts the dataset dir, VOCdevkit and VOC2012
    top = os.path.dirname(os.path.dirname(root))
    for p in (top, os.path.join(top, "VOCdevkit"), root):
        assert voc.find_root(p) == root
    with pytest.raises(voc.VOCError, match="no VOC2012 layout"):
        voc.find_root(os.path.join(top, "nope"))


def test_void_border_surrounds_objects(voc_dir):
    lab = np.asarray(Image.open(os.path.join(voc_dir, "SegmentationClass", "2012_000000.png")))
    obj = (lab != 0) & (lab != 255)
    # every object pixel touching background does so through a 255 band
    touch = np.zeros_like(obj)
    touch[1:] |= obj[1:] & (lab[:-1] == 0)
    touch[:-1] |= obj[:-1] & (lab[1:] == 0)
    assert obj.any() and (lab == 255).any()
    assert touch.sum() <= 0.02 * obj.sum()


def test_make_voc_cli(tmp_path):
    rc, out, err = run_tool("fmas-make-voc", "--out", tmp_path, "--train", 2, "--val", 2,
                            "--size", 48, "--classes", "1,15")
    assert rc == 0, err
    info = one_json(out)
    assert info["classes"] == [1, 15] and os.path.isdir(info["root"])
    rc, out, err = run_tool("fmas-make-voc", "--out", tmp_path, "--classes", "0-3")
    assert rc == 2 and "classes" in err and out == ""


@pytest.mark.parametrize("mode", ["crop", "pad", "stretch"])
def test_eval_preprocessing(voc_dir, mode):
    img, lab = voc.load_pair(voc_dir, "2012_000006")
    assert lab.mode == "L"
    x, y = voc.eval_pair(img, lab, 33, mode)
    assert x.shape == (3, 33, 33) and x.dtype == np.uint8
    assert y.shape == (33, 33) and y.dtype == np.uint8
    assert set(np.unique(y).tolist()) <= set(range(21)) | {255}
    if mode == "pad":
        w, h = img.size
        if w > h:   # padded rows at the bottom are ignored
            assert (y[-1] == 255).all()


def test_center_crop_matches_torchvision(voc_dir):
    tvf = pytest.importorskip("torchvision.transforms.functional")
    img, lab = voc.load_pair(voc_dir, "2012_000007")
    x, _ = voc.eval_pair(img, lab, 41, "crop")
    ref = tvf.center_crop(tvf.resize(img, 41), 41)
    assert np.array_equal(x.transpose(1, 2, 0), np.asarray(ref))


def test_subset_is_seeded_saved_and_stable(voc_dir, tmp_path):
    cache = str(tmp_path / "cache")
    ids, path = voc.subset_ids(voc_dir, "val", 4, seed=3, cache_dir=cache)
    assert len(ids) == 4 and path and os.path.isfile(path)
    assert open(path).read().split() == ids
    again, _ = voc.subset_ids(voc_dir, "val", 4, seed=3, cache_dir=cache)
    assert again == ids
    other, _ = voc.subset_ids(voc_dir, "val", 4, seed=4, cache_dir=str(tmp_path / "c2"))
    assert other != ids or len(set(voc.read_ids(voc_dir, "val"))) <= 4
    all_ids, none = voc.subset_ids(voc_dir, "val", 0, seed=3, cache_dir=cache)
    assert none is None and all_ids == voc.read_ids(voc_dir, "val")
    # a saved list wins over a redraw, and is checked
    with open(path, "w") as f:
        f.write("nope\n" * 4)
    with pytest.raises(voc.VOCError, match="unknown"):
        voc.subset_ids(voc_dir, "val", 4, seed=3, cache_dir=cache)


def test_cached_tensors_equal_fresh_ones(voc_dir, tmp_path):
    from fmas_eval import data
    import torch
    ids = voc.read_ids(voc_dir, "val")[:3]
    a = data.eval_tensors(voc_dir, ids, 29, "crop", str(tmp_path), True)
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].startswith("eval-")
    b = data.eval_tensors(voc_dir, ids, 29, "crop", str(tmp_path), True)
    c = data.eval_tensors(voc_dir, ids, 29, "crop", None, False)
    for t in (b, c):
        assert torch.equal(a[0], t[0]) and torch.equal(a[1], t[1])
    assert a[0].shape == (3, 3, 29, 29) and a[1].shape == (3, 29, 29)


def test_train_dataset_augmentation(voc_dir):
    from fmas_eval import data
    ds = data.TrainDataset(voc_dir, voc.read_ids(voc_dir, "train"), 40, seed=1)
    x, y = ds[0]
    assert x.shape == (3, 40, 40) and y.shape == (40, 40)
    assert x.dtype.is_floating_point and y.dtype.is_signed is True
    assert set(y.unique().tolist()) <= set(range(21)) | {255}
