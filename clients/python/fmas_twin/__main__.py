"""Command line: layer lists and gene tables as JSON.

    python3 -m fmas_twin layers --space deeplabv3plus-mobilenetv2 \
        --input-size 513 --genome '[1, 3, ...]'
    python3 -m fmas_twin genes --space deeplabv3plus-xception65
    python3 -m fmas_twin spaces

Installed (clients/python/pyproject.toml), the same command is fmas-twin.

Errors go to stderr as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from . import SPACES, get_space, layer_costs, trace


def _parse_genome(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"'genome': not JSON: {e}") from None


def main(argv=None, prog: str = "python3 -m fmas_twin") -> int:
    ap = argparse.ArgumentParser(prog=prog)
    sub = ap.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("layers", help="the subnet's layer list, MACs and params")
    lp.add_argument("--space", required=True)
    lp.add_argument("--genome", help="JSON: index array or object gene name -> value "
                                     "(default: the max genome)")
    lp.add_argument("--input-size", type=int)
    lp.add_argument("--num-classes", type=int)
    lp.add_argument("--output-stride", type=int)
    lp.add_argument("--indent", type=int)
    gp = sub.add_parser("genes", help="genes, choices, max/min genomes, distinct count")
    gp.add_argument("--space", required=True)
    gp.add_argument("--indent", type=int)
    sub.add_parser("spaces", help="the space ids")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    try:
        if args.cmd == "spaces":
            out = {"spaces": sorted(SPACES)}
        elif args.cmd == "genes":
            out = get_space(args.space).describe()
        else:
            space = get_space(args.space)
            model = space.build(_parse_genome(args.genome), input_size=args.input_size,
                                num_classes=args.num_classes, output_stride=args.output_stride)
            layer_list, _ = trace(model)
            params, macs = layer_costs(layer_list)
            out = {"space": space.id, "input_size": model.input_size,
                   "num_classes": model.num_classes, "output_stride": model.output_stride,
                   "genome": model.genome, "layers": layer_list, "macs": macs,
                   "params": params}
    except ValueError as e:
        print(f"fmas_twin: {e}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=getattr(args, "indent", None))
    sys.stdout.write("\n")
    return 0


def cli() -> int:
    """The fmas-twin console script (clients/python/pyproject.toml)."""
    return main(prog="fmas-twin")


if __name__ == "__main__":
    sys.exit(main())
