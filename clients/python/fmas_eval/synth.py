"""A small synthetic segmentation dataset in the exact PASCAL VOC 2012 layout
(numpy and PIL only; nothing is downloaded).

    <out>/VOCdevkit/VOC2012/JPEGImages/2012_000000.jpg
    <out>/VOCdevkit/VOC2012/SegmentationClass/2012_000000.png   mode "P", VOC palette
    <out>/VOCdevkit/VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt
    <out>/VOCdevkit/VOC2012/fmas-synthetic.json                 how it was made

Each image is a textured background (a colour gradient, sinusoidal
stripes and noise) with one to three filled shapes. Every object class has
its own shape (ellipse, rectangle, triangle, diamond, ...), hue and stripe
texture, with random size, position, brightness and aspect; later objects
occlude earlier ones. As in real VOC masks, a void band (255) a few pixels
wide runs along every object's outline. Image sizes vary in aspect ratio
(the longer side is `size`), like VOC's 500 x 375 photos.
"""

from __future__ import annotations

import colorsys
import json
import math
import os
from typing import Dict, List, Sequence

import numpy as np
from PIL import Image, ImageDraw

from . import voc

SHAPES = ("ellipse", "rectangle", "triangle", "diamond", "hexagon", "cross")


def _class_style(c: int) -> Dict:
    hue = (c * 0.61803398875) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.9)
    return {"shape": SHAPES[(c - 1) % len(SHAPES)],
            "rgb": np.array([r, g, b], dtype=np.float32) * 255.0,
            "stripe_angle": (c * 47) % 180 * math.pi / 180.0,
            "stripe_freq": 0.15 + 0.05 * (c % 4)}


def _polygon(shape: str, cx: float, cy: float, rx: float, ry: float, rot: float):
    if shape == "triangle":
        pts = [(0, -1), (0.95, 0.8), (-0.95, 0.8)]
    elif shape == "diamond":
        pts = [(0, -1), (1, 0), (0, 1), (-1, 0)]
    elif shape == "hexagon":
        pts = [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 7)[:-1]]
    elif shape == "cross":
        t = 0.35
        pts = [(-t, -1), (t, -1), (t, -t), (1, -t), (1, t), (t, t), (t, 1), (-t, 1), (-t, t),
               (-1, t), (-1, -t), (-t, -t)]
    else:
        raise ValueError(shape)
    cr, sr = math.cos(rot), math.sin(rot)
    return [(cx + rx * (x * cr - y * sr), cy + ry * (x * sr + y * cr)) for x, y in pts]


