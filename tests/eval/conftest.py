"""Shared fixtures of the evaluator tests: a tiny synthetic VOC dataset made
by the generator itself, and a random "pretrained" checkpoint in the public
DeepLabV3Plus-Pytorch layout. Everything runs on the CPU, small."""

import random

import pytest
import torch

import fmas_twin as ft
from evalhelp import MNV2, randomize_bn

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def full_mnv2():
    torch.manual_seed(1)
    return randomize_bn(ft.build(MNV2), 1).eval()


@pytest.fixture(scope="session")
def voc_dir(tmp_path_factory):
    from fmas_eval.synth import make_voc
    out = tmp_path_factory.mktemp("voc")
    info = make_voc(str(out), train=6, val=10, size=80, seed=5)
    return info["root"]


@pytest.fixture(scope="session")
def public_ckpt(tmp_path_factory, full_mnv2):
    path = tmp_path_factory.mktemp("ckpt") / "best_deeplabv3plus_mobilenet_voc_os16.pth"
    torch.save({"model_state": full_mnv2.state_dict(), "cur_itrs": 30000,
                "best_score": 0.7}, str(path))
    return str(path)


@pytest.fixture
def rng():
    return random.Random(1234)
