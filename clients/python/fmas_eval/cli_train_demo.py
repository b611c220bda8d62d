"""fmas-train-demo: train a stand-in for the public VOC checkpoint on a
(synthetic) VOC-layout dataset in a few CPU minutes.

    fmas-train-demo --voc-root DIR [--out var/demo/deeplabv3plus_mobilenet_demo.pth]
                    [--input-size 128] [--iters 150] [--batch-size 8] [--lr 0.003]
                    [--seed 0] [--threads 2] [--force]

The network is the real architecture: the max genome of the built-in space
deeplabv3plus-mobilenetv2 (DeepLabV3Plus-Pytorch's deeplabv3plus_mobilenet,
5.2 M parameters), trained from scratch (nothing is downloaded, so no
ImageNet backbone) at a small input size with AdamW and a poly schedule on
the train split (random scale, crop, flip). It is saved the way the public
repository saves its checkpoints, {"model_state": state dict, "cur_itrs",
"best_score", ...}, so fmas-eval loads it through the same path as the
public weights. An existing --out is kept (cached) unless --force.
Prints a JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

PROG = "fmas-train-demo"
DEFAULT_OUT = os.path.join("var", "demo", "deeplabv3plus_mobilenet_demo.pth")
SPACE = "deeplabv3plus-mobilenetv2"


def _err(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description="Train the demo stand-in checkpoint.")
    ap.add_argument("--voc-root", required=True)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--iters", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--workers", type=int, default=0, help="data-loading processes")
    ap.add_argument("--subnets", type=int, default=0,
                    help="also train this many random weight-sharing subnets per iteration "
                         "(sandwich training; default 0: plain training like the public model)")
    ap.add_argument("--force", action="store_true", help="retrain even if --out exists")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if args.input_size < 32 or args.iters < 1 or args.batch_size < 1 or args.subnets < 0:
        _err("--input-size >= 32, --iters >= 1, --batch-size >= 1, --subnets >= 0")
        return 2
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        return _run(args, out)
    finally:
        sys.stdout = out


def _run(args, out) -> int:
    import torch
    import fmas_twin
    from . import checkpoint, data, finetune, voc
    from .metrics import ConfusionMatrix

    if os.path.isfile(args.out) and not args.force:
        try:
            ck = checkpoint.read(args.out)
            checkpoint.check_state_dict(fmas_twin.build(SPACE), ck.state_dict, args.out)
        except checkpoint.CheckpointError as e:
            _err(f"{args.out} exists but is unusable ({e}); use --force to retrain")
            return 1
        _err(f"{args.out} exists (cached); --force retrains")
        out.write(json.dumps({"out": os.path.abspath(args.out), "cached": True,
                              "best_score": ck.meta.get("best_score"),
                              "cur_itrs": ck.meta.get("cur_itrs")}) + "\n")
        return 0
    torch.set_num_threads(args.threads or min(4, torch.get_num_threads()))
    try:
        root = voc.find_root(args.voc_root)
        voc.read_ids(root, "train")
        val_ids = voc.read_ids(root, "val")
    except voc.VOCError as e:
        _err(str(e))
        return 1
    torch.manual_seed(args.seed)
    model = fmas_twin.build(SPACE, None, input_size=args.input_size)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    t0 = time.perf_counter()
    summary = finetune.train(model, root, args.input_size, iters=args.iters, optimizer=opt,
                             batch_size=args.batch_size, workers=args.workers, seed=args.seed,
                             log=_err, log_every=10, subnets=args.subnets, space=SPACE)
    x, y = data.eval_tensors(root, val_ids, args.input_size, "crop", use_cache=False)
    cm = ConfusionMatrix(model.num_classes)
    with torch.no_grad():
        for i in range(0, len(x), 8):
            cm.update(model(data.normalize(x[i:i + 8])).argmax(dim=1), y[i:i + 8])
    s = cm.scores()
    checkpoint.save_public(args.out, model, cur_itrs=summary["iterations"],
                           best_score=float(s["miou"]),
                           fmas_demo={"space": SPACE, "input_size": args.input_size,
                                      "voc_root": root, "val_miou": float(s["miou"]),
                                      "val_pixel_acc": float(s["pixel_acc"]),
                                      "seed": args.seed, "lr": args.lr,
                                      "subnets": args.subnets,
                                      "batch_size": args.batch_size})
    _err(f"val mIoU {s['miou']:.4f}, pixel acc {s['pixel_acc']:.4f} at "
         f"{args.input_size}x{args.input_size}; saved {args.out}")
    out.write(json.dumps({"out": os.path.abspath(args.out), "cached": False,
                          "best_score": s["miou"], "pixel_acc": s["pixel_acc"],
                          "cur_itrs": summary["iterations"], "input_size": args.input_size,
                          "seconds": round(time.perf_counter() - t0, 1),
                          "loss_last": summary["loss_last"]}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
