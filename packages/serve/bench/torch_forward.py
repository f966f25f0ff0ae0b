"""PyTorch's eval-mode forward of a ResNet-18 (torchvision's geometry, 10 classes, NCHW) by batch size, on 2 threads.

    python3 packages/serve/bench/torch_forward.py [canvas=128] [batches=1,16,32] [reps=30]

The counterpart of forward.ts: how much cheaper an image is in a batch than alone, for PyTorch on the same cores.
"""
import sys
import time

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.sc = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                   if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return torch.relu(self.b2(self.c2(torch.relu(self.b1(self.c1(x))))) + self.sc(x))


def resnet18(classes=10):
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes))


def main():
    canvas = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    batches = [int(b) for b in (sys.argv[2] if len(sys.argv) > 2 else "1,16,32").split(",")]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    torch.set_num_threads(2)
    model = resnet18().eval()
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
