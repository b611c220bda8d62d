"""Tensors from a VOC layout: the cached evaluation set and the training
dataset with augmentation (torch side of voc.py)."""

from __future__ import annotations

import os
import random
import sys
from typing import List, Optional, Tuple

import numpy as np
import torch
from PIL import Image

from . import voc

CACHE_VERSION = 1


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 N x 3 x H x W (or 3 x H x W) -> float, ImageNet mean/std."""
    mean = torch.tensor(voc.MEAN, device=x.device).reshape(-1, 1, 1)
    std = torch.tensor(voc.STD, device=x.device).reshape(-1, 1, 1)
    return (x.float() / 255.0 - mean) / std


def eval_tensors(root: str, ids: List[str], size: int, mode: str = "crop",
                 cache_dir: Optional[str] = None, use_cache: bool = True,
                 log=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 N x 3 x S x S, labels uint8 N x S x S) after the
    evaluation preprocessing. Cached as a .pt file in `cache_dir`, keyed by
    the ids, their files' sizes and mtimes, S and the mode."""
    path = None
    if use_cache:
        cache_dir = cache_dir or voc.default_cache_dir(root)
        sig = voc.files_signature(root, ids)
        path = os.path.join(cache_dir, f"eval-{sig}-{size}-{mode}-v{CACHE_VERSION}.pt")
        if os.path.isfile(path):
            try:
                obj = torch.load(path, map_location="cpu", weights_only=True)
            except TypeError:
                obj = torch.load(path, map_location="cpu")
            except Exception as e:  # a truncated cache file: rebuild it
                obj = None
                if log:
                    log(f"cache {path} unreadable ({e}); rebuilding")
            if obj is not None and obj.get("ids") == list(ids):
                return obj["images"], obj["labels"]
    xs = np.empty((len(ids), 3, size, size), dtype=np.uint8)
    ys = np.empty((len(ids), size, size), dtype=np.uint8)
    for n, i in enumerate(ids):
        img, lab = voc.load_pair(root, i)
        xs[n], ys[n] = voc.eval_pair(img, lab, size, mode)
    images, labels = torch.from_numpy(xs), torch.from_numpy(ys)
    if path is not None:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.tmp{os.getpid()}"
            torch.save({"ids": list(ids), "images": images, "labels": labels}, tmp)
            os.replace(tmp, path)
        except OSError as e:
            if log:
                log(f"cannot write the cache {path}: {e}")
    return images, labels


class TrainDataset(torch.utils.data.Dataset):
    """The training split with DeepLabV3Plus-Pytorch's train transform:
    random scale in [scale_min, scale_max] (image bilinear, mask nearest),
    random crop S x S padded where the map is smaller (image 0, mask 255),
    random horizontal flip, ImageNet normalization."""

    def __init__(self, root: str, ids: List[str], size: int,
                 scale: Tuple[float, float] = (0.5, 2.0), seed: int = 0):
        self.root, self.ids, self.size, self.scale = root, list(ids), size, scale
        self.seed = seed
        self.epoch = 0
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, k: int):
        rng = self._rng
        img, lab = voc.load_pair(self.root, self.ids[k])
        s = rng.uniform(*self.scale)
        w, h = img.size
        nw, nh = max(1, int(w * s)), max(1, int(h * s))
        img, lab = img.resize((nw, nh), Image.BILINEAR), lab.resize((nw, nh), Image.NEAREST)
        S = self.size
        if nw < S or nh < S:
            ci = Image.new("RGB", (max(nw, S), max(nh, S)), (0, 0, 0))
            cl = Image.new("L", (max(nw, S), max(nh, S)), voc.IGNORE)
            ci.paste(img, (0, 0))
            cl.paste(lab, (0, 0))
            img, lab = ci, cl
        w, h = img.size
        left, top = rng.randint(0, w - S), rng.randint(0, h - S)
        img = img.crop((left, top, left + S, top + S))
        lab = lab.crop((left, top, left + S, top + S))
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
            lab = lab.transpose(Image.FLIP_LEFT_RIGHT)
        x = torch.from_numpy(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy())
        y = torch.from_numpy(np.asarray(lab, dtype=np.uint8).astype(np.int64))
        return normalize(x), y


def worker_init(worker_id: int) -> None:
    info = torch.utils.data.get_worker_info()
    ds = info.dataset
    ds._rng = random.Random((ds.seed, worker_id, torch.initial_seed()).__hash__())


def log_stderr(msg: str) -> None:
    print(f"fmas-eval: {msg}", file=sys.stderr, flush=True)
