"""PASCAL VOC 2012 in its real layout (numpy and PIL only, no torch).

    VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    VOCdevkit/VOC2012/SegmentationClass/<id>.png      palette PNG (mode "P"):
                                                      0..20 classes, 255 void
    VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt

`find_root` accepts the directory that holds VOCdevkit, VOCdevkit itself or
VOC2012 itself. The evaluation preprocessing turns an image and its mask into
an input_size x input_size pair (see `eval_pair`); the validation subset is a
seeded list of ids saved in a file, so every candidate sees the same images.
"""

from __future__ import annotations

import hashlib
import os
import random
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
           "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
           "pottedplant", "sheep", "sofa", "train", "tvmonitor")
NUM_CLASSES = 21
IGNORE = 255
MEAN = (0.485, 0.456, 0.406)       # ImageNet, as torchvision and the public repo
STD = (0.229, 0.224, 0.225)
RESIZE_MODES = ("crop", "pad", "stretch")


def palette() -> List[int]:
    """The VOC colour map: 256 RGB triples, flat (index 255 is (224,224,192))."""
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal


class VOCError(ValueError):
    pass


def find_root(path: str) -> str:
    """The VOC2012 directory under `path` (which may be it, VOCdevkit, or the
    directory holding VOCdevkit)."""
    cands = [path, os.path.join(path, "VOC2012"), os.path.join(path, "VOCdevkit", "VOC2012")]
    for c in cands:
        if os.path.isdir(os.path.join(c, "JPEGImages")) and \
                os.path.isdir(os.path.join(c, "ImageSets", "Segmentation")):
            if not os.path.isdir(os.path.join(c, "SegmentationClass")):
                raise VOCError(f"{c}: has no SegmentationClass directory")
            return os.path.abspath(c)
    raise VOCError(f"{path}: no VOC2012 layout here (looked for JPEGImages and "
                   f"ImageSets/Segmentation in {', '.join(cands)})")


def read_ids(root: str, split: str) -> List[str]:
    path = os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
    if not os.path.isfile(path):
        raise VOCError(f"{path}: no such file (split {split!r})")
    with open(path, encoding="utf-8") as f:
        ids = [line.strip() for line in f if line.strip()]
    if not ids:
        raise VOCError(f"{path}: empty")
    return ids


def image_path(root: str, image_id: str) -> str:
    return os.path.join(root, "JPEGImages", f"{image_id}.jpg")


def label_path(root: str, image_id: str) -> str:
    return os.path.join(root, "SegmentationClass", f"{image_id}.png")


def load_pair(root: str, image_id: str) -> Tuple[Image.Image, Image.Image]:
    """(RGB image, label image of mode "L" holding class indices)."""
    ip, lp = image_path(root, image_id), label_path(root, image_id)
    try:
        img = Image.open(ip).convert("RGB")
    except OSError as e:
        raise VOCError(f"{ip}: cannot be read: {e}") from None
    try:
        lab = Image.open(lp)
        lab.load()
    except OSError as e:
        raise VOCError(f"{lp}: cannot be read: {e}") from None
    if lab.mode == "P":
        lab = Image.fromarray(np.asarray(lab, dtype=np.uint8))   # indices, mode L
    elif lab.mode != "L":
        raise VOCError(f"{lp}: mode {lab.mode}, expected a palette (P) or index (L) PNG")
    if lab.size != img.size:
        raise VOCError(f"{lp}: size {lab.size} differs from the image's {img.size}")
    return img, lab


def _resize_short(img: Image.Image, lab: Image.Image, size: int):
    """torchvision Resize(int): the shorter side becomes `size`."""
    w, h = img.size
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    return (img.resize((nw, nh), Image.BILINEAR), lab.resize((nw, nh), Image.NEAREST))


def _center_crop(img: Image.Image, lab: Image.Image, size: int):
    """torchvision CenterCrop(size) on a map at least size x size."""
    w, h = img.size
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    box = (left, top, left + size, top + size)
    return img.crop(box), lab.crop(box)


