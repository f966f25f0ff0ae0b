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
  {"op": "setup", "model": name, "batch": n | null, "spec": {...} | null}
                                                   -> the workload's fields above without the times (`spec`: a
                                                      study workload's shapes from models.ts, see study_workload)
  {"op": "setup", "model": "matmul", "n": n}       -> {"n": n}
  {"op": "step", "steps": k (default 1)}         -> {"ms": time per step of k in a row (or matmul), "loss": ...}
  {"op": "memory"}                                 -> {"rss_peak_mib": RSS high-water mark since the setup}
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



# ----------------------------------------------------------------------------------------------------------------
# Workloads of the CPU studies (scripts/bench/study-workloads.ts). models.ts builds them from the library and the
# presets and sends their shapes as a `spec`; these are the same computations written in PyTorch.


class BnCnnNet(nn.Module):
    """@promptkd/models BnCnn: blocks conv3x3 (no bias) -> BN -> ReLU (-> maxpool 2x2), GAP, linear."""

    def __init__(self, blocks, classes, cin=3):
        super().__init__()
        layers = []
        for b in blocks:
            b = {"channels": b, "pool": True} if isinstance(b, int) else b
            c, stride, pool = b["channels"], b.get("stride", 1), b.get("pool", False)
            layers += [nn.Conv2d(cin, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d(2, 2))
            cin = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


class ResNetNet(nn.Module):
    """@promptkd/models ResNet (basic blocks): cifar (3x3 stem) or torchvision (7x7/2 stem + max-pool), any widths."""

    def __init__(self, variant, layers, widths, classes, cin=3):
        super().__init__()
        self.variant = variant
        w0 = widths[0]
        self.stem = bn_conv(cin, w0) if variant == "cifar" else nn.Sequential(nn.Conv2d(cin, w0, 7, 2, 3, bias=False), nn.BatchNorm2d(w0))
        blocks, c_in = [], w0
        for i, (n, c) in enumerate(zip(layers, widths)):
            for j in range(n):
                blocks.append(Block(c_in, c, 2 if i > 0 and j == 0 else 1))
                c_in = c
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, classes)

    def forward(self, x):
        h = F.relu(self.stem(x))
        if self.variant == "torchvision":
            h = F.max_pool2d(h, 3, 2, 1)
        return self.fc(self.layers(h).mean((2, 3)))


RESNET_LAYOUTS = {"resnet18": ("torchvision", [2, 2, 2, 2]), "resnet18Cifar": ("cifar", [2, 2, 2, 2]), "resnet34Cifar": ("cifar", [3, 4, 6, 3])}


def arch_net(spec, cin):
    """A frozen network from {arch, config, classes} (a bench preset of the KiOP app)."""
    arch, cfg, classes = spec["arch"], spec.get("config") or {}, spec["classes"]
    if arch == "bnCnn":
        net = BnCnnNet(cfg.get("blocks", [32, 64, 128]), classes, cin)
    elif arch in RESNET_LAYOUTS and cfg.get("block", "basic") == "basic":
        variant, layers = RESNET_LAYOUTS[arch]
        net = ResNetNet(cfg.get("variant", variant), cfg.get("layers", layers), cfg.get("widths", [64, 128, 256, 512]), classes, cin)
    else:
        raise ValueError(f"torch_bench.py has no counterpart of architecture '{arch}' {cfg}")
    return frozen(net)


class SegmentPrompt(nn.Module):
    """One expansive pad n->m of a SegmentedPrompt: zero-pad, add sigmoid(theta) on the ring (mask [m, m, 1])."""

    def __init__(self, n, m, c):
        super().__init__()
        lo, hi = (m - n + 1) // 2, (m - n) // 2
        self.pad = (lo, hi, lo, hi)
        self.theta = nn.Parameter(torch.zeros(1, c, m, m))
        mask = torch.ones(1, 1, m, m)
        mask[:, :, lo : lo + n, lo : lo + n] = 0
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.pad(x, self.pad) + torch.sigmoid(self.theta) * self.mask


def selection_matrix(mapping, host_classes):
    """LM as promptkd applies it: host logits @ S, S[pi_j, j] = 1."""
    sel = torch.zeros(host_classes, len(mapping))
    for j, i in enumerate(mapping):
        sel[i, j] = 1.0
    return sel


