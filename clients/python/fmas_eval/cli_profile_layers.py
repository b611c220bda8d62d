"""fmas-profile-layers: time every distinct layer key of a space on this
machine and upload the rows to fmasd as ONE batch.

    fmas-profile-layers --server URL --space ID --device NAME [--cuda] [--force]
                        [--torch-device cpu|cuda] [--clock wall|thread]
                        [--stat median|mean] [--repeats R] [--warmup W]
                        [--threads T] [--no-fold-bn] [--journal FILE]

--device names the fmasd device; --torch-device says where to time (cuda
without a GPU: a SKIP line and exit 77; --cuda is the older spelling, which
exits 1 there). --clock thread times the CPU time of the timing thread
(steadier on a busy machine with --threads 1); --stat picks the statistic
uploaded as the row's mean.

The to-do list is GET /v1/spaces/{id}/layers?device=NAME; keys the device's
table already has are skipped unless --force. The device is created if
missing (unit "us", kind cpu/gpu, measured true, a description naming the
machine, the torch version and the thread count). The rows go up in one
POST /v1/devices/{name}/lut?mode=replace (NDJSON): mean = median of the
samples, std, count = repeats. With --journal, every measured row is also
appended to FILE as it is measured, and a rerun after a crash reuses the
rows of the same settings instead of measuring them again; the journal is
removed after a successful upload.

Prints one JSON summary on stdout; progress on stderr. Exit 0, or 1 on a
service or timing failure, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

PROG = "fmas-profile-layers"


def _err(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description="Profile a space's layer keys and "
                                 "upload them to fmasd.")
    ap.add_argument("--server", default=os.environ.get("FMAS_SERVER"),
                    help="fmasd URL (default $FMAS_SERVER)")
    ap.add_argument("--token-file", default=None,
                    help="bearer token for fmasd (default $FMAS_TOKEN_FILE, else $FMAS_TOKEN)")
    ap.add_argument("--space", required=True)
    ap.add_argument("--device", required=True, help="device name in fmasd")
    ap.add_argument("--cuda", action="store_true", help="time on the GPU (CUDA events)")
    ap.add_argument("--torch-device", choices=("cpu", "cuda"), default=None,
                    help="where to time: cpu (default) or cuda (no GPU: SKIP, exit 77)")
    ap.add_argument("--clock", choices=("wall", "thread"), default="wall",
                    help="CPU clock: wall (perf_counter) or the thread's CPU time")
    ap.add_argument("--stat", choices=("median", "mean"), default="median",
                    help="the row's mean is this statistic of the samples (default median)")
    ap.add_argument("--force", action="store_true", help="re-measure keys already present")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--no-fold-bn", action="store_true",
                    help="time conv + BatchNorm instead of the BN-folded conv")
    ap.add_argument("--journal", default=None,
                    help="append measured rows here as they come (crash-safe resume)")
    ap.add_argument("--limit", type=int, default=None,
                    help="measure at most this many keys (the rest stay missing)")
    return ap


def _ensure_device(svc, args, device, fold: bool) -> bool:
    """Create the fmasd device when missing; False (after a message) when the
    existing one cannot take these timings. Raises ServiceError."""
    from . import profile

    dev = svc.device(args.device)
    kind, desc = profile.describe_machine(device, args.threads)
    if not fold:
        desc += "; conv and BatchNorm timed unfolded"
    if dev is None:
        svc.put_device(args.device, {"unit": "us", "kind": kind, "measured": True,
                                     "description": desc[:1024]})
        _err(f"created device {args.device}: {desc}")
    elif dev.get("unit") != "us":
        _err(f"device {args.device} counts in {dev.get('unit')!r}; these timings are in "
             f"microseconds (use another device name)")
        return False
    return True


def _journal_rows(path, settings) -> dict:
    """canonical key id -> row of the journal measured with these settings."""
    from . import profile

    reused = {}
    if path and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue      # a torn last line
                if row.get("settings") == settings:
                    reused[profile.canonical_id(row["key"])] = row
    return reused


def _measure(args, todo, reused, settings, device, fold: bool):
    """Time every key of `todo` not in `reused`, journaling each row as it
    is measured; (entries, unsupported)."""
    from . import profile

    entries, unsupported = [], []
    journal = open(args.journal, "a", encoding="utf-8") if args.journal else None
    t0 = time.perf_counter()
    try:
        for n, key in enumerate(todo, 1):
            cid = profile.canonical_id(key)
            if cid in reused:
                entries.append({"key": key, "latency": reused[cid]["latency"]})
                continue
            try:
                fn = profile.make_op(key, device, fold_bn=fold)
            except profile.UnsupportedKey as e:
                unsupported.append({"key": key, "reason": str(e)})
                _err(f"skipping {cid}: {e}")
                continue
            samples = profile.time_fn(fn, device, args.warmup, args.repeats, args.clock)
            lat = profile.summarize(samples)
            lat["mean"] = profile.statistic(samples, args.stat)
            del fn
            entries.append({"key": key, "latency": lat})
            if journal:
                journal.write(json.dumps({"settings": settings, "key": key, "latency": lat})
                              + "\n")
                journal.flush()
            if n % 25 == 0 or n == len(todo):
                _err(f"{n}/{len(todo)} keys ({time.perf_counter() - t0:.1f}s)")
    finally:
        if journal:
            journal.close()
    return entries, unsupported


def main(argv=None) -> int:
    ap = _parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if not args.server:
        _err("--server is required (or set FMAS_SERVER)")
        return 2
    if args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        _err("--repeats and --threads must be >= 1, --warmup >= 0")
        return 2

    import torch
    from . import profile
    from .service import ServiceError

    skip = profile.cuda_skip(args, PROG)
    if skip is not None:
        return skip
    try:
        device, svc = profile.open_profiler(args.threads, args.cuda or args.torch_device == "cuda",
                                            args.server, args.token_file)
    except profile.SetupError as e:
        _err(str(e))
        return e.status
    fold = not args.no_fold_bn
    try:
        if not _ensure_device(svc, args, device, fold):
            return 1
        doc = svc.space_layers(args.space, device=args.device)
    except ServiceError as e:
        _err(str(e))
        return 1

    layers = doc.get("layers", [])
    todo = [L["key"] for L in layers if args.force or not L.get("present")]
    skipped = len(layers) - len(todo)
    if args.limit is not None:
        todo = todo[:max(0, args.limit)]
    settings = {"device": args.device, "cuda": device.type == "cuda", "threads": args.threads,
                "repeats": args.repeats, "warmup": args.warmup, "fold_bn": fold,
                "torch": torch.__version__}
    if args.clock != "wall" or args.stat != "median":
        settings.update(clock=args.clock, stat=args.stat)
    reused = _journal_rows(args.journal, settings)
    _err(f"{args.space}: {len(layers)} distinct layer keys, {skipped} already in "
         f"{args.device}'s table, {len(todo)} to measure"
         + (f" ({len(reused)} rows in the journal)" if reused else ""))

    t0 = time.perf_counter()
    entries, unsupported = _measure(args, todo, reused, settings, device, fold)
    result = None
    try:
        if entries:
            result = svc.upload_lut(args.device, entries, mode="replace")
            if args.journal and os.path.exists(args.journal):
                os.unlink(args.journal)
        after = svc.space_layers(args.space, device=args.device)
    except ServiceError as e:
        _err(str(e) + (f" (measured rows kept in {args.journal})" if args.journal else ""))
        return 1
    summary = {"server": svc.url, "space": args.space, "device": args.device,
               "layers": len(layers), "skipped_present": skipped, "measured": len(entries),
               "uploaded": len(entries), "unsupported": unsupported,
               "lut_version": (result or {}).get("lut_version", after.get("lut_version")),
               "coverage": after.get("coverage"), "missing": after.get("missing"),
               "seconds": round(time.perf_counter() - t0, 2), "settings": settings}
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    _err(f"uploaded {len(entries)} rows; coverage of {args.space} on {args.device}: "
         f"{after.get('coverage')}")
    return 1 if unsupported else 0

if __name__ == "__main__":
    sys.exit(main())
