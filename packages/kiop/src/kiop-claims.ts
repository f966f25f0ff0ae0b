/**
 * The paper's three claims on a KiOP grid (Table 1, §4.2), as thresholds on one pair's final accuracies:
 *
 * - **K1** (the host keeps its task): KiOP-B and KiOP-BF Acc.A ≥ the clean host's accuracy − `k1MaxDrop`, and
 *   Vanilla-KD's Acc.A ≤ `k1VanillaFraction` of the clean host's (it overwrites the host);
 * - **K2** (bank A is not needed): |Acc.B(KiOP-BF) − Acc.B(KiOP-B)| ≤ `k2MaxGap`;
 * - **K3** (the knowledge is in the prompt): KiOP-B and KiOP-BF Acc.B ≥ `k3MinAccB` and, where the grid has the
 *   real-data reference, ≥ its Acc.B − `k3MaxGapToReference`.
 */
export interface KiopClaimThresholds {
  /** K1: largest drop of KiOP-B/BF Acc.A below the clean host (fraction; default 0.15). */
  readonly k1MaxDrop?: number;
  /** K1: Vanilla-KD's Acc.A at most this fraction of the clean host's (default 0.5). */
  readonly k1VanillaFraction?: number;
  /** K2: largest |Acc.B(KiOP-BF) − Acc.B(KiOP-B)| (default 0.10). */
  readonly k2MaxGap?: number;
  /** K3: smallest Acc.B of KiOP-B and KiOP-BF (e.g. 0.2 = twice chance on 10 classes). */
  readonly k3MinAccB: number;
  /** K3: largest gap below the real-data reference's Acc.B (default 0.10). */
  readonly k3MaxGapToReference?: number;
}

/** What {@link checkKiopClaims} reads of a finished cell. */
export interface KiopClaimCell {
  readonly pair: string;
  readonly variant: string;
  readonly seed: number;
  readonly results: { readonly final: Readonly<Record<string, number>>; readonly host: { readonly cleanAccuracy: number } };
}

/** One claim on one pair and seed (or the mean over seeds). */
export interface KiopClaimCheck {
  readonly claim: 'K1' | 'K2' | 'K3';
  readonly pair: string;
  /** A seed, or `mean` for the claim on the mean over the pair's seeds. */
  readonly seed: number | 'mean';
  /** `undefined` when a cell the claim needs is missing. */
  readonly holds: boolean | undefined;
  /** The numbers and thresholds, in percent, e.g. `96.3 / 96.6 ≥ 83.2; Vanilla-KD 23.4 ≤ 49.1`. */
  readonly detail: string;
}

type Values = { accA: Record<string, number>; accB: Record<string, number>; clean: number };

const pct = (x: number) => (100 * x).toFixed(1);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function check(claim: KiopClaimCheck['claim'], pair: string, seed: number | 'mean', v: Values, t: Required<KiopClaimThresholds>): KiopClaimCheck {
  const need = (table: Record<string, number>, keys: readonly string[]) => keys.filter((k) => table[k] === undefined);
  const missing = (keys: readonly string[]) => ({ claim, pair, seed, holds: undefined, detail: `needs ${keys.join(', ')}` });
  const { accA, accB } = v;
  if (claim === 'K1') {
    const gone = need(accA, ['kiopB', 'kiopBF', 'vanillaKd']);
    if (gone.length) return missing(gone);
    const floor = v.clean - t.k1MaxDrop;
    const ceiling = v.clean * t.k1VanillaFraction;
    const holds = accA.kiopB! >= floor && accA.kiopBF! >= floor && accA.vanillaKd! <= ceiling;
    return { claim, pair, seed, holds, detail: `${pct(accA.kiopB!)} / ${pct(accA.kiopBF!)} ≥ ${pct(floor)}; Vanilla-KD ${pct(accA.vanillaKd!)} ≤ ${pct(ceiling)}` };
  }
  const gone = need(accB, ['kiopB', 'kiopBF']);
  if (gone.length) return missing(gone);
  if (claim === 'K2') {
    const gap = Math.abs(accB.kiopBF! - accB.kiopB!);
    return { claim, pair, seed, holds: gap <= t.k2MaxGap + 1e-12, detail: `|${pct(accB.kiopBF!)} − ${pct(accB.kiopB!)}| = ${pct(gap)} ≤ ${pct(t.k2MaxGap)}` };
  }
  const ref = accB.realDataRef;
  const floor = ref === undefined ? t.k3MinAccB : Math.max(t.k3MinAccB, ref - t.k3MaxGapToReference);
  const holds = accB.kiopB! >= floor && accB.kiopBF! >= floor;
  const refText = ref === undefined ? '' : ` (≥ ${pct(t.k3MinAccB)} and ≥ reference ${pct(ref)} − ${pct(t.k3MaxGapToReference)})`;
  return { claim, pair, seed, holds, detail: `${pct(accB.kiopB!)} / ${pct(accB.kiopBF!)} ≥ ${pct(floor)}${refText}` };
}

/**
 * Checks K1–K3 on every pair of a grid: per seed, and on the means over the pair's seeds when it has more than one
 * (each cell's mean over the seeds it ran). Single-source cells only (multi-source pairs are skipped).
 *
 * @example
 * ```ts
 * checkKiopClaims(cells, { k3MinAccB: 0.2 }).map((c) => `${c.claim} ${c.pair} s${c.seed}: ${c.holds}`);
 * ```
 */
export function checkKiopClaims(cells: readonly KiopClaimCell[], thresholds: KiopClaimThresholds): KiopClaimCheck[] {
  const t: Required<KiopClaimThresholds> = { k1MaxDrop: 0.15, k1VanillaFraction: 0.5, k2MaxGap: 0.1, k3MaxGapToReference: 0.1, ...thresholds };
  const out: KiopClaimCheck[] = [];
  const pairs = [...new Set(cells.filter((c) => !c.pair.includes('+')).map((c) => c.pair))];
  for (const pair of pairs) {
    const inPair = cells.filter((c) => c.pair === pair);
    const seeds = [...new Set(inPair.map((c) => c.seed))].sort((a, b) => a - b);
    const values = (of: readonly KiopClaimCell[]): Values => {
      const by = (metric: 'accA' | 'accB') => {
        const variants = [...new Set(of.map((c) => c.variant))];
        return Object.fromEntries(variants.map((v) => [v, mean(of.filter((c) => c.variant === v).map((c) => c.results.final[metric] ?? Number.NaN))]));
      };
      return { accA: by('accA'), accB: by('accB'), clean: mean(of.map((c) => c.results.host.cleanAccuracy)) };
    };
    const rows: [number | 'mean', Values][] = seeds.map((s) => [s, values(inPair.filter((c) => c.seed === s))]);
    if (seeds.length > 1) rows.push(['mean', values(inPair)]);
    for (const [seed, v] of rows) for (const claim of ['K1', 'K2', 'K3'] as const) out.push(check(claim, pair, seed, v, t));
  }
  return out;
}
