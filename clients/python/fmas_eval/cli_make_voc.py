"""fmas-make-voc: write a small synthetic segmentation dataset in the exact
PASCAL VOC 2012 layout (for tests and the demo; nothing is downloaded).
Prints a JSON summary on stdout ({"root": .../VOCdevkit/VOC2012, ...})."""

from __future__ import annotations

import argparse
import json
import sys

PROG = "fmas-make-voc"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory to create VOCdevkit/VOC2012 in")
    ap.add_argument("--train", type=int, default=24, help="training images (default 24)")
    ap.add_argument("--val", type=int, default=12, help="validation images (default 12)")
    ap.add_argument("--size", type=int, default=128,
                    help="longer image side in pixels (default 128; the shorter is 70-100%%)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", default="1-8",
                    help="VOC class indices used, e.g. '1-8' or '1,7,12,15' (default 1-8)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        classes = []
        for part in args.classes.split(","):
            if "-" in part:
                a, b = part.split("-", 1)
                classes += list(range(int(a), int(b) + 1))
            elif part.strip():
                classes.append(int(part))
    except ValueError:
        print(f"{PROG}: --classes: expected e.g. '1-8' or '1,7,12', got {args.classes!r}",
              file=sys.stderr)
        return 2
    from .synth import make_voc
    try:
        info = make_voc(args.out, train=args.train, val=args.val, size=args.size,
                        seed=args.seed, classes=classes)
    except ValueError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    json.dump(info, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