def eval_pair(img: Image.Image, lab: Image.Image, size: int, mode: str = "crop"
              ) -> Tuple[np.ndarray, np.ndarray]:
    """The evaluation preprocessing, to uint8 arrays (3 x S x S, S x S).

    crop (default; DeepLabV3Plus-Pytorch's val transform with --crop_val):
        resize the shorter side to S (image bilinear, mask nearest), then
        center-crop S x S;
    pad: resize the longer side to S, then pad bottom and right to S x S
        (image with the ImageNet mean colour, i.e. 0 after normalization;
        mask with 255, so padding is never scored);
    stretch: resize to S x S regardless of the aspect ratio.
    """
    if mode == "crop":
        img, lab = _resize_short(img, lab, size)
        img, lab = _center_crop(img, lab, size)
    elif mode == "pad":
        w, h = img.size
        scale = size / max(w, h)
        nw, nh = max(1, min(size, round(w * scale))), max(1, min(size, round(h * scale)))
        img, lab = img.resize((nw, nh), Image.BILINEAR), lab.resize((nw, nh), Image.NEAREST)
        mean = tuple(int(round(255 * m)) for m in MEAN)
        ci = Image.new("RGB", (size, size), mean)
        cl = Image.new("L", (size, size), IGNORE)
        ci.paste(img, (0, 0))
        cl.paste(lab, (0, 0))
        img, lab = ci, cl
    elif mode == "stretch":
        img, lab = img.resize((size, size), Image.BILINEAR), lab.resize((size, size), Image.NEAREST)
    else:
        raise ValueError(f"'resize_mode': must be one of {list(RESIZE_MODES)}, got {mode!r}")
    x = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()
    y = np.asarray(lab, dtype=np.uint8).copy()
    return x, y


# ------------------------------------------------------------------ subsets

def default_cache_dir(root: str) -> str:
    """$FMAS_CACHE, else <VOC2012>/fmas-cache when writable, else
    ~/.cache/fmas/voc-<hash of the root path>."""
    env = os.environ.get("FMAS_CACHE")
    if env:
        return env
    here = os.path.join(root, "fmas-cache")
    if os.path.isdir(here) and os.access(here, os.W_OK):
        return here
    if not os.path.exists(here) and os.access(root, os.W_OK):
        return here
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = hashlib.sha1(os.path.realpath(root).encode()).hexdigest()[:12]
    return os.path.join(base, "fmas", f"voc-{tag}")


def _write_atomic(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def subset_ids(root: str, split: str, n: Optional[int], seed: int,
               cache_dir: Optional[str] = None) -> Tuple[List[str], Optional[str]]:
    """A seeded subset of n ids of `split`, saved as
    <cache_dir>/<split>-subset-<n>-seed<seed>.txt the first time and read
    back from there afterwards (so later changes to the split file do not
    change it). n None, 0 or >= the split size: the whole split (no file).
    Returns (ids, path of the list or None)."""
    ids = read_ids(root, split)
    if not n or n >= len(ids):
        return ids, None
    if n < 0:
        raise ValueError(f"'subset': must be >= 0, got {n}")
    cache_dir = cache_dir or default_cache_dir(root)
    path = os.path.join(cache_dir, f"{split}-subset-{n}-seed{seed}.txt")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            chosen = [line.strip() for line in f if line.strip()]
        known = set(ids)
        unknown = [i for i in chosen if i not in known]
        if len(chosen) != n or unknown:
            raise VOCError(f"{path}: does not hold {n} ids of {split}.txt "
                           f"({len(chosen)} ids, unknown: {unknown[:5]}); delete it to redraw")
        return chosen, path
    chosen = sorted(random.Random(seed).sample(sorted(ids), n))
    _write_atomic(path, "".join(f"{i}\n" for i in chosen))
    return chosen, path


def files_signature(root: str, ids: List[str]) -> str:
    """A hash of the ids and of their files' sizes and mtimes (cache key)."""
    h = hashlib.sha1(os.path.realpath(root).encode())
    for i in ids:
        h.update(i.encode() + b"\0")
        for p in (image_path(root, i), label_path(root, i)):
            try:
                st = os.stat(p)
                h.update(f"{st.st_size}:{st.st_mtime_ns};".encode())
            except OSError:
                h.update(b"missing;")
    return h.hexdigest()[:16]
