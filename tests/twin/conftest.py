import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
torch.set_num_threads(1)
