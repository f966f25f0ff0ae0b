"""PyTorch's eval-mode forward of a ResNet-18 (torchvision's geometry, 10 classes, NCHW) by batch size, on 2 threads.

    python3 packages/serve/bench/torch_forward.py [canvas=128] [batches=1,16,32] [reps=30]

The counterpart of forward.ts: how much cheaper an image is in a batch than alone, for PyTorch on the same cores.
"""
import os
import sys
import time

import torch

# torchvision's ResNet-18 geometry as the bench defines it (7x7/2 stem, max-pool, four stages of two blocks)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts", "bench"))
from torch_bench import ResNet18  # noqa: E402


def main():
    canvas = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    batches = [int(b) for b in (sys.argv[2] if len(sys.argv) > 2 else "1,16,32").split(",")]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    torch.set_num_threads(2)
    model = ResNet18(10, kind="imagenet").eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, canvas {canvas} px")
    with torch.no_grad():
        for n in batches:
            x = torch.rand(n, 3, canvas, canvas)
            for _ in range(3):
                model(x)
            t = []
            for _ in range(reps):
                t0 = time.perf_counter()
                model(x)
                t.append((time.perf_counter() - t0) * 1000)
            t.sort()
            med = t[len(t) // 2]
            print(f"batch {n}: median {med:.1f} ms, fastest {t[0]:.1f} ms, {med / n:.2f} ms per image")


if __name__ == "__main__":
    main()
