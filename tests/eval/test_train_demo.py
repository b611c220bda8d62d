"""fmas-train-demo: a stand-in checkpoint in the public layout, cached."""

import json

import torch

from fmas_eval import checkpoint
from evalhelp import MNV2, one_json, run_tool


def test_train_demo_writes_a_public_layout_checkpoint(voc_dir, tmp_path):
    out = tmp_path / "var" / "demo" / "demo.pth"
    args = ["--voc-root", voc_dir, "--out", out, "--input-size", 49, "--iters", 2,
            "--batch-size", 2, "--threads", 1, "--subnets", 1]
    rc, stdout, err = run_tool("fmas-train-demo", *args)
    assert rc == 0, err
    doc = one_json(stdout)
    assert doc["cached"] is False and doc["cur_itrs"] == 2 and 0 <= doc["best_score"] <= 1
    raw = torch.load(str(out), map_location="cpu")
    assert set(raw) >= {"model_state", "cur_itrs", "best_score"}
    assert "backbone.high_level_features.17.conv.2.weight" in raw["model_state"]
    ck = checkpoint.read(str(out))
    assert ck.layout == "public-wrapped"
    sd = checkpoint.load_full(str(out), MNV2)
    assert all(torch.equal(sd[k], v) for k, v in raw["model_state"].items())
    # cached: a second run does not train
    rc, stdout, err = run_tool("fmas-train-demo", *args)
    assert rc == 0, err
    assert one_json(stdout)["cached"] is True and "cached" in err
    # and fmas-eval reads it like the public checkpoint
    rc, stdout, err = run_tool("fmas-eval", "--checkpoint", out, "--voc-root", voc_dir,
                               "--input-size", 49, "--subset", 2, "--cache-dir", tmp_path / "c",
                               stdin=json.dumps({"space": MNV2, "genome": [0] * 33}))
    assert rc == 0, err
    assert one_json(stdout)["images"] == 2
