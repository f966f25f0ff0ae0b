"""PyTorch counterparts of scripts/bench/models.ts: same shapes, ops, batches and optimizers, timed the same way
(median of N steps after warm-up), plus a large-matmul peak.

Usage: python3 scripts/bench/torch_bench.py --threads 2 --runs 3 --warmup 1 --peak 2048 [--batch N] \
           --models small-cnn,resnet18-cifar,vit-tiny-p4,kiop-prompt-step,cmi-synthesis-step

       python3 scripts/bench/torch_bench.py --serve --threads 2

Batch mode prints one JSON object on the last line of stdout:
  {"torch": version, "threads": n, "peak": {"n", "ms", "runs_ms", "gflops"},
   "models": {name: {"batch", "step_ms", "step_runs_ms", "params_trainable", "params_frozen",
                     "fwd_gflop", "step_gflop", "flops_rule", "loss"} | {"error": message}}}
FLOPs are counted with torch.utils.flop_counter (convs and matmuls, 2 per MAC), as models.ts counts them.
Serve mode (--serve) answers one JSON request per stdin line with one JSON line on stdout, so that `npm run bench`
can alternate our steps with PyTorch's (both then see the same machine load):
  {"op": "setup", "model": name, "batch": n | null} -> the workload's fields above without the times
  {"op": "setup", "model": "matmul", "n": n}       -> {"n": n}
  {"op": "step"}                                   -> {"ms": time of one step (or matmul), "loss": ...}
  {"op": "quit"}
Called by `npm run bench` when `import torch` works; see scripts/bench/README.md.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode


def bn_conv(cin, cout, stride=1, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))


class SmallCnn(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.c1, self.c2, self.c3 = bn_conv(3, 32), bn_conv(32, 64), bn_conv(64, 64)
        self.fc = nn.Linear(64, classes)

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
    """ResNet-18. cifar: 3x3/1 stem, no max-pool. imagenet (torchvision): 7x7/2 stem, BN, ReLU, 3x3/2 max-pool."""

    def __init__(self, classes=10, kind="cifar"):
        super().__init__()
        self.kind = kind
        self.stem = bn_conv(3, 64) if kind == "cifar" else nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64))
        layers, cin = [], 64
        for i, c in enumerate([64, 128, 256, 512]):
            for j in range(2):
                layers.append(Block(cin, c, 2 if i > 0 and j == 0 else 1))
                cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        h = F.relu(self.stem(x))
        if self.kind == "imagenet":
            h = F.max_pool2d(h, 3, 2, 1)
        return self.fc(self.layers(h).mean((2, 3)))


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


class Prompt(nn.Module):
    """ILM-VP/KiOP "expansive" padding prompt n->m: zero-pad the image, add sigmoid(theta) on the ring."""

    def __init__(self, n, m):
        super().__init__()
        lo, hi = (m - n + 1) // 2, (m - n) // 2
        self.pad = (lo, hi, lo, hi)
        self.theta = nn.Parameter(torch.zeros(1, 3, m, m))
        mask = torch.ones(1, 3, m, m)
        mask[:, :, lo : lo + n, lo : lo + n] = 0
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.pad(x, self.pad) + torch.sigmoid(self.theta) * self.mask


class Generator(nn.Module):
    """CMI / KiOP generator (nz 256, ngf 64, 32x32x3)."""

    def __init__(self, nz=256, ngf=64, img=32, nc=3):
        super().__init__()
        self.init_size = img // 4
        self.l1 = nn.Sequential(nn.Linear(nz, ngf * 2 * self.init_size**2))
        self.conv_blocks = nn.Sequential(
            nn.BatchNorm2d(ngf * 2),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(ngf * 2, ngf * 2, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(ngf * 2, ngf, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ngf, nc, 3, stride=1, padding=1),
            nn.Sigmoid(),
        )
        for m in self.modules():  # CMI's reset: weights N(0, 0.02), BN weights N(1, 0.02), biases 0
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.constant_(m.bias, 0)

    def forward(self, z):
        out = self.l1(z)
        return self.conv_blocks(out.view(out.shape[0], -1, self.init_size, self.init_size))


def frozen(m):
    return m.eval().requires_grad_(False)


def numel(params):
    return sum(p.numel() for p in params)


def count_flops(fn):
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def kl_div(u, v, tau):
    """tau^2 * batchmean KL(softmax(u/tau) || softmax(v/tau)), gradient through both."""
    return F.kl_div(F.log_softmax(v / tau, 1), F.log_softmax(u / tau, 1), reduction="batchmean", log_target=True) * tau * tau


class Workload:
    """name, batch, params, flops() -> (fwd, step), flops_rule, step() -> loss tensor."""


def classifier(name, ctor, batch, opt_fn):
    w = Workload()
    model = ctor()
    opt = opt_fn(model.parameters())
    x = torch.randn(batch, 3, 32, 32)
    y = torch.arange(batch) % 10

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    def flops():
        f = count_flops(lambda: model(x))
        return f, 3 * f

    w.name, w.batch, w.step, w.flops, w.flops_rule = name, batch, step, flops, "3 x fwd"
    w.params_trainable, w.params_frozen = numel(model.parameters()), 0
    return w


KIOP_LABEL_MAP = [4 * j + 3 for j in range(10)]


def kiop_prompt_step(batch):
    """KiOP-B knowledge-storing step; see kiopPromptStep in models.ts."""
    tau = 20.0
    host = frozen(ResNet18(43, "imagenet"))
    source = frozen(ResNet18(10, "cifar"))
    pc, pp = Prompt(32, 36), Prompt(36, 128)
    params = [pc.theta, pp.theta]
    opt = torch.optim.SGD(params, lr=0.8, momentum=0.9)
    pi = torch.tensor(KIOP_LABEL_MAP)
    xb, xa = torch.randn(batch, 3, 32, 32), torch.randn(batch, 3, 32, 32)

    def smb(x):
        return host(pp(pc(x)))[:, pi]

    def sma(x):
        return host(pc(x))

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            t, a = source(xb), host(xa)
        loss = kl_div(t, smb(xb), tau) + kl_div(sma(xa), a, tau)
        loss.backward()
        opt.step()
        return loss

    def flops():
        f1, f2 = count_flops(lambda: smb(xb)), count_flops(lambda: sma(xa))
        f3, f4 = count_flops(lambda: host(xa)), count_flops(lambda: source(xb))
        return f1 + f2 + f3 + f4, 2 * (f1 + f2) + f3 + f4

    w = Workload()
    w.name, w.batch, w.step, w.flops = "kiop-prompt-step", batch, step, flops
    w.flops_rule = "2 x (host@128 + host@36) + host@32 + source"
    w.params_trainable, w.params_frozen = numel(params), numel(host.parameters()) + numel(source.parameters())
    return w


CIFAR_MEAN, CIFAR_STD = [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]


def cmi_synthesis_step(batch):
    """One CMI generator iteration; see cmiSynthesisStep in models.ts."""
    classes = 10
    gen = Generator()
    z = torch.randn(batch, 256, requires_grad=True)
    teacher = frozen(ResNet18(classes, "cifar"))
    student = frozen(SmallCnn(classes))
    opt = torch.optim.Adam(list(gen.parameters()) + [z], lr=0.01, betas=(0.5, 0.999), eps=1e-8)
    y = torch.tensor([(i * classes) // batch for i in range(batch)])
    mean, std = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    bn_terms = []

    def hook(module, inputs, _output):  # CMI's DeepInversionHook
        var, mu = torch.var_mean(inputs[0], dim=(0, 2, 3), correction=0)
        bn_terms.append(torch.norm(module.running_var - var, 2) + torch.norm(module.running_mean - mu, 2))

    for m in teacher.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.register_forward_hook(hook)

    def loss_fn():
        bn_terms.clear()
        x = (gen(z) - mean) / std
        o_t, o_s = teacher(x), student(x)
        l_bn = sum(bn_terms)
        l_oh = F.cross_entropy(o_t, y)
        agree = (o_s.argmax(1) == o_t.argmax(1)).float()
        kl = F.kl_div(F.log_softmax(o_s, 1), F.log_softmax(o_t, 1), reduction="none", log_target=True).sum(1)
        return l_bn + l_oh + 0.5 * -(kl * agree).mean()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss

    def flops():
        g = count_flops(lambda: gen(z))
        with torch.no_grad():
            x = (gen(z) - mean) / std
        t, s = count_flops(lambda: teacher(x)), count_flops(lambda: student(x))
        bn_terms.clear()
        return g + t + s, 3 * g + 2 * (t + s)

    w = Workload()
    w.name, w.batch, w.step, w.flops = "cmi-synthesis-step", batch, step, flops
    w.flops_rule = "3 x generator + 2 x (teacher + student)"
    w.params_trainable = numel(gen.parameters()) + z.numel()
    w.params_frozen = numel(teacher.parameters()) + numel(student.parameters())
    return w


MODELS = {  # name -> constructor taking an optional batch (default: the batch models.ts uses)
    "small-cnn": lambda b=None: classifier("small-cnn", SmallCnn, b or 64, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    "resnet18-cifar": lambda b=None: classifier("resnet18-cifar", ResNet18, b or 32, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    "vit-tiny-p4": lambda b=None: classifier("vit-tiny-p4", VitTiny, b or 32, lambda p: torch.optim.Adam(p, lr=1e-3)),
    "kiop-prompt-step": lambda b=None: kiop_prompt_step(b or 32),
    "cmi-synthesis-step": lambda b=None: cmi_synthesis_step(b or 64),
}


def time_runs(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def serve():
    """Request/response loop of --serve (see the module docstring)."""
    current = None
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["op"] == "quit":
                break
            if req["op"] == "setup":
                current = None
                if req["model"] == "matmul":
                    n = int(req["n"])
                    p, q = torch.randn(n, n), torch.randn(n, n)
                    current = lambda: (torch.mm(p, q), None)[1]
                    res = {"n": n}
                else:
                    w = MODELS[req["model"]](req.get("batch"))
                    fwd, step_flops = w.flops()
                    current = lambda w=w: float(w.step().detach())
                    res = {
                        "batch": w.batch,
                        "params_trainable": w.params_trainable,
                        "params_frozen": w.params_frozen,
                        "fwd_gflop": fwd / 1e9,
                        "step_gflop": step_flops / 1e9,
                        "flops_rule": w.flops_rule,
                    }
            elif req["op"] == "step":
                t0 = time.perf_counter()
                loss = current()
                res = {"ms": (time.perf_counter() - t0) * 1000, "loss": loss}
            else:
                res = {"error": f"unknown op {req['op']}"}
        except Exception as e:  # report and keep serving
            res = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--peak", type=int, default=2048, help="side of the square peak matmul; 0 = skip")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batch", type=int, default=None, help="override every model's batch")
    ap.add_argument("--serve", action="store_true", help="answer JSON requests on stdin (see above)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.serve:
        serve()
        return
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "models": {}}
    if a.peak > 0:
        n = a.peak
        p, q = torch.randn(n, n), torch.randn(n, n)
        runs = time_runs(lambda: torch.mm(p, q), max(a.runs, 3), 1)
        ms = statistics.median(runs)
        out["peak"] = {"n": n, "ms": ms, "runs_ms": runs, "gflops": 2 * n**3 / ms / 1e6}
        del p, q
    for name in [m for m in a.models.split(",") if m]:
        if name not in MODELS:
            out["models"][name] = {"error": f"unknown model {name}"}
            continue
        try:
            w = MODELS[name](a.batch)
            fwd, step_flops = w.flops()
            losses = []
            times = time_runs(lambda: losses.append(float(w.step().detach())), a.runs, a.warmup)
            out["models"][name] = {
                "batch": w.batch,
                "step_ms": statistics.median(times),
                "step_runs_ms": times,
                "params_trainable": w.params_trainable,
                "params_frozen": w.params_frozen,
                "fwd_gflop": fwd / 1e9,
                "step_gflop": step_flops / 1e9,
                "flops_rule": w.flops_rule,
                "loss": losses[-1],
            }
            del w
        except Exception as e:  # report, keep going with the other models
            out["models"][name] = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
