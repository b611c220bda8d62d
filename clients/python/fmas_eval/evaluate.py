"""Scoring a genome: subsample the pretrained network, optionally recalibrate
BatchNorm, run the validation subset, report mIoU and pixel accuracy; or, at
fidelity "finetuned", fine-tune the subnet and score it on the full
validation split.

The `Evaluator` keeps what every candidate shares (the checkpoint, the
channel ranking, the preprocessed images) between requests, so a long-lived
process (`fmas-eval --jsonl`) pays for them once.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

import torch

import fmas_twin

from . import EVALUATOR, checkpoint, data, subnet, voc
from .finetune import finetune_request
from .metrics import ConfusionMatrix
from .service import ServiceError, resolve_space

DEFAULT_SUBSET = 500
FINETUNED = "finetuned"


class RequestError(ValueError):
    """A bad request (genome, space, fidelity): exit status 2."""


@dataclass
class Config:
    checkpoint: Optional[str] = None
    voc_root: Optional[str] = None
    subset: Optional[int] = None           # None: from the fidelity, else 500
    subset_seed: int = 0
    device: str = "cpu"
    ordering: str = "first"
    bn_recalib: int = 0                    # batches of training images
    input_size: Optional[int] = None       # None: the space's
    batch_size: int = 8
    resize_mode: str = "crop"
    cache_dir: Optional[str] = None
    use_cache: bool = True
    server: Optional[str] = None
    threads: Optional[int] = None
    # fine-tuning (fidelity "finetuned")
    ft_iters: Optional[int] = None
    ft_epochs: float = 30.0
    ft_lr: float = 0.01
    ft_backbone_lr: float = 0.1            # factor on ft_lr for the backbone
    ft_weight_decay: float = 1e-4
    ft_batch_size: int = 16
    ft_workers: int = 0
    ft_seed: int = 0
    ft_out: Optional[str] = None           # checkpoint path (default: var/finetuned/...)
    ft_dir: str = os.path.join("var", "finetuned")
    extra: Dict[str, Any] = field(default_factory=dict)


def _log_default(msg: str) -> None:
    data.log_stderr(msg)


def subset_from_fidelity(fidelity: Optional[str]) -> Optional[int]:
    """val-subset-N -> N; val-full -> 0 (everything); anything else -> None."""
    if not fidelity:
        return None
    m = re.fullmatch(r"val-subset-(\d+)", fidelity)
    if m:
        return int(m.group(1))
    if fidelity in ("val-full", "val"):
        return 0
    return None


def _parse_genome(req: Dict[str, Any]) -> Any:
    if "genome" in req and req["genome"] is not None:
        return req["genome"]
    if "genome_named" in req and req["genome_named"] is not None:
        return req["genome_named"]
    raise RequestError("'genome': missing (give \"genome\" or \"genome_named\")")


class Evaluator:
    def __init__(self, cfg: Config, log: Callable[[str], None] = _log_default):
        self.cfg = cfg
        self.log = log
        if cfg.ordering not in subnet.ORDERINGS:
            raise RequestError(f"'ordering': must be one of {list(subnet.ORDERINGS)}")
        if cfg.resize_mode not in voc.RESIZE_MODES:
            raise RequestError(f"'resize_mode': must be one of {list(voc.RESIZE_MODES)}")
        if cfg.device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"--device {cfg.device}: CUDA is not available in this torch "
                               f"({torch.__version__})")
        self.device = torch.device(cfg.device)
        self._ck: Optional[checkpoint.Checkpoint] = None
        self._full: Dict[Tuple, Dict[str, torch.Tensor]] = {}
        self._ranking: Dict[Tuple, subnet.Ranking] = {}
        self._tensors: Dict[Tuple, Tuple[torch.Tensor, torch.Tensor, Optional[str]]] = {}
        self._root: Optional[str] = None
        self._spaces: Dict[str, Tuple[str, Dict[str, Any]]] = {}

    # ------------------------------------------------------------ inputs
    def root(self) -> str:
        if self._root is None:
            if not self.cfg.voc_root:
                raise RuntimeError("--voc-root is required (the directory holding "
                                   "VOCdevkit/VOC2012)")
            self._root = voc.find_root(self.cfg.voc_root)
        return self._root

    def cache_dir(self) -> str:
        return self.cfg.cache_dir or voc.default_cache_dir(self.root())

    def ckpt(self) -> checkpoint.Checkpoint:
        if self._ck is None:
            if not self.cfg.checkpoint:
                raise RuntimeError("--checkpoint is required (a full pretrained DeepLabV3+)")
            t = time.perf_counter()
            self._ck = checkpoint.read(self.cfg.checkpoint)
            self.log(f"checkpoint {self.cfg.checkpoint} ({self._ck.layout} layout, "
                     f"{len(self._ck.state_dict)} tensors) read in "
                     f"{time.perf_counter() - t:.2f}s")
        return self._ck

    def space(self, space_id: str) -> Tuple[str, Dict[str, Any]]:
        if space_id not in self._spaces:
            try:
                self._spaces[space_id] = resolve_space(space_id, self.cfg.server)
            except ValueError as e:
                raise RequestError(str(e)) from None
            except ServiceError as e:
                if e.status == 404:
                    raise RequestError(f"'space': {space_id!r} is not known to the service "
                                       f"({e})") from None
                raise
        builder, params = self._spaces[space_id]
        params = dict(params)
        if self.cfg.input_size:
            params["input_size"] = self.cfg.input_size
        return builder, params

    def full_state(self, builder: str, params: Dict[str, Any]) -> Dict[str, torch.Tensor]:
        key = (builder, params["num_classes"], params["output_stride"])
        if key not in self._full:
            ck = self.ckpt()
            if ck.layout == "fmas":
                if ck.space is not None and ck.space != builder:
                    raise checkpoint.CheckpointError(
                        f"checkpoint {ck.path}: space {ck.space!r}, the request's space "
                        f"is built by {builder!r}")
                maxg = fmas_twin.get_space(builder).genes.max_genome()
                if ck.genome is not None and list(ck.genome) != maxg:
                    raise checkpoint.CheckpointError(
                        f"checkpoint {ck.path}: a subnet (genome {ck.genome}), not the full "
                        f"model; it can only evaluate its own genome")
            model = fmas_twin.build(builder, None, num_classes=params["num_classes"],
                                    output_stride=params["output_stride"])
            self._full[key] = checkpoint.check_state_dict(
                model, ck.state_dict, f"checkpoint {ck.path} ({ck.layout} layout) for space "
                f"{builder} (max genome, {params['num_classes']} classes)")
        return self._full[key]

    def ranking(self, builder: str, params: Dict[str, Any]) -> subnet.Ranking:
        key = (builder, params["num_classes"], params["output_stride"])
        if key not in self._ranking:
            self._ranking[key] = subnet.Ranking(builder, self.full_state(builder, params))
        return self._ranking[key]

    def tensors(self, split: str, n: Optional[int], size: int
                ) -> Tuple[torch.Tensor, torch.Tensor, Optional[str]]:
        key = (split, n, size, self.cfg.resize_mode, self.cfg.subset_seed)
        if key not in self._tensors:
            t = time.perf_counter()
            root = self.root()
            ids, listing = voc.subset_ids(root, split, n, self.cfg.subset_seed, self.cache_dir())
            x, y = data.eval_tensors(root, ids, size, self.cfg.resize_mode,
                                     self.cache_dir(), self.cfg.use_cache, self.log)
            self.log(f"{split}: {len(ids)} images at {size}x{size} ({self.cfg.resize_mode}) "
                     f"ready in {time.perf_counter() - t:.2f}s"
                     + (f", ids in {listing}" if listing else ""))
            self._tensors[key] = (x, y, listing)
        return self._tensors[key]

    # ------------------------------------------------------------ models
    def subnet(self, builder: str, params: Dict[str, Any], genome: Any) -> torch.nn.Module:
        ck = self.ckpt()
        space = fmas_twin.get_space(builder)
        try:
            idx = space.indices(genome)
        except ValueError as e:
            raise RequestError(str(e)) from None
        if ck.layout == "fmas" and ck.genome is not None and \
                list(ck.genome) != space.genes.max_genome():
            # a fine-tuned subnet checkpoint evaluates its own genome only
            if list(ck.genome) != idx or (ck.space and ck.space != builder):
                raise checkpoint.CheckpointError(
                    f"checkpoint {ck.path}: a subnet of {ck.space} for genome {ck.genome}; "
                    f"the request asks for {builder} genome {idx}")
            model = fmas_twin.build(builder, idx, input_size=params["input_size"],
                                    num_classes=params["num_classes"],
                                    output_stride=params["output_stride"])
            model.load_state_dict(checkpoint.check_state_dict(model, ck.state_dict,
                                                              f"checkpoint {ck.path}"))
            return model.eval()
        full = self.full_state(builder, params)
        rk = self.ranking(builder, params) if self.cfg.ordering == "l1" else None
        return subnet.build_subnet(builder, idx, full, ordering=self.cfg.ordering, ranking=rk,
                                   input_size=params["input_size"],
                                   num_classes=params["num_classes"],
                                   output_stride=params["output_stride"])

    def recalibrate(self, model: torch.nn.Module, size: int) -> int:
        n = self.cfg.bn_recalib
        if not n:
            return 0
        bs = self.cfg.batch_size
        x, _, _ = self.tensors("train", n * bs, size)
        batches = (data.normalize(x[i:i + bs].to(self.device))
                   for i in range(0, min(len(x), n * bs), bs))
        return subnet.recalibrate_bn(model, batches)

    @torch.no_grad()
    def score(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
              num_classes: int) -> Dict[str, Any]:
        model.eval()
        cm = ConfusionMatrix(num_classes)
        bs = self.cfg.batch_size
        for i in range(0, len(x), bs):
            xb = data.normalize(x[i:i + bs].to(self.device))
            pred = model(xb).argmax(dim=1)
            cm.update(pred, y[i:i + bs].to(self.device))
        return cm.scores()

    # ------------------------------------------------------------ requests
    def evaluate(self, req: Dict[str, Any]) -> Dict[str, Any]:
        """One evaluator-protocol request -> the metrics object."""
        t0 = time.perf_counter()
        if not isinstance(req, dict):
            raise RequestError("the request must be a JSON object")
        space_id = req.get("space")
        if not isinstance(space_id, str) or not space_id:
            raise RequestError("'space': missing or not a string")
        genome = _parse_genome(req)
        fidelity = req.get("fidelity")
        if fidelity is not None and not isinstance(fidelity, str):
            raise RequestError("'fidelity': must be a string")
        builder, params = self.space(space_id)
        try:
            idx = fmas_twin.get_space(builder).indices(genome)
        except ValueError as e:
            raise RequestError(str(e)) from None
        if fidelity == FINETUNED:
            return finetune_request(self, space_id, builder, params, idx, t0)

        n = self.cfg.subset
        if n is None:
            n = subset_from_fidelity(fidelity)
        if n is None:
            n = DEFAULT_SUBSET
        if fidelity is None:
            fidelity = "val-full" if n == 0 else f"val-subset-{n}"
        size = params["input_size"]
        x, y, listing = self.tensors("val", n, size)
        model = self.subnet(builder, params, idx).to(self.device)
        recal = self.recalibrate(model, size)
        t1 = time.perf_counter()
        s = self.score(model, x, y, params["num_classes"])
        t2 = time.perf_counter()
        nparams = sum(p.numel() for p in model.parameters())
        return {
            "miou": s["miou"],
            "pixel_acc": s["pixel_acc"],
            "seconds": round(time.perf_counter() - t0, 4),
            "images": int(len(x)),
            "fidelity": fidelity,
            "meta": {
                "evaluator": EVALUATOR, "space": space_id, "builder": builder,
                "genome": idx, "input_size": size, "resize_mode": self.cfg.resize_mode,
                "ordering": self.cfg.ordering, "bn_recalib": recal,
                "subset_seed": self.cfg.subset_seed, "subset_file": listing,
                "mean_acc": s["mean_acc"], "params": int(nparams),
                "forward_seconds": round(t2 - t1, 4), "device": str(self.device),
                "checkpoint": self.cfg.checkpoint,
            },
        }
