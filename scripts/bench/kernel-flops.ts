/**
 * FLOPs of the kernels a profiled run executed (`tf.profile(...).kernels`): 2 per multiply-add of convolutions,
 * their two gradients and matrix products — what `torch.utils.flop_counter` counts on the PyTorch side. Fused
 * kernels that contain products declare theirs in {@link FUSED_FLOPS}.
 */
type Shape = readonly number[];
interface KernelRecord {
  readonly name: string;
  readonly inputShapes: ReadonlyArray<Shape | null>;
  readonly outputShapes: ReadonlyArray<Shape | null>;
}

const prod = (s: Shape | null | undefined): number => (s ? s.reduce((a, b) => a * b, 1) : 0);

/** 2·|out|·K of a (batched) product `out [..., M, N]` with left operand `a [..., M, K]` or `[..., K, M]`. */
function matmulFlops(a: Shape, out: Shape): number {
  const m = out[out.length - 2] as number;
  const a1 = a[a.length - 2] as number;
  const a2 = a[a.length - 1] as number;
  const k = a1 === m ? a2 : a1;
  return 2 * prod(out) * k;
}

/** 2·N·Lq·Lk·D: one of attention's per-head products over all heads (q `[N, Lq, D]`, k `[N, Lk, D]`). */
function attentionProductFlops(k: KernelRecord, q: number, key: number): number {
  const [n, lq, d] = k.inputShapes[q] as Shape;
  return 2 * (n as number) * (lq as number) * ((k.inputShapes[key] as Shape)[1] as number) * (d as number);
}

/** 2·N·M·(dqProducts·Dq + eProducts·E) of the CODA-Prompt kernels (q and p at inputs `first` and `first` + 3). */
function codaFlops(k: KernelRecord, first: number, dqProducts: number, eProducts: number): number {
  const [n, dq] = k.inputShapes[first] as [number, number];
  const [m, e] = k.inputShapes[first + 3] as [number, number];
  return 2 * n * m * (dqProducts * dq + eProducts * e);
}

/** 2·rows·in·out summed over a ViT block kernel's weight matrices (its rank-2 inputs). */
function vitBlockProducts(k: KernelRecord, rows: number): number {
  return k.inputShapes.filter((s) => s?.length === 2).reduce((a, s) => a + 2 * rows * (s?.[0] as number) * (s?.[1] as number), 0);
}

/** FLOPs of promptkd's fused kernels that do products (name → rule on input/output shapes). */
export const FUSED_FLOPS: Record<string, (k: KernelRecord) => number> = {
  // x [M, K] · w [K, N] (+ b)
  PromptkdLinear: (k) => matmulFlops(k.inputShapes[0] as Shape, k.outputShapes[0] as Shape),
  // inputs q, k, v: S = Q·Kᵀ and O = P·V
  PromptkdAttention: (k) => 2 * attentionProductFlops(k, 0, 1),
  // inputs dy, q, k, v, p: dV = Pᵀ·dO, dP = dO·Vᵀ, dQ = dS·K, dK = dSᵀ·Q
  PromptkdAttentionGrad: (k) => 4 * attentionProductFlops(k, 1, 2),
  // qkv [N, L, 3D] → o [N, L, D]: S = Q·Kᵀ and O = P·V, 2·N·L·L·D each
  PromptkdQkvAttention: (k) => {
    const [n, l, d] = k.outputShapes[0] as [number, number, number];
    return 2 * 2 * n * l * l * d;
  },
  // inputs dy [N, L, D], qkv, p: the four gradient products
  PromptkdQkvAttentionGrad: (k) => {
    const [n, l, d] = k.inputShapes[0] as [number, number, number];
    return 4 * 2 * n * l * l * d;
  },
  // q [N, Dq], k, a [M, Dq], p [M, E]: the products q·(a ⊙ k̂)ᵀ and q²·(a²)ᵀ over Dq, and α·p over M
  PromptkdCodaAttention: (k) => codaFlops(k, 0, 2, 1),
  // inputs dy, q, k, a, p: dα = dy·pᵀ and dP = αᵀ·dy over E; G = dnumᵀ·q, H = dSᵀ·q² and dq's two products over Dq
  PromptkdCodaAttentionGrad: (k) => codaFlops(k, 1, 4, 2),
  // x [N, L, D], the four weight matrices (the rank-2 inputs) and prefix keys and values [N|1, Lp, D] (rank 3, in
  // pairs): the four products of the N·L rows, and attention's two over L + ΣLp keys
  PromptkdVitBlock: (k) => {
    const [n, l, d] = k.inputShapes[0] as [number, number, number];
    const prefixKeys = k.inputShapes.slice(1).filter((s) => s?.length === 3).reduce((a, s) => a + (s?.[1] as number), 0) / 2;
    return vitBlockProducts(k, n * l) + 2 * 2 * n * l * (l + prefixKeys) * d;
  },
  // outputs [y [N, L, D], qkv, p [N, H, L, Lk], h, u]: the same products
  PromptkdVitBlockTrain: (k) => {
    const [n, l, d] = k.outputShapes[0] as [number, number, number];
    return vitBlockProducts(k, n * l) + 2 * 2 * n * l * ((k.outputShapes[2] as Shape)[3] as number) * d;
  },
  // output dx [N, L, D]; the input gradient of each product (the frozen weights take none) and attention's four
  // gradient products over Lk keys (p [N, H, L, Lk], the one rank-4 input)
  PromptkdVitBlockGrad: (k) => {
    const [n, l, d] = k.outputShapes[0] as [number, number, number];
    const p = k.inputShapes.find((s) => s?.length === 4) as Shape;
    return vitBlockProducts(k, n * l) + 4 * 2 * n * l * (p[3] as number) * d;
  },
};

const RULES: Record<string, (k: KernelRecord) => number> = {
  // x [N,H,W,Ci], filter [kh,kw,Ci,Co] → y [N,Ho,Wo,Co]
  Conv2D: (k) => { const f = k.inputShapes[1] as Shape; return 2 * prod(k.outputShapes[0]) * (f[0] as number) * (f[1] as number) * (f[2] as number); },
  FusedConv2D: (k) => RULES.Conv2D!(k),
  // dy [N,Ho,Wo,Co], filter [kh,kw,Ci,Co] → dx
  Conv2DBackpropInput: (k) => { const f = k.inputShapes[1] as Shape; return 2 * prod(k.inputShapes[0]) * (f[0] as number) * (f[1] as number) * (f[2] as number); },
  // x, dy [N,Ho,Wo,Co] → dW [kh,kw,Ci,Co]
  Conv2DBackpropFilter: (k) => { const f = k.outputShapes[0] as Shape; return 2 * prod(k.inputShapes[1]) * (f[0] as number) * (f[1] as number) * (f[2] as number); },
  BatchMatMul: (k) => matmulFlops(k.inputShapes[0] as Shape, k.outputShapes[0] as Shape),
  _FusedMatMul: (k) => matmulFlops(k.inputShapes[0] as Shape, k.outputShapes[0] as Shape),
};

/** Sum of the FLOPs of the product kernels in `kernels`. */
export function countFlopsOfKernels(kernels: readonly KernelRecord[]): number {
  let total = 0;
  for (const k of kernels) {
    const rule = RULES[k.name] ?? FUSED_FLOPS[k.name];
    if (rule) total += rule(k);
  }
  return total;
}