def _draw(draw: ImageDraw.ImageDraw, shape: str, box, rot: float, fill=None, outline=None,
          width: int = 1) -> None:
    x0, y0, x1, y1 = box
    if shape == "ellipse":
        draw.ellipse(box, fill=fill, outline=outline, width=width)
    elif shape == "rectangle":
        draw.rectangle(box, fill=fill, outline=outline, width=width)
    else:
        pts = _polygon(shape, (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2, rot)
        if fill is not None:
            draw.polygon(pts, fill=fill)
        if outline is not None:
            draw.line(pts + [pts[0]], fill=outline, width=width, joint="curve")


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(60, 200, size=3).astype(np.float32)
    base = base * 0.5 + base.mean() * 0.5               # low saturation
    other = rng.uniform(60, 200, size=3).astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    t = ((xx * math.cos(a) + yy * math.sin(a)) / max(h, w) + 1) / 2
    img = base[:, None, None] * (1 - t) + other[:, None, None] * t * 0.6 + base[:, None, None] * t * 0.4
    f = rng.uniform(0.05, 0.4)
    b = rng.uniform(0, 2 * math.pi)
    stripes = np.sin((xx * math.cos(b) + yy * math.sin(b)) * f)
    img = img + rng.uniform(5, 25) * stripes[None]
    img = img + rng.normal(0, 8, size=img.shape).astype(np.float32)
    return img


def make_image(rng: np.random.Generator, size: int, classes: Sequence[int]):
    """One (RGB uint8 H x W x 3, label uint8 H x W) pair."""
    ar = rng.uniform(0.7, 1.0)
    long_, short = size, max(8, int(round(size * ar)))
    h, w = (short, long_) if rng.random() < 0.7 else (long_, short)
    img = _background(rng, h, w)
    lab = np.zeros((h, w), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    border = max(1, int(round(size / 100.0)))
    for _ in range(int(rng.integers(1, 4))):
        c = int(rng.choice(classes))
        st = _class_style(c)
        rx = rng.uniform(0.12, 0.3) * min(h, w)
        ry = rx * rng.uniform(0.7, 1.4)
        cx, cy = rng.uniform(rx * 0.5, w - rx * 0.5), rng.uniform(ry * 0.5, h - ry * 0.5)
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        rot = rng.uniform(-0.4, 0.4)
        m_img = Image.new("L", (w, h), 0)
        _draw(ImageDraw.Draw(m_img), st["shape"], box, rot, fill=1)
        mask = np.asarray(m_img, dtype=bool)
        if mask.sum() < 4:
            continue
        stripes = np.sin((xx * math.cos(st["stripe_angle"]) + yy * math.sin(st["stripe_angle"]))
                         * st["stripe_freq"] * (size / 128.0) ** -0.5)
        colour = st["rgb"] * rng.uniform(0.75, 1.1)
        obj = colour[:, None, None] * (1 + 0.18 * stripes[None]) \
            + rng.normal(0, 6, size=(3, h, w)).astype(np.float32)
        img = np.where(mask[None], obj, img)
        lab[mask] = c
        m_lab = Image.fromarray(lab)
        _draw(ImageDraw.Draw(m_lab), st["shape"], box, rot, outline=voc.IGNORE, width=2 * border)
        lab = np.asarray(m_lab, dtype=np.uint8).copy()
    rgb = np.clip(img, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    return rgb, lab


def make_voc(out: str, train: int = 24, val: int = 12, size: int = 128, seed: int = 0,
             classes: Sequence[int] = tuple(range(1, 9)), quality: int = 90) -> Dict:
    """Write the dataset under `out` and return a summary (root, counts)."""
    if train < 1 or val < 1:
        raise ValueError("'train' and 'val' must be at least 1")
    if size < 16:
        raise ValueError("'size' must be at least 16")
    classes = sorted(set(int(c) for c in classes))
    if not classes or classes[0] < 1 or classes[-1] > 20:
        raise ValueError("'classes' must be VOC class indices 1..20")
    root = os.path.join(out, "VOCdevkit", "VOC2012")
    dirs = {k: os.path.join(root, *p) for k, p in {
        "img": ("JPEGImages",), "lab": ("SegmentationClass",),
        "sets": ("ImageSets", "Segmentation")}.items()}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(seed)
    pal = voc.palette()
    ids: Dict[str, List[str]] = {"train": [], "val": []}
    k = 0
    for split, n in (("train", train), ("val", val)):
        for _ in range(n):
            image_id = f"2012_{k:06d}"
            k += 1
            rgb, lab = make_image(rng, size, classes)
            Image.fromarray(rgb).save(
                os.path.join(dirs["img"], f"{image_id}.jpg"), quality=quality)
            p = Image.fromarray(lab)            # mode L; putpalette makes it P
            p.putpalette(pal)
            p.save(os.path.join(dirs["lab"], f"{image_id}.png"), optimize=True)
            ids[split].append(image_id)
    for split, lst in (("train", ids["train"]), ("val", ids["val"]),
                       ("trainval", ids["train"] + ids["val"])):
        with open(os.path.join(dirs["sets"], f"{split}.txt"), "w", encoding="utf-8") as f:
            f.write("".join(f"{i}\n" for i in lst))
    info = {"generator": "fmas-make-voc", "seed": seed, "size": size, "train": train,
            "val": val, "classes": classes, "class_names": [voc.CLASSES[c] for c in classes]}
    with open(os.path.join(root, "fmas-synthetic.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
    return dict(info, root=root)
