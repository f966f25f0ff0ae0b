/**
 * glibc settings under which the bench's processes (ours and PyTorch's) keep freed large blocks for reuse instead of
 * handing them back to the OS: blocks under 32 MiB come from the heap, not from a fresh `mmap`, and up to 1 GiB of
 * free memory at the heap's top stays mapped. With glibc's defaults every step's large buffers are new pages, and on
 * virtual machines where a page fault is expensive (~10 µs on the 2-core AMD EPYC VM of these benches) that cost
 * dominates: PyTorch's small-cnn step took 43–78 ms with the defaults and 27–28 ms with these settings (2.7 M vs
 * 0.3 M page faults for three workloads); our steps, whose tensors live in the wasm heap, did not change. A tuned
 * allocator is what PyTorch's CPU performance guide recommends (jemalloc or tcmalloc); these variables do the same
 * with the glibc every Linux machine has. `npm run bench -- --default-malloc` measures with glibc's defaults.
 */
export const KEEP_FREED_BLOCKS: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(32 * 2 ** 20),
  MALLOC_TRIM_THRESHOLD_: String(2 ** 30),
  MALLOC_TOP_PAD_: String(64 * 2 ** 20),
};

/** Sets {@link KEEP_FREED_BLOCKS} in `env` (for processes started from now on), leaving any the user set alone. */
export function keepFreedBlocks(env: NodeJS.ProcessEnv): void {
  for (const [k, v] of Object.entries(KEEP_FREED_BLOCKS)) env[k] ??= v;
}

/** The allocator setting of a process started with `env`, for the report. */
export function mallocSetting(env: NodeJS.ProcessEnv): string {
  const set = Object.keys(KEEP_FREED_BLOCKS).filter((k) => env[k] !== undefined);
  return set.length ? `glibc, freed blocks kept (${set.map((k) => `${k}=${env[k]}`).join(', ')})` : 'glibc defaults';
}
