import * as tf from '@tensorflow/tfjs';
import { describe, beforeAll, afterAll } from 'vitest';

/**
 * Switches to `name` for the duration of a describe block and restores the previous backend after.
 * The backend must already be registered (the test setup registers wasm and cpu).
 */
export function useBackend(name: string): void {
  let previous = '';
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend(name);
    await tf.ready();
  });
  afterAll(async () => {
    if (previous) {
      await tf.setBackend(previous);
      await tf.ready();
    }
  });
}

/**
 * Runs the same suite on several backends: `describe('<name> [wasm]')`, `describe('<name> [cpu]')`.
 * Default: wasm only (the engine every test must pass on); add `cpu` where it is cheap.
 */
export function describeBackends(
  name: string,
  fn: (backend: string) => void,
  backends: readonly string[] = ['wasm'],
): void {
  for (const b of backends) {
    describe(`${name} [${b}]`, () => {
      useBackend(b);
      fn(b);
    });
  }
}
