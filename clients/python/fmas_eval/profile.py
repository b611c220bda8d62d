"""Timing layer keys and whole subnets in PyTorch.

A layer key (docs/api.md) is turned into the one operator it names, on a
batch of one:

| op | what is timed |
|---|---|
| conv2d | `F.conv2d` of a 1 x cin x h x w input with the key's k, stride, pad, dilation, groups; with `bn` the BatchNorm is FOLDED into the conv (a conv with bias, as inference deploys it), unless fold_bn is False, then conv + eval BatchNorm; a ReLU is never included (it has no key) |
| global_avgpool | `F.adaptive_avg_pool2d(x, 1)` |
| upsample | `F.interpolate(x, (out_h, out_w), mode="bilinear", align_corners=False)` |
| add | `a + b`, two 1 x cin x h x w tensors (out of place, as the residual add) |
| concat | `torch.cat` of two halves (cout//2 and the rest) of 1 x cout x h x w (the key does not say how many parts; the cost is the copy of cout*h*w values) |
| linear | `F.linear` of a 1 x cin input |
| relu, avgpool, maxpool | the op with the key's k, stride, pad |

Timing: `warmup` untimed calls, then `repeats` timed calls, one call per
sample, under torch.no_grad(): CUDA events around each call on a GPU,
time.perf_counter() on a CPU (with the torch thread count fixed by the
caller). The table row is mean = the MEDIAN of the samples (robust to
scheduler noise), std = their standard deviation, count = repeats, in
microseconds.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from typing import Any, Callable, Dict, List, Tuple

import torch
from torch import nn
from torch.nn import functional as F

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class UnsupportedKey(ValueError):
    pass


def _dtype(key: Dict[str, Any], device: torch.device) -> torch.dtype:
    name = key.get("dtype", "fp32")
    if name not in DTYPES:
        raise UnsupportedKey(f"dtype {name!r} (supported: {sorted(DTYPES)})")
    if name == "fp16" and device.type != "cuda":
        raise UnsupportedKey("dtype fp16 is only timed on a GPU")
    return DTYPES[name]


def make_op(key: Dict[str, Any], device: torch.device, fold_bn: bool = True
            ) -> Callable[[], Any]:
    """A zero-argument callable running the operator of `key` on fixed
    random inputs on `device`."""
    op = key.get("op")
    dt = _dtype(key, device)
    g = torch.Generator().manual_seed(0)

    def rnd(*shape):
        return torch.randn(*shape, generator=g).to(device=device, dtype=dt)

    k = int(key.get("k", 1))
    stride = int(key.get("stride", 1))
    dil = int(key.get("dilation", 1))
    pad = int(key.get("pad", dil * (k - 1) // 2))
    if op == "conv2d":
        cin, cout, groups = int(key["cin"]), int(key["cout"]), int(key.get("groups", 1))
        bn = bool(key.get("bn", False))
        bias = bool(key.get("bias", False)) or (bn and fold_bn)
        conv = nn.Conv2d(cin, cout, k, stride, pad, dil, groups, bias=bias)
        mod: nn.Module = conv
        if bn and not fold_bn:
            mod = nn.Sequential(conv, nn.BatchNorm2d(cout))
        mod = mod.to(device=device, dtype=dt).eval()
        x = rnd(1, cin, int(key["h"]), int(key["w"]))
        return lambda: mod(x)
    if op == "global_avgpool":
        x = rnd(1, int(key["cin"]), int(key["h"]), int(key["w"]))
        return lambda: F.adaptive_avg_pool2d(x, 1)
    if op == "upsample":
        x = rnd(1, int(key["cin"]), int(key["h"]), int(key["w"]))
        size = (int(key["out_h"]), int(key["out_w"]))
        return lambda: F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    if op == "add":
        shape = (1, int(key["cin"]), int(key["h"]), int(key["w"]))
        a, b = rnd(*shape), rnd(*shape)
        return lambda: a + b
    if op == "concat":
        c, h, w = int(key["cout"]), int(key["h"]), int(key["w"])
        if c < 2:
            raise UnsupportedKey("concat of fewer than 2 channels")
        a, b = rnd(1, c // 2, h, w), rnd(1, c - c // 2, h, w)
        return lambda: torch.cat([a, b], dim=1)
    if op == "linear":
        lin = nn.Linear(int(key["cin"]), int(key["cout"]), bias=bool(key.get("bias", False)))
        lin = lin.to(device=device, dtype=dt).eval()
        x = rnd(1, int(key["cin"]))
        return lambda: lin(x)
    if op == "relu":
        x = rnd(1, int(key["cin"]), int(key["h"]), int(key["w"]))
        return lambda: F.relu(x)
    if op in ("avgpool", "maxpool"):
        x = rnd(1, int(key["cin"]), int(key["h"]), int(key["w"]))
        fn = F.avg_pool2d if op == "avgpool" else F.max_pool2d
        return lambda: fn(x, k, stride, pad)
    raise UnsupportedKey(f"op {op!r} has no PyTorch timing here")


def time_fn(fn: Callable[[], Any], device: torch.device, warmup: int = 10,
            repeats: int = 50, clock: str = "wall") -> List[float]:
    """Samples in microseconds, one call each. On a CPU, clock "thread"
    reads the calling thread's CPU time (time.thread_time) instead of the
    wall clock: with one torch thread, time the thread was not scheduled
    (a busy shared machine) is not counted."""
    samples: List[float] = []
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            for _ in range(repeats):
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                samples.append(start.elapsed_time(end) * 1000.0)
        else:
            now = cpu_clock(clock)
            for _ in range(repeats):
                t = now()
                fn()
                samples.append((now() - t) * 1e6)
    return samples


def cpu_clock(clock: str) -> Callable[[], float]:
    """The CPU timing clock: "wall" (time.perf_counter) or "thread"."""
    if clock not in ("wall", "thread"):
        raise ValueError(f"clock {clock!r}: use wall or thread")
    return time.thread_time if clock == "thread" else time.perf_counter


def time_interleaved(fns: List[Callable[[], Any]], device: torch.device, warmup: int,
                     repeats: int, clock: str = "wall") -> List[List[float]]:
    """time_fn for several callables at once, round robin: repeat r of
    every callable is taken before repeat r + 1 of any, so slow drifts of
    the machine (other load, frequency) spread over all of them alike."""
    out: List[List[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            out[i] += time_fn(fn, device, warmup if not out[i] else 0, 1, clock)
    return out


def statistic(samples: List[float], stat: str) -> float:
    """The median or the mean of the samples."""
    if stat not in ("median", "mean"):
        raise ValueError(f"statistic {stat!r}: use median or mean")
    return float(statistics.median(samples) if stat == "median" else statistics.fmean(samples))


SKIP = 77  # the exit status of "not run here" (CTest's SKIP_RETURN_CODE)


def cuda_skip(args, prog: str) -> int | None:
    """SKIP (after the SKIP line) when --torch-device cuda has no GPU."""
    if args.torch_device == "cuda" and not torch.cuda.is_available():
        print(f"SKIP: {prog}: --torch-device cuda: no CUDA device in this torch "
              f"({torch.__version__})", flush=True)
        return SKIP
    return None


def summarize(samples: List[float]) -> Dict[str, Any]:
    """The LUT latency object: mean = median, std, count."""
    med = statistics.median(samples)
    std = statistics.stdev(samples) if len(samples) > 1 else 0.0
    if not math.isfinite(std):
        std = 0.0
    return {"mean": float(med), "std": float(std), "count": len(samples)}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(device: torch.device, threads: int) -> Tuple[str, str]:
    """(kind, description) for the device record."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return "gpu", (f"{name}; PyTorch {torch.__version__}, CUDA {torch.version.cuda}; "
                       f"batch 1, CUDA-event timing; host {platform.node()}")
    return "cpu", (f"{cpu_name()} ({os.cpu_count()} logical cores); PyTorch "
                   f"{torch.__version__}, {threads} thread(s); batch 1, perf_counter timing; "
                   f"host {platform.node()}")


def canonical_id(key: Dict[str, Any]) -> str:
    """A stable string for a canonical key as the service returns it."""
    import json
    return json.dumps({k: key[k] for k in sorted(key) if k != "name"}, separators=(",", ":"))


class SetupError(Exception):
    """A profiler cannot start: the message for the user and the exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def open_profiler(threads: int, cuda: bool, server: str, token_file: str | None):
    """What every profiler sets up first: torch's thread count, the device to
    time on (CUDA only when asked and present: SetupError, status 1,
    otherwise) and the service client (a bad token file: SetupError, 2)."""
    from .service import Service

    torch.set_num_threads(threads)
    if cuda and not torch.cuda.is_available():
        raise SetupError(f"--cuda: CUDA is not available in this torch ({torch.__version__})", 1)
    device = torch.device("cuda" if cuda else "cpu")
    try:
        svc = Service(server, token_file=token_file)
    except ValueError as e:
        raise SetupError(str(e), 2) from e
    return device, svc
