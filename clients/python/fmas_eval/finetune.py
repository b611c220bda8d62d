"""Fine-tuning a subnet of the final front (fidelity "finetuned").

As DeepLabV3Plus-Pytorch's main.py trains: SGD with momentum 0.9 and weight
decay 1e-4, the backbone at a tenth of the head's learning rate, a poly
schedule lr * (1 - it/total)^0.9, cross-entropy with ignore label 255, the
train transform of data.TrainDataset (random scale 0.5..2, random crop
S x S with padding, horizontal flip). The run starts from the subsampled
pretrained weights, saves the result in the fmas checkpoint format, and
scores it on the FULL validation split.
"""

from __future__ import annotations

import math
import os
import random
import time
from typing import Any, Callable, Dict, List, Optional

import torch
from torch import nn

from . import EVALUATOR, checkpoint, data, voc


def poly_lr(base: float, it: int, total: int, power: float = 0.9) -> float:
    return base * (1.0 - min(it, total) / max(total, 1)) ** power


def make_optimizer(model: nn.Module, lr: float, backbone_factor: float = 0.1,
                   weight_decay: float = 1e-4, momentum: float = 0.9) -> torch.optim.SGD:
    backbone = [p for n, p in model.named_parameters() if n.startswith("backbone.")]
    head = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    groups = [{"params": backbone, "lr": lr * backbone_factor, "base_lr": lr * backbone_factor},
              {"params": head, "lr": lr, "base_lr": lr}]
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)


def train(model: nn.Module, root: str, size: int, *, iters: Optional[int] = None,
          epochs: float = 1.0, optimizer: Optional[torch.optim.Optimizer] = None,
          lr: float = 0.01, backbone_lr: float = 0.1, weight_decay: float = 1e-4,
          batch_size: int = 16, workers: int = 0, seed: int = 0,
          device: torch.device = torch.device("cpu"), schedule: str = "poly",
          log: Callable[[str], None] = data.log_stderr, log_every: int = 10,
          subnets: int = 0, space: Optional[str] = None
          ) -> Dict[str, Any]:
    """Train `model` in place on the train split. Returns a summary.

    subnets > 0 (weight-sharing "sandwich" training, for the demo stand-in):
    each iteration also runs that many random subnets of `space`, cut out of
    the model's own tensors (first-k, differentiably), and adds their
    losses, so that subsampled subnets keep some accuracy. Their BatchNorms
    use batch statistics and leave the model's running statistics alone."""
    ids = voc.read_ids(root, "train")
    ds = data.TrainDataset(root, ids, size, seed=seed)
    bs = min(batch_size, len(ds))
    gen = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, drop_last=True,
                                         num_workers=workers, generator=gen,
                                         worker_init_fn=data.worker_init if workers else None,
                                         persistent_workers=bool(workers))
    per_epoch = len(loader)
    total = int(iters) if iters else max(1, int(math.ceil(epochs * per_epoch)))
    opt = optimizer or make_optimizer(model, lr, backbone_lr, weight_decay)
    for g in opt.param_groups:
        g.setdefault("base_lr", g["lr"])
    crit = nn.CrossEntropyLoss(ignore_index=voc.IGNORE)
    rng = random.Random(seed)
    if subnets and space is None:
        space = getattr(model, "space_id", None)
    model.to(device).train()
    it, losses, t0 = 0, [], time.perf_counter()
    while it < total:
        for x, y in loader:
            if it >= total:
                break
            if schedule == "poly":
                for g in opt.param_groups:
                    g["lr"] = poly_lr(g["base_lr"], it, total)
            x, y = x.to(device), y.to(device)
            out = model(x)
            loss = crit(out, y)
            for _ in range(subnets):
                loss = loss + crit(_random_subnet_forward(model, space, rng, x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
            it += 1
            if log_every and (it % log_every == 0 or it == total):
                log(f"iter {it}/{total} loss {sum(losses[-log_every:]) / len(losses[-log_every:]):.4f} "
                    f"({time.perf_counter() - t0:.1f}s)")
    model.eval()
    return {"iterations": it, "batch_size": bs, "images_per_epoch": len(ds),
            "train_seconds": round(time.perf_counter() - t0, 2),
            "loss_first": losses[0] if losses else None,
            "loss_last": (sum(losses[-10:]) / len(losses[-10:])) if losses else None}


def _functional_call(module: nn.Module, tensors: Dict[str, torch.Tensor], x: torch.Tensor):
    func = getattr(getattr(torch, "func", None), "functional_call", None)
    if func is None:                                # torch < 2.0
        from torch.nn.utils.stateless import functional_call as func
    return func(module, tensors, (x,))


def _random_subnet_forward(model: nn.Module, space: str, rng: random.Random,
                           x: torch.Tensor) -> torch.Tensor:
    import fmas_twin
    sp = fmas_twin.get_space(space)
    genome = [rng.randrange(len(g.choices)) for g in sp.genes]
    sub = fmas_twin.build(sp, genome, num_classes=model.num_classes,
                          output_stride=model.output_stride).to(x.device).train()
    full = dict(model.named_parameters())
    full.update(dict(model.named_buffers()))
    # slices of the live parameters (gradients flow back); buffers are copies
    tensors = fmas_twin.subsample_state_dict(sub, full)
    return _functional_call(sub, tensors, x)


def finetune_request(ev, space_id: str, builder: str, params: Dict[str, Any], idx: List[int],
                     t0: float) -> Dict[str, Any]:
    """fidelity "finetuned": subsample, fine-tune, save, score on val (all).
    `ev` is the fmas_eval.evaluate.Evaluator serving the request."""
    cfg = ev.cfg
    size = params["input_size"]
    root = ev.root()
    model = ev.subnet(builder, params, idx).to(ev.device)
    torch.manual_seed(cfg.ft_seed)
    summary = train(model, root, size, iters=cfg.ft_iters, epochs=cfg.ft_epochs, lr=cfg.ft_lr,
                    backbone_lr=cfg.ft_backbone_lr, weight_decay=cfg.ft_weight_decay,
                    batch_size=cfg.ft_batch_size, workers=cfg.ft_workers, seed=cfg.ft_seed,
                    device=ev.device, log=ev.log)
    x, y, _ = ev.tensors("val", 0, size)
    s = ev.score(model, x, y, params["num_classes"])
    path = cfg.ft_out or os.path.join(cfg.ft_dir, f"{builder}-{checkpoint.genome_tag(builder, idx)}.pth")
    meta = dict(summary, evaluator=EVALUATOR, source_checkpoint=cfg.checkpoint,
                ordering=cfg.ordering, lr=cfg.ft_lr, miou=s["miou"], pixel_acc=s["pixel_acc"],
                val_images=int(len(x)), space_id=space_id)
    checkpoint.save(path, model, space=builder, params=params, genome=idx, meta=meta)
    ev.log(f"fine-tuned subnet saved to {path}")
    return {
        "miou": s["miou"],
        "pixel_acc": s["pixel_acc"],
        "seconds": round(time.perf_counter() - t0, 4),
        "images": int(len(x)),
        "fidelity": "finetuned",
        "checkpoint": os.path.abspath(path),
        "meta": dict(summary, evaluator=EVALUATOR, space=space_id, builder=builder,
                     genome=idx, input_size=size, ordering=cfg.ordering,
                     mean_acc=s["mean_acc"], lr=cfg.ft_lr,
                     params=int(sum(p.numel() for p in model.parameters())),
                     device=str(ev.device)),
    }
