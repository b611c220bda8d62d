"""fmas-eval: score a genome of a DeepLabV3+ space with subsampled pretrained
weights (or fine-tune it, at fidelity "finetuned").

Evaluator protocol: one JSON object on stdin
    {"space": ID, "genome": [...], "genome_named": {...}, "fidelity": "val-subset-500"}
and exactly one JSON object on stdout
    {"miou": ..., "pixel_acc": ..., "seconds": ..., "images": N, "fidelity": ..., "meta": {...}}
Logs go to stderr. Exit 0 on success; 2 for a bad request (bad genome,
unknown space, bad JSON, bad option); 1 for any other failure (checkpoint,
dataset, service). With --genome the genome comes from the command line
instead of stdin; with --jsonl every stdin line is a request and every
answer one stdout line (errors answer {"error": "..."}).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

PROG = "fmas-eval"


def _err(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=PROG, description="Evaluate a DeepLabV3+ subnet (fmas evaluator protocol).",
        epilog="See docs/evaluator.md.")
    ap.add_argument("--checkpoint", default=os.environ.get("FMAS_CHECKPOINT"),
                    help="full pretrained DeepLabV3+ (fmas format, or the public "
                         "DeepLabV3Plus-Pytorch layout, plain or {'model_state': ...}); "
                         "default $FMAS_CHECKPOINT")
    ap.add_argument("--voc-root", default=os.environ.get("FMAS_VOC_ROOT"),
                    help="directory holding VOCdevkit/VOC2012 (or VOCdevkit, or VOC2012); "
                         "default $FMAS_VOC_ROOT")
    ap.add_argument("--subset", type=int, default=None,
                    help="validation images (seeded subset; 0 = all). Default: N of a "
                         "'val-subset-N' fidelity, all for 'val-full', else 500")
    ap.add_argument("--subset-seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--ordering", choices=("first", "l1"), default="first",
                    help="which channels a narrowed width keeps (default first)")
    ap.add_argument("--bn-recalib", type=int, default=0, metavar="N",
                    help="recalibrate BatchNorm statistics on N training batches (default 0: off)")
    ap.add_argument("--input-size", type=int, default=None,
                    help="evaluation size S (S x S); default: the space's input_size")
    ap.add_argument("--resize-mode", choices=("crop", "pad", "stretch"), default="crop",
                    help="crop: shorter side to S then center crop (default, the public "
                         "repo's val transform); pad: longer side to S, pad with ignore; "
                         "stretch: resize to S x S")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--server", default=None,
                    help="fmasd URL to look registered spaces up (default $FMAS_SERVER)")
    ap.add_argument("--token-file", default=None,
                    help="bearer token for fmasd (same as $FMAS_TOKEN_FILE; default "
                         "$FMAS_TOKEN_FILE, else $FMAS_TOKEN)")
    ap.add_argument("--cache-dir", default=None,
                    help="subset lists and preprocessed tensors (default $FMAS_CACHE, else "
                         "VOC2012/fmas-cache, else ~/.cache/fmas)")
    ap.add_argument("--no-cache", action="store_true", help="do not cache preprocessed images")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--genome", default=None,
                    help="CLI mode: the genome as JSON (index array or object name -> value); "
                         "no stdin is read")
    ap.add_argument("--space", default=None, help="CLI mode: the space id "
                    "(default deeplabv3plus-mobilenetv2)")
    ap.add_argument("--fidelity", default=None, help="CLI mode: the fidelity "
                    "(e.g. val-subset-500, val-full, finetuned)")
    ap.add_argument("--jsonl", action="store_true",
                    help="serve: one request per stdin line, one answer per stdout line")
    ft = ap.add_argument_group("fine-tuning (fidelity 'finetuned')")
    ft.add_argument("--ft-iters", type=int, default=None, help="iterations (overrides epochs)")
    ft.add_argument("--ft-epochs", type=float, default=30.0)
    ft.add_argument("--ft-lr", type=float, default=0.01)
    ft.add_argument("--ft-backbone-lr", type=float, default=0.1,
                    help="backbone learning-rate factor (default 0.1)")
    ft.add_argument("--ft-weight-decay", type=float, default=1e-4)
    ft.add_argument("--ft-batch-size", type=int, default=16)
    ft.add_argument("--ft-workers", type=int, default=0)
    ft.add_argument("--ft-seed", type=int, default=0)
    ft.add_argument("--ft-out", default=None, help="checkpoint path of the fine-tuned subnet")
    ft.add_argument("--ft-dir", default=os.path.join("var", "finetuned"),
                    help="directory for fine-tuned checkpoints when --ft-out is not given")
    return ap


def _config(args):
    from .evaluate import Config
    return Config(checkpoint=args.checkpoint, voc_root=args.voc_root, subset=args.subset,
                  subset_seed=args.subset_seed, device=args.device, ordering=args.ordering,
                  bn_recalib=args.bn_recalib, input_size=args.input_size,
                  batch_size=args.batch_size, resize_mode=args.resize_mode,
                  cache_dir=args.cache_dir, use_cache=not args.no_cache, server=args.server,
                  threads=args.threads, ft_iters=args.ft_iters, ft_epochs=args.ft_epochs,
                  ft_lr=args.ft_lr, ft_backbone_lr=args.ft_backbone_lr,
                  ft_weight_decay=args.ft_weight_decay, ft_batch_size=args.ft_batch_size,
                  ft_workers=args.ft_workers, ft_seed=args.ft_seed, ft_out=args.ft_out,
                  ft_dir=args.ft_dir)


def _read_request(text: str):
    from .evaluate import RequestError
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RequestError(f"the request is not JSON: {e}") from None


def main(argv=None) -> int:
    t_start = time.perf_counter()
    try:
        args = build_parser().parse_args(argv)     # --help goes to stdout
    except SystemExit as e:
        return 2 if e.code else 0
    out = sys.stdout
    sys.stdout = sys.stderr          # nothing but the answer may reach stdout
    try:
        return _main(args, out, t_start)
    finally:
        sys.stdout = out


def _main(args, out, t_start) -> int:
    for name in ("subset", "batch_size", "input_size", "bn_recalib"):
        v = getattr(args, name)
        if v is not None and (v < 0 or (v == 0 and name in ("batch_size", "input_size"))):
            _err(f"--{name.replace('_', '-')}: must be positive, got {v}")
            return 2

    import torch
    from .checkpoint import CheckpointError
    from .evaluate import Evaluator, RequestError
    from .service import ServiceError
    from .voc import VOCError

    if args.token_file:
        # The service client reads $FMAS_TOKEN_FILE wherever it is made.
        os.environ["FMAS_TOKEN_FILE"] = args.token_file
    torch.set_num_threads(args.threads or min(4, torch.get_num_threads()))
    try:
        ev = Evaluator(_config(args))
    except RequestError as e:
        _err(str(e))
        return 2
    except RuntimeError as e:
        _err(str(e))
        return 1

    def answer(req):
        res = ev.evaluate(req)
        return res

    known = (CheckpointError, VOCError, ServiceError, RuntimeError, OSError, KeyError,
             ValueError)
    if args.jsonl:
        rc = 0
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                res = answer(_read_request(line))
            except RequestError as e:
                res, rc = {"error": str(e), "status": 2}, rc or 2
                _err(str(e))
            except known as e:
                res, rc = {"error": str(e), "status": 1}, 1
                _err(str(e))
            except Exception as e:          # keep serving; the trace goes to stderr
                traceback.print_exc()
                res, rc = {"error": f"{type(e).__name__}: {e}", "status": 1}, 1
            out.write(json.dumps(res) + "\n")
            out.flush()
        return rc

    try:
        if args.genome is not None:
            try:
                genome = json.loads(args.genome)
            except json.JSONDecodeError as e:
                raise RequestError(f"'genome': not JSON: {e}") from None
            req = {"space": args.space or "deeplabv3plus-mobilenetv2", "genome": genome,
                   "fidelity": args.fidelity}
        else:
            text = sys.stdin.read()
            if not text.strip():
                raise RequestError("no request on stdin (expected one JSON object; "
                                   "or pass --genome)")
            req = _read_request(text)
            if isinstance(req, dict):
                if args.space and "space" not in req:
                    req["space"] = args.space
                if args.fidelity and "fidelity" not in req:
                    req["fidelity"] = args.fidelity
        res = answer(req)
    except RequestError as e:
        _err(str(e))
        return 2
    except known as e:
        _err(str(e))
        return 1
    _err(f"miou {res['miou']:.4f} pixel_acc {res['pixel_acc']:.4f} on {res['images']} images "
         f"in {res['seconds']:.2f}s (process {time.perf_counter() - t_start:.2f}s)")
    out.write(json.dumps(res) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
