"""fmas_eval: the parts of fmas that touch a real network.

- checkpoint: load a full pretrained DeepLabV3+ (fmas format, or the public
  DeepLabV3Plus-Pytorch state-dict layout, plain or {"model_state": ...}),
  save subnets;
- subnet: cut structure and weights down to a genome (first-k or L1-norm
  channel ordering), BatchNorm recalibration and folding;
- voc: PASCAL VOC 2012 in its real layout, the evaluation preprocessing, the
  seeded validation subset, a tensor cache;
- metrics: confusion matrix, mIoU, pixel accuracy;
- evaluate / finetune: scoring a candidate, fine-tuning the final front;
- profile: timing layer keys and whole subnets for the fmasd LUTs;
- synth: a synthetic dataset in the exact VOC layout (tests, demo).

Importing this package does not import torch (the dataset generator runs on
numpy and PIL only); the submodules that need torch import it themselves.
See docs/evaluator.md.
"""

__version__ = "0.1.0"
EVALUATOR = f"fmas-eval {__version__}"
