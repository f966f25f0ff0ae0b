"""PyTorch counterparts of scripts/bench/models.ts, timed the same way (median of N training steps after warm-up).

Usage: python3 scripts/bench/torch_bench.py --threads 1 --runs 3 --models small-cnn,resnet18-cifar,vit-tiny-p4
Prints one JSON object {model: {"step_ms": ..., "forward_ms": ...}} on stdout. Called by `npm run bench` when
`import torch` works. NOTE: written without torch on the build machine, so it has never been run there.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def bn_conv(cin, cout, stride=1, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.c3 = bn_conv(3, 32), bn_conv(32, 64), bn_conv(64, 64)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.c3(x))
        return self.fc(x.mean((2, 3)))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a, self.b = bn_conv(cin, cout, stride), bn_conv(cout, cout)
        self.proj = bn_conv(cin, cout, stride, 1) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.b(F.relu(self.a(x)))
        return F.relu(y + (self.proj(x) if self.proj is not None else x))


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = bn_conv(3, 64)
        layers, cin = [], 64
        for i, c in enumerate([64, 128, 256, 512]):
            for j in range(2):
                layers.append(Block(cin, c, 2 if i > 0 and j == 0 else 1))
                cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        return self.fc(self.layers(F.relu(self.stem(x))).mean((2, 3)))


class VitBlock(nn.Module):
    def __init__(self, d=192, heads=3, mlp=768):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, mlp), nn.Linear(mlp, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), -1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class VitTiny(nn.Module):
    def __init__(self, d=192):
        super().__init__()
        self.patch = nn.Conv2d(3, d, 4, 4)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, 65, d))
        self.blocks = nn.Sequential(*[VitBlock(d) for _ in range(12)])
        self.ln = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, 10)

    def forward(self, x):
        p = self.patch(x).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), p], 1) + self.pos
        return self.head(self.ln(self.blocks(h))[:, 0])


MODELS = {
    "small-cnn": (SmallCnn, 64, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    "resnet18-cifar": (ResNet18, 32, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    "vit-tiny-p4": (VitTiny, 32, lambda p: torch.optim.Adam(p, lr=1e-3)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--models", default=",".join(MODELS))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {}
    for name in a.models.split(","):
        ctor, batch, opt_fn = MODELS[name]
        model = ctor()
        opt = opt_fn(model.parameters())
        x = torch.randn(batch, 3, 32, 32)
        y = torch.arange(batch) % 10

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()

        with torch.no_grad():
            t0 = time.perf_counter()
            model(x)
            fwd = (time.perf_counter() - t0) * 1000
        for _ in range(a.warmup):
            step()
        times = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = {"step_ms": statistics.median(times), "forward_ms": fwd, "threads": a.threads}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
