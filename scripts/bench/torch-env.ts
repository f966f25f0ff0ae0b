/**
 * The environment of PyTorch's process. Ours may change `OMP_WAIT_POLICY` when the native addon loads
 * (`loadNativeAddon` sets `PASSIVE` for the OpenBLAS engine; until 36d5a9a it set it for every engine), and a child
 * inherits it: PyTorch's OpenMP threads then sleep after every parallel region, which made its KDP student step
 * 2.3× slower (30.6 vs 13.4 ms, 2 vCPU AMD EPYC) and its ViT step ~8 % slower (README, "OpenMP wait policy"). PyTorch
 * gets the policy the bench was started with instead: libgomp's default unless the user set one.
 */
const STARTED_WITH = process.env.OMP_WAIT_POLICY; // read when this module loads, before any addon does

/** `env` with `OMP_WAIT_POLICY` as the bench process was started with (absent when it was unset). */
export function torchEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  if (STARTED_WITH === undefined) delete out.OMP_WAIT_POLICY;
  else out.OMP_WAIT_POLICY = STARTED_WITH;
  return out;
}

/** What PyTorch's OpenMP threads do between parallel regions, for the report. */
export function torchOmpWaitPolicy(): string {
  return STARTED_WITH ?? 'libgomp default (spin, then sleep)';
}
