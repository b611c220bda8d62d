"""fmas-eval: the evaluator protocol (stdin JSON in, exactly one JSON object
out), the CLI mode, errors, --jsonl, and fine-tuning."""

import json
import os
import random

import pytest
import torch

import fmas_twin as ft
from fmas_eval import data, subnet, voc
from fmas_eval.metrics import ConfusionMatrix
from evalhelp import MNV2, one_json, random_genome, run_tool


@pytest.fixture(scope="module")
def common(voc_dir, public_ckpt, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("cache"))
    return ["--checkpoint", public_ckpt, "--voc-root", voc_dir, "--input-size", 65,
            "--cache-dir", cache, "--threads", 1]


def test_protocol_one_object_out(common, voc_dir, full_mnv2):
    g = random_genome(MNV2, random.Random(5))
    req = {"space": MNV2, "genome": g, "genome_named": ft.decode(MNV2, g),
           "fidelity": "val-subset-8"}
    rc, out, err = run_tool("fmas-eval", *common, stdin=json.dumps(req))
    assert rc == 0, err
    doc = one_json(out)
    assert {"miou", "pixel_acc", "seconds", "images", "fidelity", "meta"} <= set(doc)
    assert doc["images"] == 8 and doc["fidelity"] == "val-subset-8"
    assert 0 <= doc["miou"] <= 1 and 0 <= doc["pixel_acc"] <= 1 and doc["seconds"] > 0
    assert doc["meta"]["genome"] == g and doc["meta"]["ordering"] == "first"
    assert "fmas-eval:" in err                        # logs went to stderr
    # the same numbers by hand: subsample, preprocess the saved subset, score
    listing = doc["meta"]["subset_file"]
    ids = open(listing).read().split()
    assert len(ids) == 8 and set(ids) <= set(voc.read_ids(voc_dir, "val"))
    model = subnet.build_subnet(MNV2, g, full_mnv2.state_dict(), input_size=65)
    cm = ConfusionMatrix()
    with torch.no_grad():
        for i in ids:
            x, y = voc.eval_pair(*voc.load_pair(voc_dir, i), 65, "crop")
            pred = model(data.normalize(torch.from_numpy(x))[None]).argmax(1)[0]
            cm.update(pred, torch.from_numpy(y))
    s = cm.scores()
    assert doc["miou"] == pytest.approx(s["miou"], abs=1e-9)
    assert doc["pixel_acc"] == pytest.approx(s["pixel_acc"], abs=1e-9)
    # genome_named alone is enough
    req2 = {"space": MNV2, "genome_named": ft.decode(MNV2, g), "fidelity": "val-subset-8"}
    rc, out2, err = run_tool("fmas-eval", *common, stdin=json.dumps(req2))
    assert rc == 0, err
    assert one_json(out2)["miou"] == doc["miou"]


@pytest.mark.parametrize("request_text, why", [
    (json.dumps({"space": MNV2, "genome": [3] * 33}), "'features.3.keep': choice index 3"),
    (json.dumps({"space": MNV2, "genome": [0] * 5}), "'features.5.expand': missing"),
    (json.dumps({"space": "no-such-space", "genome": [0] * 33}), "not a built-in space"),
    (json.dumps({"space": MNV2}), "'genome': missing"),
    ("{not json", "not JSON"),
    ("", "no request on stdin"),
])
def test_bad_requests_exit_2(common, request_text, why):
    rc, out, err = run_tool("fmas-eval", *common, stdin=request_text)
    assert rc == 2, err
    assert out == ""
    assert why in err and err.startswith("fmas-eval: ")


def test_cli_mode_l1_and_bn_recalibration(common):
    g = ft.get_space(MNV2).genes.min_genome()
    rc, out, err = run_tool("fmas-eval", *common, "--genome", json.dumps(g), "--subset", 4,
                            "--ordering", "l1", "--bn-recalib", 2, "--batch-size", 2)
    assert rc == 0, err
    doc = one_json(out)
    assert doc["images"] == 4 and doc["fidelity"] == "val-subset-4"
    assert doc["meta"]["ordering"] == "l1" and doc["meta"]["bn_recalib"] == 2
    assert doc["meta"]["params"] == 319573


def test_mismatched_checkpoint_exit_1(common, tmp_path, full_mnv2):
    sd = dict(full_mnv2.state_dict())
    del sd["classifier.project.0.weight"]
    path = str(tmp_path / "bad.pth")
    torch.save({"model_state": sd}, path)
    args = list(common)
    args[args.index("--checkpoint") + 1] = path
    rc, out, err = run_tool("fmas-eval", *args, "--genome", json.dumps([0] * 33))
    assert rc == 1 and out == ""
    assert "1 missing key" in err and "classifier.project.0.weight" in err


def test_jsonl_serves_many_requests(common):
    sp = ft.get_space(MNV2)
    reqs = [{"space": MNV2, "genome": sp.genes.max_genome(), "fidelity": "val-subset-8"},
            {"space": MNV2, "genome": [9] * 33},
            {"space": MNV2, "genome": sp.genes.min_genome(), "fidelity": "val-subset-8"}]
    rc, out, err = run_tool("fmas-eval", *common, "--jsonl",
                            stdin="".join(json.dumps(r) + "\n" for r in reqs))
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 3
    assert "miou" in lines[0] and "miou" in lines[2]
    assert lines[1]["status"] == 2 and "features.2.expand" in lines[1]["error"]
    assert rc == 2


def test_finetune_saves_and_reports(common, tmp_path):
    g = random_genome(MNV2, random.Random(9))
    out_path = str(tmp_path / "ft" / "sub.pth")
    rc, out, err = run_tool("fmas-eval", *common, "--ft-iters", 2, "--ft-batch-size", 2,
                            "--ft-out", out_path,
                            stdin=json.dumps({"space": MNV2, "genome": g,
                                              "fidelity": "finetuned"}))
    assert rc == 0, err
    doc = one_json(out)
    assert doc["fidelity"] == "finetuned" and doc["checkpoint"] == os.path.abspath(out_path)
    assert os.path.isfile(out_path)
    assert doc["images"] == 10                       # the full validation split
    assert doc["meta"]["iterations"] == 2
    # the fine-tuned subnet checkpoint evaluates its own genome, as it is
    args = list(common)
    args[args.index("--checkpoint") + 1] = out_path
    rc, out2, err = run_tool("fmas-eval", *args, "--genome", json.dumps(g), "--subset", 0)
    assert rc == 0, err
    again = one_json(out2)
    assert again["miou"] == pytest.approx(doc["miou"], abs=1e-9)
    other = ft.get_space(MNV2).genes.max_genome()
    rc, _, err = run_tool("fmas-eval", *args, "--genome", json.dumps(other))
    assert rc == 1 and "a subnet" in err
