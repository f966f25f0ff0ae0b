// The one backend line of initBackend, shared by the Node and the browser entries (no Node import here).

/** The one line {@link initBackend} logs: backend, threads, kernel set, and how to get a faster engine here. */
export function backendLine(
  backend: string,
  pkg: string,
  kernels: number,
  threads: number,
  threadsReason: string | undefined,
  native: { readonly active: boolean; readonly threads: number; readonly engine?: string; readonly faster?: string },
): string {
  if (backend !== 'wasm') return `promptkd: backend ${backend} (${pkg})`;
  const t = `${threads} thread${threads === 1 ? '' : 's'}${threadsReason ? ` (${threadsReason.split(/[.;:]/)[0]})` : ''}`;
  const set = native.active
    ? `native kernels (${native.engine ?? 'native'}) on ${native.threads} thread${native.threads === 1 ? '' : 's'}`
    : `wasm kernels (XNNPACK + ${kernels} promptkd training kernels), native kernels off`;
  return `promptkd: backend wasm, ${t}, ${set}${native.faster ? `. Faster here: ${native.faster}` : ''}`;
}
