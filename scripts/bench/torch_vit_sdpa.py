"""Dev aid: PyTorch's vit-tiny-p4 step (torch_bench.py's definition) with its attention composed, as the bench runs it,
and with F.scaled_dot_product_attention (what timm uses), alternating, on 2 threads: which of the two the bench should
compare against.

    python3 scripts/bench/torch_vit_sdpa.py [steps=15]
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bench  # noqa: E402

torch.set_num_threads(2)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 15


def sdpa_forward(self, x):
    b, t, d = x.shape
    q, k, v = self.qkv(self.ln1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
    x = x + self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d))
    return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


composed = torch_bench.VitBlock.forward
for name, forward in [("composed", composed), ("sdpa", sdpa_forward)] * 2:
    torch_bench.VitBlock.forward = forward
    torch.manual_seed(0)
    w = torch_bench.MODELS["vit-tiny-p4"]()
    for _ in range(8):
        w.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        w.step()
    print(f"{name}: {(time.perf_counter() - t0) * 1000 / steps:.1f} ms per step (mean of {steps} after 8)")