def kl_batchmean(target, student, tau):
    return F.kl_div(F.log_softmax(student / tau, 1), F.log_softmax(target / tau, 1), reduction="batchmean", log_target=True) * tau * tau


def crop_with_padding(x, pad, offsets):
    """Per-sample crop of the zero-padded batch at (top, left) offsets, as one gather (kornia RandomCrop)."""
    n, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    off = torch.tensor(offsets)
    rows = (off[:, 0:1] + torch.arange(h)).view(n, 1, h, 1)
    cols = (off[:, 1:2] + torch.arange(w)).view(n, 1, 1, w)
    return xp[torch.arange(n).view(n, 1, 1, 1), torch.arange(c).view(1, c, 1, 1), rows, cols]


def resized_crop(x, boxes):
    """Per-sample crop (top, left, height, width) resized back to HxW, bilinear (half-pixel centres), one grid_sample."""
    n, _, h, w = x.shape
    b = torch.tensor(boxes, dtype=torch.float32)
    top, left, bh, bw = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = bw / w
    theta[:, 0, 2] = (2 * left + bw) / w - 1
    theta[:, 1, 1] = bh / h
    theta[:, 1, 2] = (2 * top + bh) / h - 1
    grid = F.affine_grid(theta, (n, 1, h, w), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def flip(x, flips):
    m = torch.tensor([1.0 if f else 0.0 for f in flips]).view(-1, 1, 1, 1)
    return x * (1 - m) + torch.flip(x, (3,)) * m


def study_workload(spec):
    kind = spec["kind"]
    if kind == "kiop-prompt":
        return kiop_prompt(spec)
    if kind == "kiop-synthesis":
        return kiop_synthesis(spec)
    if kind == "kdp-student":
        return kdp_student(spec)
    raise ValueError(f"unknown workload kind {kind}")


def counted(w, forward, loss_fn):
    """FLOPs counted like ours: every product kernel of a no-grad forward, and of forward + backward."""

    def flops():
        f = count_flops(forward)
        with FlopCounterMode(display=False) as fc:
            loss_fn().backward()
        for p in w.params:
            p.grad = None
        return f, fc.get_total_flops()

    w.flops, w.flops_rule = flops, "counted (executed kernels)"


def kiop_prompt(spec):
    """KiOP-B knowledge-storing step; see kiopPromptStep in study-workloads.ts."""
    n, c = spec["batch"], spec["channels"]
    sizes = spec["promptSizes"]
    tau, alpha, beta = spec["temperature"], spec["alpha"], spec["beta"]
    host, source = arch_net(spec["host"], c), arch_net(spec["source"], c)
    segs = nn.ModuleList([SegmentPrompt(sizes[i], sizes[i + 1], c) for i in range(len(sizes) - 1)])
    params = [s.theta for s in segs]
    sel = selection_matrix(spec["mapping"], spec["host"]["classes"])
    opt = torch.optim.SGD(params, lr=spec["lr"], momentum=spec["momentum"], weight_decay=spec["weightDecay"])
    bank = torch.round(torch.rand(n, c, sizes[0], sizes[0]) * 255) / 255
    x_a = torch.rand(n, c, sizes[0], sizes[0])
    gen = torch.Generator().manual_seed(0)

    def bank_batch():
        x = bank
        if spec.get("greyBank"):
            x = x.mean(1, keepdim=True).repeat(1, c, 1, 1)
        if spec.get("cropFlipBank"):
            offs = torch.randint(0, 9, (n, 2), generator=gen).tolist()
            x = flip(crop_with_padding(x, 4, offs), (torch.rand(n, generator=gen) < 0.5).tolist())
        return x

    def loss_fn():
        x_b = bank_batch()
        with torch.no_grad():
            t = source(x_b)
            plain = host(x_a)
        smb = host(segs[1](segs[0](x_b))) @ sel
        sma = host(segs[0](x_a))
        return beta * kl_batchmean(t, smb, tau) + alpha * kl_batchmean(plain, sma, tau)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss

    w = Workload()
    w.name, w.batch, w.step, w.params = "kiop-prompt", n, step, params
    counted(w, lambda: loss_fn(), loss_fn)
    w.params_trainable, w.params_frozen = numel(params), numel(host.parameters()) + numel(source.parameters())
    return w


class ContrastHead(nn.Module):
    def __init__(self, d, hidden, out):
        super().__init__()
        self.l1, self.l2 = nn.Linear(d, hidden), nn.Linear(hidden, out)

    def forward(self, f):
        return F.normalize(self.l2(F.relu(self.l1(f))), dim=1)


def kiop_synthesis(spec):
    """One CMI generator iteration of a KiOP preset; see kiopSynthesisStep in study-workloads.ts."""
    n, c, img = spec["batch"], spec["channels"], spec["imageSize"]
    sizes = spec["promptSizes"]
    host, teacher = arch_net(spec["host"], c), arch_net(spec["source"], c)
    segs = nn.ModuleList([SegmentPrompt(sizes[i], sizes[i + 1], c) for i in range(len(sizes) - 1)]).requires_grad_(False)
    sel = selection_matrix(spec["mapping"], spec["host"]["classes"])
    gen = Generator(nz=spec["nz"], ngf=spec["ngf"], img=img, nc=c)
    z = torch.randn(n, spec["nz"], requires_grad=True)
    head = ContrastHead(spec["featureDim"], spec["headHidden"], spec["headOut"])
    wts = spec["weights"]
    opt_g = torch.optim.Adam(list(gen.parameters()) + [z], lr=spec["lrG"], betas=tuple(spec["betas"]), eps=1e-8)
    opt_h = torch.optim.Adam(head.parameters(), lr=spec["lrHead"], betas=(0.9, 0.999), eps=1e-8)
    y = torch.tensor(spec["targets"])
    m = spec["negatives"]
    cached_l, cached_g = torch.randn(m, 2 * spec["featureDim"]).chunk(2, 1)
    taps = []

    def hook(module, inputs, _output):
        x = inputs[0]
        var, mu = torch.var_mean(x, dim=(0, 2, 3), correction=0)
        taps.append((module, mu, var, x.mean((2, 3))))

    for mod in teacher.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.register_forward_hook(hook)

    def loss_fn():
        x = gen(z)
        xg = flip(crop_with_padding(x, spec["cropPadding"], spec["offsets"]), spec["flipsG"])
        taps.clear()
        o_t = teacher(xg)
        tg = list(taps)
        l_bn = sum(torch.norm(mod.running_var - var, 2) + torch.norm(mod.running_mean - mu, 2) for mod, mu, var, _ in tg)
        l_oh = F.cross_entropy(o_t, y)
        o_s = host(segs[1](segs[0](xg))) @ sel
        agree = (o_s.argmax(1) == o_t.argmax(1)).float()
        kl = F.kl_div(F.log_softmax(o_s, 1), F.log_softmax(o_t, 1), reduction="none", log_target=True).sum(1)
        l_adv = -(kl * agree).mean()
        xl = flip(resized_crop(x, spec["boxes"]), spec["flipsL"])
        g = torch.cat([sm for *_, sm in tg], 1)
        taps.clear()
        teacher(xl)
        loc = torch.cat([sm for *_, sm in taps], 1)
        p_l = head(torch.cat([loc, cached_l], 0))
        p_g = head(torch.cat([g, cached_g], 0)).detach()
        logits = p_l @ p_g.t() / spec["crT"]
        ce = torch.logsumexp(logits, 1) - (p_l * p_g).sum(1) / spec["crT"]
        l_cr = ce[:n].mean() + ce[n:].mean()
        return wts["bn"] * l_bn + wts["oh"] * l_oh + wts["adv"] * l_adv + wts["cr"] * l_cr

    def step():
        opt_g.zero_grad(set_to_none=True)
        opt_h.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt_g.step()
        opt_h.step()
        return loss

    w = Workload()
    w.name, w.batch, w.step = "kiop-synthesis", n, step
    w.params = list(gen.parameters()) + [z] + list(head.parameters())
    counted(w, loss_fn, loss_fn)
    w.params_trainable = numel(w.params)
    w.params_frozen = numel(host.parameters()) + numel(teacher.parameters())
    return w


class PromptVit(nn.Module):
    """Frozen timm-style ViT as @promptkd/models VisionTransformer (no head) with per-block prefixes and extra tokens."""

    def __init__(self, s):
        super().__init__()
        d, p, c = s["dim"], s["patchSize"], s["channels"]
        self.heads, self.dim = s["heads"], d
        self.patch = nn.Conv2d(c, d, p, p)
        tokens = (s["imageSize"] // p) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, d) * 0.02)
        hidden = round(d * s["mlpRatio"])
        self.blocks = nn.ModuleList(
            [
                nn.ModuleDict(
                    {
                        "ln1": nn.LayerNorm(d, eps=1e-6),
                        "qkv": nn.Linear(d, 3 * d),
                        "proj": nn.Linear(d, d),
                        "ln2": nn.LayerNorm(d, eps=1e-6),
                        "fc1": nn.Linear(d, hidden),
                        "fc2": nn.Linear(hidden, d),
                    }
                )
                for _ in range(s["depth"])
            ]
        )
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.requires_grad_(False)

    def attention(self, b, x, pre, app):
        n, t, d = x.shape
        h, dh = self.heads, d // self.heads
        q, k, v = b["qkv"](x).reshape(n, t, 3, h, dh).permute(2, 0, 3, 1, 4)

        def heads(u):
            return u.reshape(n, u.shape[1], h, dh).transpose(1, 2)

        ks, vs = [k], [v]
        if pre is not None:
            ks.insert(0, heads(pre[0]))
            vs.insert(0, heads(pre[1]))
        if app is not None:
            ks.append(heads(app[0]))
            vs.append(heads(app[1]))
        k, v = torch.cat(ks, 2), torch.cat(vs, 2)
        att = torch.softmax((q * dh**-0.5) @ k.transpose(-1, -2), -1)
        return b["proj"]((att @ v).transpose(1, 2).reshape(n, t, d))

    def forward(self, x, pre=None, app=None, extra=None):
        n = x.shape[0]
        p = self.patch(x).flatten(2).transpose(1, 2) + self.pos[:, 1:]
        seq = [(self.cls + self.pos[:, :1]).expand(n, -1, -1), p] + ([extra] if extra is not None else [])
        h = torch.cat(seq, 1)
        for i, b in enumerate(self.blocks):
            h = h + self.attention(b, b["ln1"](h), (pre or {}).get(i), (app or {}).get(i))
            h = h + b["fc2"](F.gelu(b["fc1"](b["ln2"](h))))
        return self.norm(h)


class Coda(nn.Module):
    """CODA-Prompt components of one model: per prompted layer P [M, L, D], K and A [M, Dq]."""

    def __init__(self, layers, m, length, d, dq):
        super().__init__()
        self.layers, self.length, self.d = layers, length, d
        self.p = nn.ParameterList([nn.Parameter(torch.randn(m, length, d)) for _ in layers])
        self.k = nn.ParameterList([nn.Parameter(torch.randn(m, dq)) for _ in layers])
        self.a = nn.ParameterList([nn.Parameter(torch.randn(m, dq)) for _ in layers])

    def select(self, q, s, f, training):
        n, out = q.shape[0], {}
        for i, layer in enumerate(self.layers):
            def rows(x):
                return torch.cat([x[:s].detach(), x[s:f]]) if training and s > 0 else x[:f]

            k, a, p = rows(self.k[i]), rows(self.a[i]), rows(self.p[i].reshape(self.p[i].shape[0], -1))
            num = q @ (a * F.normalize(k, dim=1)).t()
            den = torch.clamp(torch.sqrt((q * q) @ (a * a).t()), min=1e-12)
            prompt = ((num / den) @ p).reshape(n, self.length, self.d)
            half = self.length // 2
            out[layer] = (prompt[:, :half], prompt[:, half:])
        return out


def kdp_student(spec):
    """KDP student step with a live teacher forward; see kdpStudentStep in study-workloads.ts."""
    n = spec["batch"]
    ts, ss = spec["teacher"], spec["student"]
    tasks, cpt, task = spec["numTasks"], spec["classesPerTask"], spec["task"]
    classes, lo, hi = tasks * cpt, task * cpt, (task + 1) * cpt
    coda, kd = spec["coda"], spec["kd"]
    m, s_rows, f_rows = coda["perTask"] * tasks, task * coda["perTask"], (task + 1) * coda["perTask"]
    t_vit, s_vit = PromptVit(ts), PromptVit(ss)
    dq = ss["dim"]
    t_coda = Coda(coda["layers"], m, coda["length"], ts["dim"], dq).requires_grad_(False)
    t_head = nn.Linear(ts["dim"], classes).requires_grad_(False)
    s_coda = Coda(coda["layers"], m, coda["length"], ss["dim"], dq)
    s_head = nn.Linear(ss["dim"], classes)
    kd_token = nn.Parameter(torch.rand(1, 1, ss["dim"]))
    kd_prefix = nn.ParameterList([nn.Parameter(torch.rand(kd["kdPromptLength"], ss["dim"])) for _ in range(1, kd["kdLayers"])])
    kd_head = nn.Linear(ss["dim"], classes)
    params = list(s_coda.parameters()) + list(s_head.parameters()) + [kd_token] + list(kd_prefix) + list(kd_head.parameters())
    opt = torch.optim.Adam(params, lr=spec["lr"])
    x = torch.rand(n, ss["channels"], ss["imageSize"], ss["imageSize"])
    y = torch.tensor([i % cpt for i in range(n)])
    q = torch.randn(n, dq)
    tau, alpha, half = kd["temperature"], kd["alpha"], kd["kdPromptLength"] // 2

    def loss_fn():
        with torch.no_grad():
            z_t = t_head(t_vit(x, pre=t_coda.select(q, s_rows, f_rows, False))[:, 0])[:, lo:hi]
        app = {l: (p.expand(n, -1, -1)[:, :half], p.expand(n, -1, -1)[:, half:]) for l, p in zip(range(1, kd["kdLayers"]), kd_prefix)}
        tokens = s_vit(x, pre=s_coda.select(q, s_rows, f_rows, True), app=app, extra=kd_token.expand(n, -1, -1))
        ce = F.cross_entropy(s_head(tokens[:, 0])[:, lo:hi], y)
        kd_loss = kl_batchmean(z_t, kd_head(tokens[:, -1])[:, lo:hi], tau)
        return (1 - alpha) * ce + alpha * kd_loss

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss

    w = Workload()
    w.name, w.batch, w.step, w.params = "kdp-student", n, step, params
    counted(w, loss_fn, loss_fn)
    w.params_trainable = numel(params)
    w.params_frozen = numel(t_vit.parameters()) + numel(s_vit.parameters()) + numel(t_coda.parameters()) + numel(t_head.parameters())
    return w

MODELS = {  # name -> constructor taking an optional batch (default: the batch models.ts uses)
    "small-cnn": lambda b=None: classifier("small-cnn", SmallCnn, b or 64, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    "resnet18-cifar": lambda b=None: classifier("resnet18-cifar", ResNet18, b or 32, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
    "vit-tiny-p4": lambda b=None: classifier("vit-tiny-p4", VitTiny, b or 32, lambda p: torch.optim.Adam(p, lr=1e-3)),
    "kiop-prompt-step": lambda b=None: kiop_prompt_step(b or 32),
    "cmi-synthesis-step": lambda b=None: cmi_synthesis_step(b or 64),
}


def reset_peak_rss():
    """Resets this process's RSS high-water mark (Linux >= 4.0: /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mib():
    """RSS high-water mark in MiB (VmHWM since the last reset; elsewhere the process lifetime ru_maxrss)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
            if req["op"] == "memory":
                res = {"rss_peak_mib": peak_rss_mib()}
            elif req["op"] == "setup":
                current = None
                reset_peak_rss()
                if req["model"] == "matmul":
                    n = int(req["n"])
                    p, q = torch.randn(n, n), torch.randn(n, n)
                    current = lambda: (torch.mm(p, q), None)[1]
                    res = {"n": n}
                else:
                    spec = req.get("spec")
                    w = study_workload(spec) if spec else MODELS[req["model"]](req.get("batch"))
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
                steps = int(req.get("steps", 1))
                t0 = time.perf_counter()
                for _ in range(steps):
                    loss = current()
                res = {"ms": (time.perf_counter() - t0) * 1000 / steps, "loss": loss}
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
            reset_peak_rss()
            w = MODELS[name](a.batch)
            fwd, step_flops = w.flops()
            losses = []
            times = time_runs(lambda: losses.append(float(w.step().detach())), a.runs, a.warmup)
            out["models"][name] = {
                "batch": w.batch,
                "step_ms": statistics.median(times),
                "step_runs_ms": times,
                "rss_peak_mib": peak_rss_mib(),
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
