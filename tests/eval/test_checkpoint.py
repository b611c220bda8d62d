"""Checkpoint formats and the clear error on a mismatched state dict."""

import pytest
import torch

import fmas_twin as ft
from fmas_eval import checkpoint as C
from evalhelp import MNV2

# A few keys of the public deeplabv3plus_mobilenet checkpoint, as published
# by DeepLabV3Plus-Pytorch (best_deeplabv3plus_mobilenet_voc_os16.pth).
PUBLIC_KEYS = [
    "backbone.low_level_features.0.0.weight", "backbone.low_level_features.0.1.running_var",
    "backbone.low_level_features.1.conv.0.0.weight", "backbone.low_level_features.3.conv.3.bias",
    "backbone.high_level_features.4.conv.0.0.weight",
    "backbone.high_level_features.17.conv.2.weight",
    "classifier.project.0.weight", "classifier.aspp.convs.0.0.weight",
    "classifier.aspp.convs.1.0.weight", "classifier.aspp.convs.4.1.weight",
    "classifier.aspp.project.0.weight", "classifier.classifier.0.weight",
    "classifier.classifier.3.weight", "classifier.classifier.3.bias",
]


def test_the_twin_has_the_public_layout(full_mnv2):
    sd = full_mnv2.state_dict()
    assert all(k in sd for k in PUBLIC_KEYS)
    assert sd["classifier.aspp.project.0.weight"].shape == (256, 1280, 1, 1)
    assert sd["classifier.classifier.3.weight"].shape == (21, 256, 1, 1)


@pytest.mark.parametrize("layout", ["plain", "wrapped", "dataparallel", "fmas"])
def test_loads_every_layout(tmp_path, full_mnv2, layout):
    sd = full_mnv2.state_dict()
    path = str(tmp_path / f"{layout}.pth")
    if layout == "plain":
        torch.save(sd, path)
    elif layout == "wrapped":
        torch.save({"model_state": sd, "optimizer_state": {"state": {}}, "cur_itrs": 5,
                    "best_score": 0.5}, path)
    elif layout == "dataparallel":
        torch.save({"model_state": {f"module.{k}": v for k, v in sd.items()}}, path)
    else:
        C.save(path, full_mnv2, space=MNV2, params={"input_size": 513, "num_classes": 21,
                                                     "output_stride": 16},
               genome=ft.get_space(MNV2).genes.max_genome(), meta={"note": "x", "miou": 0.5})
        # only tensors, strings and integers: loadable tensors-only by any torch
        assert torch.load(path, weights_only=True)["format"] == C.FORMAT
        assert C.read(path).meta == {"note": "x", "miou": 0.5}
    got = C.load_full(path, MNV2)
    assert got.keys() == sd.keys()
    assert all(torch.equal(got[k], sd[k]) for k in sd)
    ck = C.read(path)
    assert ck.layout == {"plain": "public", "wrapped": "public-wrapped",
                         "dataparallel": "public-wrapped", "fmas": "fmas"}[layout]


def test_public_checkpoint_with_numpy_extras_loads(tmp_path, full_mnv2):
    np = pytest.importorskip("numpy")
    path = str(tmp_path / "np.pth")
    torch.save({"model_state": full_mnv2.state_dict(), "best_score": np.float64(0.71)}, path)
    assert C.load_full(path, MNV2).keys() == full_mnv2.state_dict().keys()


def test_mismatched_state_dict_lists_every_problem(tmp_path, full_mnv2):
    sd = dict(full_mnv2.state_dict())
    del sd["classifier.aspp.convs.2.0.weight"]                     # missing
    del sd["backbone.high_level_features.9.conv.1.1.running_mean"]  # missing
    sd["backbone.extra.weight"] = torch.zeros(3)                      # unexpected
    sd["classifier.classifier.3.weight"] = torch.zeros(19, 256, 1, 1)  # wrong shape
    sd["classifier.classifier.3.bias"] = torch.zeros(19)
    path = str(tmp_path / "bad.pth")
    torch.save({"model_state": sd}, path)
    with pytest.raises(C.CheckpointError) as ei:
        C.load_full(path, MNV2)
    msg = str(ei.value)
    assert "2 missing keys" in msg
    assert "classifier.aspp.convs.2.0.weight" in msg
    assert "backbone.high_level_features.9.conv.1.1.running_mean" in msg
    assert "1 unexpected key" in msg and "backbone.extra.weight" in msg
    assert "2 shape mismatches" in msg
    assert "classifier.classifier.3.weight: checkpoint [19, 256, 1, 1], model [21, 256, 1, 1]" in msg
    assert "19 classes" in msg
    assert path in msg


def test_not_a_checkpoint(tmp_path):
    p = tmp_path / "x.pth"
    torch.save({"epoch": 3, "weights": [1, 2]}, str(p))
    with pytest.raises(C.CheckpointError, match="neither a state dict"):
        C.read(str(p))
    p2 = tmp_path / "junk.pth"
    p2.write_bytes(b"not a checkpoint at all")
    with pytest.raises(C.CheckpointError, match="cannot be read"):
        C.read(str(p2))
    with pytest.raises(C.CheckpointError, match="no such file"):
        C.read(str(tmp_path / "absent.pth"))


def test_a_subnet_checkpoint_is_not_a_full_model(tmp_path):
    g = ft.get_space(MNV2).genes.min_genome()
    m = ft.build(MNV2, g)
    path = str(tmp_path / "sub.pth")
    C.save(path, m, space=MNV2, params=dict(ft.get_space(MNV2).defaults), genome=g)
    with pytest.raises(C.CheckpointError, match="a subnet"):
        C.load_full(path, MNV2)
    ck = C.read(path)
    assert ck.genome == g and ck.space == MNV2
    m2 = ft.build(MNV2, g)
    m2.load_state_dict(C.check_state_dict(m2, ck.state_dict))
